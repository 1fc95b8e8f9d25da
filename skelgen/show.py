"""`skelgen show`: look at samples of a dataset file, as a montage PNG and optionally a GIF.

Samples are chosen by index, by id, or as ``n`` random samples (seeded) of a class; with none of
these, ``n`` random samples of the whole file. They are drawn in the skelgen-normalized body frame
(raw camera data is normalized first) and synthetic samples are tinted and titled as such.
``compare=OTHER.h5`` puts each chosen real sample beside a synthetic sample of the same class from
OTHER (e.g. the output of `skelgen synth` or `skelgen rebalance`). ``nearest=REAL.h5`` does the
reverse for a file of generated samples: each beside the real training sequence nearest to it
(named in its provenance by `skelgen synth`), so that near-copies show at a glance.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import SkelgenError
from .io.dataset import SkeletonFile

MAX_SAMPLES = 64  # more rows make an unreadable, huge image


def display_sequence(sf: SkeletonFile, i: int) -> np.ndarray:
    """Sample ``i`` as plots draw it: (M, T', V, 3) in the normalized body frame."""
    from .preprocess import drop_empty_frames, normalize
    x, length = sf.sample(int(i)), int(sf.lengths[i])
    if sf.frame == "normalized":
        return drop_empty_frames(x, length)
    return normalize(x, length, sf.layout)


def select(sf: SkeletonFile, index=None, sample_id=None, class_key=None, n: int = 8,
           seed: int = 0) -> list[int]:
    """Sample indices of ``sf``: ``index`` (int or list), ``sample_id`` (str or list), or ``n``
    random samples (seeded) of class ``class_key`` (or of the whole file when it is None)."""
    indices = [] if index is None else [index] if np.isscalar(index) else list(index)
    ids = [] if sample_id is None else [sample_id] if isinstance(sample_id, str) else list(sample_id)
    if (indices or ids) and class_key is not None:
        raise SkelgenError("give samples by --index/--id or by --class, not both")
    if len(sf) == 0:
        raise SkelgenError(f"{sf.path} holds no samples")
    if indices or ids:
        out = []
        for k in indices:
            if not 0 <= int(k) < len(sf):
                raise SkelgenError(f"--index {k} is out of range; {sf.path} has {len(sf)} samples "
                                   f"(0..{len(sf) - 1})")
            out.append(int(k))
        if ids:
            position = {s: j for j, s in enumerate(sf.ids)}
            for s in ids:
                if str(s) not in position:
                    raise SkelgenError(f"{sf.path} has no sample with id {s!r}; "
                                       f"ids look like {next(iter(position))!r}")
                out.append(position[str(s)])
    else:
        if n < 1:
            raise SkelgenError(f"--n must be at least 1, not {n}; give --n 1 or more")
        pool = np.arange(len(sf))
        if class_key is not None:
            c = sf.classes.resolve(class_key)
            pool = np.flatnonzero(sf.labels == c)
            if len(pool) == 0:
                raise SkelgenError(f"{sf.path} has no samples of class {sf.classes.label(c)}")
        rng = np.random.default_rng(seed)
        out = sorted(int(k) for k in rng.choice(pool, min(n, len(pool)), replace=False))
    if len(out) > MAX_SAMPLES:
        raise SkelgenError(f"{len(out)} samples chosen; show at most {MAX_SAMPLES} at once")
    return out


def partners(sf: SkeletonFile, other: SkeletonFile, chosen: list[int], seed: int = 0) -> list[int]:
    """For each chosen sample of ``sf``, a synthetic sample of ``other`` of the same class (by
    class code), distinct while the class has enough of them; seeded."""
    if other.layout.name != sf.layout.name:
        raise SkelgenError(f"--compare {other.path} uses layout {other.layout.name!r}, "
                           f"{sf.path} uses {sf.layout.name!r}; compare files of one layout")
    synthetic, rng, pools, out = other.synthetic, np.random.default_rng(seed), {}, []
    for i in chosen:
        code = sf.classes.codes[int(sf.labels[i])]
        if code not in pools:
            if code not in other.classes.codes:
                raise SkelgenError(f"--compare {other.path} has no class {code}")
            c = other.classes.codes.index(code)
            pool = np.flatnonzero((other.labels == c) & synthetic)
            if len(pool) == 0:
                raise SkelgenError(f"--compare {other.path} has no synthetic samples of class "
                                   f"{sf.classes.label(int(sf.labels[i]))}; generate some with `skelgen synth`")
            pools[code] = list(rng.permutation(pool))
        pool = pools[code]
        out.append(int(pool.pop(0)) if len(pool) > 1 else int(pool[0]))
    return out


def nearest_partners(sf: SkeletonFile, real: SkeletonFile, chosen: list[int]) -> tuple[list[int], list[str]]:
    """For each chosen generated sample of ``sf``, the index in ``real`` of the training sequence
    its provenance names as nearest, and that distance as text."""
    where = {sid: k for k, sid in enumerate(real.ids)}
    out, distances = [], []
    for i in chosen:
        p = sf.provenance(int(i))
        if not sf.synthetic[i] or p.get("nearest") is None:
            raise SkelgenError(f"{sf.path} sample {sf.ids[i]} names no nearest training sequence; use "
                               f"--nearest with a file written by `skelgen synth` or `skelgen rebalance`")
        if p["nearest"] not in where:
            raise SkelgenError(f"--nearest {real.path} has no sample {p['nearest']!r}; give the data that "
                               f"{sf.path} was generated from")
        out.append(where[p["nearest"]])
        distances.append(f"{100 * p['nearest_distance']:.1f} cm")
    return out, distances


def show(data, out_png, index=None, sample_id=None, class_key=None, n: int = 8, gif=None,
         compare=None, seed: int = 0, frames_across: int | None = None, overwrite: bool = False,
         nearest=None) -> dict:
    """Write the montage (or with ``compare`` the real | synthetic montage) to ``out_png`` and
    optionally an animated GIF of the same samples; returns {"png", "gif", "indices", "ids",
    "compare_indices", "compare_ids"}. ``frames_across``: frames per sample (default 8, with
    ``compare`` 4). Existing outputs are refused unless ``overwrite``."""
    from .plots import skeletons
    from .io.atomic import check_output
    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise SkelgenError(f"--out must end in .png, not {out_png.name!r}")
    if gif is not None and Path(gif).suffix.lower() != ".gif":
        raise SkelgenError(f"--gif must end in .gif, not {Path(gif).name!r}")
    for path in (out_png, gif) if gif is not None else (out_png,):  # fail before any work
        check_output(path, overwrite)
    if compare is not None and nearest is not None:
        raise SkelgenError("give --compare (real samples beside generated ones) or --nearest "
                           "(generated samples beside their nearest real one), not both")
    across = frames_across or (4 if compare or nearest else 8)
    with SkeletonFile(data) as sf:
        chosen = select(sf, index, sample_id, class_key, n, seed)
        ids = sf.ids
        seqs = [display_sequence(sf, i) for i in chosen]
        titles = [f"{skeletons.sample_title(sf, i)} · {ids[i]}" for i in chosen]
        short = [f"{sf.classes.codes[int(sf.labels[i])]} {ids[i]}" for i in chosen]
        flags = [bool(sf.synthetic[i]) for i in chosen]
        result = {"indices": chosen, "ids": [ids[i] for i in chosen], "compare_indices": [], "compare_ids": []}
        if nearest is not None:
            with SkeletonFile(nearest) as real:
                paired, distances = nearest_partners(sf, real, chosen)
                reals = [display_sequence(real, j) for j in paired]
                real_titles = [f"nearest real · {real.ids[j]} · {d} away" for j, d in zip(paired, distances)]
                result.update(compare_indices=paired, compare_ids=[real.ids[j] for j in paired])
            png = skeletons.compare_montage(reals, seqs, sf.layout, out_png, real_titles=real_titles,
                                            synthetic_titles=titles, frames_across=across)
            gif_seqs = [s for pair in zip(reals, seqs) for s in pair]
            gif_titles = [t for pair in zip([t.split(" · ")[1] for t in real_titles], short) for t in pair]
            gif_flags = [f for pair in zip([False] * len(reals), flags) for f in pair]
        elif compare is None:
            png = skeletons.skeleton_montage(seqs, sf.layout, titles, out_png, frames_across=across, synthetic=flags)
            gif_seqs, gif_titles, gif_flags = seqs, short, flags
        else:
            with SkeletonFile(compare) as other:
                paired = partners(sf, other, chosen, seed)
                other_ids = other.ids
                others = [display_sequence(other, j) for j in paired]
                other_titles = [f"{skeletons.sample_title(other, j)} · {other_ids[j]}" for j in paired]
                other_short = [f"{other.classes.codes[int(other.labels[j])]} {other_ids[j]}" for j in paired]
            result.update(compare_indices=paired, compare_ids=[other_ids[j] for j in paired])
            png = skeletons.compare_montage(seqs, others, sf.layout, out_png, real_titles=titles,
                                            synthetic_titles=other_titles, frames_across=across)
            gif_seqs = [s for pair in zip(seqs, others) for s in pair]
            gif_titles = [t for pair in zip(short, other_short) for t in pair]
            gif_flags = [f for pair in zip(flags, [True] * len(others)) for f in pair]
        layout = sf.layout
    result["png"] = png
    result["gif"] = skeletons.skeleton_gif(gif_seqs, layout, gif_titles, gif, synthetic=gif_flags) if gif else None
    return result
