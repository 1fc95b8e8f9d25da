"""Ctrl-C and SIGTERM stop any command promptly, as a KeyboardInterrupt that the atomic writes
turn into "no partial output". (Also: a full disk's write error raised in a destructor is
recorded for the writer to report, not printed.)

Python raises a signal's KeyboardInterrupt wherever the main thread happens to be. Inside a weakref
callback or a ``__del__`` (torch and h5py run many) it cannot propagate: Python prints it and
carries on, so the signal was lost. Here the signal is also remembered, its swallowed exception
is not printed, and ``check()`` (called by every progress bar and generation batch) raises it again.
"""
from __future__ import annotations

import contextlib
import errno
import signal
import sys
import threading

_received: int | None = None  # the signal that asked this process to stop


def _handler(signum, frame):
    global _received
    _received = signum
    raise KeyboardInterrupt


def _unraisable(hook):
    def quiet(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and _received is not None:
            return  # a swallowed stop: check() raises it again at the next batch
        if isinstance(unraisable.exc_value, OSError) and unraisable.exc_value.errno == errno.ENOSPC:
            from .io.atomic import note_disk_full
            note_disk_full()  # h5py writes cached chunks in destructors: the writer reports it, once
            return
        hook(unraisable)
    return quiet


@contextlib.contextmanager
def stoppable():
    """Inside the block, SIGINT and SIGTERM raise KeyboardInterrupt and are never lost."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received = None
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    hook, sys.unraisablehook = sys.unraisablehook, _unraisable(sys.unraisablehook)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        sys.unraisablehook = hook


def check():
    """Raise KeyboardInterrupt if a stop signal arrived but its exception was swallowed."""
    if _received is not None:
        raise KeyboardInterrupt


def exit_code() -> int:
    """The shell's convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + (_received or signal.SIGINT)
