"""Skeleton sequences drawn: montages of frames, real beside synthetic, the paper's reconstruction
figure, animated GIFs.

Skeleton arrays are (M persons, T frames, V joints, 3); (T, V, 3) is one person. By default they
are skelgen-normalized (+z along the spine, +x from the left to the right shoulder, so the body
faces +y and is seen from the front); ``normalized=False`` means Kinect camera space (y up, z away
from the sensor). All-zero or non-finite joints are missing and not drawn. Left limbs are blue,
right limbs red, the trunk grey (further persons in lighter shades); synthetic samples sit on a
warm tinted background. Every panel of a figure has the same view and the same scale.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from mpl_toolkits.mplot3d import proj3d
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from ..errors import SkelgenError
from ..layouts import Layout
from .style import MUTED, new_figure, save, styled

PANEL = (1.25, 2.0)            # inches per skeleton panel (width, height) in montages
GIF_PANEL = (2.0, 3.2)         # inches per panel in GIFs
TITLE_H = 0.25                 # inches above each block of panels for its title
VIEW = {"elev": 12, "azim": 110}  # orthographic, in front of the body (+y), a little to its left
BONE_COLORS = {"left": ("#1f5fa8", "#7fb1e3"), "right": ("#c62828", "#ef9a9a"),
               "centre": ("#424242", "#9e9e9e")}  # (first person, further persons)
FACE = {"real": "#ffffff", "synthetic": "#fff3e0", "masked": "#e0e0e0"}


def check_layout_drawable(layout: Layout, num_joints: int | None = None) -> None:
    """Raise SkelgenError unless every bone of ``layout`` joins two of its joints and, when given,
    the data's ``num_joints`` equals the layout's."""
    n = len(layout.joints)
    if len(layout.parents) != n:
        raise SkelgenError(f"layout {layout.name!r} has {n} joints but {len(layout.parents)} parents")
    for i, p in enumerate(layout.parents):
        if not -1 <= p < n or p == i:
            raise SkelgenError(f"layout {layout.name!r}: joint {layout.joints[i]!r} has parent {p}, "
                               f"not a joint index in 0..{n - 1}; cannot draw its bone")
    if num_joints is not None and num_joints != n:
        raise SkelgenError(f"data has {num_joints} joints but layout {layout.name!r} has {n}; "
                           f"pass the layout the data was recorded with")


def _as_sequence(x, layout: Layout, normalized: bool = True) -> np.ndarray:
    """(M, T, V, 3) float in plot axes (z up), missing joints NaN."""
    x = np.array(x, dtype=np.float64)
    x = x[None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[-1] != 3 or 0 in x.shape[:2]:
        raise SkelgenError(f"a skeleton sequence has shape {x.shape}; expected (M>=1, T>=1, V, 3)")
    check_layout_drawable(layout, x.shape[2])
    missing = ~np.isfinite(x).all(-1) | (np.abs(np.nan_to_num(x)).sum(-1) == 0)
    if not normalized:  # Kinect camera space (x, y up, z depth) -> right-handed z-up (x, -z, y)
        x = np.stack([x[..., 0], -x[..., 2], x[..., 1]], axis=-1)
    x[missing] = np.nan
    return x


def _per_sequence(n: int, values, default, what: str) -> list:
    values = [default] * n if values is None else list(values)
    if len(values) != n:
        raise SkelgenError(f"{n} sequences but {len(values)} {what}")
    return values


def _kinds(n: int, synthetic) -> list[str]:
    return ["synthetic" if s else "real" for s in _per_sequence(n, synthetic, False, "synthetic flags")]


def bone_segments(pose: np.ndarray, layout: Layout) -> dict[str, list[np.ndarray]]:
    """The segments drawn for one person in one frame: pose (V, 3) -> {side: [(2, 3) arrays]},
    one per bone (child, parent) whose joints are both present (NaN marks a missing joint)."""
    out = {"left": [], "right": [], "centre": []}
    for child, parent in layout.bones:
        seg = pose[[child, parent]]
        if np.isfinite(seg).all():
            name = layout.joints[child]
            out["left" if "left" in name else "right" if "right" in name else "centre"].append(seg)
    return out


def _box(seqs: list[np.ndarray], follow: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
    """Panel centres (T, 3) per sequence and one span per axis shared by every panel. ``follow``:
    centre each frame on the bodies horizontally (the span covers the widest frame, not the
    whole walk); otherwise centre on the whole sequence."""
    centres, spans = [], []
    for s in seqs:
        with warnings.catch_warnings():  # all-NaN (masked) frames are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            flo, fhi = np.nanmin(s, axis=(0, 2)), np.nanmax(s, axis=(0, 2))  # (T, 3)
        good = np.isfinite(flo).all(1)
        lo, hi = (flo[good].min(0), fhi[good].max(0)) if good.any() else (np.zeros(3), np.zeros(3))
        centre, span = np.tile((lo + hi) / 2, (s.shape[1], 1)), hi - lo
        if follow and good.any():
            centre[good, :2] = ((flo + fhi) / 2)[good, :2]
            span[:2] = (fhi - flo)[good, :2].max(0)
        centres.append(centre)
        spans.append(span)
    return centres, np.maximum(np.max(spans, 0) * 1.08, 0.15)


class _Panel:
    """A 3D axes showing one sequence; ``show(t)`` draws frame t. Axes3D draws in the largest
    square of its slot, so the box is zoomed to fill the whole (taller) slot, unclipped."""

    def __init__(self, ax, seq: np.ndarray, layout: Layout, centres, span, empty_text="no joints"):
        self.ax, self.seq, self.layout, self.centres, self.span = ax, seq, layout, centres, span
        self.fig, self.slot = ax.get_figure(root=False), ax.get_position(original=True)
        ax.set_proj_type("ortho")
        ax.view_init(**VIEW)
        ax.set_axis_off()
        ax.patch.set_visible(False)
        self._limits(0)
        self._fit()
        persons = range(seq.shape[0])
        self.lines = [{side: ax.add_collection3d(Line3DCollection(
            [], colors=c[min(m, 1)], linewidths=2.0 if m == 0 else 1.6, capstyle="round", clip_on=False),
            autolim=False) for side, c in BONE_COLORS.items()} for m in persons]
        self.dots = [ax.plot([], [], [], "o", ms=1.8, color=BONE_COLORS["centre"][min(m, 1)],
                             clip_on=False)[0] for m in persons]
        box = self.slot.shrunk(0.94, 0.96).anchored("C", self.slot)
        self.shade = self.fig.add_artist(Rectangle(box.p0, box.width, box.height, zorder=-5,
                                                   color=FACE["masked"], transform=self.fig.transSubfigure))
        self.label = self.text(0.5, 0.5, empty_text, ha="center", va="center", color=MUTED)

    def text(self, u: float, v: float, s: str, **kw):
        """Text at (u, v) of the panel's slot (0..1 each way)."""
        return self.fig.text(self.slot.x0 + u * self.slot.width, self.slot.y0 + v * self.slot.height, s, **kw)

    def _limits(self, t: int):
        for axis, c, s in zip("xyz", self.centres[t], self.span):
            getattr(self.ax, f"set_{axis}lim")(c - s / 2, c + s / 2)

    def _fit(self, margin: float = 0.94):
        """Zoom so the projected bounding box fills ``margin`` of the slot (equal spans, equal zoom)."""
        ax = self.ax
        ax.set_box_aspect(tuple(self.span), zoom=1.0)
        ax.apply_aspect()
        corners = np.array(np.meshgrid(ax.get_xlim(), ax.get_ylim(), ax.get_zlim())).reshape(3, -1)
        xs, ys, _ = proj3d.proj_transform(*corners, ax.get_proj())
        px = ax.transData.transform(np.c_[xs, ys])
        slot = self.fig.transSubfigure.transform(np.array([self.slot.p0, self.slot.p1]))
        zoom = margin * np.min((slot[1] - slot[0]) / (px.max(0) - px.min(0)))
        ax.set_box_aspect(tuple(self.span), zoom=float(zoom))

    def show(self, t: int) -> list[np.ndarray]:
        """Draw frame ``t`` (the last frame beyond the end); returns the segments drawn."""
        t = min(t, self.seq.shape[1] - 1)
        self._limits(t)
        drawn = []
        for pose, lines, dots in zip(self.seq[:, t], self.lines, self.dots):
            for side, segs in bone_segments(pose, self.layout).items():
                lines[side].set_segments(segs)
                drawn += segs
            dots.set_data_3d(*pose.T)
        empty = not np.isfinite(self.seq[:, t]).any()
        self.shade.set_visible(empty)
        self.label.set_visible(empty)
        return drawn


def _grid(rows: list[list], layout: Layout, frames_across: int, normalized: bool,
          empty_text: str = "no joints") -> Figure:
    """A figure of rows of blocks; a block (sequence, title, kind) or None (left blank) shows
    ``frames_across`` evenly spaced frames under its title. kind: "real" | "synthetic"."""
    if not rows or frames_across < 1:
        raise SkelgenError("a montage needs at least one sequence and frames_across >= 1")
    rows = [[None if b is None else (_as_sequence(b[0], layout, normalized), str(b[1]), b[2]) for b in r]
            for r in rows]
    centres, span = _box([b[0] for r in rows for b in r if b is not None])
    centres, ncols = iter(centres), max(len(r) for r in rows)
    fig = new_figure(ncols * frames_across * PANEL[0], len(rows) * (PANEL[1] + TITLE_H))
    subs = fig.subfigures(len(rows), ncols, squeeze=False, wspace=0, hspace=0)
    top = PANEL[1] / (PANEL[1] + TITLE_H)
    for (r, c), (seq, title, kind) in [((r, c), b) for r, row in enumerate(rows)
                                       for c, b in enumerate(row) if b is not None]:
        sub, centre = subs[r, c], next(centres)
        sub.set_facecolor(FACE[kind])
        sub.text(0.5, (1 + top) / 2, title, ha="center", va="center", fontsize=9)
        gs = sub.add_gridspec(1, frames_across, left=0, right=1, bottom=0, top=top, wspace=0)
        for j, t in enumerate(np.linspace(0, seq.shape[1] - 1, frames_across).round().astype(int)):
            panel = _Panel(sub.add_subplot(gs[0, j], projection="3d"), seq, layout, centre, span, empty_text)
            panel.show(t)
            panel.text(0.04, 0.98, f"t={t}", va="top", fontsize=7, color=MUTED)
    return fig


def sample_title(sf, i: int) -> str:
    """A row title for sample ``i`` of a SkeletonFile, e.g. "A024 kicking something · synthetic"."""
    return f"{sf.classes.label(int(sf.labels[i]))} · {'synthetic' if sf.synthetic[i] else 'real'}"


@styled
def skeleton_montage(sequences, layout: Layout, titles, out_png, frames_across: int = 8,
                     normalized: bool = True, synthetic=None) -> Path:
    """A row per sequence ((M, T, V, 3) each) of ``frames_across`` frames evenly spaced in time;
    ``synthetic`` (bools, one per sequence) tints those rows. Image size in inches:
    (frames_across * PANEL[0], len(sequences) * (PANEL[1] + TITLE_H)) at DPI."""
    n = len(sequences)
    rows = [[b] for b in zip(sequences, _per_sequence(n, titles, "", "titles"), _kinds(n, synthetic))]
    return save(_grid(rows, layout, frames_across, normalized), out_png)


@styled
def compare_montage(real, synthetic, layout: Layout, out_png, real_titles=None,
                    synthetic_titles=None, frames_across: int = 4, normalized: bool = True) -> Path:
    """Real sequences in the left column, synthetic ones (tinted) in the right, one pair per row
    (the shorter list leaves blanks). Image: (2 * frames_across * PANEL[0], rows * (PANEL[1] + TITLE_H))."""
    rt = _per_sequence(len(real), real_titles, "real", "real titles")
    st = _per_sequence(len(synthetic), synthetic_titles, "synthetic", "synthetic titles")
    pad = max(len(real), len(synthetic))
    left = [(s, t, "real") for s, t in zip(real, rt)] + [None] * (pad - len(real))
    right = [(s, t, "synthetic") for s, t in zip(synthetic, st)] + [None] * (pad - len(synthetic))
    return save(_grid([list(p) for p in zip(left, right)], layout, frames_across, normalized), out_png)


@styled
def reconstruction_figure(original, decoder_input, reconstruction, layout: Layout, out_png,
                          title: str = "", frames_across: int = 8, normalized: bool = True) -> Path:
    """The paper's Figure 4: rows of the same frames of the encoder input, the masked + noised
    decoder input (all-zero frames are masked: greyed panels) and the reconstruction; each
    (M, T, V, 3) with the same T. Image as ``skeleton_montage`` with 3 rows."""
    seqs = [np.asarray(s) for s in (original, decoder_input, reconstruction)]
    if len({s.shape[-3] if s.ndim >= 3 else -1 for s in seqs}) != 1:
        raise SkelgenError(f"reconstruction_figure needs equal frame counts, got {[s.shape for s in seqs]}")
    names = ("encoder input", "decoder input (masked + noised)", "reconstruction")
    rows = [[(s, f"{title} · {name}" if title else name, "real")] for s, name in zip(seqs, names)]
    return save(_grid(rows, layout, frames_across, normalized, empty_text="masked"), out_png)


@styled
def skeleton_gif(sequences, layout: Layout, titles, out_gif, fps: int = 15, normalized: bool = True,
                 synthetic=None, follow: bool = True) -> Path:
    """The sequences side by side, animated, as many frames as the longest (shorter ones hold
    their last frame). ``follow``: panels follow the bodies horizontally; False shows the
    whole trajectory. Frame size in inches: (n * GIF_PANEL[0], GIF_PANEL[1] + TITLE_H)."""
    n = len(sequences)
    if n == 0:
        raise SkelgenError("a GIF needs at least one sequence")
    seqs = [_as_sequence(s, layout, normalized) for s in sequences]
    kinds = _kinds(n, synthetic)
    centres, span = _box(seqs, follow)
    (w, h), frames = GIF_PANEL, max(s.shape[1] for s in seqs)
    fig = new_figure(n * w, h + TITLE_H)
    panels = []
    for i, (seq, title, kind) in enumerate(zip(seqs, _per_sequence(n, titles, "", "titles"), kinds)):
        fig.add_artist(Rectangle((i / n, 0), 1 / n, 1, color=FACE[kind], zorder=-10))
        fig.text((i + 0.5) / n, 1 - 0.5 * TITLE_H / (h + TITLE_H), str(title), ha="center", va="center")
        ax = fig.add_axes((i / n, 0, 1 / n, h / (h + TITLE_H)), projection="3d")
        panels.append(_Panel(ax, seq, layout, centres[i], span))
    counter = fig.text(0.99, 0.01, "", ha="right", va="bottom", fontsize=7, color=MUTED)

    def update(t):
        for p in panels:
            p.show(t)
        counter.set_text(f"frame {t + 1}/{frames}")  # also keeps consecutive GIF frames distinct
    anim = FuncAnimation(fig, update, frames=frames, init_func=lambda: None, repeat=False)
    return save(fig, out_gif, fmt="gif", anim=anim, fps=fps)
