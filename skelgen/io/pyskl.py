"""pyskl 3D annotation pickles, both ways.

    {"split": {name: [frame_dir, ...]},
     "annotations": [{"frame_dir": str, "label": int, "total_frames": T,
                      "keypoint": (M, T, V, 3) float}, ...]}

Pickles are read with ``safe_load`` (no code runs). pyskl's ``*_val`` splits become ``*_test``
here (as ``convert_ntu`` names them) and ``*_val`` again on export. Exports add a ``"skelgen"``
entry (layout, class codes and names, coordinate frame) that pyskl ignores and import reads back.
"""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np

from ..errors import SkelgenError
from ..layouts import BUILTIN, Layout, get_layout
from .atomic import AtomicPath, guarded, note_input
from .dataset import DatasetWriter, SkeletonFile, expected_size
from .ntu import ACTIONS, CODES
from .safe_pickle import safe_load


MAX_CLASSES, MAX_PERSONS = 100_000, 16  # beyond these an input is damaged, not big
_SPLIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")


def show(value) -> str:
    """A short description of any value, for messages (``str`` of some values is huge or fails)."""
    return repr(value[:40]) if isinstance(value, str) else f"a {type(value).__name__}"


def text(value, what="a name") -> str:
    """A string HDF5 can store: no NUL, no lone surrogate (a pickle or .npz can hold both)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise SkelgenError(f"{what} must be text, found {show(value)}")
    return value.replace("\x00", "?").encode("utf-8", "replace").decode("utf-8")


def split_name(name, where) -> str:
    if not isinstance(name, str) or not _SPLIT.match(name):
        raise SkelgenError(f"{where}: split name {show(name)} is not usable; use letters, digits "
                           f"and _ . + - (e.g. xsub_train)")
    return name


def carried_origin(synthetic, provenance, n: int, where, source: dict) -> tuple[np.ndarray, list[dict]]:
    """The ``synthetic`` flags and provenance records (JSON strings) that a skelgen export carries,
    checked; real samples from ``source`` where the file has none. Generated samples must never
    come back counted as real."""
    flags = np.zeros(n, bool) if synthetic is None else np.asarray(synthetic)
    if flags.shape != (n,) or flags.dtype.kind not in "biu" or not np.isin(flags, (0, 1)).all():
        raise SkelgenError(f"{where}: 'synthetic' must be {n} true/false flags, one per sample")
    if provenance is None:
        return flags.astype(bool), [dict(source)] * n
    records = []
    for p in list(provenance) if len(provenance) == n else [None]:
        try:
            record = json.loads(text(p, "a provenance record"))
        except (SkelgenError, ValueError):
            record = None
        if not isinstance(record, dict):
            raise SkelgenError(f"{where}: 'provenance' must be {n} JSON records, one per sample")
        records.append({**record, "imported": source})
    return flags.astype(bool), records


def layout_of(meta: dict, layout: Layout | None, where) -> Layout:
    """The layout a file names (a built-in name or a layout as JSON), unless ``layout`` is given."""
    if layout is not None or "layout" not in meta:
        return layout or get_layout("ntu25")
    try:
        return get_layout(meta["layout"]) if meta["layout"] in BUILTIN else Layout.from_dict(json.loads(meta["layout"]))
    except (ValueError, TypeError, AttributeError):
        raise SkelgenError(f"{where}: its layout {show(meta['layout'])} is neither built in nor a layout "
                           f"in JSON; pass --layout") from None


def layout_text(layout: Layout) -> str:
    """A layout as a file stores it: a built-in one by name, any other in full (JSON)."""
    return layout.name if BUILTIN.get(layout.name) == layout else json.dumps(layout.to_dict())


def class_list(num_classes: int, layout: Layout, codes=None, names=None) -> tuple[tuple, tuple]:
    """(codes, names) covering labels 0..num_classes-1. Without codes: NTU's A001.. (60 or 120
    classes) for ntu25, else C000..; names default to NTU's names for NTU codes, else the codes."""
    if num_classes > MAX_CLASSES:
        raise SkelgenError(f"labels run up to {num_classes - 1}; labels must be class indices 0..K-1")
    if codes is None:
        if layout.name == "ntu25" and num_classes <= 120:
            k = 60 if num_classes <= 60 else 120
            return CODES[:k], ACTIONS[:k]
        codes = [f"C{k:03d}" for k in range(num_classes)]
    codes = tuple(text(c, "a class code") for c in codes)
    names = tuple(text(n, "a class name") for n in names) if names is not None else \
        tuple(ACTIONS[CODES.index(c)] if c in CODES else c for c in codes)
    if len(codes) < num_classes or len(names) != len(codes) or len(set(codes)) != len(codes):
        raise SkelgenError(f"labels run up to {num_classes - 1}, so give at least {num_classes} distinct "
                           f"class codes (got {len(codes)} codes and {len(names)} names)")
    return codes, names


def rename_split(name: str, export: bool = False) -> str:
    """pyskl ``xsub_val`` <-> skelgen ``xsub_test``."""
    old, new = ("_test", "_val") if export else ("_val", "_test")
    return name[: -len(old)] + new if name.endswith(old) else name


def _annotation(a, k, where, joints: int, hint: str) -> tuple[str, int, np.ndarray]:
    if not isinstance(a, dict) or not {"frame_dir", "label", "keypoint"} <= a.keys():
        raise SkelgenError(f"{where}: annotation {k} is not a dict with frame_dir, label and keypoint")
    x, label, total = a["keypoint"], a["label"], a.get("total_frames")
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu" or x.ndim != 4:
        raise SkelgenError(f"{where}: annotation {k}: keypoint must be a numeric (M, T, V, C) array")
    if 0 in x.shape[:2] or x.shape[0] > MAX_PERSONS or x.shape[2:] != (joints, 3):
        raise SkelgenError(f"{where}: annotation {k}: keypoint has shape {x.shape}, expected "
                           f"(0<M<={MAX_PERSONS}, T>0, {joints}, 3): a non-empty 3D sequence in the "
                           f"layout's joints{hint}")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
        raise SkelgenError(f"{where}: annotation {k}: label must be a whole number >= 0")
    if total is not None and (not isinstance(total, (int, np.integer)) or total != x.shape[1]):
        raise SkelgenError(f"{where}: annotation {k}: total_frames disagrees with the "
                           f"{x.shape[1]} frames of keypoint")
    with np.errstate(over="ignore"):
        x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise SkelgenError(f"{where}: annotation {k}: keypoint holds NaN or infinite values")
    return text(a["frame_dir"], f"{where}: annotation {k}: frame_dir"), int(label), x


@guarded
def convert_pyskl(path, out, layout=None, class_codes=None, overwrite: bool = False) -> dict:
    """Write a pyskl 3D pickle to a dataset file (coordinates as stored, frame "raw" unless the
    pickle is a skelgen export, whose layout, synthetic flags and provenance come back too;
    other pickles are ntu25 unless ``layout`` says otherwise); returns counts."""
    where, given = note_input(path), get_layout(layout) if layout is not None else None
    data = safe_load(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("split", {}), dict):
        raise SkelgenError(f"{where}: not a pyskl annotation file (expected a dict with an "
                           f"'annotations' list and a 'split' dict)")
    meta = data.get("skelgen") if isinstance(data.get("skelgen"), dict) else {}
    meta = {k: v for k, v in meta.items() if isinstance(v, (str, list))}
    lay = layout_of(meta, given, where)
    hint = f" (the file says layout {show(meta['layout'])}: pass that)" if "layout" in meta else ""
    samples = [_annotation(a, k, where, lay.num_joints, hint) for k, a in enumerate(data["annotations"])]
    if not samples:
        raise SkelgenError(f"{where}: the pickle holds no annotations")
    ids = [s[0] for s in samples]
    index = {frame_dir: k for k, frame_dir in enumerate(ids)}
    if len(index) != len(ids):
        raise SkelgenError(f"{where}: frame_dir values repeat; each sample needs its own")
    labels = np.array([s[1] for s in samples])
    if isinstance(class_codes, str):
        class_codes = class_codes.split(",")
    codes, names = class_list(int(labels.max()) + 1, lay, class_codes or meta.get("class_codes"),
                              None if class_codes else meta.get("class_names"))
    splits = {}
    for name, members in data.get("split", {}).items():
        try:
            idx = [index[text(m) if isinstance(m, str) else None] for m in members]
        except (KeyError, TypeError):
            raise SkelgenError(f"{where}: split {show(name)} names samples that are not among "
                               f"the annotations") from None
        target = rename_split(split_name(name, where))
        splits[target if target not in data["split"] else name] = idx
    frame = meta.get("frame") if meta.get("frame") in ("raw", "normalized") else "raw"
    synthetic, provenance = carried_origin(meta.get("synthetic"), meta.get("provenance"), len(samples), where,
                                           {"source": "pyskl", "file": where.name})
    max_frames = max(s[2].shape[1] for s in samples)
    max_persons = max(s[2].shape[0] for s in samples)
    with DatasetWriter(out, lay, codes, names, max_frames=max_frames, max_persons=max_persons,
                       frame=frame, overwrite=overwrite) as w:
        for b in range(0, len(samples), 256):
            batch = samples[b: b + 256]
            x = np.zeros((len(batch), max_persons, max_frames, lay.num_joints, 3), np.float32)
            for k, (_, _, sx) in enumerate(batch):
                x[k, : sx.shape[0], : sx.shape[1]] = sx
            w.append(x, [s[2].shape[1] for s in batch], [s[1] for s in batch], [s[0] for s in batch],
                     synthetic=synthetic[b: b + 256], provenance=provenance[b: b + 256])
        for name, idx in splits.items():
            w.set_split(name, idx)
    return {"samples": len(samples), "classes": len(codes),
            **{name: len(idx) for name, idx in sorted(splits.items())}}


@guarded
def export_pyskl(skeleton_file_path, out_path, overwrite: bool = False) -> Path:
    """Write a dataset file as a pyskl 3D pickle; persons that are all zero at the end of a
    sample are left out (pyskl keeps M per sample)."""
    with SkeletonFile(skeleton_file_path) as sf, AtomicPath(out_path, overwrite, expected_size(sf)) as tmp:
        ids, annotations = sf.ids, []
        for i in range(len(sf)):
            x = sf.sample(i)
            used = np.flatnonzero(np.abs(x).reshape(len(x), -1).max(1) > 0)
            annotations.append({"frame_dir": ids[i], "label": int(sf.labels[i]),
                                "total_frames": int(sf.lengths[i]),
                                "keypoint": x[: used[-1] + 1 if len(used) else 1]})
        split = {}
        for name, idx in sf.splits.items():
            target = rename_split(name, export=True)
            split[target if target not in sf.splits else name] = [ids[k] for k in idx]
        data = {"split": split, "annotations": annotations,
                "skelgen": {"layout": layout_text(sf.layout), "class_codes": list(sf.classes.codes),
                            "class_names": list(sf.classes.names), "frame": sf.frame,
                            "synthetic": sf.synthetic.tolist(),
                            "provenance": [json.dumps(sf.provenance(i)) for i in range(len(sf))]}}
        with open(tmp, "wb") as f:
            pickle.dump(data, f, protocol=4)
    return Path(out_path)
