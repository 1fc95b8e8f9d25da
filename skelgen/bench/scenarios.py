"""Benchmark scenarios: deterministic subsets of the real training split, and how many sequences
every adding method adds to each class.

Names (in recipes and results); n_k is class k's count in the training split, K the classes:
  full       the whole training split; each class gets +``add_fraction`` of its count.
  lt<F>      long-tailed, imbalance factor F (e.g. lt10, lt100): class k keeps a share of its own
             count, round(n_k * F ** (-k / (K - 1))) sequences (at least 1). Class 0, the head,
             keeps all it has; class K-1 keeps 1/F of its own. So the profile means the same on any
             dataset, even or uneven (it used to start from the smallest class's count, which
             capped the head at that). Every class is filled up to the largest kept count.
  low<P>     low-data, P percent of each class (e.g. low10), at least 1; +``add_fraction`` a class.
  fewshot<N> N real sequences per class (e.g. fewshot10); a class with fewer keeps all it has, and
             the scenario lists it under ``fewer``; +``add_fraction`` of its count a class.
Within a class the kept sequences are the first ones of a permutation seeded by (seed, class),
so the subsets nest: lt100 within lt10 within full, low5 within low10, fewshot5 within fewshot10.

``validation_split`` carves the classifiers' early-stopping set out of a scenario's own real
sequences (never the test split, never sequences the scenario removed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import SkelgenError

_NAME = re.compile(r"^(full|lt(\d+(?:\.\d+)?)|low(\d+(?:\.\d+)?)|fewshot(\d+))$")


@dataclass(frozen=True)
class Scenario:
    """name; kind full | longtail | lowdata | fewshot and its parameter (factor, fraction or
    count); indices (n,): sorted positions in the training split; counts (K,): real sequences
    per class; add (K,): sequences every adding method adds per class; fewer: the classes that
    have fewer sequences than the scenario asks (fewshot), {class index: count}."""
    name: str
    kind: str
    param: float
    indices: np.ndarray
    counts: np.ndarray
    add: np.ndarray
    fewer: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "param": self.param, "samples": int(self.counts.sum()),
                "counts": self.counts.tolist(), "added": self.add.tolist(), "fewer": dict(self.fewer)}


def parse_scenario(name: str) -> tuple[str, float]:
    """(kind, parameter) of a scenario name; an unknown name is an error."""
    m = _NAME.match(name)
    if m is None:
        raise SkelgenError(f"unknown scenario {name!r}; use full, lt<factor> (e.g. lt10), "
                           f"low<percent> (e.g. low10) or fewshot<count> (e.g. fewshot10)")
    if m.group(2):
        factor = float(m.group(2))
        if factor < 1:
            raise SkelgenError(f"scenario {name}: the imbalance factor must be >= 1")
        return "longtail", factor
    if m.group(3):
        pct = float(m.group(3))
        if not 0 < pct <= 100:
            raise SkelgenError(f"scenario {name}: the percentage must lie in (0, 100]")
        return "lowdata", pct / 100
    if m.group(4):
        if int(m.group(4)) < 1:
            raise SkelgenError(f"scenario {name}: few-shot needs at least 1 sequence per class")
        return "fewshot", float(m.group(4))
    return "full", 1.0


def longtail_counts(available: np.ndarray, factor: float) -> np.ndarray:
    """(K,) class k keeps its own count times factor ** (-k / (K - 1)), at least 1."""
    k = len(available)
    profile = available * float(factor) ** (-np.arange(k) / max(k - 1, 1))
    return np.maximum(1, np.round(profile)).astype(np.int64)


def lowdata_counts(available: np.ndarray, fraction: float) -> np.ndarray:
    """(K,) ``fraction`` of each class, at least one."""
    return np.maximum(1, np.round(available * fraction)).astype(np.int64)


def fewshot_counts(available: np.ndarray, n: int) -> np.ndarray:
    """(K,) n per class, or all of a class that has fewer."""
    return np.minimum(available, int(n)).astype(np.int64)


def make_scenario(name: str, labels: np.ndarray, num_classes: int, add_fraction: float = 1.0,
                  seed: int = 0) -> Scenario:
    """The scenario ``name`` of a training split with ``labels`` (n,)."""
    kind, param = parse_scenario(name)
    labels = np.asarray(labels)
    available = np.bincount(labels, minlength=num_classes)
    if available.min() == 0:
        empty = np.flatnonzero(available == 0).tolist()
        raise SkelgenError(f"the training split has no sample of classes {empty}; every class needs one")
    counts = {"full": lambda: available.copy(), "longtail": lambda: longtail_counts(available, param),
              "lowdata": lambda: lowdata_counts(available, param),
              "fewshot": lambda: fewshot_counts(available, param)}[kind]()
    keep = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        order = np.random.default_rng([seed, c]).permutation(len(members))
        keep.append(members[order[: counts[c]]])
    if kind == "longtail":
        add = counts.max() - counts
    else:
        add = np.round(counts * add_fraction).astype(np.int64)
    fewer = {c: int(available[c]) for c in range(num_classes) if kind == "fewshot" and available[c] < param}
    return Scenario(name, kind, param, np.sort(np.concatenate(keep)), counts.astype(np.int64),
                    add.astype(np.int64), fewer)


def validation_split(labels: np.ndarray, num_classes: int, fraction: float, seed: int = 0) -> np.ndarray:
    """(n,) bool: which of a scenario's real sequences (its ``labels`` (n,)) the classifiers stop
    on instead of training on. Class c gives floor(fraction * its count), chosen by a permutation
    seeded by (seed, c, 1), so a class of fewer than 1 / fraction sequences gives none."""
    labels = np.asarray(labels)
    held = np.zeros(len(labels), bool)
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        take = int(np.floor(fraction * len(members) + 1e-9))
        held[members[np.random.default_rng([seed, c, 1]).permutation(len(members))[:take]]] = True
    return held

