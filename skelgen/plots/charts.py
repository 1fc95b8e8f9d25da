"""Experiment results drawn: training curves, t-SNE, confusion matrices, grouped bars with error
bars per method (each method keeps its colour across figures), per-class values (gains over a
baseline, recognition shares), and the faithfulness / novelty curve of a generation knob."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from ..errors import SkelgenError
from .style import BASELINE_COLOR, EXTRA_METHOD_COLORS, METHOD_COLORS, new_figure, save, styled


@styled
def training_curve(log_rows, out_png, overwrite: bool = True) -> Path:
    """Loss (log scale) and learning rate (twin axis) per epoch from a JSON-lines training log's
    rows (dicts with ``epoch``, ``loss``, ``lr``, ``samples_per_s``). Image: 6.4 x 3.6 inches."""
    rows = sorted((r for r in log_rows if "epoch" in r and "loss" in r), key=lambda r: r["epoch"])
    if not rows:
        raise SkelgenError("the training log has no rows with 'epoch' and 'loss'")
    loss = np.array([r["loss"] for r in rows], float)
    fig = new_figure(6.4, 3.6)
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
    return save(fig, out_png, overwrite=overwrite)


@styled
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
    fig = new_figure(7.5, 5.0)
    ax = fig.add_axes((0.03, 0.05, 0.6, 0.87))
    cmap = colormaps["tab10" if k <= 10 else "tab20" if k <= 20 else "turbo"]
    for c in range(k):
        if (sel := labels == c).any():
            ax.scatter(*xy[sel].T, s=8, color=cmap(c if k <= 20 else c / (k - 1)), label=class_names[c],
                       alpha=0.8, linewidths=0)
    ax.set(xticks=[], yticks=[], title=title)
    ax.spines[:].set_visible(False)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), markerscale=2, ncol=1 + k // 25)
    return save(fig, out_png)


@styled
def confusion_plot(confusion, class_names, out_png, normalize: bool = True) -> Path:
    """A (K, K) confusion matrix of counts (rows: true, columns: predicted); ``normalize``: each
    row divided by its total. Square-ish, growing with K."""
    cm, k = np.asarray(confusion, float), len(class_names)
    if cm.shape != (k, k):
        raise SkelgenError(f"confusion matrix has shape {cm.shape} for {k} classes")
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    side = min(3.0 + 0.35 * k, 16.0)
    fig = new_figure(side + 1.0, side)
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
    return save(fig, out_png)


def method_colors(methods) -> dict[str, str]:
    """A distinct colour per method, stable across figures: baselines (``none``, ``real`` or a name with
    "baseline") grey, others hashed into METHOD_COLORS, then EXTRA_METHOD_COLORS (the next unused
    colour on a clash within one figure), then tab20's."""
    palette = METHOD_COLORS + EXTRA_METHOD_COLORS
    spare = [to_hex(c) for c in colormaps["tab20"].colors]
    out: dict[str, str] = {}
    for m in methods:
        if m.lower() in ("none", "real") or "baseline" in m.lower():
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


@styled
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
    fig = new_figure(min(max(5.0, 1.0 + 0.3 * bars), 13.0), 3.6 if bars <= 30 else 5.0)
    ax = fig.add_subplot()
    _grouped_bars(ax, groups, methods, lambda g, m: table[groups[g]].get(m), title, ylabel, colors)
    if zero_line:
        ax.axhline(0, color="#424242", lw=0.8)
    fig.tight_layout()
    return save(fig, out_png)


@styled
def per_class_chart(per_class: dict, class_names, out_png, ylabel: str = "gain over baseline",
                    title: str = "", colors=None) -> Path:
    """Grouped bars per class: ``per_class[method]`` holds one value per class (a gain over a
    baseline, or a share); NaN leaves a gap."""
    if not per_class:
        raise SkelgenError("per_class_chart needs at least one method")
    for m, g in per_class.items():
        if len(g) != len(class_names):
            raise SkelgenError(f"method {m!r} has {len(g)} values for {len(class_names)} classes")
    methods, k = list(per_class), len(class_names)
    fig = new_figure(min(max(6.0, 1.5 + 0.12 * k * len(methods)), 24.0), 4.0)
    ax = fig.add_subplot()
    _grouped_bars(ax, list(class_names), methods,
                  lambda c, m: None if np.isnan(per_class[m][c]) else (per_class[m][c], 0), title, ylabel, colors)
    ax.axhline(0, color="#424242", lw=0.8)
    ax.tick_params(axis="x", rotation=90, labelsize=6 if k > 20 else 7)
    fig.tight_layout()
    return save(fig, out_png)


@styled
def novelty_curve(points: list[dict], out_png, title: str = "") -> Path:
    """The faithfulness / novelty trade of a generation knob: ``points`` hold ``knob``,
    ``recognized`` and ``copy_rate`` (fractions) and optionally ``gain`` (balanced points over no
    change); one marker per knob value, labelled with it."""
    if not points:
        raise SkelgenError("novelty_curve needs at least one point")
    fig = new_figure(8.5 if any("gain" in p for p in points) else 4.3, 3.2)
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
    return save(fig, out_png)
