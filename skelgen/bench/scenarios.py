"""Benchmark scenarios: deterministic subsets of the real training split, and how many sequences
every adding method adds to each class.

Names (in recipes and results):
  full       the whole training split; each class gets +``add_fraction`` of its count.
  lt<F>      long-tailed, imbalance factor F (e.g. lt10, lt100): class k keeps
             round(n * F ** (-k / (K - 1))) sequences (at least 1), n = the smallest class count
             of the split, so every class can supply its share; class 0 is the head. Each class
             is filled up to the largest (the head's) count.
  low<P>     low-data, P percent of each class (e.g. low10), at least 1; +``add_fraction`` a class.
Within a class the kept sequences are the first ones of a permutation seeded by (seed, class),
so the subsets nest: lt100 within lt10 within full, low5 within low10.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import SkelgenError

_NAME = re.compile(r"^(full|lt(\d+(?:\.\d+)?)|low(\d+(?:\.\d+)?))$")


@dataclass(frozen=True)
class Scenario:
    """name; kind full | longtail | lowdata and its parameter (factor or fraction);
    indices (n,): sorted positions in the training split; counts (K,): real sequences per class;
    add (K,): sequences every adding method adds per class."""
    name: str
    kind: str
    param: float
    indices: np.ndarray
    counts: np.ndarray
    add: np.ndarray

    def to_dict(self) -> dict:
        return {"kind": self.kind, "param": self.param, "samples": int(self.counts.sum()),
                "counts": self.counts.tolist(), "added": self.add.tolist()}


def parse_scenario(name: str) -> tuple[str, float]:
    """(kind, parameter) of a scenario name; an unknown name is an error."""
    m = _NAME.match(name)
    if m is None:
        raise SkelgenError(f"unknown scenario {name!r}; use full, lt<factor> (e.g. lt10) or "
                           f"low<percent> (e.g. low10)")
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
    return "full", 1.0


def longtail_counts(available: np.ndarray, factor: float) -> np.ndarray:
    """(K,) exponential profile from the smallest available count down by ``factor``."""
    k = len(available)
    head = int(available.min())
    profile = head * float(factor) ** (-np.arange(k) / max(k - 1, 1))
    return np.maximum(1, np.round(profile)).astype(np.int64)


def lowdata_counts(available: np.ndarray, fraction: float) -> np.ndarray:
    """(K,) ``fraction`` of each class, at least one."""
    return np.maximum(1, np.round(available * fraction)).astype(np.int64)


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
              "lowdata": lambda: lowdata_counts(available, param)}[kind]()
    keep = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        order = np.random.default_rng([seed, c]).permutation(len(members))
        keep.append(members[order[: counts[c]]])
    if kind == "longtail":
        add = counts.max() - counts
    else:
        add = np.round(counts * add_fraction).astype(np.int64)
    return Scenario(name, kind, param, np.sort(np.concatenate(keep)), counts.astype(np.int64),
                    add.astype(np.int64))

