"""Does imported data look like its layout? A dataset stored in another joint order than the
layout it is imported as (a Kinect v1 dataset in its own 20-joint order read as ``kinect20``)
imports without error but gives scrambled skeletons and wrong normalization landmarks. Three
cheap signs of it, each naming the joints involved:

  left and right bones of a pair differ in length (a body is nearly symmetric);
  a bone's length changes much over time (a bone is rigid; two unrelated joints are not);
  the head is below the hips once the body is normalized upright.

The thresholds leave room for tracking noise: the demo data and NW-UCLA raise none.
"""
from __future__ import annotations

import numpy as np

from .layouts import Layout
from .preprocess import normalize

MIRROR_RATIO = 1.6   # longer / shorter median length of a left-right pair of bones
STEADY = 0.5         # median over sequences of (std / mean) of a bone's length over time
SAMPLES = 64         # sequences looked at


def _bones(layout: Layout) -> list[tuple[int, int]]:
    return [(i, p) for i, p in enumerate(layout.parents) if p >= 0]


def _mirror(name: str) -> str | None:
    for a, b in (("left", "right"), ("right", "left")):
        if a in name:
            return name.replace(a, b)
    return None


def check_plausible(samples: list[np.ndarray], layout: Layout) -> list[str]:
    """Warnings (empty if none) for samples (each (M, T, V, 3), trimmed to its length, raw or
    normalized) that do not look like ``layout``'s skeleton."""
    warnings = []
    persons = [s[0][np.abs(s[0]).sum(axis=(1, 2)) > 0] for s in samples[:SAMPLES]]  # first person, non-empty
    persons = [p for p in persons if len(p) > 1]
    if not persons:
        return warnings
    bones = _bones(layout)
    # per sequence: each bone's length per frame (T, B); missing joints (all zero) are ignored
    lengths = []
    for p in persons:
        present = np.abs(p).sum(-1) > 0  # (T, V)
        ok = np.stack([present[:, i] & present[:, j] for i, j in bones], 1)
        d = np.linalg.norm(p[:, [i for i, _ in bones]] - p[:, [j for _, j in bones]], axis=-1)
        lengths.append(np.where(ok, d, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        import warnings as _w
        with _w.catch_warnings():
            _w.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: bones never seen
            median = np.nanmedian(np.concatenate(lengths), 0)
            variation = np.nanmedian(np.stack([np.nanstd(b, 0) / np.nanmean(b, 0) for b in lengths]), 0)
    name = lambda b: f"{layout.joints[bones[b][1]]}-{layout.joints[bones[b][0]]}"
    index = {layout.joints[i]: b for b, (i, _) in enumerate(bones)}
    for b, (i, _) in enumerate(bones):
        other = index.get(_mirror(layout.joints[i]) or "")
        if other is not None and b < other and min(median[b], median[other]) > 0:
            ratio = max(median[b], median[other]) / min(median[b], median[other])
            if ratio > MIRROR_RATIO:
                warnings.append(f"bones {name(b)} and {name(other)} should be mirror images but one is "
                                f"{ratio:.1f}x the other")
    unsteady = [name(b) for b in range(len(bones)) if variation[b] > STEADY]
    if unsteady:
        warnings.append(f"bones {', '.join(unsteady[:6])} change length over time like unrelated joints")
    if "head" in layout.joints:
        head, base = layout.index("head"), layout.landmark("spine_base")
        below = np.mean([np.mean(n[..., head, 2] < n[..., base, 2]) for n in
                         (normalize(p[None], len(p), layout) for p in persons)])
        if below > 0.5:
            warnings.append(f"the head lies below {layout.landmarks['spine_base']} once the body is upright "
                            f"({below * 100:.0f} % of frames)")
    return warnings


def check_file(path, log) -> int:
    """``check_plausible`` on an imported dataset file; its warnings go to ``log`` in one line
    that says what to do. Returns how many there were."""
    from .io.dataset import SkeletonFile
    with SkeletonFile(path) as sf:
        if sf.frame == "normalized" or sf.shape[4] != 3 or not len(sf):
            return 0  # normalized data has no camera pose to test the head against; skip it all
        step = max(len(sf) // SAMPLES, 1)
        found = check_plausible([sf.sample(i) for i in range(0, len(sf), step)], sf.layout)
        if found:
            log(f"skelgen: warning: {path} does not look like layout {sf.layout.name}: {'; '.join(found[:3])}; "
                f"the joints may be in another order, check it or give --layout a layout file in the data's order")
    return len(found)
