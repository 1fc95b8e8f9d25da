"""Samples that repeat another sample exactly. Some public releases hold one recording under two
ids: in NW-UCLA's ``all_sqe`` every view-3 clip of a02 and a03 is its view-2 take, so 95 of the
464 cross-view test clips are training clips under another name, right by memory for any
classifier (BENCHMARKS.md 10p). ``skelgen convert`` says so when it finds such pairs.
"""
from __future__ import annotations

import hashlib

import numpy as np


def _key(x: np.ndarray) -> bytes:
    return hashlib.sha1(np.ascontiguousarray(x).tobytes() + repr(x.shape).encode()).digest()


def repeated(samples) -> list[tuple[int, int]]:
    """(index, index of the first equal sample) for every sample equal to an earlier one;
    ``samples`` yields arrays (valid frames only, so padding never makes two samples equal)."""
    first, pairs = {}, []
    for i, x in enumerate(samples):
        key = _key(x)
        if key in first:
            pairs.append((i, first[key]))
        else:
            first[key] = i
    return pairs


def repeats_of(train, test) -> np.ndarray:
    """(number of test samples,) bool: which arrays of ``test`` equal one of ``train`` exactly."""
    seen = {_key(x) for x in train}
    return np.array([_key(x) in seen for x in test], bool)


def across_splits(pairs: list[tuple[int, int]], splits: dict[str, np.ndarray]) -> int:
    """How many ``pairs`` put one sample in a test split and the other in its training split
    (``test`` and ``train``, or ``X_test`` and ``X_train``)."""
    count = 0
    for name, test in splits.items():
        if name == "test" or name.endswith("_test"):
            train = splits.get(name[: -len("test")] + "train")
            if train is not None:
                t, r = set(test.tolist()), set(train.tolist())
                count += sum((a in t and b in r) or (a in r and b in t) for a, b in pairs)
    return count


def check_repeats(path, log) -> int:
    """Warn through ``log`` (one line) where the dataset file ``path`` holds samples equal to
    another; returns how many such samples there are."""
    from .io.dataset import SkeletonFile
    with SkeletonFile(path) as sf:
        pairs = repeated(sf.sample(i) for i in range(len(sf)))
        if pairs:
            ids, leaks = sf.ids, across_splits(pairs, sf.splits)
            a, b = pairs[0]
            pair = "pair" if leaks == 1 else "pairs"
            log(f"skelgen: warning: {path}: {len(pairs)} of its {len(sf)} samples repeat another sample's "
                f"joints exactly (e.g. {ids[a]} = {ids[b]}); in {leaks} {pair} one is a test sample and the "
                f"other a training one, so a classifier can get it right by memory; drop one of each pair if "
                f"that matters to you")
    return len(pairs)
