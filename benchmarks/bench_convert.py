"""Import speed of the NTU and NW-UCLA converters: the conversion figures of `skelgen speed`
(skelgen/speed/speed.py), alone, and NTU parsing alone (``read_skeleton`` over the same generated files,
no HDF5 writing) in 1 and in 2 processes, best of ``--repeat`` passes. NW-UCLA uses
``../shared/data/NW-UCLA/all_sqe`` where present.

    python benchmarks/bench_convert.py [--ntu-files 300] [--repeat 3]
"""
import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

from skelgen.speed.synthetic_files import write_ntu_files
from skelgen.io.ntu import read_skeleton
from skelgen.speed.speed import SpeedConfig, conversion


def parsing(files: int, repeat: int) -> dict:
    """{processes: files/s} of read_skeleton alone, best of ``repeat`` passes."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="skelgen-parse-") as d:
        paths = write_ntu_files(Path(d), files)
        for processes in (1, 2):
            with multiprocessing.Pool(processes) as pool:
                best = float("inf")
                for _ in range(repeat):
                    t = time.perf_counter()
                    list(pool.imap(read_skeleton, paths, chunksize=8))
                    best = min(best, time.perf_counter() - t)
            out[processes] = round(len(paths) / best, 1)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ntu-files", type=int, default=SpeedConfig.ntu_files)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    print(json.dumps({"conversion": conversion(SpeedConfig(ntu_files=a.ntu_files)),
                      "ntu_parsing_files_per_s_by_processes": parsing(a.ntu_files, a.repeat)}))
