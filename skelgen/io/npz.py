"""Plain ``.npz`` archives, both ways (read with ``allow_pickle=False``: no code can run).

Keys, N samples, M persons, T frames, V joints, C = 3 coordinates, K classes:

    x             (N, M, T, V, C) float   coordinates, anything beyond a sample's length ignored
    lengths       (N,) int                valid frames per sample, 1..T
    labels        (N,) int                class index, 0..K-1
    ids           (N,) str                optional; default "000000", "000001", ...
    class_codes   (K,) str                optional; default NTU's A001.. for ntu25, else C000..
    class_names   (K,) str                optional; default NTU's names for NTU codes, else the codes
    split_<name>  (n,) int                optional, any number: sample indices of split <name>
    layout        () str                  a built-in layout name (ntu25, kinect20) or a layout as
                                          JSON; optional when ``layout=`` is given
    frame, units  () str                  optional: "raw" | "normalized", and e.g. "m"
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import SkelgenError
from ..layouts import BUILTIN, Layout, get_layout
from .atomic import AtomicPath, guarded, note_input
from .dataset import FRAMES, DatasetWriter, SkeletonFile, expected_size
from .pyskl import class_list, split_name, text


def _load(path: Path) -> dict:
    if not path.is_file():
        raise SkelgenError(f"{path}: no such file; check the path")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise SkelgenError(f"{path} holds a single array, not an .npz archive; save one with "
                               f"numpy.savez and the keys x, lengths, labels")
        with z:
            return {k: z[k] for k in z.files}
    except SkelgenError:
        raise
    except Exception as e:  # a damaged archive fails in zipfile, zlib or the .npy header parser
        detail = f"{type(e).__name__}: {e}"[:200]
        raise SkelgenError(f"{path} is not a readable .npz archive ({detail}); re-create it "
                           f"with numpy.savez of plain (non-object) arrays") from None


def _text(a, key, path) -> str:
    if a.dtype.kind not in "US" or a.size != 1:
        raise SkelgenError(f"{path}: '{key}' must be one string")
    v = a.reshape(())[()]
    return text(v.decode("utf-8", "replace") if isinstance(v, bytes) else v)


def _strings(a, key, n, path) -> list[str]:
    if a.dtype.kind not in "US" or a.shape != (n,):
        raise SkelgenError(f"{path}: '{key}' must be {n} strings, got a {a.dtype} array of shape {a.shape}")
    return [text(v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for v in a.tolist()]


def _integers(a, key, shape, path) -> np.ndarray:
    if a.dtype.kind not in "iu" or a.shape != shape:
        raise SkelgenError(f"{path}: '{key}' must be whole numbers of shape {shape}, "
                           f"got {a.dtype} {a.shape}")
    return a.astype(np.int64)


def _layout(arrays, layout, path) -> Layout:
    stored = None
    if "layout" in arrays:
        value = _text(arrays["layout"], "layout", path)
        try:
            stored = get_layout(value) if value in BUILTIN else Layout.from_dict(json.loads(value))
        except SkelgenError:
            raise
        except (ValueError, AttributeError, RecursionError):  # from_dict misses some malformed shapes
            raise SkelgenError(f"{path}: layout {value[:40]!r} is neither a built-in layout "
                               f"({sorted(BUILTIN)}) nor a layout in JSON") from None
    given = get_layout(layout) if layout is not None else None
    if given is not None and stored is not None and given.to_dict() != stored.to_dict():
        raise SkelgenError(f"{path} says layout {stored.name!r} but {given.name!r} was asked for; "
                           f"drop the layout option or pass {stored.name!r}")
    if given is None and stored is None:
        raise SkelgenError(f"{path} has no 'layout' key; pass the layout (e.g. ntu25)")
    return given or stored


@guarded
def convert_npz(path, out, layout=None, overwrite: bool = False) -> dict:
    """Write an ``.npz`` archive (keys above) to a dataset file; returns counts."""
    path = note_input(path)
    arrays = _load(path)
    lay = _layout(arrays, layout, path)
    for key in ("x", "lengths", "labels"):
        if key not in arrays:
            raise SkelgenError(f"{path} lacks the key '{key}'; it needs x, lengths and labels")
    x = arrays["x"]
    if x.dtype.kind not in "fiu" or x.ndim != 5 or x.shape[3:] != (lay.num_joints, 3) or 0 in x.shape:
        raise SkelgenError(f"{path}: x is {x.dtype} {x.shape}, expected non-empty numbers shaped "
                           f"(N, M, T, {lay.num_joints}, 3) for layout {lay.name}")
    n = len(x)
    lengths = _integers(arrays["lengths"], "lengths", (n,), path)
    labels = _integers(arrays["labels"], "labels", (n,), path)
    if lengths.min() < 1 or lengths.max() > x.shape[2] or labels.min() < 0:
        raise SkelgenError(f"{path}: lengths must lie in 1..{x.shape[2]} (no empty sequences) "
                           f"and labels be >= 0; fix these arrays in the .npz")
    ids = _strings(arrays["ids"], "ids", n, path) if "ids" in arrays else [f"{i:06d}" for i in range(n)]
    codes, names = (_strings(arrays[k], k, arrays[k].shape[0] if arrays[k].ndim == 1 else -1, path)
                    if k in arrays else None for k in ("class_codes", "class_names"))
    codes, names = class_list(int(labels.max()) + 1, lay, codes, names)
    splits = {split_name(k[6:], path): _integers(v, k, v.shape[:1] if v.ndim == 1 else (-1,), path)
              for k, v in arrays.items() if k.startswith("split_")}
    if any(len(idx) and (idx.min() < 0 or idx.max() >= n) for idx in splits.values()):
        raise SkelgenError(f"{path}: a split_* array points outside the {n} samples")
    frame = _text(arrays["frame"], "frame", path) if "frame" in arrays else "raw"
    units = _text(arrays["units"], "units", path) if "units" in arrays else "m"
    if frame not in FRAMES:
        raise SkelgenError(f"{path}: frame must be one of {FRAMES}, not {frame[:20]!r}")
    with DatasetWriter(out, lay, codes, names, max_frames=x.shape[2], max_persons=x.shape[1],
                       frame=frame, units=units, overwrite=overwrite) as w:
        for b in range(0, n, 256):
            with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is refused as such
                w.append(x[b: b + 256], lengths[b: b + 256], labels[b: b + 256], ids[b: b + 256],
                         provenance=[{"source": "npz", "file": path.name}] * len(lengths[b: b + 256]))
        for name, idx in splits.items():
            w.set_split(name, idx)
    return {"samples": n, "classes": len(codes), **{k: len(v) for k, v in sorted(splits.items())}}


@guarded
def export_npz(skeleton_file_path, out_path, overwrite: bool = False) -> Path:
    """Write a dataset file as an ``.npz`` archive (keys above, compressed)."""
    with SkeletonFile(skeleton_file_path) as sf, AtomicPath(out_path, overwrite, expected_size(sf)) as tmp:
        lay = sf.layout
        arrays = {"x": sf.read(), "lengths": sf.lengths, "labels": sf.labels,
                  "ids": np.array(sf.ids, dtype=str), "class_codes": np.array(sf.classes.codes, dtype=str),
                  "class_names": np.array(sf.classes.names, dtype=str),
                  "layout": np.array(lay.name if BUILTIN.get(lay.name) == lay else json.dumps(lay.to_dict())),
                  "frame": np.array(sf.frame), "units": np.array(sf.units),
                  **{f"split_{k}": v for k, v in sf.splits.items()}}
        with open(tmp, "wb") as f:  # a file object: savez would add ".npz" to the temporary name
            np.savez_compressed(f, **arrays)
    return Path(out_path)
