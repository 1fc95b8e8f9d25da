"""Generation quality, the ACTOR / MDM protocol.

An evaluator recognizer (the benchmark's ConvClassifier) is trained on the real training split;
its penultimate features (n, H) judge generated sequences:
  fid             Frechet distance between Gaussian fits of generated and real test features
  accuracy        the evaluator's top-1 on generated sequences against their conditioned class
  diversity       mean distance of 200 random pairs of generated sequences
  multimodality   mean distance of 20 random same-class pairs, averaged over classes
and their novelty (skelgen.novelty) against the real training sequences the generator
conditions on, with the real test split as the reference:
  copy_rate       share closer to a training sequence of their class than the 5th percentile of
                  the real test-to-train distances, in normalized joint space
  nearest         median distance to the nearest training sequence of the class (metres)
  feature_copy_rate  the copy rate in the evaluator's feature space
  diversity_ratio per class, generated over real within-class joint-space diversity, averaged
and per class, ``per_class_accuracy``: how often each class's sequences are recognized as it. A
low share for ``sample`` (the decoder's own rebuilds of real sequences) marks a class the decoder
draws poorly, or one the evaluator knows by its sensor jitter, which smooth rebuilds lack
(NW-UCLA's donning; BENCHMARKS.md 8o).
Each run generates ``n`` sequences, classes in equal shares; the runs' seeds give the mean and a
95 % interval (Student t, half-width). Two rows of real sequences frame the generated ones, each
drawn with the same class schedule (with replacement): "real" from the test split, whose fid is
the floor, and "train" from the training sequences the generator conditions on, what random
oversampling adds: a copy rate of 100 % by definition, and the fid of a generator that copies its
data perfectly. The evaluator has learned those very sequences, so "train" can score a higher fid
than good generated ones (NW-UCLA's views 1, 2 against view 3: BENCHMARKS.md 10p).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import linalg, stats

from ..errors import SkelgenError
from ..generation_config import GenerationConfig
from ..io.atomic import AtomicPath, check_folder, make_folder
from ..progress import Progress
from ..runtime import torch_threads
from ..novelty import Reference
from .classifier import ClassifierConfig, features, predict, train_classifier

METRICS = ("fid", "accuracy", "diversity", "multimodality", "copy_rate", "nearest", "feature_copy_rate",
           "diversity_ratio")


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """FID between feature sets a (n, H) and b (m, H)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # few samples make singular covariances; handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():  # offset the diagonals (as pytorch-fid does)
            offset = np.eye(len(cov_a)) * eps
            covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean.real))


def diversity(f: np.ndarray, rng: np.random.Generator, pairs: int = 200) -> float:
    """Mean Euclidean distance of ``pairs`` random pairs of rows of f (n, H)."""
    i, j = rng.integers(0, len(f), pairs), rng.integers(0, len(f), pairs)
    return float(np.linalg.norm(f[i] - f[j], axis=1).mean())


def multimodality(f: np.ndarray, labels: np.ndarray, rng: np.random.Generator, pairs: int = 20) -> float:
    """``diversity`` within each class (``pairs`` pairs), averaged over classes with 2+ rows."""
    per_class = [diversity(f[labels == c], rng, pairs) for c in np.unique(labels) if (labels == c).sum() > 1]
    return float(np.mean(per_class)) if per_class else float("nan")


REAL_ROWS = ("real", "train")  # real test sequences, and the generator's real training sequences


def class_schedule(n: int, num_classes: int) -> np.ndarray:
    """(n,) labels in equal shares (the first n mod K classes get one more)."""
    return np.sort(np.arange(n) % num_classes)


@dataclass
class RealSets:
    """The real sequences the metrics compare with: training (what the generator conditions on)
    and test (the reference), each as sequences x (n, T, M, V, C), labels y (n,) and evaluator
    features f (n, H)."""
    train_x: np.ndarray
    train_y: np.ndarray
    train_f: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    test_f: np.ndarray

    _references: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, evaluator, train_x, train_y, test_x, test_y) -> "RealSets":
        return cls(train_x, train_y, features(evaluator, train_x), test_x, test_y, features(evaluator, test_x))

    def reference(self, kind: str, seed: int) -> Reference:
        """The novelty reference in joint space (``kind="joint"``) or feature space, computed
        once per seed: the protocol compares every generated set of a seed with the same one."""
        if (kind, seed) not in self._references:
            train, test = (self.train_x, self.test_x) if kind == "joint" else (self.train_f, self.test_f)
            self._references[kind, seed] = Reference.of(train, self.train_y, test, self.test_y, seed)
        return self._references[kind, seed]


def metrics(evaluator, x: np.ndarray, y: np.ndarray, real: RealSets, seed: int) -> dict:
    """The metrics of sequences x (n, T, M, V, C) meant as classes y (n,), against ``real``."""
    f = features(evaluator, x)
    rng = np.random.default_rng(seed)
    joint, _, _ = real.reference("joint", seed).novelty(x, y, seed)
    feature, _, _ = real.reference("feature", seed).novelty(f, y, seed)
    right = predict(evaluator, x) == y
    k = int(real.test_y.max()) + 1  # the test split holds every class (rate checks it)
    counts = np.bincount(y, minlength=k)
    per_class = np.where(counts > 0, np.bincount(y, right, k) / np.maximum(counts, 1), np.nan)  # NaN: none made
    return {"fid": frechet_distance(f, real.test_f), "accuracy": float(right.mean()),
            "diversity": diversity(f, rng), "multimodality": multimodality(f, y, rng),
            "copy_rate": joint.copy_rate, "nearest": joint.generated_median,
            "feature_copy_rate": feature.copy_rate, "diversity_ratio": joint.diversity_ratio,
            "per_class_accuracy": per_class.tolist()}


def summarize(runs: list[dict]) -> dict:
    """{metric: {mean, ci95, runs}} over runs (ci95 None for a single run), and
    ``per_class_accuracy``: {mean: (K,) list, runs}."""
    out = {}
    for m in METRICS:
        v = np.array([r[m] for r in runs], float)
        ci = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
        out[m] = {"mean": float(v.mean()), "ci95": ci, "runs": v.tolist()}
    per_class = [r["per_class_accuracy"] for r in runs]
    out["per_class_accuracy"] = {"mean": np.mean(per_class, 0).tolist(), "runs": per_class}
    return out


def train_evaluator(x: np.ndarray, y: np.ndarray, num_classes: int, epochs: int = 30, seed: int = 0,
                    show_progress: bool = False):
    """The protocol's recognizer, trained on real training sequences x (n, T, M, V, C)."""
    return train_classifier(x, y, num_classes, ClassifierConfig(epochs=epochs), seed,
                            show_progress=show_progress, desc="evaluator")


def rate(generator, evaluator, x_test: np.ndarray, y_test: np.ndarray, num_classes: int, n: int = 1000,
         seeds=(0, 1, 2), strategies=("borrow", "shift", "interpolate", "sample"), show_progress=False) -> dict:
    """{row: summary} for the "real" and "train" rows and each strategy of ``generator`` (a methods.Generator)."""
    if n < 2 or not seeds:
        raise SkelgenError("quality needs at least 2 samples and one seed")
    if len(np.unique(y_test)) < num_classes:
        raise SkelgenError("the real test split lacks some classes; the protocol needs every class")
    real = RealSets.of(evaluator, generator.x, generator.y, x_test, y_test)
    y = class_schedule(n, num_classes)
    rows = {"real": [], "train": [], **{s: [] for s in strategies}}
    with Progress(len(seeds) * (len(REAL_ROWS) + len(strategies)), "quality", "runs", enabled=show_progress) as bar:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            for row, (xs, ys) in zip(REAL_ROWS, ((x_test, y_test), (generator.x, generator.y))):
                pick = np.concatenate([rng.choice(np.flatnonzero(ys == c), (y == c).sum()) for c in range(num_classes)])
                rows[row].append(metrics(evaluator, xs[pick], y, real, seed))
                bar.update(1)
            for s in strategies:
                x = np.concatenate([generator.generate(c, int((y == c).sum()), s, seed * 10_007 + c)
                                    for c in range(num_classes) if (y == c).any()])
                rows[s].append(metrics(evaluator, x, y, real, seed))
                bar.update(1)
    return {row: summarize(runs) for row, runs in rows.items()}


def markdown(table: dict) -> str:
    """A Markdown table of ``{name: {row: summary}}`` (mean +- 95 % interval)."""
    lines = ["| generator | row | FID | accuracy % | diversity | multimodality | copy rate % | nearest (m) "
             "| diversity / real |", "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in table.items():
        for row, s in rows.items():
            def cell(m, scale=1.0):
                ci = s[m]["ci95"]
                return f"{s[m]['mean'] * scale:.3g}" + ("" if ci is None else f" ± {ci * scale:.2g}")
            lines.append(f"| {name} | {row} | {cell('fid')} | {cell('accuracy', 100)} | {cell('diversity')} "
                         f"| {cell('multimodality')} | {cell('copy_rate', 100)} | {cell('nearest')} "
                         f"| {cell('diversity_ratio')} |")
    return "\n".join(lines) + "\n"


def percent(share: float) -> str:
    return "-" if np.isnan(share) else f"{100 * share:.0f} %"


def per_class_markdown(rows: dict, class_labels: list[str]) -> str:
    """A Markdown table: per class, how often each row's sequences are recognized as it (%)."""
    lines = ["| class | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for c, label in enumerate(class_labels):
        shares = [r["per_class_accuracy"]["mean"][c] for r in rows.values()]
        lines.append(f"| {label} | " + " | ".join(percent(v).removesuffix(" %") for v in shares) + " |")
    return "\n".join(lines) + "\n"


def least_recognized(rows: dict, class_labels: list[str], count: int = 3) -> str:
    """One line per generated row: its ``count`` classes least recognized, beside the real clips'."""
    real = rows["real"]["per_class_accuracy"]["mean"]
    lines = []
    for name, r in rows.items():
        if name not in REAL_ROWS:
            share = r["per_class_accuracy"]["mean"]
            made = [c for c in np.argsort(share, kind="stable") if not np.isnan(share[c])]  # NaN: none made
            lines.append(f"{name}: least recognized " + ", ".join(
                f"{class_labels[c]} {100 * share[c]:.0f} % (real {percent(real[c])})" for c in made[:count]))
    return "\n".join(lines) + "\n"


def quality_report(checkpoint, data, n: int = 1000, seeds=(0, 1, 2), out=None, *, train_split: str = "train",
                   test_split: str = "test", evaluator_epochs: int = 30,
                   noise_scale: float = GenerationConfig.noise_scale, temperature: float = GenerationConfig.temperature,
                   novelty: float = GenerationConfig.novelty, calibrate: bool = GenerationConfig.calibrate,
                   threads: int = 1, show_progress: bool = True) -> dict:
    """`skelgen quality`: rate a checkpoint's generation on ``data`` (conditioning on and training
    the evaluator with ``train_split``, FID against ``test_split``). With ``out`` (a folder) also
    writes quality.json and quality.md there. ``threads``: torch CPU threads (0: unchanged).
    Returns {"rows": {row: summary}, ...}."""
    with torch_threads(threads):
        return _quality_report(checkpoint, data, n, seeds, out, train_split, test_split, evaluator_epochs,
                               noise_scale, temperature, novelty, calibrate, show_progress)


def _quality_report(checkpoint, data, n, seeds, out, train_split, test_split, evaluator_epochs, noise_scale,
                    temperature, novelty, calibrate, show_progress) -> dict:
    from ..checkpoint import check_compatible, load_checkpoint
    from ..io.dataset import SkeletonFile
    from .methods import Generator
    from ..preprocess import load_split
    if out is not None:
        check_folder(out)  # before the work, not after
    run = load_checkpoint(checkpoint).run
    with SkeletonFile(data) as sf:
        check_compatible(run, sf.layout, sf.shape[1], str(data))
        k, labels = len(sf.classes), [sf.classes.label(c) for c in range(len(sf.classes))]
        for split in (train_split, test_split):  # before training the evaluator, not after
            missing = sorted(set(range(k)) - set(sf.labels[sf.indices(split)].tolist()))
            if missing:
                raise SkelgenError(f"{data}: split {split!r} has no samples of class "
                                   f"{sf.classes.label(missing[0])}; the protocol needs every class, "
                                   f"so use data with samples of each class in both splits")
        x_tr, y_tr, ids_tr = load_split(sf, train_split, run.data.frames)
        x_te, y_te, _ = load_split(sf, test_split, run.data.frames)
    evaluator = train_evaluator(x_tr, y_tr, k, evaluator_epochs, 0, show_progress)
    generator = Generator(checkpoint, x_tr, y_tr, ids_tr, noise_scale, temperature, novelty=novelty,
                          calibrate=calibrate)
    rows = rate(generator, evaluator, x_te, y_te, k, n, tuple(seeds), show_progress=show_progress)
    result = {"checkpoint": str(checkpoint), "data": str(data), "samples": n, "seeds": list(seeds),
              "evaluator_epochs": evaluator_epochs, "classes": labels, "rows": rows}
    if out is not None:
        out = make_folder(out)
        md = (markdown({Path(checkpoint).parent.name: rows}) + "\nRecognized as their class, per class (%):\n\n"
              + per_class_markdown(rows, labels))
        from ..plots import charts
        charts.per_class_chart({row: [100 * v for v in r["per_class_accuracy"]["mean"]] for row, r in rows.items()},
                               labels, out / "per-class-recognition.png", "recognized as their class (%)",
                               "how often each class's sequences are recognized as it")
        for name, text in (("quality.json", json.dumps(result, indent=2)), ("quality.md", md)):
            with AtomicPath(out / name, overwrite=True) as tmp:
                tmp.write_text(text)
    return result
