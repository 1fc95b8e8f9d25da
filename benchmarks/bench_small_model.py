"""The benchmark generator's training step (D = 128, T = 32, batch 64, 2+2 blocks, AdamW, with
augmentation and masking: ``train.train_step``) under each setting that might speed a small model:
torch threads, the attention kernel behind ``F.scaled_dot_product_attention`` and
``torch.compile``. Each variant: ``--warmup`` untimed steps, then ``--steps`` timed ones, median;
the variants run in turn in one process, so machine load from others affects them alike only
roughly (run it twice). fp32 only (bf16 is not native on the machines it was written on).

    python benchmarks/bench_small_model.py [--steps 20] [--threads 1] [--compile]
"""
import argparse
import json
import statistics
import time
from contextlib import nullcontext

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from skelgen.architectures import build_model
from skelgen.model import ModelConfig
from skelgen.recipe import AugmentConfig, TrainConfig
from skelgen.runtime import keep_freed_memory
from skelgen.speed import flops
from skelgen.speed.speed import matmul_peak
from skelgen.train import Objective, train_step

CFG = ModelConfig(in_dim=25 * 3, frames=32, dim=128, heads=4)  # the benchmark generator's size
BATCH = 64


def timed_steps(objective, warmup: int, steps: int, backend=None) -> list[float]:
    """Seconds of each timed training step (the first ``warmup`` not timed)."""
    tc, aug, cpu = TrainConfig(), AugmentConfig(), torch.device("cpu")
    opt = torch.optim.AdamW(objective.parameters(), lr=tc.lr_start, weight_decay=tc.weight_decay)
    data, gen = 0.3 * torch.randn(4 * BATCH, CFG.frames, 1, 25, 3), torch.Generator().manual_seed(0)
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        with sdpa_kernel(backend) if backend is not None else nullcontext():
            loss = train_step(objective, data[torch.randperm(len(data), generator=gen)[:BATCH]], gen, aug, False, cpu)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def variant(name: str, threads: int, warmup: int, steps: int, backend=None, compile_it: bool = False) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    objective = Objective(build_model(CFG)).train()
    compile_s = None
    if compile_it:
        objective = torch.compile(objective)
        t = time.perf_counter()
        timed_steps(objective, 1, 0, backend)  # the first call compiles (forward and backward)
        compile_s = round(time.perf_counter() - t, 1)
    times = timed_steps(objective, warmup, steps, backend)
    step_s = statistics.median(times)
    step_flops = flops.training_step(flops.tahar_forward(CFG, CFG.frames), BATCH)
    row = {"variant": name, "threads": threads, "step_s": round(step_s, 4), "samples_per_s": round(BATCH / step_s, 1),
           "gflops": round(step_flops / step_s / 1e9, 1), "min_step_s": round(min(times), 4)}
    if compile_s is not None:
        row["compile_s"] = compile_s
    print(json.dumps(row), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the attention and compile variants")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (a minute or more to compile)")
    args = parser.parse_args()
    keep_freed_memory()  # as pretrain does
    w, s = args.warmup, args.steps
    print(json.dumps({"cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
                      "fp32_peak_gflops_2_threads": (torch.set_num_threads(2), matmul_peak(torch.float32))[1]}))
    for threads in (1, 2):
        variant("default", threads, w, s)
    for name, backend in (("math attention", SDPBackend.MATH), ("flash attention", SDPBackend.FLASH_ATTENTION)):
        variant(name, args.threads, w, s, backend)
    if args.compile:
        variant("torch.compile", args.threads, w, s, compile_it=True)


if __name__ == "__main__":
    main()
