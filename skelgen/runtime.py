"""Process-wide settings that make CPU training faster, each measured on the shared 2-core AVX2
machine at the paper's size (batch 128, T=64, D=512, 2+2 blocks, load average ~4.5 from others).

``passive_thread_waits``: torch's OpenMP threads (libgomp) spin while they wait for work. On a
CPU shared with other processes the spinning threads take turns away from the working ones:
a step took 12.0-13.5 s with 2 spinning threads, 8.6-9.4 s with passive waits (1 thread:
8.5-9.2 s either way; medians of 3 steps, alternating runs). An idle machine loses at most a
wake-up per parallel region (microseconds against a multi-second step).

``keep_freed_memory``: a step allocates and frees activations of up to ~70 MB each; glibc serves
blocks that large with fresh mmap pages and unmaps them when freed, so every step page-faults
about 1 GB of zeroed memory again (~250,000 faults, 0.5-1 s of system time). With glibc's mmap
and trim thresholds raised, freed activations stay in the heap for the next step: 14.7 -> 13.3 s
a step (median of 6, alternating processes; faults ~250,000 -> ~30,000). The cost: the process
keeps its peak memory until it exits.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def passive_thread_waits() -> bool:
    """OMP_WAIT_POLICY=PASSIVE unless already set. OpenMP reads it once, when torch loads, so this
    works only before the first ``import torch`` (the command line calls it first); returns
    whether it could still take effect."""
    if "torch" in sys.modules:
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True


def keep_freed_memory(mmap_threshold: int = 1 << 30) -> bool:
    """Serve blocks below ``mmap_threshold`` bytes from the heap and never trim it. Returns False,
    changing nothing, where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` torch CPU threads (0: unchanged), restoring the setting after."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)
