"""The benchmark GCN's training step (skelgen/bench/gcn.py: NW-UCLA's Kinect layout, T = 32, one
person, AdamW) in eager mode and under ``torch.compile``, one torch thread by default, in fp32 or
under bf16 autocast as the benchmark trains it. Each variant builds a fresh model; its first step
(where compiling happens) is timed apart, then ``--warmup`` untimed steps and ``--steps`` timed
ones (mean). The variants alternate, twice, so machine load affects them alike only roughly.

    python benchmarks/gcn_step.py [--width 32] [--batch 64] [--steps 8] [--threads 1]
                                  [--precision fp32|bf16] [--eager-only]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

from skelgen.bench.gcn import GCNClassifier
from skelgen.layouts import get_layout


def variant(compiled: bool, width: int, batch: int, warmup: int, steps: int, bf16: bool) -> dict:
    torch.manual_seed(0)
    layout = get_layout("kinect20")
    model = GCNClassifier(layout, 1, 3, 10, width)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    forward = torch.compile(model) if compiled else model
    x, y = torch.randn(batch, 32, 1, layout.num_joints, 3), torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            logits = forward(x)
        F.cross_entropy(logits.float(), y).backward()
        opt.step()

    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return {"variant": "compile" if compiled else "eager", "bf16": bf16, "first_step_s": round(first, 2),
            "step_s": round((time.perf_counter() - t) / steps, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--eager-only", action="store_true", help="time eager mode only (four runs)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for compiled in (False, False, False, False) if a.eager_only else (False, True, False, True):
        print(json.dumps(variant(compiled, a.width, a.batch, a.warmup, a.steps, a.precision == "bf16")), flush=True)


if __name__ == "__main__":
    main()
