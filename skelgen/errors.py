"""The one exception type the CLI turns into a single clear line on stderr."""
from __future__ import annotations

import math


class SkelgenError(ValueError):
    """A user-facing error: the message says what is wrong and what to do. A ValueError, so that
    code written for the standard types (scikit-learn's and imbalanced-learn's checks) sees one."""


def check_range(name: str, value, low=None, high=None, high_open: bool = False,
                fix: str = "fix it in the recipe or with --set"):
    """Refuse ``value`` outside [low, high] (or [low, high) with ``high_open``), NaN included."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and not (isinstance(value, float) and not math.isfinite(value))
    ok = ok and (low is None or value >= low) and (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = {(True, True): f"in [{low}, {high}{')' if high_open else ']'}", (True, False): f">= {low}",
                  (False, True): f"{'<' if high_open else '<='} {high}"}[low is not None, high is not None]
        raise SkelgenError(f"{name} must be a number {bounds}, not {value!r}; {fix}")
