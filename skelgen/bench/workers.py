"""Benchmark work side by side: every scenario's generator, and every cell (one classifier
trained on one method's training set, then scored on the test split), depends on nothing but its
inputs, so ``benchmark.jobs`` worker processes train that many at once, each with
``benchmark.threads`` torch threads. For models this small, one process per core beats one
process using every core, whose threads wait on each other at every small operation
(BENCHMARKS.md 9, 10n).

Workers are spawned (a fresh interpreter: forking a process whose OpenMP threads already ran can
hang) and ignore SIGINT: the parent alone answers a Ctrl-C, and it stops them at once
(``Workers.__exit__``), so one Ctrl-C still stops the benchmark cleanly; a generator stopped so
resumes from its last timed checkpoint (``train.save_minutes``). A result does not depend on which
process made it: the same seeds give the same numbers with any ``jobs``.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from ..errors import SkelgenError
from .classifier import ClassifierConfig, predict, score, train_classifier
from .methods import generator_checkpoint


def train_and_score(x: np.ndarray, y: np.ndarray, num_classes: int, cfg: ClassifierConfig, seed: int, steps: int,
                    layout, val, test: tuple, real_counts: np.ndarray) -> dict:
    """Train one classifier on x (n, T, M, V, C), y (n,) and score it on ``test`` (x, y): the
    cell's {"score", "steps", "seconds"}. ``real_counts`` (K,): the scenario's real counts, which
    name its rarest classes."""
    t = time.perf_counter()
    model = train_classifier(x, y, num_classes, cfg, seed, steps, layout=layout, val=val)
    return {"score": score(test[1], predict(model, test[0]), real_counts), "steps": model.steps_trained,
            "seconds": round(time.perf_counter() - t, 2)}


def train_generator(x: np.ndarray, y: np.ndarray, ids: np.ndarray, meta: dict, g, cache_dir: str,
                    show_progress: bool) -> tuple:
    """(checkpoint, whether it was cached, seconds): ``methods.generator_checkpoint``, timed."""
    t = time.perf_counter()
    ckpt, cached = generator_checkpoint(x, y, ids, meta, g, cache_dir, show_progress)
    return ckpt, cached, round(time.perf_counter() - t, 2)


MAX_DEFAULT_JOBS = 8
WORKER_GB = 3.0  # GCN workers on NW-UCLA's full scenario held 2.7 and 3.0 GB after an hour (torch, its sets,
                 # the freed activations it keeps for reuse); 1.2 GB early on


def _cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (AttributeError, ValueError, OSError):
        return None  # not a POSIX system: no memory cap


def default_jobs() -> int:
    """``jobs = 0``: one job per core, at most MAX_DEFAULT_JOBS, and no more than the machine's
    memory holds at WORKER_GB a worker."""
    gb = _memory_gb()
    by_memory = MAX_DEFAULT_JOBS if gb is None else int(gb // WORKER_GB)
    return max(1, min(_cores(), MAX_DEFAULT_JOBS, by_memory))


def _start_worker(threads: int, jobs: int):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent answers Ctrl-C and stops the workers
    import torch
    from ..runtime import keep_freed_memory
    keep_freed_memory()
    torch.set_num_threads(threads or max(1, _cores() // jobs))  # 0: the cores shared out, never oversubscribed


class _Deferred:
    """jobs = 1: the call runs in this process when its result is asked for, so progress follows it."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def wait(self, seconds: float) -> bool:
        return True  # ready: ``result`` does the work

    def result(self):
        return self.fn(*self.args)


class _Remote:
    """A call running in a worker; a worker that died (killed, out of memory) is one clear error."""

    def __init__(self, future):
        self.future = future

    def wait(self, seconds: float) -> bool:
        """Whether the result is ready, after waiting for it at most ``seconds``."""
        concurrent.futures.wait([self.future], timeout=seconds)
        return self.future.done()

    def result(self):
        try:
            return self.future.result()
        except BrokenProcessPool:
            raise SkelgenError("a benchmark worker process died: out of memory, or a script that runs the "
                               "benchmark outside `if __name__ == \"__main__\":` (each worker imports the main "
                               "module); run again with fewer --jobs (finished runs are cached)") from None


class Workers:
    """``with Workers(jobs, threads) as w: handle = w.submit(fn, *args); handle.result()``: jobs 0
    is ``default_jobs()``; with jobs > 1, worker processes run the calls in submission order; with
    1, each call runs here, in ``result``. ``fn`` must be importable by name (module level)."""

    def __init__(self, jobs: int = 1, threads: int = 1):
        self.jobs, self.threads, self.pool = jobs or default_jobs(), threads, None

    def __enter__(self) -> "Workers":
        return self

    def submit(self, fn, *args):
        if self.jobs == 1:
            return _Deferred(fn, args)
        if self.pool is None:  # at the first call: input refused before any work spawns nothing
            self.pool = ProcessPoolExecutor(self.jobs, multiprocessing.get_context("spawn"), _start_worker,
                                            (self.threads, self.jobs))
        return _Remote(self.pool.submit(fn, *args))

    def __exit__(self, kind, error, trace):
        if self.pool:
            if kind is not None:  # interrupted or failed: stop the runs under way now
                stop = getattr(self.pool, "terminate_workers", None)  # Python 3.14+
                for process in ([] if stop else list(getattr(self.pool, "_processes", {}).values())):
                    process.terminate()
                if stop:
                    stop()
            self.pool.shutdown(wait=True, cancel_futures=kind is not None)
