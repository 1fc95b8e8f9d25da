"""Novelty of generated sequences: are they new motions, or near-copies of training sequences?

Distances are between whole prepared sequences (normalized, resampled to the same T frames),
as the root mean square over frames, persons and joints of the joints' Euclidean distance: in
metres for normalized joint space, in feature units for an evaluator's features.

  nearest      each generated sequence's distance to the nearest real training sequence of its
               class (and which one it is)
  reference    the same for real held-out sequences (test to train): how far a new real
               performance of the class lies from the training set (held-out sequences identical
               to a training one left out: a repeated file is not a new performance)
  copy rate    the share of generated sequences closer to a training sequence than the 5th
               percentile of the reference distances: nearer than almost any real new take
  diversity    per class, the mean distance between pairs of sequences of that class; the
               generated value over the real one (1 = as varied as the real training sequences)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SkelgenError

COPY_PERCENTILE = 5.0
IDENTICAL = 1e-6  # a distance this small is the same sequence (float round-off), not a new take


def _flat(x: np.ndarray) -> np.ndarray:
    """x (n, T, ...) -> (n, T * rest) float64; the last axis of a sequence array is the coordinate."""
    return np.asarray(x, np.float64).reshape(len(x), -1)


def _units(x: np.ndarray) -> int:
    """How many points a distance averages over: T*M*V for sequences (n, T, M, V, C), 1 for
    feature vectors (n, H)."""
    return int(np.prod(x.shape[1:-1])) if x.ndim > 2 else 1


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS point distances (len(a), len(b)) between sequences a (n, ...) and b (m, ...) of one shape."""
    fa, fb = _flat(a), _flat(b)
    sq = (fa ** 2).sum(1)[:, None] + (fb ** 2).sum(1)[None, :] - 2 * fa @ fb.T
    return np.sqrt(np.maximum(sq, 0) / _units(a))


def nearest(x: np.ndarray, y: np.ndarray, ref_x: np.ndarray, ref_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance (n,), index into ref (n,)) of each x's nearest ref sequence of the same class.

    x (n, ...) with labels y (n,); ref_x (m, ...) with labels ref_y (m,); every class of y needs
    a ref sequence."""
    y, ref_y = np.asarray(y), np.asarray(ref_y)
    dist, index = np.empty(len(x)), np.empty(len(x), np.int64)
    for c in np.unique(y):
        rows, refs = np.flatnonzero(y == c), np.flatnonzero(ref_y == c)
        if len(refs) == 0:
            raise SkelgenError(f"class {c} has no real training sequence to measure novelty against")
        d = pairwise(x[rows], ref_x[refs])
        dist[rows], index[rows] = d.min(1), refs[d.argmin(1)]
    return dist, index


def class_diversity(x: np.ndarray, y: np.ndarray, max_pairs: int = 2000, seed: int = 0) -> dict[int, float]:
    """{class: mean distance between distinct pairs of its sequences} for classes with 2+ of them
    (all pairs, or ``max_pairs`` random ones, seeded)."""
    rng, out = np.random.default_rng(seed), {}
    for c in np.unique(y):
        rows = np.flatnonzero(np.asarray(y) == c)
        if len(rows) < 2:
            continue
        i, j = np.triu_indices(len(rows), 1)
        if len(i) > max_pairs:
            pick = rng.choice(len(i), max_pairs, replace=False)
            i, j = i[pick], j[pick]
        a, b = _flat(x[rows[i]]), _flat(x[rows[j]])
        out[int(c)] = float(np.sqrt(((a - b) ** 2).sum(1) / _units(x)).mean())
    return out


@dataclass
class Novelty:
    """How new generated sequences are, against the real reference (see the module docstring)."""
    generated_median: float      # median nearest-training distance of the generated sequences
    reference_median: float      # the same for real held-out sequences
    threshold: float             # the reference's 5th percentile: closer than this is a copy
    copy_rate: float             # share of generated sequences closer than the threshold
    diversity_ratio: float       # mean over classes of generated / real within-class diversity

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class Reference:
    """The real side of novelty, computed once and reused for every generated set compared with
    it: the training sequences (or features) train_x (m, ...) with labels train_y (m,), the
    held-out reference's nearest-training distances (r,), and the training set's per-class
    diversity (seeded: ``class_diversity`` samples pairs)."""
    train_x: np.ndarray
    train_y: np.ndarray
    reference_distances: np.ndarray
    diversity: dict[int, float]

    @classmethod
    def of(cls, train_x, train_y, ref_x, ref_y, seed: int = 0) -> "Reference":
        d_ref, _ = nearest(ref_x, ref_y, train_x, train_y)
        new = d_ref > IDENTICAL  # held-out sequences identical to a training one are no new takes: NW-UCLA
        if new.any():            # repeats 95 view-2 clips as view 3, which put the copy threshold at 0
            d_ref = d_ref[new]
        return cls(train_x, np.asarray(train_y), d_ref, class_diversity(train_x, train_y, seed=seed))

    def novelty(self, gen_x, gen_y, seed: int = 0) -> tuple[Novelty, np.ndarray, np.ndarray]:
        """(Novelty, each generated sequence's nearest distance (n,), its nearest training index (n,))
        of gen_x (n, ...) generated with classes gen_y."""
        d_gen, idx = nearest(gen_x, gen_y, self.train_x, self.train_y)
        threshold = float(np.percentile(self.reference_distances, COPY_PERCENTILE))
        gen_div = class_diversity(gen_x, gen_y, seed=seed)
        shared = [c for c in gen_div if c in self.diversity and self.diversity[c] > 0]
        ratio = float(np.mean([gen_div[c] / self.diversity[c] for c in shared])) if shared else float("nan")
        return (Novelty(float(np.median(d_gen)), float(np.median(self.reference_distances)), threshold,
                        float((d_gen < threshold).mean()), ratio), d_gen, idx)


def novelty(gen_x, gen_y, train_x, train_y, ref_x, ref_y, seed: int = 0) -> tuple[Novelty, np.ndarray, np.ndarray]:
    """(Novelty, each generated sequence's nearest distance (n,), its nearest training index (n,)).

    gen_x (n, ...) generated with classes gen_y; train_x, train_y the real training sequences they
    came from; ref_x, ref_y real held-out sequences (the reference). Arrays are sequences
    (n, T, M, V, C) or features (n, H), all of one kind. To compare several generated sets with
    one reference, build ``Reference.of`` once and call its ``novelty``."""
    return Reference.of(train_x, train_y, ref_x, ref_y, seed).novelty(gen_x, gen_y, seed)
