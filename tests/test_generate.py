"""Conditioned generation: recognizable, seeded, with provenance; rebalancing; the sampler."""
from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skelgen.errors import SkelgenError
from skelgen.generate import GenerationConfig
from skelgen.io.dataset import SkeletonFile
from skelgen.model import TAHAR, ModelConfig
from skelgen.preprocess import prepare_file
from skelgen.synth import rebalance, synth


def features(sf, idx):
    return prepare_file(sf, idx, 16).reshape(len(idx), -1)


@pytest.fixture(scope="module")
def real_classifier(demo_file):
    with SkeletonFile(demo_file) as sf:
        idx = sf.indices("train")
        return LogisticRegression(max_iter=2000).fit(features(sf, idx), sf.labels[idx])


@pytest.mark.parametrize("strategy", ["shift", "borrow", "sample", "interpolate", "gaussian"])
def test_generated_samples_are_recognized_as_their_class(tmp_path, trained, demo_file, real_classifier, strategy):
    recognized = []
    for c in ("A008", "A010", "A024", "A027"):
        out = tmp_path / f"{c}.h5"
        synth(trained, demo_file, c, 20, out, GenerationConfig(strategy=strategy), seed=1, show_progress=False)
        with SkeletonFile(out) as sf:
            pred = real_classifier.predict(features(sf, np.arange(len(sf))))
            recognized.append(pred == sf.classes.resolve(c))
    assert np.concatenate(recognized).mean() >= 0.8


def test_same_seed_same_output_and_provenance(tmp_path, trained, demo_file):
    cfg = GenerationConfig(strategy="interpolate", length="class")
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        synth(trained, demo_file, "kicking something", 5, tmp_path / f"{name}.h5", cfg, seed=seed, show_progress=False)
    a, b, c = (SkeletonFile(tmp_path / f"{n}.h5") for n in "abc")
    np.testing.assert_array_equal(a.read(), b.read())
    assert not np.array_equal(a.read(), c.read())
    assert a.synthetic.all() and (a.labels == a.classes.resolve("A024")).all()
    assert a.classes == SkeletonFile(demo_file).classes and a.layout.name == "ntu25" and a.frame == "raw"
    p = a.provenance(0)
    assert p["strategy"] == "interpolate" and p["seed"] == 3 and len(p["sources"]) == 2 and p["checkpoint"]
    assert all(s.startswith("demo-A024") for s in p["sources"])


def test_synth_refuses_bad_requests(tmp_path, trained, demo_file):
    with pytest.raises(SkelgenError, match="valid classes"):
        synth(trained, demo_file, "A999", 5, tmp_path / "x.h5", show_progress=False)
    with pytest.raises(SkelgenError, match="positive"):
        synth(trained, demo_file, "A024", 0, tmp_path / "x.h5", show_progress=False)
    (tmp_path / "x.h5").write_text("keep me")
    with pytest.raises(SkelgenError, match="--overwrite"):
        synth(trained, demo_file, "A024", 2, tmp_path / "x.h5", show_progress=False)
    assert (tmp_path / "x.h5").read_text() == "keep me"
    with pytest.raises(SkelgenError, match="strategy"):
        GenerationConfig(strategy="magic")


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory, trained):
    from skelgen.demo import write_demo
    return write_demo(tmp_path_factory.mktemp("imb") / "imb.h5", n_per_class=16, frames=32, imbalance=4)


def digest(path):
    import hashlib
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("strategy,expect", [
    ("auto", lambda c: {k: c.max() for k in range(len(c))}),
    ("not majority", lambda c: {k: c.max() for k in range(len(c))}),
    ({1: 20}, lambda c: {**{k: v for k, v in enumerate(c)}, 1: 20}),
])
def test_rebalance_fills_train_and_leaves_the_rest(tmp_path, trained, imbalanced, strategy, expect):
    before = digest(imbalanced)
    out = tmp_path / "rb.h5"
    r = rebalance(imbalanced, out, trained, strategy, show_progress=False)
    assert digest(imbalanced) == before, "the input must never change"
    src, dst = SkeletonFile(imbalanced), SkeletonFile(out)
    counts = np.bincount(src.labels[src.indices("train")], minlength=8)
    got = np.bincount(dst.labels[dst.indices("train")], minlength=8)
    assert dict(enumerate(got.tolist())) == expect(counts)
    test_src, test_dst = src.indices("test"), dst.indices("test")
    np.testing.assert_array_equal(test_src, test_dst)
    for i in test_src:
        np.testing.assert_array_equal(src.sample(i), dst.sample(i))
    assert [src.ids[i] for i in test_src] == [dst.ids[i] for i in test_dst]
    assert not dst.synthetic[test_dst].any() and dst.synthetic[len(src):].all()
    sources = {s for i in range(len(src), len(dst)) for s in dst.provenance(i)["sources"]}
    assert sources.isdisjoint({src.ids[i] for i in test_src}), "test samples must never condition generation"
    assert r["train_counts"] == {src.classes.codes[k]: int(v) for k, v in enumerate(got)}


def test_rebalance_default_name_and_no_overwrite(tmp_path, trained, imbalanced):
    import shutil
    data = shutil.copy(imbalanced, tmp_path / "d.h5")
    rebalance(data, None, trained, show_progress=False)
    assert (tmp_path / "d.rebalanced.h5").is_file()
    with pytest.raises(SkelgenError, match="--overwrite"):
        rebalance(data, None, trained, show_progress=False)
    with h5py.File(tmp_path / "d.rebalanced.h5") as h:
        assert h["x"].shape[0] > SkeletonFile(data).shape[0]


def test_rebalance_without_checkpoint_pretrains_once_then_reuses(tmp_path, demo_file):
    from skelgen.synth import checkpoint_for
    from conftest import tiny_recipe_file
    recipe = tiny_recipe_file(tmp_path / "tiny.toml")
    said = []
    first = checkpoint_for(demo_file, str(recipe), "train", log=said.append)
    assert first.is_file() and "pretraining" in said[0] and "'train' split" in said[0]
    assert checkpoint_for(demo_file, str(recipe), "train", log=said.append) == first
    assert said[1].startswith("using ")


@pytest.mark.parametrize("strategy", ["shift", "borrow"])
def test_novelty_knob_moves_away_from_the_source_and_the_seed_fixes_the_output(trained, demo_file, strategy):
    from skelgen.bench.methods import Generator
    from skelgen.preprocess import load_split
    from skelgen.novelty import nearest
    with SkeletonFile(demo_file) as sf:
        x, y, ids = load_split(sf, "train", 16)
    gen = Generator(trained, x, y, ids, noise_scale=0.05)
    medians = []
    for novelty in (0.0, 0.5, 2.0):
        gen.novelty = novelty
        made = gen.generate(3, 30, strategy, seed=7)
        np.testing.assert_array_equal(made, gen.generate(3, 30, strategy, seed=7))
        medians.append(np.median(nearest(made, np.full(30, 3), x, y)[0]))
    assert medians[0] < 1e-6 < medians[1] < medians[2]  # 0 gives the source itself
    assert not np.array_equal(gen.generate(3, 30, strategy, seed=7), gen.generate(3, 30, strategy, seed=8))


def test_provenance_names_the_route_knob_and_nearest_training_sequence(tmp_path, trained, demo_file):
    out = tmp_path / "s.h5"
    r = synth(trained, demo_file, "A024", 4, out, GenerationConfig(strategy="shift", novelty=1.5), seed=2,
              show_progress=False)
    with SkeletonFile(out) as sf:
        p = sf.provenance(0)
    assert p["strategy"] == "shift" and p["novelty"] == 1.5 and p["seed"] == 2
    assert p["calibrated"] and p["reach"] == r["reach"] > 0  # the scale calibration found, reported
    assert p["nearest"].startswith("demo-A024") and p["nearest_distance"] > 0
    raw = synth(trained, demo_file, "A024", 1, tmp_path / "raw.h5", GenerationConfig(strategy="shift", calibrate=False),
                show_progress=False)
    assert raw["reach"] == 1.0


def test_bf16_decoding_stays_near_fp32_and_provenance_says_which(tmp_path, trained, demo_file):
    outs = {}
    for precision in ("fp32", "bf16"):
        outs[precision] = tmp_path / f"{precision}.h5"
        synth(trained, demo_file, "A024", 6, outs[precision], GenerationConfig(precision=precision, length="model"), seed=3,
              show_progress=False)
    with SkeletonFile(outs["fp32"]) as a, SkeletonFile(outs["bf16"]) as b:
        assert (a.provenance(0)["precision"], b.provenance(0)["precision"]) == ("fp32", "bf16")
        x, z = np.stack([a.sample(i) for i in range(6)]), np.stack([b.sample(i) for i in range(6)])
    assert not np.array_equal(x, z)  # bf16 was used
    # the same sources and moves: only bf16 rounding apart (sequences span about a metre)
    assert np.sqrt(((x - z) ** 2).mean()) < 0.03 * np.sqrt(((x - x.mean()) ** 2).mean())


def test_bf16_decoding_uses_a_bf16_copy_and_leaves_the_model_as_it_was():
    from skelgen.precision import in_precision
    model = TAHAR(ModelConfig(in_dim=75, frames=8, dim=16, heads=2))
    half = in_precision(model, True)
    assert next(half.parameters()).dtype == torch.bfloat16 and next(model.parameters()).dtype == torch.float32
    assert in_precision(half, True) is half and in_precision(model, False) is model  # no copy where none is needed
    cls, x = torch.randn(3, 16), torch.zeros(3, 8, 75)
    with torch.no_grad():
        assert torch.allclose(half.decode(cls.bfloat16(), x.bfloat16()).float(), model.decode(cls, x), atol=0.05)


def test_precision_must_be_known():
    with pytest.raises(SkelgenError, match="--precision must be auto, fp32 or bf16"):
        GenerationConfig(precision="fp16")


def test_augment_gives_each_generated_sequence_classic_augmentation(tmp_path, trained, demo_file):
    """--augment (the benchmark's >classic): the same sources and moves, then rotated, scaled,
    noised and cropped; the same seed gives the same output; calibration measures the move alone."""
    from click.testing import CliRunner
    from skelgen.cli import main

    def made(name, augment):
        out = tmp_path / name
        args = ["synth", "--checkpoint", str(trained), "--data", str(demo_file), "--class", "A024", "--n", "6",
                "--seed", "3", "--out", str(out)] + (["--augment"] if augment else [])
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert ("then augmented" in result.output) == augment, result.output
        with SkeletonFile(out) as sf:
            return sf.read(np.arange(6)), [sf.provenance(i) for i in range(6)]

    (plain, p0), (a, pa), (b, _) = made("p.h5", False), made("a.h5", True), made("b.h5", True)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain, atol=1e-3) and a.shape == plain.shape
    assert [p["augmented"] for p in pa] == [True] * 6 and not p0[0]["augmented"]
    assert [p["pose_from"] for p in pa] == [p["pose_from"] for p in p0] and pa[0]["reach"] == p0[0]["reach"]


@pytest.mark.parametrize("strategy", ["shift", "borrow"])
def test_a_class_with_one_sequence_borrows_variation_from_the_others(trained, demo_file, strategy):
    from skelgen.bench.methods import Generator
    from skelgen.preprocess import load_split
    with SkeletonFile(demo_file) as sf:
        x, y, ids = load_split(sf, "train", 16)
    keep = np.flatnonzero((y != 2) | (np.arange(len(y)) == np.flatnonzero(y == 2)[0]))  # class 2: one sequence
    gen = Generator(trained, x[keep], y[keep], ids[keep], noise_scale=0.05)
    made = gen.generate(2, 8, strategy, seed=0)
    assert len({m.tobytes() for m in made}) == 8  # eight different sequences from one source


def test_borrowed_residuals_are_within_class_and_of_the_gaussian_length():
    from skelgen.generate import ClassBank
    rng = np.random.default_rng(0)
    emb = np.concatenate([rng.normal(10 * c, 1 + c, (5, 4)) for c in range(3)] + [np.full((1, 4), 99.0)])
    labels = np.array([0] * 5 + [1] * 5 + [2] * 5 + [3])  # class 3: one member, no residual
    bank = ClassBank(emb, labels, np.arange(16), np.full(16, 8))
    r = bank.borrowed_moves()
    assert r.shape == (15, 4)
    for c in range(3):  # directions of the members' deviations from their own class mean
        dev = emb[labels == c] - emb[labels == c].mean(0)
        cos = (r[labels[:15] == c] * dev).sum(1) / np.linalg.norm(r[labels[:15] == c], axis=1) / np.linalg.norm(dev, axis=1)
        np.testing.assert_allclose(cos, 1.0, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), np.sqrt((bank.within_class() ** 2).sum()))
    alone = ClassBank(emb[[0, 15]], np.array([0, 3]), np.arange(2), np.full(2, 8))
    assert alone.borrowed_moves().shape == (0, 4)


@pytest.mark.parametrize("bad", [dict(novelty=-1.0), dict(novelty=float("nan")), dict(temperature=float("inf"))])
def test_generation_knobs_out_of_range_are_refused(bad):
    with pytest.raises(SkelgenError, match="must be a number >= 0"):
        GenerationConfig(**bad)


def test_keep_bone_lengths_gives_the_source_lengths_moving_the_joints_little():
    from skelgen.generate import keep_bone_lengths
    from skelgen.layouts import get_layout
    layout = get_layout("kinect20")
    rng = np.random.default_rng(0)
    source = rng.normal(size=(2, 5, 2, 20, 3))
    source[1, 2, 1] = 0.0  # the second person is absent from this frame of the source
    x = source + rng.normal(scale=0.02, size=source.shape)  # bones off by up to a few centimetres
    out = keep_bone_lengths(x, source, layout)
    present = source.any(axis=(-2, -1))
    for child, parent in layout.bones:
        length = (np.linalg.norm(a[..., child, :] - a[..., parent, :], axis=-1) for a in (out, source))
        np.testing.assert_allclose(*length, atol=1e-5)
    assert np.abs(out - x)[present].max() < 0.1  # spread over the chain, not carried to its ends
    assert not out[1, 2, 1].any() and out[1, 2, 0].any()
    np.testing.assert_array_equal(keep_bone_lengths(source, source, layout), source)  # already right
    one_off = source.copy()
    one_off[0, 3] = x[0, 3]  # one frame off, every other frame right: those are left as they are
    fixed = keep_bone_lengths(one_off, source, layout)
    np.testing.assert_array_equal(np.delete(fixed[0], 3, axis=0), np.delete(source[0], 3, axis=0))
    np.testing.assert_array_equal(fixed[1], source[1])
    np.testing.assert_array_equal(fixed[0, 3], out[0, 3])  # and that frame as in any batch: frames are independent


@pytest.mark.parametrize("strategy", ["shift", "borrow"])
def test_moves_keep_the_bone_lengths_of_their_source(trained, demo_file, strategy):
    from skelgen.bench.methods import Generator
    from skelgen.generate import synthesize
    from skelgen.preprocess import load_split
    with SkeletonFile(demo_file) as sf:
        x, y, ids = load_split(sf, "train", 16)
    gen = Generator(trained, x, y, ids, noise_scale=0.05)
    cfg = GenerationConfig(strategy=strategy, novelty=2.0, length="model")
    (made, prov), = synthesize(gen.model, gen.run, gen.bank, 3, 6, cfg, seed=1)
    where = {str(i): k for k, i in enumerate(ids)}
    for seq, p in zip(made, prov):
        src = x[where[p["pose_from"]]]
        assert not np.allclose(seq, src, atol=1e-3)  # moved
        for child, parent in gen.run.layout.bones:
            np.testing.assert_allclose(np.linalg.norm(seq[..., child, :] - seq[..., parent, :], axis=-1),
                                       np.linalg.norm(src[..., child, :] - src[..., parent, :], axis=-1), atol=1e-4)


def test_neighbour_spacing_is_the_median_leave_one_out_distance_within_classes():
    from skelgen.generate import ClassBank, neighbour_spacing
    shape = (2, 1, 1, 3)  # (T, M, V, C): a distance is the RMS over 2 points
    inputs = np.zeros((5, 2, 3))
    inputs[1, :, 0] = 0.1      # class 0: 0 and 1 are 0.1 apart, 2 is 1.0 from 1
    inputs[2, :, 0] = 1.1
    inputs[3, :, 1] = 5.0      # class 1: 3 and 4 are 0.3 apart
    inputs[4, :, 1] = 5.3
    bank = ClassBank(np.zeros((5, 4)), np.array([0, 0, 0, 1, 1]), np.arange(5), np.full(5, 2), inputs=inputs)
    assert neighbour_spacing(bank, shape) == pytest.approx(0.3)  # median of 0.1, 0.1, 1.0, 0.3, 0.3
    alone = ClassBank(np.zeros((2, 4)), np.array([0, 1]), np.arange(2), np.full(2, 2), inputs=inputs[:2])
    assert neighbour_spacing(alone, shape) is None  # no class with two: nothing to calibrate against


def test_calibrated_novelty_puts_generated_sequences_at_the_real_spacing(trained, demo_file, strategy="borrow"):
    from skelgen.bench.methods import Generator
    from skelgen.generate import CALIBRATION_SEQUENCES, calibrated_reach, neighbour_spacing, synthesize
    from skelgen.preprocess import load_split
    with SkeletonFile(demo_file) as sf:
        x, y, ids = load_split(sf, "train", 16)
    gen = Generator(trained, x, y, ids, noise_scale=0.05)
    cfg = GenerationConfig(strategy=strategy, calibrate=True, length="model")
    rate = gen.run.generation_frame_mask
    reach = calibrated_reach(gen.model, gen.run, gen.bank, cfg, rate)
    assert reach == calibrated_reach(gen.model, gen.run, gen.bank, cfg, rate)  # cached, and the same
    small = Generator(trained, x, y, ids, noise_scale=0.05)  # a fresh bank: nothing cached
    assert calibrated_reach(small.model, small.run, small.bank, replace(cfg, batch_size=3), rate) == reach
    target = neighbour_spacing(gen.bank, gen.run.input_shape)
    n = CALIBRATION_SEQUENCES // len(np.unique(y))
    d = [p["nearest_distance"] for c in np.unique(y) for _, prov in synthesize(gen.model, gen.run, gen.bank, int(c), n, cfg, 100 + int(c))
         for p in prov]
    assert np.median(d) == pytest.approx(target, rel=0.1)  # other draws than the calibration's: near, not exact
    (_, prov), = synthesize(gen.model, gen.run, gen.bank, 0, 2, cfg, 0)
    assert prov[0]["calibrated"] and prov[0]["reach"] == reach and prov[0]["novelty"] == 1.0
    half = GenerationConfig(strategy=strategy, calibrate=True, novelty=0.5, length="model")
    d_half = [p["nearest_distance"] for _, prov in synthesize(gen.model, gen.run, gen.bank, 0, 32, half, 0) for p in prov]
    assert np.median(d_half) < 0.8 * target  # the knob keeps its direction in the calibrated unit


def test_calibration_never_scales_the_move_beyond_its_cap(trained, demo_file, monkeypatch):
    import skelgen.generate as G
    from skelgen.bench.methods import Generator
    from skelgen.preprocess import load_split
    with SkeletonFile(demo_file) as sf:
        x, y, ids = load_split(sf, "train", 16)
    gen = Generator(trained, x, y, ids, noise_scale=0.05)
    monkeypatch.setattr(G, "neighbour_spacing", lambda bank, shape: 100.0)  # 100 m apart: out of reach
    cfg = GenerationConfig(strategy="borrow", length="model")
    assert G.calibrated_reach(gen.model, gen.run, gen.bank, cfg, gen.run.generation_frame_mask) == G.MAX_REACH


def test_synth_starts_without_importing_sklearn():
    """sklearn (1.5 s to import) loads only when a covariance is fitted, so a bad-input line of
    synth or rebalance comes before it."""
    import subprocess
    import sys
    code = "import sys, skelgen.synth; print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
