"""skelgen.bench: a tiny benchmark on the demo data runs end to end; scenarios keep exactly the
promised class counts; every method adds exactly the promised sequences; no test sequence reaches
a training set or a generator; the quality metrics behave; generators are cached."""
import json

import numpy as np
import pytest

from skelgen.bench import methods as M
from skelgen.bench.classifier import ClassifierConfig, predict, train_classifier
from skelgen.bench.quality import RealSets, class_schedule, frechet_distance, metrics, quality_report
from skelgen.bench.methods import generator_checkpoint
from skelgen.bench.run import GeneratorConfig, load_bench_recipe, load_split, run_benchmark, torch_threads
from skelgen.bench.scenarios import longtail_counts, lowdata_counts, make_scenario
from skelgen.demo import write_demo
from skelgen.errors import SkelgenError
from skelgen.io.dataset import SkeletonFile

TINY = """
name = "tiny"
[benchmark]
cache_dir = "{cache}"
seeds = [0]
[classifier]
width = 16
epochs = 2
batch_size = 16
[generator]
recipe = "demo"
overrides = ["model.dim=32", "model.heads=2", "train.epochs=1", "train.batch_size=16", "train.warmup_epochs=1"]
[quality]
samples = 40
seeds = [0]
evaluator_epochs = 2
"""
SCENARIOS = ("full", "lt10", "lt100", "low10")


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
    assert longtail_counts(avail, 10).tolist() == [9, 4, 2, 1]    # 9 * 10 ** (-k / 3), rounded
    assert longtail_counts(avail, 1).tolist() == [9, 9, 9, 9]
    assert lowdata_counts(avail, 0.1).tolist() == [1, 1, 1, 2]


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
    add = np.array([0, 2, 3]) if method != "none" else np.zeros(3, int)
    a, b = (M.build(method, real, add, seed=1, generator=FakeGenerator()) for _ in range(2))
    assert np.bincount(a.y).tolist() == (np.bincount(y) + add).tolist()
    assert a.x.shape[1:] == real.x.shape[1:] and np.array_equal(a.x[:7], real.x)
    assert a.synthetic.sum() == add.sum() and np.array_equal(a.x, b.x)  # seeded
    assert real.seen <= a.seen <= real.seen | FakeGenerator.seen


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


# -- the benchmark -------------------------------------------------------------------------------
def test_tiny_benchmark_has_every_method_and_scenario(bench):
    root, _, result = bench
    saved = json.loads((root / "out" / "results.json").read_text())
    assert list(saved["results"]) == list(SCENARIOS)
    for sc in SCENARIOS:
        assert list(saved["results"][sc]) == list(M.METHODS)
        for r in saved["results"][sc].values():
            assert 0 <= r["balanced"]["mean"] <= 1 and len(r["per_class"]) == 8
        assert set(saved["quality"][sc]) == {"real", "shift", "interpolate", "sample"}
        real = saved["quality"][sc]["real"]  # diversity_ratio is NaN where no class has 2 training sequences
        assert all(np.isfinite(v["mean"]) for m, v in real.items() if m != "diversity_ratio")
    for name in ("results.md", "accuracy-balanced.png", "gain-lt100.png", "quality-fid.png"):
        assert (root / "out" / name).stat().st_size > 0


def test_benchmark_scenarios_have_the_promised_counts(bench):
    s = bench[2]["scenarios"]
    assert s["full"]["counts"] == [9] * 8 and s["full"]["added"] == [9] * 8
    assert s["lt10"]["counts"] == [9, 6, 5, 3, 2, 2, 1, 1]        # round(9 * 10 ** (-k / 7))
    assert s["lt100"]["counts"] == [9, 5, 2, 1, 1, 1, 1, 1]
    assert s["low10"]["counts"] == [1] * 8
    for sc, info in s.items():
        for method, r in bench[2]["results"][sc].items():
            extra = 0 if method == "none" else np.array(info["added"])
            assert r["train_counts"] == (np.array(info["counts"]) + extra).tolist()


def test_no_test_sequence_reaches_a_training_set(bench, demo):
    root = bench[0]
    with SkeletonFile(demo) as sf:
        ids = np.array(sf.ids)
        test, train = set(ids[sf.indices("test")]), set(ids[sf.indices("train")])
    saved = json.loads((root / "out" / "ids.json").read_text())
    assert set(saved["test"]) == test
    for sc, d in saved["scenarios"].items():
        assert set(d["train"]) <= train and not set(d["train"]) & test
        for seen in d["seen"].values():
            assert set(seen) <= set(d["train"])
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
    assert set(r["rows"]) == {"real", "shift", "interpolate", "sample"}
    assert r["rows"]["real"]["fid"]["ci95"] is not None
    assert (tmp_path / "quality.json").is_file() and (tmp_path / "quality.md").is_file()


def test_recipe_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[benchmark]\nseeds = [0]\nepochs = 3\n")
    with pytest.raises(SkelgenError, match="unknown key 'epochs'"):
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
