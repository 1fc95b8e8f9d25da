"""Figures for skeleton sequences and experiment results, all in one style.

Every function renders with Agg on its own ``Figure`` (headless; pyplot's global state is never
touched) inside ``rc_context(STYLE)``, writes its file atomically (a temporary file in the same
folder, then ``os.replace``) and returns the path.

Skeleton arrays are (M persons, T frames, V joints, 3); (T, V, 3) is one person. By default they
are skelgen-normalized (+z along the spine, +x from the left to the right shoulder, so the body
faces +y and is seen from the front); ``normalized=False`` means Kinect camera space (y up, z away
from the sensor). All-zero or non-finite joints are missing and not drawn. Left limbs are blue,
right limbs red, the trunk grey (further persons in lighter shades); synthetic samples sit on a
warm tinted background. Every panel of a figure has the same view and the same scale.
"""
from __future__ import annotations

import functools
import warnings
import zlib
from pathlib import Path

import numpy as np
from cycler import cycler
from matplotlib import colormaps, rc_context
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from mpl_toolkits.mplot3d import proj3d
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from .errors import SkelgenError
from .io.atomic import AtomicPath
from .layouts import Layout

DPI = 100
PANEL = (1.25, 2.0)            # inches per skeleton panel (width, height) in montages
GIF_PANEL = (2.0, 3.2)         # inches per panel in GIFs
TITLE_H = 0.25                 # inches above each block of panels for its title
VIEW = {"elev": 12, "azim": 110}  # orthographic, in front of the body (+y), a little to its left
BONE_COLORS = {"left": ("#1f5fa8", "#7fb1e3"), "right": ("#c62828", "#ef9a9a"),
               "centre": ("#424242", "#9e9e9e")}  # (first person, further persons)
FACE = {"real": "#ffffff", "synthetic": "#fff3e0", "masked": "#e0e0e0"}
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


# -- shared machinery -------------------------------------------------------------------------
def _styled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out, fmt: str = "png", anim=None, fps: int = 15, overwrite: bool = True) -> Path:
    """Write ``fig`` (or ``anim``) to a temporary file beside ``out``, then rename it into place."""
    with AtomicPath(out, overwrite, suffix=f".{fmt}") as tmp:  # Pillow picks the format by extension
        if anim is None:
            fig.savefig(tmp, format=fmt, dpi=DPI)
        else:
            anim.save(tmp, writer=PillowWriter(fps=fps), dpi=DPI)
    return Path(out)


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
    fig = _figure(ncols * frames_across * PANEL[0], len(rows) * (PANEL[1] + TITLE_H))
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


# -- skeleton figures -------------------------------------------------------------------------
def sample_title(sf, i: int) -> str:
    """A row title for sample ``i`` of a SkeletonFile, e.g. "A024 kicking something · synthetic"."""
    return f"{sf.classes.label(int(sf.labels[i]))} · {'synthetic' if sf.synthetic[i] else 'real'}"


@_styled
def skeleton_montage(sequences, layout: Layout, titles, out_png, frames_across: int = 8,
                     normalized: bool = True, synthetic=None) -> Path:
    """A row per sequence ((M, T, V, 3) each) of ``frames_across`` frames evenly spaced in time;
    ``synthetic`` (bools, one per sequence) tints those rows. Image size in inches:
    (frames_across * PANEL[0], len(sequences) * (PANEL[1] + TITLE_H)) at DPI."""
    n = len(sequences)
    rows = [[b] for b in zip(sequences, _per_sequence(n, titles, "", "titles"), _kinds(n, synthetic))]
    return _save(_grid(rows, layout, frames_across, normalized), out_png)


@_styled
def compare_montage(real, synthetic, layout: Layout, out_png, real_titles=None,
                    synthetic_titles=None, frames_across: int = 4, normalized: bool = True) -> Path:
    """Real sequences in the left column, synthetic ones (tinted) in the right, one pair per row
    (the shorter list leaves blanks). Image: (2 * frames_across * PANEL[0], rows * (PANEL[1] + TITLE_H))."""
    rt = _per_sequence(len(real), real_titles, "real", "real titles")
    st = _per_sequence(len(synthetic), synthetic_titles, "synthetic", "synthetic titles")
    pad = max(len(real), len(synthetic))
    left = [(s, t, "real") for s, t in zip(real, rt)] + [None] * (pad - len(real))
    right = [(s, t, "synthetic") for s, t in zip(synthetic, st)] + [None] * (pad - len(synthetic))
    return _save(_grid([list(p) for p in zip(left, right)], layout, frames_across, normalized), out_png)


@_styled
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
    return _save(_grid(rows, layout, frames_across, normalized, empty_text="masked"), out_png)


@_styled
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
    fig = _figure(n * w, h + TITLE_H)
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
    return _save(fig, out_gif, fmt="gif", anim=anim, fps=fps)


# -- result figures ---------------------------------------------------------------------------
@_styled
def training_curve(log_rows, out_png, overwrite: bool = True) -> Path:
    """Loss (log scale) and learning rate (twin axis) per epoch from a JSON-lines training log's
    rows (dicts with ``epoch``, ``loss``, ``lr``, ``samples_per_s``). Image: 6.4 x 3.6 inches."""
    rows = sorted((r for r in log_rows if "epoch" in r and "loss" in r), key=lambda r: r["epoch"])
    if not rows:
        raise SkelgenError("the training log has no rows with 'epoch' and 'loss'")
    loss = np.array([r["loss"] for r in rows], float)
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    ax.plot([r["epoch"] for r in rows], loss, color=METHOD_COLORS[0], label="loss",
            marker="o" if len(rows) < 30 else None, ms=3)
    ax.set(xlabel="epoch", ylabel="loss", yscale="log" if (loss > 0).all() else "linear")
    lr = [(r["epoch"], r["lr"]) for r in rows if r.get("lr") is not None]
    if lr:
        ax2 = ax.twinx()
        ax2.plot(*zip(*lr), color=METHOD_COLORS[1], ls="--", label="learning rate")
        ax2.set(ylabel="learning rate")
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    fig.legend(loc="upper right", bbox_to_anchor=(0.88, 0.92))
    speed = [r["samples_per_s"] for r in rows if r.get("samples_per_s")]
    ax.set_title("training" + (f" · median {np.median(speed):,.0f} samples/s" if speed else ""))
    fig.tight_layout()
    return _save(fig, out_png, overwrite=overwrite)


@_styled
def tsne_plot(embeddings, labels, class_names, out_png, seed: int = 0, title: str = "t-SNE") -> Path:
    """2D t-SNE of embeddings (n, D), coloured by class (labels (n,) index class_names). 7.5 x 5 in."""
    from sklearn.manifold import TSNE
    emb, labels, k = np.asarray(embeddings, float), np.asarray(labels, int), len(class_names)
    if emb.ndim != 2 or labels.shape != (len(emb),) or len(emb) < 3:
        raise SkelgenError(f"t-SNE needs embeddings (n>=3, D) and n labels; got {emb.shape}, {labels.shape}")
    if labels.min() < 0 or labels.max() >= k:
        raise SkelgenError(f"labels must index the {k} class names")
    xy = TSNE(2, perplexity=min(30.0, max(1.0, (len(emb) - 1) / 3)), init="pca",
              learning_rate="auto", random_state=seed).fit_transform(emb)
    fig = _figure(7.5, 5.0)
    ax = fig.add_axes((0.03, 0.05, 0.6, 0.87))
    cmap = colormaps["tab10" if k <= 10 else "tab20" if k <= 20 else "turbo"]
    for c in range(k):
        if (sel := labels == c).any():
            ax.scatter(*xy[sel].T, s=8, color=cmap(c if k <= 20 else c / (k - 1)), label=class_names[c],
                       alpha=0.8, linewidths=0)
    ax.set(xticks=[], yticks=[], title=title)
    ax.spines[:].set_visible(False)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), markerscale=2, ncol=1 + k // 25)
    return _save(fig, out_png)


@_styled
def confusion_plot(confusion, class_names, out_png, normalize: bool = True) -> Path:
    """A (K, K) confusion matrix of counts (rows: true, columns: predicted); ``normalize``: each
    row divided by its total. Square-ish, growing with K."""
    cm, k = np.asarray(confusion, float), len(class_names)
    if cm.shape != (k, k):
        raise SkelgenError(f"confusion matrix has shape {cm.shape} for {k} classes")
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    side = min(3.0 + 0.35 * k, 16.0)
    fig = _figure(side + 1.0, side)
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    names = [n if len(n) <= 24 else n[:23] + "…" for n in class_names]
    ax.set_xticks(range(k), names, rotation=90, fontsize=6 if k > 20 else 7)
    ax.set_yticks(range(k), names, fontsize=6 if k > 20 else 7)
    ax.grid(False)
    ax.set(xlabel="predicted", ylabel="true",
           title=f"confusion · accuracy {np.trace(cm) / max(cm.sum(), 1):.1%}")
    if k <= 15:
        for (i, j), v in np.ndenumerate(shown):
            ax.text(j, i, f"{v:.2f}" if normalize else f"{v:.0f}", ha="center", va="center",
                    fontsize=6, color="white" if v > 0.5 * shown.max() else "#424242")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return _save(fig, out_png)


def method_colors(methods) -> dict[str, str]:
    """A distinct colour per method, stable across figures: baselines (``none`` or a name with
    "baseline") grey, others hashed into METHOD_COLORS, then EXTRA_METHOD_COLORS (the next unused
    colour on a clash within one figure), then tab20's."""
    palette = METHOD_COLORS + EXTRA_METHOD_COLORS
    spare = [to_hex(c) for c in colormaps["tab20"].colors]
    out: dict[str, str] = {}
    for m in methods:
        if m.lower() == "none" or "baseline" in m.lower():
            out[m] = BASELINE_COLOR
            continue
        k = zlib.crc32(m.encode()) % len(METHOD_COLORS)
        ring = METHOD_COLORS[k:] + METHOD_COLORS[:k] + EXTRA_METHOD_COLORS
        out[m] = next((c for c in [*ring, *spare] if c not in out.values()), palette[k])
    return out


def _grouped_bars(ax, groups, methods, value, title, ylabel, colors=None):
    """Bars per method within each group; ``value(group index, method)`` -> (height, err) or None.
    ``colors``: the methods of the whole set of figures, so each keeps its colour in all of them."""
    width, colors = 0.8 / len(methods), method_colors(list(dict.fromkeys([*(colors or []), *methods])))
    for j, m in enumerate(methods):
        bars = [(g - 0.4 + (j + 0.5) * width, *(v if np.ndim(v) else (v, 0)))  # a bare mean: no error bar
                for g in range(len(groups)) if (v := value(g, m)) is not None]
        xs, ys, es = zip(*bars) if bars else ((), (), ())
        ax.bar(xs, ys, width, yerr=es if any(es) else None, capsize=2, label=m, color=colors[m],
               error_kw={"lw": 0.8})
    ax.set_xticks(range(len(groups)), groups)
    ax.grid(axis="x", visible=False)
    ncol = max(1, min(len(methods), int(ax.figure.get_figwidth() / 1.7)))  # ~1.7 in a label
    rows = -(-len(methods) // ncol)  # the legend sits above the axes; the title above the legend
    ax.legend(ncol=ncol, loc="lower left", bbox_to_anchor=(0, 1.01))
    ax.set_ylabel(ylabel)
    ax.set_title(title, pad=8 + 16 * rows)


@_styled
def bar_chart(table: dict, out_png, ylabel: str, title: str = "", colors=None, zero_line: bool = False) -> Path:
    """Grouped bars with error bars from ``table[scenario][method] = (mean, std)``: groups are
    scenarios, bars are methods (in order of first appearance); a missing pair leaves a gap.
    ``colors``: all methods of a set of figures (see _grouped_bars); ``zero_line``: mark 0, for
    changes that may be negative."""
    groups = list(table)
    methods = list(dict.fromkeys(m for g in groups for m in table[g]))
    if not methods:
        raise SkelgenError("bar_chart needs at least one scenario with one method")
    bars = len(groups) * len(methods)  # many bars: capped width, more height, so a page shows them
    fig = _figure(min(max(5.0, 1.0 + 0.3 * bars), 13.0), 3.6 if bars <= 30 else 5.0)
    ax = fig.add_subplot()
    _grouped_bars(ax, groups, methods, lambda g, m: table[groups[g]].get(m), title, ylabel, colors)
    if zero_line:
        ax.axhline(0, color="#424242", lw=0.8)
    fig.tight_layout()
    return _save(fig, out_png)


@_styled
def gain_chart(per_class_gain: dict, class_names, out_png, ylabel: str = "gain over baseline",
               title: str = "", colors=None) -> Path:
    """Per-class gain over a baseline: ``per_class_gain[method]`` holds one value per class."""
    if not per_class_gain:
        raise SkelgenError("gain_chart needs at least one method")
    for m, g in per_class_gain.items():
        if len(g) != len(class_names):
            raise SkelgenError(f"method {m!r} has {len(g)} gains for {len(class_names)} classes")
    methods, k = list(per_class_gain), len(class_names)
    fig = _figure(min(max(6.0, 1.5 + 0.12 * k * len(methods)), 24.0), 4.0)
    ax = fig.add_subplot()
    _grouped_bars(ax, list(class_names), methods, lambda c, m: (per_class_gain[m][c], 0), title, ylabel, colors)
    ax.axhline(0, color="#424242", lw=0.8)
    ax.tick_params(axis="x", rotation=90, labelsize=6 if k > 20 else 7)
    fig.tight_layout()
    return _save(fig, out_png)


@_styled
def novelty_curve(points: list[dict], out_png, title: str = "") -> Path:
    """The faithfulness / novelty trade of a generation knob: ``points`` hold ``knob``,
    ``recognized`` and ``copy_rate`` (fractions) and optionally ``gain`` (balanced points over no
    change); one marker per knob value, labelled with it."""
    if not points:
        raise SkelgenError("novelty_curve needs at least one point")
    fig = _figure(8.5 if any("gain" in p for p in points) else 4.3, 3.2)
    axes = fig.subplots(1, 2 if any("gain" in p for p in points) else 1, squeeze=False)[0]
    copy = [100 * p["copy_rate"] for p in points]
    panels = [("recognized", "recognized as their class (%)", 100)] + \
        ([("gain", "balanced accuracy over no change (points)", 1)] if len(axes) > 1 else [])
    for ax, (key, label, scale) in zip(axes, panels):
        ys = [scale * p[key] for p in points]
        ax.plot(copy, ys, "o-", color=METHOD_COLORS[0])
        for x, y, p in zip(copy, ys, points):
            ax.annotate(f"{p['knob']:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel("copy rate (%, nearer a training sequence than 95 % of real takes)", fontsize=7)
        ax.set_ylabel(label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_png)
