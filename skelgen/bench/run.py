"""`skelgen benchmark`: does synthetic data help a classifier? Recipe -> scenarios x methods x
seeds x classifiers -> a results folder (results.json, results.md, ids.json, PNGs).

A benchmark recipe (recipes/bench-*.toml) has four tables, 1:1 with the dataclasses below:
[benchmark] data and protocol, [classifier] -> ClassifierConfig, [generator] the pretraining
recipe (name + overrides) and generation knobs, [quality] the ACTOR/MDM protocol; it is read
as a pretraining recipe is (recipe.Tables), so unknown keys are errors. Each scenario's generator
is pretrained on that scenario's training sequences only, written, normalized, to an HDF5 file
(``generator.pretrain_on = "split"`` instead pretrains one generator on the whole training split
with its labels withheld: clips without labels, as the paper's pretraining uses them), and cached
in ``<cache_dir>/<data fingerprint>-<recipe hash>/checkpoint.pt`` (methods.generator_checkpoint),
so a rerun does not retrain it. Every
finished cell (scenario, method, seed, classifier) is cached too, in ``<cache_dir>/cells/``, under
a hash of everything it depends on (the data, the scenario's sequences, the classifier and, for
skelgen methods, the generator settings), so an interrupted benchmark resumes where it stopped.

Early stopping (classifier.val_fraction, patience): each scenario's real sequences give a
validation set (scenarios.validation_split), the same for every method, classifier and seed; the
classifiers train on the rest plus each method's additions. The scenario's generator (and so
the skelgen methods) sees all of the scenario's sequences, the validation ones included; the
oracle draws only on sequences the scenario removed. The test split is only ever scored.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SkelgenError, check_range
from ..generate import VERSION as GENERATION
from ..generation_config import GenerationConfig
from ..io.atomic import AtomicPath, check_folder
from ..io.dataset import SkeletonFile
from ..preprocess import load_split
from ..progress import Progress
from ..runtime import torch_threads
from ..recipe import Tables
from ..repeats import repeats_of
from . import methods as M
from .classifier import TRAINING, ClassifierConfig, check_kind, resolved, train_classifier
from .quality import rate, train_evaluator
from .report import write_report
from .scenarios import make_scenario, validation_split
from .workers import Workers, train_and_score, train_generator


@dataclass
class BenchmarkConfig:
    data: str = ""                # dataset file; empty = the procedural demo data (made in cache_dir)
    train_split: str = "train"
    test_split: str = "test"
    frames: int = 32              # every sequence is resampled to this many frames
    scenarios: list[str] = field(default_factory=lambda: ["full", "lt10", "lt100", "low10", "fewshot10"])
    methods: list[str] = field(default_factory=lambda: list(M.METHODS))
    classifiers: list[str] = field(default_factory=list)  # kinds (conv, gcn); empty: [classifier] kind
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    add_fraction: float = 1.0     # full / low-data scenarios: sequences added per class, x its count
    subset_seed: int = 0          # which sequences the scenarios keep
    cache_dir: str = "runs/bench-cache"
    demo_per_class: int = 60      # the demo data's sequences per class (when data is empty)
    threads: int = 1              # torch CPU threads during the run (0: leave as is); on a busy
                                  # 2-core machine one thread was 3-40x faster than two
    jobs: int = 0                 # generators and classifier runs trained at once, each in its own
                                  # process with `threads` threads (workers.py); 0: one per core, at
                                  # most 8, and no more than the memory holds at 3 GB each

    def __post_init__(self):
        for key, low in (("frames", 1), ("subset_seed", 0), ("demo_per_class", 4), ("threads", 0), ("jobs", 0)):
            check_range(f"benchmark.{key}", getattr(self, key), low, fix="fix it in the benchmark recipe")
        if not self.add_fraction > 0:
            raise SkelgenError(f"benchmark.add_fraction must be a number > 0, not {self.add_fraction!r}; "
                               f"fix it in the benchmark recipe")


PRETRAIN_ON = ("scenario", "split")  # what a benchmark's generator learns from (GeneratorConfig.pretrain_on)


@dataclass
class GeneratorConfig:
    recipe: str = "demo"          # a pretraining recipe (recipes/NAME.toml or a path)
    overrides: list[str] = field(default_factory=list)  # "table.key=value", as `pretrain --set`
    min_steps: int = 0            # small scenarios train more epochs to reach this many steps
    noise_scale: float = GenerationConfig.noise_scale
    temperature: float = GenerationConfig.temperature
    novelty: float = GenerationConfig.novelty
    calibrate: bool = GenerationConfig.calibrate
    candidates: int = 1           # > 1: generate this many per sequence added and keep the ones a
                                  # recognizer trained on the scenario's real sequences (the
                                  # [classifier] settings, seed 0) finds most like their class
    pretrain_on: str = "scenario"  # "scenario": each scenario's generator learns from its own
                                  # sequences only; "split": one generator learns from every
                                  # sequence of the training split with its labels withheld, and
                                  # each scenario conditions it on its own labelled sequences (labels
                                  # scarce, clips not: the paper's unsupervised premise)

    def __post_init__(self):
        for key in ("min_steps", "noise_scale", "temperature"):
            check_range(f"generator.{key}", getattr(self, key), 0, fix="fix it in the benchmark recipe")
        if self.pretrain_on not in PRETRAIN_ON:
            raise SkelgenError(f"generator.pretrain_on must be one of {', '.join(PRETRAIN_ON)}, not "
                               f"{self.pretrain_on!r}; fix it in the benchmark recipe")

    def cache_key(self) -> dict:
        """The settings a skelgen cell depends on; the default pretrain_on is left out, so cells
        cached before the key existed keep their names (a GCN cell is minutes of CPU)."""
        d = dataclasses.asdict(self)
        return d if self.pretrain_on != "scenario" else {k: v for k, v in d.items() if k != "pretrain_on"}


@dataclass
class QualityConfig:
    samples: int = 1000           # generated sequences per run; 0 skips the quality protocol
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    evaluator_epochs: int = 30
    strategies: list[str] = field(default_factory=lambda: ["borrow", "shift", "interpolate", "sample"])

    def __post_init__(self):
        check_range("quality.samples", self.samples, 0, fix="fix it in the benchmark recipe")
        check_range("quality.evaluator_epochs", self.evaluator_epochs, 1, fix="fix it in the benchmark recipe")


@dataclass
class BenchRecipe(Tables):
    """A benchmark recipe: [benchmark], [classifier], [generator], [quality]; read like a
    pretraining recipe (recipe.Tables)."""
    name: str = "custom"
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    KIND = "benchmark recipe"
    PATTERN = "bench-*.toml"


def load_bench_recipe(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> BenchRecipe:
    """A benchmark recipe from ``recipes/NAME.toml`` or a path, with ``key=value`` overrides
    applied; checks scenario, method and classifier names."""
    r = BenchRecipe.load(name_or_path, overrides)
    for name in r.benchmark.scenarios:
        make_scenario(name, np.arange(2), 2)  # parses the name
    for name in r.benchmark.methods:
        M.parse_method(name)
    for kind in classifier_kinds(r):
        check_kind(kind)
    if r.generator.candidates < 1:
        raise SkelgenError(f"{r.name}: generator.candidates must be at least 1, not {r.generator.candidates}")
    if not r.benchmark.seeds or not r.benchmark.scenarios or "none" not in r.benchmark.methods:
        raise SkelgenError(f"{r.name}: needs seeds, scenarios and the method 'none' (the reference)")
    return r


def classifier_kinds(r: BenchRecipe) -> list[str]:
    return list(r.benchmark.classifiers) or [r.classifier.kind]


def demo_data(b: BenchmarkConfig) -> Path:
    from ..demo import write_demo
    path = Path(b.cache_dir) / f"demo-{b.demo_per_class}.h5"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_demo(path, n_per_class=b.demo_per_class)
    return path


def run_benchmark(recipe: str | BenchRecipe = "bench-demo", out_dir="runs/benchmark", data=None,
                  show_progress: bool = True) -> dict:
    """Run a benchmark recipe (a name, a path or a loaded BenchRecipe); writes the results folder
    ``out_dir`` and returns results.json's dict. ``data`` overrides the recipe's dataset file.
    With ``benchmark.jobs`` other than 1 the work runs in spawned processes, which import the
    calling script: call this under ``if __name__ == "__main__":``, as with any multiprocessing."""
    r = recipe if isinstance(recipe, BenchRecipe) else load_bench_recipe(recipe)
    check_folder(out_dir)  # before hours of work, not after
    with torch_threads(r.benchmark.threads), Workers(r.benchmark.jobs, r.benchmark.threads) as workers:
        return _run(r, Path(out_dir), data, workers, show_progress)


def _run(r: BenchRecipe, out_dir: Path, data, workers: Workers, show_progress: bool) -> dict:
    t0 = time.perf_counter()
    b, q = r.benchmark, r.quality
    data = Path(data or b.data or demo_data(b))
    with SkeletonFile(data) as sf:
        train, test = load_split(sf, b.train_split, b.frames), load_split(sf, b.test_split, b.frames)
        meta = {"layout": sf.layout, "codes": list(sf.classes.codes), "names": list(sf.classes.names)}
    test_ids, k = set(test[2].tolist()), len(meta["codes"])
    if test_ids & set(train[2].tolist()):
        raise SkelgenError(f"{data}: splits {b.train_split} and {b.test_split} share sequences")
    empty = np.bincount(train[1], minlength=k) == 0
    if empty.any():
        c = int(np.argmax(empty))
        raise SkelgenError(f"{data}: split {b.train_split!r} has no samples of class {meta['codes'][c]} "
                           f"{meta['names'][c]}; every class needs training samples, so use data that has them")
    scenarios = [make_scenario(name, train[1], k, b.add_fraction, b.subset_seed) for name in b.scenarios]
    if show_progress:  # once the data has passed its checks, so bad input gets one error line only
        print(f"benchmark {r.name} on {data} -> {out_dir} (generators and finished runs are cached; a "
              f"rerun skips them)", file=sys.stderr)
    evaluator = train_evaluator(train[0], train[1], k, q.evaluator_epochs, 0, show_progress) if q.samples else None
    kinds = classifier_kinds(r)
    result = {"recipe": r.to_dict(), "data": str(data), "classes": meta["codes"], "class_names": meta["names"],
              "train_samples": len(train[1]), "test_samples": len(test[1]), "classifiers": kinds, "scenarios": {},
              "results": {kind: {} for kind in kinds}, "quality": {},
              "leak_check": {"test_ids": len(test_ids), "passed": True,
                             "identical_to_train": int(repeats_of(train[0], test[0]).sum())}}  # the data's own
    ids = {"test": sorted(test_ids), "scenarios": {}}
    timing = {"generators": {}, "classifiers": {kind: 0.0 for kind in kinds}, "quality": 0.0}
    cells = CellCache(Path(b.cache_dir) / "cells", train, test)
    needs_generator = q.samples > 0 or any(M.parse_method(m)[0] == "skelgen" for m in b.methods)
    trained = _generators(r, train, scenarios, meta, workers, show_progress) if needs_generator else {}
    for sc in scenarios:
        x, y, sc_ids = (a[sc.indices] for a in train)
        generator, info = None, sc.to_dict()
        largest = int(sc.counts.sum() + (sc.add.sum() if set(b.methods) - {"none"} else 0))
        info["classifier_steps"] = max(r.classifier.min_steps,  # the same for every method of a scenario
                                       r.classifier.epochs * max(largest // min(r.classifier.batch_size, largest), 1))
        if needs_generator:
            ckpt, cached, seconds, learned = trained[sc.name]
            timing["generators"][sc.name] = seconds
            info["generator"] = {"checkpoint": str(ckpt), "cached": cached, "pretrained_on": learned}
            critic = (train_classifier(x, y, k, r.classifier, 0, info["classifier_steps"], layout=meta["layout"])
                      if r.generator.candidates > 1 else None)
            generator = M.Generator(ckpt, x, y, sc_ids, r.generator.noise_scale, r.generator.temperature,
                                    critic, r.generator.candidates, r.generator.novelty, r.generator.calibrate)
        held = (validation_split(y, k, r.classifier.val_fraction, b.subset_seed)
                if r.classifier.val_fraction > 0 and r.classifier.patience > 0 else np.zeros(len(y), bool))
        info["validation"] = np.bincount(y[held], minlength=k).tolist()
        real, val = M.real_set(x[~held], y[~held], sc_ids[~held]), ((x[held], y[held]) if held.any() else None)
        out = np.setdiff1d(np.arange(len(train[1])), sc.indices)
        removed = M.real_set(*(a[out] for a in train))
        result["scenarios"][sc.name] = info
        runs, seen = _classify(r, kinds, sc, real, removed, val, generator, test, test_ids,
                               info["classifier_steps"], meta["layout"], cells, workers, show_progress)
        for kind in kinds:
            result["results"][kind][sc.name] = runs[kind]
            timing["classifiers"][kind] += sum(m["seconds"] for m in runs[kind].values())
        ids["scenarios"][sc.name] = {"train": sorted(sc_ids.tolist()), "seen": seen}
        if q.samples:
            t = time.perf_counter()
            result["quality"][sc.name] = rate(generator, evaluator, test[0], test[1], k, q.samples, tuple(q.seeds),
                                              tuple(q.strategies), show_progress)
            timing["quality"] += time.perf_counter() - t
    result["timing"] = {**timing, "wall": time.perf_counter() - t0, "jobs": workers.jobs}
    return write_report(result, ids, out_dir)


def _generators(r: BenchRecipe, train, scenarios, meta: dict, workers: Workers, show_progress: bool) -> dict:
    """{scenario: (checkpoint, cached, seconds, sequences it learned from)}: each scenario's
    generator, trained (or found in the cache) before any classifier, side by side where
    ``workers`` has several jobs; scenarios that share one (``pretrain_on = "split"``) train it once."""
    alone = workers.jobs == 1  # one job: each pretraining shows its own progress bar
    handles, learned = {}, {}
    for sc in scenarios:
        x, y, ids = M.pretraining_set(r.generator, train, sc.indices)
        folder = M.generator_folder(x, y, ids, meta, r.generator, r.benchmark.cache_dir)
        if folder not in handles:
            handles[folder] = workers.submit(train_generator, x, y, ids, meta, r.generator, r.benchmark.cache_dir,
                                             show_progress and alone)
        learned[sc.name] = (folder, len(y))
    done = {}
    with Progress(len(handles), f"generators ({workers.jobs} at a time)", "runs",
                  enabled=show_progress and not alone) as bar:
        bar.update(0)
        for folder, handle in handles.items():
            while not handle.wait(1.0):
                bar.update(0)  # the bar's clock shows the work is alive
            done[folder] = handle.result()
            bar.update(1)
    result, counted = {}, set()
    for name, (folder, n) in learned.items():
        ckpt, cached, seconds = done[folder]
        result[name] = (ckpt, cached, 0.0 if folder in counted else seconds, n)  # a shared one's time counts once
        counted.add(folder)
    return result


class CellCache:
    """Finished cells (scenario, method, seed, classifier) as JSON files in ``folder``, one per
    hash of what the cell depends on; ``train`` and ``test`` (x, y, ids) fingerprint the data."""

    def __init__(self, folder: Path, train, test):
        self.folder = folder
        self.data = M._digest(*(a.tobytes() for a in (train[0], train[1], test[0], test[1])),
                              list(map(str, train[2])), list(map(str, test[2])))

    def key(self, *parts) -> Path:
        return self.folder / f"{M._digest(self.data, *parts)}.json"

    def get(self, path: Path) -> dict | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # not there yet, or cut off by an interruption: redo it

    def put(self, path: Path, cell: dict):
        self.folder.mkdir(parents=True, exist_ok=True)
        with AtomicPath(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(cell))


def _classify(r: BenchRecipe, kinds: list[str], sc, real: M.TrainingSet, removed: M.TrainingSet, val,
              generator, test, test_ids: set, steps: int, layout, cells: CellCache, workers: Workers,
              show_progress: bool):
    """Every method x seed x classifier kind of one scenario: ({kind: {method: runs}}, {method: real
    ids it used}). ``real``: the scenario's sequences bar the validation set ``val`` (x, y) or None;
    ``removed``: the training sequences the scenario left out (for the oracle). Each training set
    is built once and serves every kind; the runs not cached go to ``workers``, at most two a
    worker waiting (each holds its training set)."""
    b, k = r.benchmark, len(sc.counts)
    methods = [m for m in b.methods if not (m == M.CEILING and len(removed.y) == 0)]  # full: no ceiling
    counts = np.bincount(real.y, minlength=k)
    runs, seen = {kind: {} for kind in kinds}, {}
    waiting = collections.deque()  # (kind, method, cache path, cell so far, worker handle or None)

    def finish(kind, method, path, cell, handle):
        if handle is not None:
            while not handle.wait(1.0):
                bar.update(0)  # a GCN run takes minutes: keep the clock moving
            cell = {**cell, **handle.result()}
            cells.put(path, cell)
        entry = runs[kind].setdefault(method, {"runs": [], "train_size": int(sum(cell["train_counts"])),
                                               "seconds": 0.0, "train_counts": cell["train_counts"]})
        entry["runs"].append({**cell["score"], "steps": cell["steps"]})
        entry["seconds"] += cell["seconds"] if handle is not None else 0.0  # this run's work only
        seen[method] = cell["seen"]
        bar.update(1, method=method)

    window = 2 * workers.jobs if workers.jobs > 1 else 0
    with Progress(len(methods) * len(b.seeds) * len(kinds), f"{sc.name} {'+'.join(kinds)}", "runs",
                  enabled=show_progress) as bar:
        bar.update(0)  # shown now: a GCN run takes minutes
        for method in methods:
            skelgen = M.parse_method(method)[0] == "skelgen"
            expected = counts + {"none": 0, M.CEILING: np.minimum(sc.add, np.bincount(removed.y, minlength=k))
                                 }.get(method, sc.add)
            for seed in b.seeds:
                ts = None
                for kind in kinds:
                    cfg = dataclasses.replace(resolved(r.classifier), kind=kind)
                    path = cells.key(TRAINING, sc.indices.tobytes(), real.ids.tolist(), sc.add.tolist(), method,
                                     seed, dataclasses.asdict(cfg), steps,
                                     (r.generator.cache_key(), GENERATION) if skelgen else None)
                    cell, handle = cells.get(path), None
                    if cell is None:
                        if ts is None:
                            ts = M.build(method, real, sc.add, seed, generator, removed)
                            ts.check(expected, test_ids, f"{sc.name}/{method}")
                        handle = workers.submit(train_and_score, ts.x, ts.y, k, cfg, seed, steps, layout, val,
                                                test, sc.counts)
                        cell = {"train_counts": np.bincount(ts.y, minlength=k).tolist(), "seen": sorted(ts.seen)}
                    waiting.append((kind, method, path, cell, handle))
                    while len(waiting) > window:
                        finish(*waiting.popleft())
        while waiting:
            finish(*waiting.popleft())
    return runs, seen
