"""Process-wide settings that make CPU training faster, each measured on 2-core machines.

``thread_waits``: torch's OpenMP threads (libgomp) wait for work between parallel regions,
spinning or asleep. On a CPU shared with other processes spinning threads take turns away from
the working ones: a paper-size step took 12.0-13.5 s with 2 spinning threads, 8.6-9.4 s with
passive waits (1 thread: 8.5-9.2 s either way; medians of 3 steps, alternating runs). On an idle
machine passive waits cost a wake-up per region, and small models run thousands of regions a
step: the generator-size step (D = 128, batch 64) took 76-81 ms in bf16 and 84-94 ms in fp32
with passive waits against 34-41 and 50-55 ms spinning (AMX Xeon, 2 cores, BENCHMARKS.md 9h).
So the waits are passive only where other processes are running when the command starts (or
where that cannot be told); else the threads spin briefly (GOMP_SPINCOUNT 10,000) before they
sleep: as fast as libgomp's default spin on an idle machine, and less slow than it if other work
starts later (with a busy process beside it, 117-180 ms a bf16 step against 99-345).

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
import time
from pathlib import Path

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


SPIN_COUNT = 10_000  # libgomp's spin iterations before a waiting thread sleeps (its default: 300,000)


def thread_waits() -> str | None:
    """Sets how OpenMP threads wait (see the module docstring, ``wait_setting``) unless the user
    set OMP_WAIT_POLICY or GOMP_SPINCOUNT. OpenMP reads them once, when torch loads, so this works
    only before the first ``import torch`` (the command line calls it first). Returns the setting
    made, or None."""
    if "torch" in sys.modules or {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ):
        return None
    key, value = wait_setting(others_running())
    os.environ[key] = value
    return f"{key}={value}"


def wait_setting(others: int | None) -> tuple[str, str]:
    """The environment variable and value for ``others`` other running tasks (None: unknown):
    passive waits beside other work or where it cannot be told, a short spin on an idle machine."""
    return ("GOMP_SPINCOUNT", str(SPIN_COUNT)) if others == 0 else ("OMP_WAIT_POLICY", "PASSIVE")


def thread_waits_in_effect() -> str:
    """The OpenMP wait settings of this process's environment, as a reader would write them."""
    set_ = [f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ]
    return ", ".join(set_) or "libgomp's default"


def others_running(loadavg: str = "/proc/loadavg", samples: int = 3) -> int | None:
    """How many other tasks are running or runnable now, the least of ``samples`` readings of the
    kernel's count a few milliseconds apart (a compute-bound process is in every reading, a
    passing one seldom); None where the count cannot be read (not Linux)."""
    counts = []
    for i in range(samples):
        try:
            counts.append(int(Path(loadavg).read_text().split()[3].split("/")[0]) - 1)  # "running/total"; less this one
        except (OSError, IndexError, ValueError):
            return None
        if i + 1 < samples:
            time.sleep(0.002)
    return min(counts)


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
