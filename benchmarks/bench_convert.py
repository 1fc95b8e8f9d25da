"""Import speed: converting the real NW-UCLA folder, and parsing/converting generated NTU RGB+D
``.skeleton`` files (80-120 frames, 1 or 2 bodies, in the Kinect SDK's text layout): parsing in
one process (best of three), converting in one process and with the default worker processes.
Prints one JSON line; the NW-UCLA part is null where ``../shared/data/NW-UCLA/all_sqe`` is absent.

    python benchmarks/bench_convert.py [--ntu-files 300] [--nwucla PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from skelgen.io.ntu import convert_ntu, read_skeleton  # noqa: E402
from skelgen.io.nwucla import convert_nwucla  # noqa: E402

NWUCLA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "NW-UCLA" / "all_sqe"


def ntu_file(rng, frames: int, bodies: int) -> str:
    """One file's text: per frame the body count, per body its 10-field line, ``25`` and 25 joint
    lines of 12 values (x y z, depth x y, colour x y, orientation w x y z, tracking state)."""
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


def bench_ntu(count: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "skeletons"
        folder.mkdir()
        files, bodies = [], 0
        for k in range(count):
            b = 1 + k % 2
            path = folder / f"S001C{1 + k % 3:03d}P{1 + k % 40:03d}R{1 + k // 120:03d}" \
                            f"A{1 + k % 60:03d}.skeleton"
            path.write_text(ntu_file(rng, int(rng.integers(80, 121)), b), newline="")
            files.append(path)
            bodies += b
        size = sum(p.stat().st_size for p in files)
        read_skeleton(files[0])  # warm-up (imports, numpy)
        parse = []
        for _ in range(3):  # best of three: the machine may be shared
            t = time.perf_counter()
            for p in files:
                read_skeleton(p)
            parse.append(time.perf_counter() - t)
        convert = {}
        for workers in (1, None):  # in this process; in one process per CPU (the default)
            t = time.perf_counter()
            r = convert_ntu(folder, Path(d) / f"ntu{workers}.h5", benchmark="ntu60", workers=workers)
            convert[workers] = time.perf_counter() - t
    return {"files": len(files), "samples": r["samples"], "mean_bodies": bodies / len(files),
            "mb": round(size / 2**20, 1), "parse_s": round(min(parse), 3),
            "parse_files_per_s": round(len(files) / min(parse), 1),
            "convert_1_process_files_per_s": round(len(files) / convert[1], 1),
            "convert_s": round(convert[None], 3),
            "convert_files_per_s": round(len(files) / convert[None], 1)}


def bench_nwucla(folder: Path) -> dict | None:
    if not folder.is_dir():
        return None
    files = len(list(folder.glob("*.json")))
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        convert_nwucla(folder, Path(d) / "nw.h5")
        total = time.perf_counter() - t
    return {"files": files, "total_s": round(total, 3), "files_per_s": round(files / total, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ntu-files", type=int, default=300)
    ap.add_argument("--nwucla", type=Path, default=NWUCLA)
    args = ap.parse_args()
    result = {"benchmark": "convert", "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
              "nwucla": bench_nwucla(args.nwucla), "ntu": bench_ntu(args.ntu_files)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
