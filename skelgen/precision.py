"""Which number format the matrix products run in: ``fp32``, ``bf16`` (autocast), or ``auto``,
which picks bf16 where this machine runs it faster, by measuring, not by a list of CPU flags.

Shared by training (``train.precision``) and generation (``GenerationConfig.precision``). Torch
is imported where it is used, so that light modules (recipes, generation settings) can check a
value without loading it.
"""
from __future__ import annotations

import functools
import sys
import time
from contextlib import nullcontext

from .errors import SkelgenError

PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str, key: str = "train.precision") -> str:
    if precision not in PRECISIONS:
        raise SkelgenError(f"{key} must be auto, fp32 or bf16, not {precision!r}")
    return precision


def use_bf16(precision: str, device, key: str = "train.precision") -> bool:
    """Whether to run under bf16 autocast: ``auto`` picks it where it is faster (on a CPU, by
    ``bf16_matmul_faster``); ``bf16`` on a CPU where it is slower still works, with a one-line
    warning. ``key`` names the setting in messages."""
    import torch
    if check_precision(precision, key) == "fp32":
        return False
    if device.type == "cuda":
        return precision == "bf16" or torch.cuda.is_bf16_supported()
    faster = bf16_matmul_faster()
    if precision == "bf16" and not faster:
        print(f"skelgen: warning: bf16 matrix products are not native on this CPU (measured slower than "
              f"fp32); this will be slow; {key}=auto picks fp32 here", file=sys.stderr)
    return precision == "bf16" or faster


@functools.cache
def bf16_matmul_faster(n: int = 256, budget_s: float = 0.02, margin: float = 1.5) -> bool:
    """Whether an n x n bf16 matrix product (nn.Linear's layout, a @ b.T) runs ``margin`` times
    faster than the fp32 one on this CPU: the best of up to 10 timed products each, after a
    warm-up. Measured bf16/fp32 peak ratios: 6.5x with native bf16 (AMX, BENCHMARKS.md 9g);
    without it, 0.2x on an AVX-512 Ice Lake and 0.002-0.14x on an AVX2 EPYC (BENCHMARKS.md 4, 9).
    The margin keeps a busy machine's noise from flipping the pick between runs. Cached for the
    process; 0.07-0.16 s on the Ice Lake (1-2 threads), where bf16 is emulated."""
    import torch
    seconds = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.ones(n, n, dtype=dtype), torch.ones(n, n, dtype=dtype)
        a @ b.t()  # warm-up: kernel selection, first touch of the buffers
        times, start = [], time.perf_counter()
        while len(times) < 10 and (not times or time.perf_counter() - start < budget_s):
            t = time.perf_counter()
            a @ b.t()
            times.append(time.perf_counter() - t)
        seconds[dtype] = min(times)
    return seconds[torch.bfloat16] * margin < seconds[torch.float32]


def in_precision(model, bf16: bool):
    """``model`` with bf16 or fp32 weights, for inference: itself where it has them already, else
    a copy. Decoding with bf16 weights and activations ran 1.4-1.5x faster than under bf16
    autocast, which casts the input of every product on every call, with rounding about 1.3x
    autocast's (BENCHMARKS.md 9h)."""
    import copy
    import torch
    dtype = torch.bfloat16 if bf16 else torch.float32
    return model if next(model.parameters()).dtype == dtype else copy.deepcopy(model).to(dtype)


def autocast(device, bf16: bool):
    """bf16 autocast on ``device`` (a torch.device), or nothing."""
    import torch
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
