"""Training throughput of skelgen's pretraining step at the paper's size (D=512, 2+2 blocks,
T=64, V=25, batch 128), fp32 and bf16, plus a matrix-product peak in the same run.

    python benchmarks/bench_train.py [--steps 3] [--precisions fp32,bf16]
"""
import argparse
import json
import time

import torch

from skelgen.model import ModelConfig, build_model
from skelgen.recipe import AugmentConfig
from skelgen.train import Objective, train_step


def matmul_gflops(dtype, n=2048, reps=3):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return reps * 2 * n ** 3 / (time.perf_counter() - t) / 1e9


def step_rate(bf16: bool, steps: int, batch=128, t=64):
    torch.manual_seed(0)
    model = build_model(ModelConfig(in_dim=75, frames=t))
    obj, opt = Objective(model), torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, gen = torch.randn(batch, t, 1, 25, 3), torch.Generator().manual_seed(0)
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        loss = train_step(obj, x, gen, AugmentConfig(), bf16, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--precisions", default="fp32,bf16")
    a = p.parse_args()
    out = {"threads": torch.get_num_threads(), "matmul_gflops_fp32": matmul_gflops(torch.float32)}
    for prec in a.precisions.split(","):
        out[f"train_samples_per_s_{prec}"] = step_rate(prec == "bf16", a.steps)
    print(json.dumps(out))
