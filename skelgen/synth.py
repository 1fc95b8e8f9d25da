"""Generation written to dataset files: `skelgen synth` and `skelgen rebalance`.

Outputs keep the source's layout, class list and coordinate frame, so they merge with it;
every synthetic sample carries ``synthetic=True`` and a provenance record.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checkpoint import check_compatible, load_generator
from .errors import SkelgenError
from .generate import GenerationConfig, make_bank, move_reach, synthesize
from .io.atomic import check_output, check_space, guarded
from .io.dataset import DatasetWriter, SkeletonFile, sample_bytes
from .progress import Progress


def class_bank(model, run, sf: SkeletonFile, split: str | None):
    """Embed the real samples of ``split`` of ``sf`` for conditioning (read in chunks)."""
    from .generate import ClassBank
    idx = sf.indices(split)
    idx = idx[~sf.synthetic[idx]]  # condition on real sequences only
    if len(idx) == 0:
        raise SkelgenError(f"{sf.path}: split {split!r} has no real samples to condition on")
    parts = []
    for s in range(0, len(idx), 2048):
        chunk = idx[s: s + 2048]
        raw = [sf.sample(int(i)) for i in chunk]
        parts.append(make_bank(model, run, raw, sf.labels[chunk], np.array(sf.ids)[chunk], sf.layout,
                               sf.frame == "normalized"))
    cat = lambda key: None if getattr(parts[0], key) is None else np.concatenate([getattr(p, key) for p in parts])
    return ClassBank(*(cat(k) for k in ("embeddings", "labels", "ids", "lengths", "origins", "rotations", "inputs")))


def open_for_generation(checkpoint, data):
    model, run = load_generator(checkpoint)
    sf = SkeletonFile(data)
    check_compatible(run, sf.layout, sf.shape[1], str(data))
    return model, run, sf


def write_generated(writer: DatasetWriter, batches, label: int, run, code: str, bar=None) -> int:
    """Append generated batches to ``writer``, their provenance naming the data ``run`` was
    trained on; returns how many were written."""
    fp = run.data.fingerprint
    written = 0
    for xs, prov in batches:
        longest = max(len(s) for s in xs)
        x = np.zeros((len(xs), xs[0].shape[1], longest) + xs[0].shape[2:], np.float32)
        for k, s in enumerate(xs):
            x[k, :, : len(s)] = s.swapaxes(0, 1)  # the file's (M, T, V, C)
        ids = [f"syn-{code}-{p['seed']}-{p['strategy']}-{p['index']:07d}" for p in prov]
        writer.append(x, [len(s) for s in xs], [label] * len(xs), ids, synthetic=np.ones(len(xs), bool),
                      provenance=[{**p, "checkpoint": fp, "class": code} for p in prov])
        written += len(xs)
        if bar:
            bar.update(len(xs))
    return written


@guarded
def synth(checkpoint, data, class_key, n: int, out, cfg: GenerationConfig | None = None, seed: int = 0,
          split: str = "train", overwrite: bool = False, show_progress: bool = True) -> dict:
    """Write ``n`` generated sequences of one class to a new dataset file ``out``."""
    cfg = cfg or GenerationConfig()
    if n <= 0:
        raise SkelgenError(f"--n must be a positive number of sequences, not {n}; give --n 1 or more")
    check_output(out, overwrite)  # before the work, not after
    model, run, sf = open_for_generation(checkpoint, data)
    with sf:
        # an absurd --n (10**12) or one the disk cannot hold is refused before any work
        check_space(out, n * sample_bytes(sf.shape[1], max(run.data.frames, sf.shape[2]), *sf.shape[3:]))
        c = sf.classes.resolve(class_key)
        code = sf.classes.codes[c]
        bank = class_bank(model, run, sf, split)
        if not (bank.labels == c).any():
            raise SkelgenError(f"{data}: class {sf.classes.label(c)} has no real samples in split {split!r} "
                               f"to condition on; choose another class or --split")
        max_frames = max(run.data.frames, int(bank.lengths.max()))
        with DatasetWriter(out, sf.layout, sf.classes.codes, sf.classes.names, max_frames=max_frames,
                           max_persons=sf.shape[1], channels=sf.shape[4], frame=sf.frame, units=sf.units,
                           overwrite=overwrite, expected_samples=n) as w, \
                Progress(n, f"synth {code}", "seq", enabled=show_progress) as bar:
            written = write_generated(w, synthesize(model, run, bank, c, n, cfg, seed), c, run, code, bar)
            w.set_split(split, np.arange(written))
    return {"class": code, "written": written, "strategy": cfg.strategy, "out": str(out),
            "novelty": cfg.novelty, "reach": move_reach(model, run, bank, cfg), "augment": cfg.augment}


SAMPLING = ("auto", "minority", "not minority", "not majority", "all")
SAMPLING_HINT = ("use auto, minority, 'not minority', 'not majority', all, a ratio in (0, 1] or counts "
                 "like A024=100,A023=80")


def target_counts(labels: np.ndarray, num_classes: int, sampling_strategy, codes=None) -> dict[int, int]:
    """How many samples to add per class, with imbalanced-learn's ``sampling_strategy`` meanings:
    'auto', 'not majority', 'minority', 'not minority', 'all', a float ratio, or {class: count}.
    Errors name classes by their ``codes`` (imbalanced-learn's name indices and functions)."""
    from imblearn.utils import check_sampling_strategy  # seconds to import: only rebalance needs it
    name = (lambda c: codes[c]) if codes is not None else str
    have = np.bincount(labels, minlength=num_classes)
    if isinstance(sampling_strategy, str) and sampling_strategy not in SAMPLING:
        raise SkelgenError(f"unknown sampling strategy {sampling_strategy!r}; {SAMPLING_HINT}")
    if isinstance(sampling_strategy, float) and not 0 < sampling_strategy <= 1:
        raise SkelgenError(f"a sampling ratio (smallest/largest class after filling) lies in (0, 1], not "
                           f"{sampling_strategy}; {SAMPLING_HINT}")
    if isinstance(sampling_strategy, dict):
        for c, want in sampling_strategy.items():
            if have[c] == 0:
                raise SkelgenError(f"class {name(c)} has no samples to generate from; add real samples of it "
                                   f"or leave it out of the counts")
            if want < have[c]:
                raise SkelgenError(f"class {name(c)} already has {have[c]} samples and {want} were asked; "
                                   f"rebalancing only adds, so ask for {have[c]} or more")
    try:
        add = check_sampling_strategy(sampling_strategy, labels, "over-sampling")
    except (ValueError, TypeError) as e:
        shown = {name(c): n for c, n in sampling_strategy.items()} if isinstance(sampling_strategy, dict) \
            else sampling_strategy
        raise SkelgenError(f"invalid sampling strategy {shown!r} ({e}); {SAMPLING_HINT}") from None
    return {int(k): int(v) for k, v in add.items() if v > 0}


@guarded
def rebalance(data, out=None, checkpoint=None, sampling_strategy="auto", split: str = "train",
              cfg: GenerationConfig | None = None, seed: int = 0, overwrite: bool = False,
              show_progress: bool = True) -> dict:
    """Copy ``data`` to ``out`` and fill the classes of ``split`` with synthetic samples.

    Other splits are copied unchanged and never used to fit or condition anything.
    """
    cfg = cfg or GenerationConfig()
    out = Path(out) if out else Path(data).with_suffix(".rebalanced.h5")
    check_output(out, overwrite)  # before the work, not after
    model, run, sf = open_for_generation(checkpoint, data)
    with sf:
        train_idx = sf.indices(split)
        empty = np.bincount(sf.labels[train_idx], minlength=len(sf.classes)) == 0
        if empty.any() and not isinstance(sampling_strategy, dict):  # imbalanced-learn would skip it
            raise SkelgenError(f"{data}: class {sf.classes.label(int(np.argmax(empty)))} has no samples in "
                               f"split {split!r}, so it cannot be generated; add real samples of it or name "
                               f"the classes to fill, e.g. --sampling-strategy A024=100,A023=80")
        add = target_counts(sf.labels[train_idx], len(sf.classes), sampling_strategy, sf.classes.codes)
        bank = class_bank(model, run, sf, split)
        max_frames = max(sf.shape[2], run.data.frames)
        total = sum(add.values())
        with DatasetWriter(out, sf.layout, sf.classes.codes, sf.classes.names, max_frames=max_frames,
                           max_persons=sf.shape[1], channels=sf.shape[4], frame=sf.frame, units=sf.units,
                           overwrite=overwrite, expected_samples=len(sf) + total) as w:
            ids = sf.ids
            for s in range(0, len(sf), 1024):  # copy the real samples in chunks, unchanged
                idx = np.arange(s, min(s + 1024, len(sf)))
                w.append(sf.read(idx), sf.lengths[idx], sf.labels[idx], ids[s: s + len(idx)],
                         synthetic=sf.synthetic[idx], provenance=[sf.provenance(int(i)) for i in idx])
            n_real = len(sf)
            with Progress(total, "rebalance", "seq", enabled=show_progress and total > 0) as bar:
                for c, n in sorted(add.items()):
                    write_generated(w, synthesize(model, run, bank, c, n, cfg, seed + c), c, run,
                                    sf.classes.codes[c], bar)
            for name, idx in sf.splits.items():
                extra = np.arange(n_real, n_real + total) if name == split else np.array([], np.int64)
                w.set_split(name, np.concatenate([idx, extra]))
    after = np.bincount(np.concatenate([sf.labels[train_idx]] + [np.full(n, c) for c, n in add.items()]),
                        minlength=len(sf.classes))
    return {"out": str(out), "added": {sf.classes.codes[c]: n for c, n in add.items()},
            "novelty": cfg.novelty, "reach": move_reach(model, run, bank, cfg) if add else 1.0, "augment": cfg.augment,
            "train_counts": {code: int(k) for code, k in zip(sf.classes.codes, after)}}


def parse_sampling(text: str, data) -> str | float | dict:
    """A --sampling-strategy string as imbalanced-learn takes it (class keys resolved via data)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if "=" not in text:
        return text
    with SkeletonFile(data) as sf:
        counts = {}
        for item in text.split(","):
            key, _, value = item.partition("=")
            if not value.strip().isdigit():
                raise SkelgenError(f"sampling strategy counts look like A024=100,A023=80; got {item!r}")
            counts[sf.classes.resolve(key)] = int(value)
    return counts


def checkpoint_for(data, recipe: str, split: str, log=print) -> Path:
    """A checkpoint pretrained on ``data``: one already in runs/ whose data fingerprint matches, or
    a new one pretrained with ``recipe`` on ``split`` (the user is told what happens and for how long)."""
    from .checkpoint import file_fingerprint, load_checkpoint
    from .recipe import load_recipe
    from .train import pretrain
    SkeletonFile(data).close()  # a missing or damaged file fails here, before any search or training
    fp = file_fingerprint(data)
    for meta in sorted(Path("runs").glob("*/checkpoint.pt")):
        ckpt = load_checkpoint(meta)
        if ckpt.run.data.fingerprint == fp and ckpt.finished:
            log(f"using {meta}, pretrained on this data")
            return meta
    r = load_recipe(recipe)
    if split:
        r.set("data.split", split)
    out = Path("runs") / f"rebalance-{fp}"
    log(f"no checkpoint pretrained on {data}; pretraining recipe {r.name} on its {split!r} split "
        f"({r.train.epochs} epochs; the bar shows the time left) into {out}")
    return pretrain(r, str(data), out, resume=(out / "checkpoint.pt").exists())
