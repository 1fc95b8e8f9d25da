"""Synthetic raw dataset files in the formats the importers read, for measuring import speed
without the real data: NTU RGB+D ``.skeleton`` text and NW-UCLA ``all_sqe`` JSON clips."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def ntu_text(rng: np.random.Generator, frames: int, bodies: int) -> str:
    """One ``.skeleton`` file in the Kinect SDK's text layout: the frame count, then per frame the
    body count, per body its 10-field line, ``25`` and 25 joint lines of 12 values (x y z, depth
    x y, colour x y, orientation w x y z, tracking state)."""
    base = rng.uniform(-0.6, 0.6, (bodies, 1, 25, 3)) + [0, 0, 3]
    wave = np.sin(np.linspace(0, 6, frames))[None, :, None, None]
    xyz = base + 0.1 * wave * rng.normal(size=(bodies, 1, 25, 3))
    extra = rng.uniform(0, 500, (bodies, frames, 25, 4))
    lines = [str(frames)]
    for t in range(frames):
        lines.append(str(bodies))
        for b in range(bodies):
            lines += [f"{72057594037931100 + b} 0 1 1 1 1 0 -0.05134 0.2271 2", "25"]
            lines += ["%.7g %.7g %.7g %.6g %.6g %.6g %.6g -0.2508652 -0.05722359 0.9655403 -0.03312219 2"
                      % (*xyz[b, t, j], *extra[b, t, j]) for j in range(25)]
    return "\r\n".join(lines) + "\r\n"


def write_ntu_files(folder, count: int, seed: int = 0) -> list[Path]:
    """``count`` NTU60 files of 80-120 frames, alternately 1 and 2 bodies, named
    SsssCcccPpppRrrrAaaa.skeleton across setups, cameras, subjects and actions."""
    rng, folder = np.random.default_rng(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        path = folder / f"S001C{1 + k % 3:03d}P{1 + k % 40:03d}R{1 + k // 120:03d}A{1 + k % 60:03d}.skeleton"
        path.write_text(ntu_text(rng, int(rng.integers(80, 121)), 1 + k % 2), newline="")
        paths.append(path)
    return paths


def write_nwucla_files(folder, count: int, seed: int = 0) -> list[Path]:
    """``count`` NW-UCLA clips ``aAA_sSS_eEE_vVV.json`` of 20-100 frames of 20 joints, across the
    ten actions and three views, as in ``all_sqe``."""
    from ..io.nwucla import ACTIONS
    rng, folder, actions = np.random.default_rng(seed), Path(folder), sorted(ACTIONS)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        action, view = actions[k % len(actions)], 1 + k % 3
        frames = int(rng.integers(20, 101))
        xyz = rng.uniform(-0.6, 0.6, (1, 20, 3)) + [0, 0, 3] + 0.05 * rng.normal(size=(frames, 20, 3))
        name = f"a{action:02d}_s{1 + k // 30 % 10:02d}_e{k // 300:02d}_v{view:02d}.json"
        path = folder / name
        path.write_text(json.dumps({"file_name": name[:-5], "skeletons": xyz.round(6).tolist(),
                                    "label": actions.index(action) + 1}))
        paths.append(path)
    return paths
