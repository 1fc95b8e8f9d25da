"""skelgen.bench: a tiny benchmark on the demo data runs end to end with both classifiers;
scenarios keep exactly the promised class counts; every method adds exactly the promised
sequences; no test sequence reaches a training set or a generator; the quality metrics behave;
generators and finished cells are cached; the GCN's graph follows the layout's bones."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skelgen.bench import methods as M
from skelgen.bench.classifier import ClassifierConfig, features, predict, train_classifier
from skelgen.bench.gcn import GraphConv, layout_graph
from skelgen.bench.quality import RealSets, class_schedule, frechet_distance, metrics, quality_report
from skelgen.bench.methods import generator_checkpoint
from skelgen.bench.run import GeneratorConfig, load_bench_recipe, run_benchmark
from skelgen.preprocess import load_split
from skelgen.runtime import torch_threads
from skelgen.bench.scenarios import (fewshot_counts, longtail_counts, lowdata_counts, make_scenario,
                                     validation_split)
from skelgen.demo import write_demo
from skelgen.errors import SkelgenError
from skelgen.io.dataset import SkeletonFile
from skelgen.layouts import KINECT20, NTU25, Layout

TINY = """
name = "tiny"
[benchmark]
cache_dir = "{cache}"
jobs = 1
seeds = [0]
scenarios = ["full", "lt10", "lt100", "low10", "fewshot5"]
classifiers = ["conv", "gcn"]
[classifier]
width = 16
gcn_width = 4
epochs = 2
batch_size = 16
val_fraction = 0.2
patience = 2
[generator]
recipe = "demo"
overrides = ["model.dim=32", "model.heads=2", "train.epochs=1", "train.batch_size=16", "train.warmup_epochs=1"]
calibrate = false  # an untrained model's calibration is half this test's time; test_generate covers it
[quality]
samples = 40
seeds = [0]
evaluator_epochs = 2
"""
SCENARIOS = ("full", "lt10", "lt100", "low10", "fewshot5")
KINDS = ("conv", "gcn")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """8 classes, 9 training and 3 test sequences each."""
    return write_demo(tmp_path_factory.mktemp("data") / "demo.h5", n_per_class=12)


@pytest.fixture(scope="module")
def bench(demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    recipe = root / "tiny.toml"
    recipe.write_text(TINY.format(cache=root / "cache"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # pretrain records runs/latest.json in the working folder
        result = run_benchmark(str(recipe), root / "out", data=str(demo), show_progress=False)
    return root, recipe, result


@pytest.fixture(scope="module")
def splits(demo):
    with SkeletonFile(demo) as sf:
        return load_split(sf, "train", 32), load_split(sf, "test", 32)


# -- scenarios -----------------------------------------------------------------------------------
def test_scenario_profiles_exact():
    avail = np.array([10, 12, 9, 20])
    assert longtail_counts(avail, 10).tolist() == [10, 6, 2, 2]   # n_k * 10 ** (-k / 3), rounded
    assert longtail_counts(avail, 1).tolist() == [10, 12, 9, 20]
    assert lowdata_counts(avail, 0.1).tolist() == [1, 1, 1, 2]
    assert fewshot_counts(avail, 10).tolist() == [10, 10, 9, 10]


def test_longtail_on_an_uneven_split_keeps_its_head():
    """The old profile started at the smallest class: 9 clips capped the head at 9."""
    labels = np.repeat(np.arange(20), [100] * 19 + [9])
    sc = make_scenario("lt10", labels, 20)
    assert sc.counts[0] == 100 and sc.counts[-1] == 1 and sc.counts[10] == round(100 * 10 ** (-10 / 19))
    assert sc.add.tolist() == (100 - sc.counts).tolist()


def test_fewshot_keeps_n_per_class_and_names_the_short_ones():
    labels = np.repeat(np.arange(3), [30, 12, 7])
    sc = make_scenario("fewshot10", labels, 3)
    assert np.bincount(labels[sc.indices], minlength=3).tolist() == sc.counts.tolist() == [10, 10, 7]
    assert sc.fewer == {2: 7} and sc.to_dict()["fewer"] == {2: 7}
    assert set(make_scenario("fewshot5", labels, 3).indices) <= set(sc.indices)  # nested
    with pytest.raises(SkelgenError, match="fewshot<count>"):
        make_scenario("fewshot", labels, 3)


def test_validation_split_is_carved_from_the_scenario():
    labels = np.repeat(np.arange(3), [10, 5, 3])
    held = validation_split(labels, 3, 0.2, seed=0)
    assert np.bincount(labels[held], minlength=3).tolist() == [2, 1, 0]  # floor(0.2 n): 3 gives none
    assert np.array_equal(held, validation_split(labels, 3, 0.2, seed=0))


def test_scenarios_nest_and_are_deterministic():
    labels = np.repeat(np.arange(4), 20)
    full, lt, low = (make_scenario(n, labels, 4, seed=3) for n in ("full", "lt10", "low10"))
    assert set(lt.indices) <= set(full.indices) and len(full.indices) == 80
    assert np.array_equal(lt.indices, make_scenario("lt10", labels, 4, seed=3).indices)
    assert np.bincount(labels[low.indices], minlength=4).tolist() == low.counts.tolist() == [2, 2, 2, 2]
    assert lt.add.tolist() == (lt.counts.max() - lt.counts).tolist()            # fill to the head
    assert full.add.tolist() == [20] * 4                                        # +100 %
    with pytest.raises(SkelgenError, match="unknown scenario"):
        make_scenario("lt", labels, 4)


# -- methods -------------------------------------------------------------------------------------
class FakeGenerator:
    seen = frozenset({"g0"})

    def generate(self, c, n, strategy, seed):
        return np.full((n, 6, 1, 3, 3), c + seed, np.float32)


@pytest.mark.parametrize("method", M.METHODS)
def test_every_method_adds_exactly_the_promised_sequences(method):
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    real = M.real_set(rng.normal(size=(7, 6, 1, 3, 3)).astype(np.float32), y, [f"r{i}" for i in range(7)])
    removed = M.real_set(rng.normal(size=(6, 6, 1, 3, 3)).astype(np.float32), np.array([1, 1, 1, 2, 2, 2]),
                         [f"x{i}" for i in range(6)])
    add = np.array([0, 2, 3]) if method != "none" else np.zeros(3, int)
    a, b = (M.build(method, real, add, seed=1, generator=FakeGenerator(), removed=removed) for _ in range(2))
    assert np.bincount(a.y).tolist() == (np.bincount(y) + add).tolist()
    assert a.x.shape[1:] == real.x.shape[1:] and np.array_equal(a.x[:7], real.x)
    assert np.array_equal(a.x, b.x)  # seeded
    if method == M.CEILING:  # real sequences the scenario removed, not synthetic ones
        assert not a.synthetic.any() and len(a.seen - real.seen) == add.sum() and a.seen - real.seen <= set(removed.ids)
    else:
        assert a.synthetic.sum() == add.sum() and real.seen <= a.seen <= real.seen | FakeGenerator.seen


def test_unknown_method_is_an_error():
    with pytest.raises(SkelgenError, match="unknown method"):
        M.parse_method("skelgen-dream")


# -- quality metrics -----------------------------------------------------------------------------
def test_frechet_distance_exact():
    a = np.random.default_rng(0).normal(size=(500, 4))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + [3, 0, 0, 0]) == pytest.approx(9, rel=1e-6)  # same covariance


def test_metrics_behave(splits):
    (x_tr, y_tr, _), (x_te, y_te, _) = splits
    with torch_threads(1):
        ev = train_classifier(x_tr, y_tr, 8, ClassifierConfig(width=16, epochs=20, batch_size=16), seed=0)
    assert (predict(ev, x_te) == y_te).mean() > 0.5  # a working evaluator, so the checks below mean something
    sets = RealSets.of(ev, x_tr, y_tr, x_te, y_te)
    rng = np.random.default_rng(1)
    y = class_schedule(200, 8)
    real = np.concatenate([x_te[rng.choice(np.flatnonzero(y_te == c), 25)] for c in range(8)])
    noise = rng.normal(0, x_te.std(), size=(200,) + x_te.shape[1:]).astype(np.float32)
    r, n = metrics(ev, real, y, sets, 0), metrics(ev, noise, y, sets, 0)
    copies = metrics(ev, x_tr, y_tr, sets, 0)
    assert copies["copy_rate"] == 1.0 and copies["nearest"] < 1e-6 and n["copy_rate"] == 0.0
    assert r["copy_rate"] < 0.2 and r["feature_copy_rate"] < 0.2  # real new takes: about 5 %
    assert r["fid"] < 0.01 * n["fid"]
    assert abs(n["accuracy"] - 1 / 8) < 0.15 and r["accuracy"] > 0.5
    assert r["multimodality"] < r["diversity"]  # same-class pairs sit closer than random pairs
    for m in (r, n):  # 25 a class: the per-class shares average to the overall one
        assert len(m["per_class_accuracy"]) == 8
        assert np.mean(m["per_class_accuracy"]) == pytest.approx(m["accuracy"])
    right = predict(ev, noise) == y
    assert n["per_class_accuracy"][3] == pytest.approx(right[y == 3].mean())
    few = metrics(ev, noise[:5], y[:5], sets, 0)  # class 0 only: the others have no share, not 0 %
    assert few["per_class_accuracy"][0] == right[:5].mean() and np.isnan(few["per_class_accuracy"][1:]).all()


# -- the benchmark -------------------------------------------------------------------------------
def test_tiny_benchmark_has_every_method_scenario_and_classifier(bench):
    root, _, result = bench
    saved = json.loads((root / "out" / "results.json").read_text())
    assert list(saved["results"]) == list(KINDS)
    for kind in KINDS:
        assert list(saved["results"][kind]) == list(SCENARIOS)
        for sc in SCENARIOS:
            ceiling = [] if sc == "full" else [M.CEILING]  # nothing removed, so no oracle row
            assert list(saved["results"][kind][sc]) == [m for m in M.METHODS if m != M.CEILING] + ceiling
            for r in saved["results"][kind][sc].values():
                assert 0 <= r["balanced"]["mean"] <= 1 and len(r["per_class"]) == 8
                assert {"top1", "balanced", "rare_third"} <= set(r)
        for name in ("accuracy-balanced.png", "change.png", "gain-lt100.png"):
            assert (root / "out" / f"{kind}-{name}").stat().st_size > 0
    for sc in SCENARIOS:
        assert set(saved["quality"][sc]) == {"real", "train", "borrow", "shift", "interpolate", "sample"}
        real = saved["quality"][sc]["real"]  # diversity_ratio is NaN where no class has 2 training sequences
        scalars = {m: v for m, v in real.items() if m not in ("diversity_ratio", "per_class_accuracy")}
        assert all(np.isfinite(v["mean"]) for v in scalars.values())
        assert len(real["per_class_accuracy"]["mean"]) == 8
    assert saved["leak_check"]["identical_to_train"] == 0
    md = (root / "out" / "results.md").read_text()
    assert "| gcn | fewshot5 | oracle |" in md and "| conv | lt10 | none |" in md
    assert md.count("balanced accuracy change over none") == len(KINDS)  # a glance per classifier
    assert md.count("borrow: least recognized") == len(SCENARIOS)  # a line per scenario
    for name in ("results.md", "quality-fid.png"):
        assert (root / "out" / name).stat().st_size > 0


def test_results_at_a_glance_bold_the_best_method_not_the_ceiling():
    from skelgen.bench.report import change_markdown

    def scores(*balanced):
        return {"balanced": {"runs": list(balanced), "mean": float(np.mean(balanced))}}
    result = {"results": {"conv": {
        "full": {"none": scores(0.5, 0.7), "classic": scores(0.6, 0.8), "skelgen-borrow": scores(0.5, 0.6)},
        "lt10": {"none": scores(0.4, 0.4), "classic": scores(0.41, 0.43), "skelgen-borrow": scores(0.45, 0.47),
                 M.CEILING: scores(0.6, 0.6)}}}}
    md = change_markdown(result)
    assert "| method | full | lt10 |" in md and "| none (balanced %) | 60.0 | 40.0 |" in md
    assert "| classic | **+10.0 ± 0.0** | +2.0 ± 1.4 |" in md        # per-seed differences, in points
    assert "| skelgen-borrow | -5.0 ± 7.1 | **+6.0 ± 1.4** |" in md
    assert f"| {M.CEILING} |  | +20.0 ± 0.0 |" in md                  # the largest, yet not the best method


def test_test_sequences_repeating_training_ones_are_counted_and_reported():
    from skelgen.bench.report import repeats_line
    from skelgen.repeats import repeats_of
    train = np.random.default_rng(0).normal(size=(5, 4, 1, 3, 3)).astype(np.float32)
    test = np.concatenate([train[[1, 3]], train[:2] + 0.001])  # two repeats, two near ones
    assert repeats_of(train, test).tolist() == [True, True, False, False]
    assert "2 of the 4 test sequences repeat" in repeats_line({"leak_check": {"identical_to_train": 2},
                                                               "test_samples": 4})
    assert repeats_line({"leak_check": {"identical_to_train": 0}, "test_samples": 4}) == ""


def test_benchmark_scenarios_have_the_promised_counts(bench):
    s = bench[2]["scenarios"]
    assert s["full"]["counts"] == [9] * 8 and s["full"]["added"] == [9] * 8
    assert s["lt10"]["counts"] == [9, 6, 5, 3, 2, 2, 1, 1]        # round(9 * 10 ** (-k / 7))
    assert s["lt100"]["counts"] == [9, 5, 2, 1, 1, 1, 1, 1]
    assert s["low10"]["counts"] == [1] * 8
    assert s["fewshot5"]["counts"] == [5] * 8 and s["fewshot5"]["added"] == [5] * 8
    assert s["full"]["validation"] == [1] * 8 and s["lt10"]["validation"] == [1, 1, 1, 0, 0, 0, 0, 0]
    for kind in KINDS:
        for sc, info in s.items():
            counts, added = np.array(info["counts"]) - info["validation"], np.array(info["added"])
            removed = 9 - np.array(info["counts"])
            for method, r in bench[2]["results"][kind][sc].items():
                extra = {"none": 0, M.CEILING: np.minimum(added, removed)}.get(method, added)
                assert r["train_counts"] == (counts + extra).tolist(), (kind, sc, method)


def test_no_test_sequence_reaches_a_training_set(bench, demo):
    root = bench[0]
    with SkeletonFile(demo) as sf:
        ids = np.array(sf.ids)
        test, train = set(ids[sf.indices("test")]), set(ids[sf.indices("train")])
    saved = json.loads((root / "out" / "ids.json").read_text())
    assert set(saved["test"]) == test
    for sc, d in saved["scenarios"].items():
        assert set(d["train"]) <= train and not set(d["train"]) & test
        for method, seen in d["seen"].items():
            # the oracle adds training sequences the scenario removed; the others use the scenario's
            assert set(seen) <= (train if method == M.CEILING else set(d["train"])) and not set(seen) & test
        with SkeletonFile(bench[2]["scenarios"][sc]["generator"]["checkpoint"].replace("checkpoint.pt", "train.h5")) as g:
            assert set(g.ids) == set(d["train"])  # the generator saw this scenario's training data only


def test_generators_are_cached(bench, splits, demo, monkeypatch):
    root, recipe, result = bench
    monkeypatch.chdir(root)
    (x, y, ids), _ = splits
    r = load_bench_recipe(str(recipe))
    sc = make_scenario("lt100", y, 8)
    with SkeletonFile(demo) as sf:
        meta = {"layout": sf.layout, "codes": list(sf.classes.codes), "names": list(sf.classes.names)}
    ckpt, cached = generator_checkpoint(x[sc.indices], y[sc.indices], ids[sc.indices], meta, r.generator,
                                        r.benchmark.cache_dir, show_progress=False)
    assert cached and str(ckpt) == result["scenarios"]["lt100"]["generator"]["checkpoint"]
    other = GeneratorConfig(**{**r.generator.__dict__, "overrides": r.generator.overrides + ["model.dim=16"]})
    assert not generator_checkpoint(x[:16], y[:16], ids[:16], meta, other, root / "c2", False)[1]


def test_quality_report_on_a_checkpoint(bench, demo, tmp_path):
    ckpt = bench[2]["scenarios"]["full"]["generator"]["checkpoint"]
    r = quality_report(ckpt, str(demo), n=24, seeds=(0, 1), out=tmp_path, evaluator_epochs=1, show_progress=False)
    assert set(r["rows"]) == {"real", "train", "borrow", "shift", "interpolate", "sample"}
    assert r["rows"]["real"]["fid"]["ci95"] is not None
    assert r["rows"]["train"]["copy_rate"]["mean"] == 1.0  # the training sequences themselves: all copies
    assert r["rows"]["train"]["nearest"]["mean"] < 1e-6 and r["rows"]["real"]["copy_rate"]["mean"] < 1.0
    assert (tmp_path / "quality.json").is_file() and len(r["classes"]) == 8
    assert (tmp_path / "per-class-recognition.png").stat().st_size > 0
    md = (tmp_path / "quality.md").read_text()
    assert "per class" in md and r["classes"][0] in md  # a row per class
    assert len(r["rows"]["borrow"]["per_class_accuracy"]["runs"]) == 2  # one list per seed


def test_recipe_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[benchmark]\nseeds = [0]\nepochs = 3\n")
    with pytest.raises(SkelgenError, match="unknown benchmark recipe key 'benchmark.epochs'"):
        load_bench_recipe(str(bad))
    bad.write_text("[benchmark]\nseeds = ['a']\n")
    with pytest.raises(SkelgenError, match="seeds takes"):
        load_bench_recipe(str(bad))
    bad.write_text("[benchmark]\nmethods = ['none', 'mixup']\n")
    with pytest.raises(SkelgenError, match="unknown method"):
        load_bench_recipe(str(bad))
    bad.write_text("[generator]\ncandidates = 0\n")
    with pytest.raises(SkelgenError, match="candidates must be at least 1"):
        load_bench_recipe(str(bad))


def test_split_pretraining_learns_every_clip_without_labels(demo, splits, tmp_path):
    """generator.pretrain_on = "split": one generator for every scenario, pretrained on the whole
    training split with every label withheld; each scenario still conditions on its own clips."""
    (x, y, ids), _ = splits
    assert [a.tolist() for a in M.pretraining_set(GeneratorConfig(), (x, y, ids), np.arange(3))] == \
        [x[:3].tolist(), y[:3].tolist(), ids[:3].tolist()]
    recipe = tmp_path / "split.toml"
    recipe.write_text(TINY.format(cache=tmp_path / "cache")
                      .replace('classifiers = ["conv", "gcn"]', 'classifiers = ["conv"]\nmethods = ["none", "skelgen-borrow"]')
                      .replace('"full", "lt10", "lt100", "low10", "fewshot5"', '"lt10", "fewshot5"')
                      .replace("[generator]", '[generator]\npretrain_on = "split"')
                      .replace("samples = 40", "samples = 0"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        result = run_benchmark(str(recipe), tmp_path / "out", data=str(demo), show_progress=False)
    gens = [result["scenarios"][s]["generator"] for s in result["scenarios"]]
    assert len(gens) == 2 and gens[0]["checkpoint"] == gens[1]["checkpoint"]
    assert gens[0]["pretrained_on"] == len(y) and result["recipe"]["generator"]["pretrain_on"] == "split"
    with SkeletonFile(Path(gens[0]["checkpoint"]).parent / "train.h5") as sf:
        seen = load_split(sf, "train", 32)
    assert sorted(seen[2].tolist()) == sorted(ids.tolist()) and not seen[1].any()  # every clip, no label
    assert "labels withheld" in (tmp_path / "out" / "results.md").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text('[generator]\npretrain_on = "test"\n')
    with pytest.raises(SkelgenError, match="pretrain_on must be one of scenario, split"):
        load_bench_recipe(str(bad))


def test_candidates_keep_what_the_critic_recognizes(bench, splits):
    """With candidates k, generate returns n sequences: the n of k*n that the critic rates most
    like their class, so their mean probability is at least that of the unfiltered ones."""
    from skelgen.bench.classifier import probabilities
    root, _, result = bench
    (x, y, ids), _ = splits
    ckpt = result["scenarios"]["full"]["generator"]["checkpoint"]
    critic = train_classifier(x, y, 8, ClassifierConfig(width=16, epochs=3, batch_size=16), 0)
    plain = M.Generator(ckpt, x, y, ids, noise_scale=0.05)
    picky = M.Generator(ckpt, x, y, ids, noise_scale=0.05, critic=critic, candidates=4)
    a, b = plain.generate(2, 6, "sample", seed=3), picky.generate(2, 6, "sample", seed=3)
    assert a.shape == b.shape == (6, *x.shape[1:])
    assert probabilities(critic, b)[:, 2].mean() >= probabilities(critic, a)[:, 2].mean()
    assert np.array_equal(b, picky.generate(2, 6, "sample", seed=3))  # deterministic
    with pytest.raises(SkelgenError, match="needs a critic"):
        M.Generator(ckpt, x, y, ids, candidates=2)


def test_the_recipe_calibration_setting_reaches_generation(bench, splits, monkeypatch):
    """The tiny recipe turns calibration off (its cost, not its subject); the default keeps it on,
    and the benchmark's generator passes the setting on (the calibration itself: test_generate)."""
    import skelgen.generate as G
    root, recipe, result = bench
    (x, y, ids), _ = splits
    assert load_bench_recipe(str(recipe)).generator.calibrate is False and GeneratorConfig().calibrate is True
    calls = []
    monkeypatch.setattr(G, "calibrated_reach", lambda model, run, bank, cfg, rate: calls.append(cfg.strategy) or 1.0)
    ckpt = result["scenarios"]["full"]["generator"]["checkpoint"]
    for calibrate in (True, False):
        M.Generator(ckpt, x, y, ids, calibrate=calibrate).generate(2, 3, "borrow", seed=0)
    assert calls == ["borrow"]


# -- the GCN classifier --------------------------------------------------------------------------
CUSTOM = Layout("arm", ("root", "spine_mid", "l_shoulder", "r_shoulder", "l_hand"), (-1, 0, 1, 1, 2),
                {"spine_base": "root", "spine_mid": "spine_mid", "shoulder_left": "l_shoulder",
                 "shoulder_right": "r_shoulder"})


@pytest.mark.parametrize("layout", [KINECT20, NTU25, CUSTOM], ids=lambda l: l.name)
def test_gcn_graph_follows_the_layouts_bones(layout):
    a = layout_graph(layout)
    assert np.array_equal(a[0], np.eye(layout.num_joints))
    inward = {(int(w), int(v)) for w, v in zip(*np.nonzero(a[1]))}
    assert inward == set(layout.bones)                          # child -> parent, nothing else
    assert {(v, w) for w, v in inward} == {(int(w), int(v)) for w, v in zip(*np.nonzero(a[2]))}
    for part in a[1:]:
        sums = part.sum(0)
        assert np.allclose(sums[sums > 0], 1)                   # normalized per receiving joint


def test_gcn_residual_is_a_strided_pointwise_convolution():
    """A downsampling block's residual (a slice, then a 1x1 convolution, in channels-last) is the
    strided 1x1 convolution it stands for, with under 8 input channels too (whose strided form
    crashes oneDNN on AVX2 CPUs)."""
    from skelgen.bench.gcn import Block
    block = Block(4, 8, torch.from_numpy(layout_graph(CUSTOM)), stride=2).to(memory_format=torch.channels_last).eval()
    x = torch.randn(3, 4, 12, CUSTOM.num_joints)                # (N, Cin, T, V)
    conv, bn = block.residual
    ref = bn(torch.nn.functional.conv2d(x, conv.weight.contiguous(), conv.bias, stride=(2, 1)))
    out = block.residual(x.to(memory_format=torch.channels_last)[:, :, ::block.stride])
    out.sum().backward()                                        # the backward pass too
    assert out.shape == (3, 8, 6, CUSTOM.num_joints) and torch.allclose(out, ref, atol=1e-5)


def test_gcn_graph_convolution_is_one_weight_per_partition_over_the_adjacency():
    """The reference form: sum over partitions k of W_k x A_k, plus the bias."""
    torch.manual_seed(0)
    graph = torch.from_numpy(layout_graph(CUSTOM))
    conv = GraphConv(3, 4, graph).eval()
    with torch.no_grad():
        conv.offset.normal_(0, 0.1)
    x = torch.randn(2, 3, 6, CUSTOM.num_joints)                 # (N, Cin, T, V)
    w = conv.conv.weight[:, :, 0]                               # (Cout, Cin, K)
    ref = torch.einsum("oik,nitw,kwv->notv", w, x, graph + conv.offset) + conv.conv.bias.view(1, -1, 1, 1)
    assert torch.allclose(conv(x), conv.bn(ref), atol=1e-5)


def test_gcn_runs_on_a_custom_layout_with_two_persons():
    cfg = ClassifierConfig(kind="gcn", gcn_width=4, batch_size=4, epochs=1)
    x = np.random.default_rng(0).normal(size=(8, 12, 2, 5, 3)).astype(np.float32)  # (B, T, M, V, C)
    model = train_classifier(x, np.arange(8) % 3, 3, cfg, seed=0, layout=CUSTOM)
    assert features(model, x).shape == (8, 16) and predict(model, x).shape == (8,)
    assert torch.equal(model.blocks[0].gcn.graph, torch.from_numpy(layout_graph(CUSTOM)))
    with pytest.raises(SkelgenError, match="needs the data's layout"):
        train_classifier(x, np.arange(8) % 3, 3, cfg, seed=0, layout=KINECT20)
    with pytest.raises(SkelgenError, match="unknown classifier kind 'rnn'"):
        train_classifier(x, np.arange(8) % 3, 3, ClassifierConfig(kind="rnn"), seed=0)


def test_gcn_beats_chance_on_the_demo_data(splits, demo):
    (x_tr, y_tr, _), (x_te, y_te, _) = splits
    with SkeletonFile(demo) as sf:
        layout = sf.layout
    cfg = ClassifierConfig(kind="gcn", gcn_width=8, epochs=15, batch_size=16, lr=3e-3)
    model = train_classifier(x_tr, y_tr, 8, cfg, seed=0, layout=layout)
    assert (predict(model, x_te) == y_te).mean() > 3 / 8  # chance: 1/8


@pytest.mark.parametrize("kind", ["conv", "gcn"])
def test_bf16_classifiers_learn_as_fp32_ones_do(splits, demo, kind):
    (x_tr, y_tr, _), (x_te, y_te, _) = splits
    with SkeletonFile(demo) as sf:
        layout = sf.layout
    acc = {}
    for precision in ("fp32", "bf16"):
        cfg = ClassifierConfig(kind=kind, width=16, gcn_width=4, epochs=15, batch_size=16, lr=3e-3, precision=precision)
        acc[precision] = (predict(train_classifier(x_tr, y_tr, 8, cfg, seed=0, layout=layout), x_te) == y_te).mean()
    assert acc["bf16"] > 3 / 8 and abs(acc["bf16"] - acc["fp32"]) <= 0.25  # chance: 1/8


@pytest.mark.parametrize("faster", [True, False])
def test_cached_cells_name_the_precision_auto_picked(faster, monkeypatch):
    import skelgen.precision as precision_module
    from skelgen.bench.classifier import resolved
    monkeypatch.setattr(precision_module, "bf16_matmul_faster", lambda: faster)
    assert resolved(ClassifierConfig()).precision == ("bf16" if faster else "fp32")
    assert resolved(ClassifierConfig(precision="fp32")).precision == "fp32"
    with pytest.raises(SkelgenError, match="classifier.precision must be auto, fp32 or bf16"):
        ClassifierConfig(precision="half")
    x, y, ids = np.zeros((4, 8, 1, 25, 3), np.float32), np.arange(4), np.arange(4)
    folder = M.generator_folder(x, y, ids, {"layout": NTU25, "codes": ["a"]}, GeneratorConfig(), "cache")
    assert folder.name.endswith("-bf16") is faster  # a bf16 generator is cached apart from fp32 ones


def test_early_stopping_returns_the_best_model_and_stops(splits):
    (x, y, _), _ = splits
    held = validation_split(y, 8, 0.34, seed=0)
    cfg = ClassifierConfig(width=8, epochs=40, batch_size=16, patience=1)
    model = train_classifier(x[~held], y[~held], 8, cfg, seed=0, val=(x[held], y[held]))
    assert model.steps_trained < 40 * (len(y[~held]) // 16)  # stopped before the end


def test_finished_cells_are_not_redone(bench, demo, monkeypatch):
    """A rerun (as after an interruption) takes every finished cell from the cache."""
    root, recipe, result = bench
    monkeypatch.chdir(root)
    import skelgen.bench.run as R
    monkeypatch.setattr(R, "train_and_score", lambda *a, **k: pytest.fail("a finished cell was redone"))
    no_quality = root / "no-quality.toml"  # the quality protocol is not cached, and not what this tests
    no_quality.write_text(recipe.read_text().replace("samples = 40", "samples = 0"))
    again = run_benchmark(str(no_quality), root / "again", data=str(demo), show_progress=False)
    for kind in KINDS:
        for sc in SCENARIOS:
            for m, r in again["results"][kind][sc].items():
                assert r["balanced"] == result["results"][kind][sc][m]["balanced"]


def test_parallel_jobs_give_the_same_numbers(bench, demo, tmp_path, monkeypatch):
    """benchmark.jobs = 2 trains the generators and the classifiers in two spawned processes; every
    number equals the one process run's (nothing taken from its cache)."""
    import shutil
    root, recipe, result = bench
    monkeypatch.chdir(root)
    cache = tmp_path / "cache"
    shutil.copytree(root / "cache", cache, ignore=shutil.ignore_patterns("cells", "checkpoint.pt"))
    two = tmp_path / "two.toml"
    two.write_text(recipe.read_text().replace(str(root / "cache"), str(cache)).replace("samples = 40", "samples = 0")
                   .replace('"full", "lt10", "lt100", "low10", "fewshot5"', '"lt10"')
                   .replace("jobs = 1", "jobs = 2"))
    again = run_benchmark(str(two), tmp_path / "out", data=str(demo), show_progress=False)
    assert len(list((cache / "cells").iterdir())) == 2 * len(M.METHODS)  # every cell done anew
    assert not any(info["generator"]["cached"] for info in again["scenarios"].values())
    for kind in KINDS:
        for m, r in again["results"][kind]["lt10"].items():
            assert r["per_class"] == result["results"][kind]["lt10"][m]["per_class"], (kind, m)


def test_a_dead_worker_is_one_clear_error():
    import os
    from skelgen.bench.workers import Workers
    with pytest.raises(SkelgenError, match="a benchmark worker process died"), Workers(2, 1) as workers:
        workers.submit(os._exit, 3).result()  # as the kernel's out-of-memory killer would end it


@pytest.mark.parametrize("args, expected, jobs", [([], "bench-demo", 0), (["--data", "{data}"], "bench-data", 0),
                                                  (["--data", "{data}", "--recipe", "bench-demo", "--jobs", "2"],
                                                   "bench-demo", 2),
                                                  (["--recipe", "{three}", "--jobs", "0"], "three", 0)])
def test_benchmark_picks_the_real_data_recipe_with_data(demo, tmp_path, monkeypatch, args, expected, jobs):
    from click.testing import CliRunner

    from skelgen import cli
    from skelgen.bench import run as bench_run
    seen = {}
    monkeypatch.setattr(bench_run, "run_benchmark", lambda recipe, out, data=None: seen.update(recipe=recipe) or {})
    monkeypatch.setattr(cli, "emit", lambda *a, **k: None)
    monkeypatch.setattr("skelgen.bench.report.change_markdown", lambda result: "")
    three = tmp_path / "three.toml"  # a recipe asking for 3 jobs: --jobs 0 must override it
    three.write_text('name = "three"\n[benchmark]\njobs = 3\n')
    args = [a.format(data=demo, three=three) for a in args]
    result = CliRunner().invoke(cli.main, ["benchmark", *args, "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert seen["recipe"].name == expected and seen["recipe"].benchmark.jobs == jobs


def test_default_jobs_follow_cores_and_memory(monkeypatch):
    from skelgen.bench import workers as W
    monkeypatch.setattr(W, "_cores", lambda: 16)
    monkeypatch.setattr(W, "_memory_gb", lambda: 64.0)
    assert W.default_jobs() == W.MAX_DEFAULT_JOBS == 8
    monkeypatch.setattr(W, "_memory_gb", lambda: 12.0)   # 4 workers of 3 GB
    assert W.default_jobs() == 4
    monkeypatch.setattr(W, "_memory_gb", lambda: 1.0)
    assert W.default_jobs() == 1
    monkeypatch.setattr(W, "_cores", lambda: 2)
    monkeypatch.setattr(W, "_memory_gb", lambda: None)
    assert W.default_jobs() == 2


def test_loss_weights_scale_each_sequence(splits):
    """Equal weights train the same model as none; zero-weighted sequences teach nothing: copies
    with wrong labels at weight 0 leave the training set's labels learned."""
    (x, y, _), _ = splits
    cfg = ClassifierConfig(width=8, epochs=6, batch_size=16, lr=3e-3)
    plain = train_classifier(x, y, 8, cfg, seed=0)
    equal = train_classifier(x, y, 8, cfg, seed=0, weights=np.full(len(y), 2.5))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(plain.state_dict().values(), equal.state_dict().values()))
    wrong = (y + 1) % 8
    x2, y2 = np.concatenate([x, x]), np.concatenate([y, wrong])
    ignored = train_classifier(x2, y2, 8, cfg, seed=0, weights=np.r_[np.ones(len(y)), np.zeros(len(y))])
    counted = train_classifier(x2, y2, 8, cfg, seed=0)
    assert (predict(ignored, x) == y).mean() > (predict(counted, x) == y).mean() + 0.2
    for bad in (np.ones(len(y) - 1), np.r_[-1.0, np.ones(len(y) - 1)], np.r_[np.nan, np.ones(len(y) - 1)]):
        with pytest.raises(SkelgenError, match="weights must be"):
            train_classifier(x, y, 8, cfg, seed=0, weights=bad)
