"""Where the generator-size training step (D = 128, T = 32, batch 64) spends its time, and what
AdamW's foreach and fused kernels and ``torch.compile`` save (issue 17: "small models at speed").

Variants train side by side in one process, one step of each in turn, so a noisy machine slows
them alike; the median step after five warm-up steps is reported, with the loss after the last
step (same weights, data and augmentation: equal losses mean the variants compute the same).

    python benchmarks/small_step.py                      # default, foreach and fused AdamW
    python benchmarks/small_step.py --compile            # eager and compiled, fused AdamW
    python benchmarks/small_step.py --profile            # torch.profiler's table of one variant
    python benchmarks/small_step.py --products           # the step's matrix products alone, GFLOP/s
"""
import argparse
import statistics
import time

import torch

from skelgen.model import ModelConfig, TAHAR
from skelgen.recipe import load_recipe
from skelgen.train import Objective, train_step


def variant(batch: int, x: torch.Tensor, compiled: bool = False, bf16: bool = False, model: ModelConfig = None,
            lr: float = 1e-3, **adamw):
    """A fresh model (default: the generator's size) and its optimizer; returns step() -> loss."""
    torch.manual_seed(0)
    model = TAHAR(model or ModelConfig(in_dim=75, frames=32, dim=128, heads=4))
    objective = torch.compile(Objective(model)) if compiled else Objective(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, **adamw)
    aug, gen = load_recipe("generator").augment, torch.Generator().manual_seed(0)  # the benchmark generators'

    def step() -> float:
        batch_x = x[torch.randint(0, len(x), (batch,), generator=gen)]
        loss = train_step(objective, batch_x, gen, aug, bf16, torch.device("cpu"))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="eager against torch.compile")
    p.add_argument("--profile", action="store_true", help="profile ten steps of default AdamW")
    p.add_argument("--products", action="store_true", help="time the step's matrix products alone")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.products:  # (batch x frames) tokens by D = 128: the qkv, MLP-in and MLP-out products
        for m, k, n in ((a.batch * 32, 128, 384), (a.batch * 32, 128, 512), (a.batch * 32, 512, 128)):
            left, right = torch.randn(m, k), torch.randn(k, n)
            for _ in range(3):
                left @ right
            t0 = time.perf_counter()
            for _ in range(50):
                left @ right
            print(f"{m} x {k} by {k} x {n}: {2 * m * k * n * 50 / (time.perf_counter() - t0) / 1e9:.0f} GFLOP/s")
        return
    x = torch.randn(1024, 32, 1, 25, 3, generator=torch.Generator().manual_seed(1))
    if a.profile:
        step = variant(a.batch, x)
        for _ in range(5):
            step()
        with torch.profiler.profile() as prof:
            for _ in range(10):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
        return
    if a.compile:
        variants = {"eager": variant(a.batch, x, fused=True), "compiled": variant(a.batch, x, True, fused=True)}
        t0 = time.perf_counter()
        variants["compiled"]()
        print(f"first compiled step (the compilation): {time.perf_counter() - t0:.1f} s")
    else:
        variants = {"default": variant(a.batch, x), "foreach": variant(a.batch, x, foreach=True),
                    "fused": variant(a.batch, x, fused=True)}
    race(variants, a.steps, 5, a.batch)


def race(variants: dict, steps: int, warmup: int, batch: int):
    """``steps`` steps of each variant (name -> step() returning the loss), one of each in turn, so
    that a noisy machine slows them alike; prints each one's median step after ``warmup`` steps,
    its samples/s at ``batch``, and its last loss."""
    seconds, losses = {k: [] for k in variants}, {}
    for _ in range(steps):
        for name, step in variants.items():
            t0 = time.perf_counter()
            losses[name] = step()
            seconds[name].append(time.perf_counter() - t0)
    width = max(map(len, variants))
    for name in variants:
        ms = statistics.median(seconds[name][warmup:]) * 1000
        print(f"{name:>{width}}: {ms:7.1f} ms a step, {batch / ms * 1000:7.1f} samples/s, loss {losses[name]:.5f}")


if __name__ == "__main__":
    main()
