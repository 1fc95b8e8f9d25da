"""A small progress bar for long jobs: done/total, rate, ETA and live metrics, on stderr."""
from __future__ import annotations

import sys
import time

from .stopping import check as check_stop


class Progress:
    """``with Progress(total, "train", unit="samples") as bar: bar.update(n, loss=0.1)``.

    Redraws at most ten times a second; silent when ``enabled`` is False (e.g. on DDP ranks > 0).
    """

    def __init__(self, total: int, desc: str = "", unit: str = "it", enabled: bool = True, stream=None):
        self.total, self.desc, self.unit, self.enabled = max(int(total), 1), desc, unit, enabled
        self.stream = stream or sys.stderr
        self.done, self.metrics, self.start, self._last = 0, {}, time.perf_counter(), 0.0
        self._drawn = False

    def update(self, n: int = 1, **metrics):
        check_stop()  # a Ctrl-C that Python swallowed stops the job here
        self.done += n
        self.metrics.update(metrics)
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self._draw(now)
            self._drawn = True

    @property
    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self.start, 1e-9)

    def _draw(self, now):
        frac = min(self.done / self.total, 1.0)
        rate = self.done / max(now - self.start, 1e-9)
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        extra = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.metrics.items())
        pace = (f"{_speed(rate, self.unit)} ETA {_clock((self.total - self.done) / rate)}" if rate > 0
                else f"{_clock(now - self.start)} so far")  # nothing done yet: no rate, but a live clock
        self.stream.write(f"\r{self.desc} [{bar}] {self.done}/{self.total} {pace} {extra}\033[K")
        self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self.enabled:
            if exc_type is not None:  # an error follows: end a drawn bar's line, add no new bar
                if self._drawn:
                    self.stream.write("\n")
                    self.stream.flush()
                return
            if self.done < self.total:  # the last update did not draw the final state
                self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()


def _speed(rate: float, unit: str) -> str:
    """"12.5 steps/s", or for slow work (a generator, a GCN run) "95.0 s/run" rather than "0.0 runs/s"."""
    if rate < 1:
        return f"{1 / rate:.1f} s/{unit[:-1] if unit.endswith('s') else unit}"
    return f"{rate:.1f} {unit}/s"


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def track(iterable, desc: str = "", unit: str = "it", enabled: bool = True):
    """Wrap an iterable of known length in a ``Progress`` bar."""
    items = list(iterable)
    with Progress(len(items), desc, unit, enabled) as bar:
        for item in items:
            yield item
            bar.update()
