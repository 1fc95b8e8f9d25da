"""Deterministic preprocessing: the pyskl 3D normalization and temporal resampling.

Functions of one sample take ``x`` as the file holds it, (M persons, T frames, V joints, C=3
coords), and the number of valid frames; functions of many samples return the model's order,
(n, T, M, V, C), so that the two orders meet here only. Nothing here is random (random
transforms live in ``augment``).
"""
from __future__ import annotations

import numpy as np

from .errors import SkelgenError
from .layouts import Layout


def drop_empty_frames(x: np.ndarray, length: int) -> np.ndarray:
    """The valid frames of ``x`` that hold any non-zero joint: (M, T', V, C)."""
    x = x[:, :length]
    keep = np.abs(x).sum(axis=(0, 2, 3)) > 0
    return x[:, keep]


def view_frame(x: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Origin and rotation of the body frame, from the first person's first frame.

    Origin: the spine-middle joint. Rotation rows (x, y, z): z along spine base -> spine middle,
    x along left -> right shoulder made orthogonal to z, y = z cross x. pyskl applies two
    successive axis-angle rotations; building the frame at once gives the same intent exactly
    (spine on +z, shoulders in the x-z plane pointing +x) with no second rotation undoing the first.
    """
    first = x[0, 0]
    origin = first[layout.landmark("spine_mid")]
    z = first[layout.landmark("spine_mid")] - first[layout.landmark("spine_base")]
    s = first[layout.landmark("shoulder_right")] - first[layout.landmark("shoulder_left")]
    if np.linalg.norm(z) < 1e-6:
        return origin, np.eye(3, dtype=np.float32)
    z = z / np.linalg.norm(z)
    s = s - (s @ z) * z
    if np.linalg.norm(s) < 1e-6:  # shoulders along the spine: keep only the spine alignment
        s = np.cross(z, [0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.cross(z, [1.0, 0.0, 0.0])
    xaxis = s / np.linalg.norm(s)
    yaxis = np.cross(z, xaxis)
    return origin, np.stack([xaxis, yaxis, z]).astype(np.float32)


def normalize(x: np.ndarray, length: int, layout: Layout) -> np.ndarray:
    """pyskl's PreNormalize3D: drop all-zero frames, center on the spine middle, align the body.

    x: (M, T, V, 3) raw camera coordinates -> (M, T', V, 3) with T' the non-empty frames.
    Missing joints (all zero) stay zero.
    """
    if x.shape[-1] != 3:
        raise SkelgenError(f"normalization needs 3D coordinates, got C={x.shape[-1]}")
    x = drop_empty_frames(np.asarray(x, np.float32), length)
    if x.shape[1] == 0:
        raise SkelgenError("a sequence has no non-empty frame; remove it from the data")
    present = (np.abs(x).sum(-1, keepdims=True) > 0)
    origin, rot = view_frame(x, layout)
    return ((x - origin) @ rot.T) * present


def resample(x: np.ndarray, frames: int, axis: int = 1) -> np.ndarray:
    """Linear interpolation in time to a fixed number of frames along ``axis``, the time axis:
    (M, T, V, C) -> (M, frames, V, C) by default; ``axis=0`` for the model's (T, M, V, C)."""
    t = x.shape[axis]
    if t == frames:
        return x.astype(np.float32, copy=False)
    pos = np.linspace(0, t - 1, frames)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).astype(np.float32).reshape([frames if a == axis else 1 for a in range(x.ndim)])
    return (np.take(x, lo, axis) * (1 - w) + np.take(x, hi, axis) * w).astype(np.float32)


def prepare(x: np.ndarray, length: int, layout: Layout, frames: int, normalized: bool = False) -> np.ndarray:
    """The model's view of one sample: normalized (unless already) and resampled, (M, frames, V, C)."""
    x = drop_empty_frames(x, length) if normalized else normalize(x, length, layout)
    if x.shape[1] == 0:
        raise SkelgenError("a sequence has no non-empty frame; remove it from the data")
    return resample(x, frames)


def prepare_file(sf, indices, frames: int) -> np.ndarray:
    """``prepare`` for many samples of a ``SkeletonFile``, in the model's order: (n, frames, M, V, C)
    float32 (each sample is read as the file holds it, (M, T, V, C), and turned once, here)."""
    out = np.empty((len(indices), frames, sf.shape[1], sf.shape[3], sf.shape[4]), np.float32)
    normalized = sf.frame == "normalized"
    for k, i in enumerate(indices):
        out[k] = prepare(sf.sample(int(i)), int(sf.lengths[i]), sf.layout, frames, normalized).swapaxes(0, 1)
    return out


def load_split(sf, split: str, frames: int):
    """(x (n, T, M, V, C) normalized and resampled, labels (n,), ids (n,)) of one split."""
    idx = sf.indices(split)
    if len(idx) == 0:
        raise SkelgenError(f"{sf.path}: split {split!r} is empty")
    return prepare_file(sf, idx, frames), sf.labels[idx], np.array(sf.ids, dtype=str)[idx]
