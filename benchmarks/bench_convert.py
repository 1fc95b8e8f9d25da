"""Import speed of the NTU and NW-UCLA converters: the conversion figures of `skelgen speed`
(skelgen/speed.py), alone. NW-UCLA uses ``../shared/data/NW-UCLA/all_sqe`` where present.

    python benchmarks/bench_convert.py [--ntu-files 100]
"""
import argparse
import json

from skelgen.speed import SpeedConfig, conversion

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ntu-files", type=int, default=SpeedConfig.ntu_files)
    a = p.parse_args()
    print(json.dumps(conversion(SpeedConfig(ntu_files=a.ntu_files))))
