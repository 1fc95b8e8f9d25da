"""NW-UCLA importer: the ``all_sqe`` folder of JSON clips ``aAA_sSS_eEE_vVV.json``.

Each file holds ``{"file_name", "skeletons": [T][20][3], "label": 1..10}`` in camera metres,
Kinect v1 joint order. Cross-view protocol: views 1 and 2 train, view 3 tests. For choosing
settings without touching the test view, ``val_train`` (view 1) and ``val_test`` (view 2) repeat
the protocol's shape inside the training views.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import SkelgenError
from ..layouts import KINECT20
from .dataset import DatasetWriter

ACTIONS = {1: "pick up with one hand", 2: "pick up with two hands", 3: "drop trash", 4: "walk around",
           5: "sit down", 6: "stand up", 8: "donning", 9: "doffing", 11: "throw", 12: "carry"}
CODES = tuple(f"a{a:02d}" for a in ACTIONS)
NAMES = tuple(ACTIONS.values())
_NAME = re.compile(r"^a(\d\d)_s(\d\d)_e(\d\d)_v(\d\d)\.json$")


def read_clip(path: Path) -> tuple[np.ndarray, int, int]:
    """One clip: (skeleton (1, T, 20, 3), label index 0..9, view 1..3)."""
    m = _NAME.match(path.name)
    if m is None:
        raise SkelgenError(f"{path.name}: not an NW-UCLA clip name (aAA_sSS_eEE_vVV.json)")
    action, view = int(m.group(1)), int(m.group(4))
    if action not in ACTIONS:
        raise SkelgenError(f"{path.name}: action a{action:02d} is not one of NW-UCLA's ten")
    try:
        d = json.loads(path.read_text())
        with np.errstate(over="ignore"):  # a finite 1e300 becomes inf, refused below
            x = np.asarray(d["skeletons"], dtype=np.float32)
    except (OSError, ValueError, KeyError, TypeError, OverflowError, RecursionError) as e:
        raise SkelgenError(f"{path}: malformed NW-UCLA json ({type(e).__name__}: {e}); "
                           f"expected {{'skeletons': [T][20][3], 'label': ...}}") from None
    if x.ndim != 3 or x.shape[1:] != (20, 3) or len(x) == 0:
        raise SkelgenError(f"{path}: skeletons have shape {x.shape}, expected (T>0, 20, 3)")
    if not np.isfinite(x).all():
        raise SkelgenError(f"{path}: coordinates contain NaN or infinite values")
    return x[None], CODES.index(f"a{action:02d}"), view


def convert_nwucla(folder, out, overwrite: bool = False, progress=None) -> dict:
    """Write the clips of ``folder`` to a dataset file with train (views 1, 2), test (view 3),
    val_train (view 1) and val_test (view 2) splits; returns counts. ``progress`` wraps an iterable (e.g. a progress bar)."""
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise SkelgenError(f"{folder}: no NW-UCLA .json clips found; point at the all_sqe folder")
    clips = [read_clip(p) for p in (progress(files) if progress else files)]
    max_frames = max(c[0].shape[1] for c in clips)
    views = np.array([c[2] for c in clips])
    with DatasetWriter(out, KINECT20, CODES, NAMES, max_frames=max_frames, frame="raw",
                       overwrite=overwrite) as w:
        for s in range(0, len(clips), 256):
            batch = clips[s: s + 256]
            x = np.zeros((len(batch), 1, max_frames, 20, 3), np.float32)
            for k, (c, _, _) in enumerate(batch):
                x[k, :, : c.shape[1]] = c
            w.append(x, [c[0].shape[1] for c in batch], [c[1] for c in batch],
                     [p.stem for p in files[s: s + 256]],
                     provenance=[{"source": "nw-ucla", "file": p.name} for p in files[s: s + 256]])
        w.set_split("train", np.flatnonzero(views != 3))
        w.set_split("test", np.flatnonzero(views == 3))
        w.set_split("val_train", np.flatnonzero(views == 1))
        w.set_split("val_test", np.flatnonzero(views == 2))
    return {"samples": len(clips), "train": int((views != 3).sum()), "test": int((views == 3).sum())}
