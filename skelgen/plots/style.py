"""What every skelgen figure shares: one style, one palette, headless figures, atomic saves.

Every figure function renders with Agg on its own ``Figure`` (pyplot's global state is never
touched) inside ``rc_context(STYLE)`` (the ``styled`` decorator), writes its file atomically (a
temporary file in the same folder, then ``os.replace``) and returns the path.
"""
from __future__ import annotations

import functools
from pathlib import Path

from cycler import cycler
from matplotlib import rc_context
from matplotlib.animation import PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io.atomic import AtomicPath

DPI = 100
MUTED = "#757575"
METHOD_COLORS = ("#1f5fa8", "#e07b00", "#2e7d32", "#c62828", "#6a1b9a", "#00838f", "#8d6e63", "#5c6bc0")
# More distinct colours for figures with more methods (a benchmark has ten): none of them shares a hue
EXTRA_METHOD_COLORS = ("#f9a825", "#ad1457", "#263238", "#9e9d24", "#4fc3f7", "#ff8a65")
BASELINE_COLOR = "#9e9e9e"
STYLE = {
    "figure.dpi": DPI, "savefig.dpi": DPI, "figure.facecolor": "white", "savefig.facecolor": "white",
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8,
    "legend.fontsize": 7, "legend.frameon": False, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.5,
    "axes.prop_cycle": cycler(color=METHOD_COLORS),
}


def styled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out, fmt: str = "png", anim=None, fps: int = 15, overwrite: bool = True) -> Path:
    """Write ``fig`` (or ``anim``) to a temporary file beside ``out``, then rename it into place."""
    with AtomicPath(out, overwrite, suffix=f".{fmt}") as tmp:  # Pillow picks the format by extension
        if anim is None:
            fig.savefig(tmp, format=fmt, dpi=DPI)
        else:
            anim.save(tmp, writer=PillowWriter(fps=fps), dpi=DPI)
    return Path(out)
