"""The skelgen dataset file (HDF5): read sample by sample, written in chunks, validated on open.

Layout of the file (``schema_version`` 1), N samples, M persons, T frames, V joints, C coords:

    attrs: schema_version, layout (JSON), units, frame ("raw" | "normalized")
    x            (N, M, T, V, C) float32, one chunk per sample, zero beyond ``length``
    length       (N,) int32      valid frames per sample, 1..T
    label        (N,) int64      index into the class list
    id           (N,) str        stable sample id
    synthetic    (N,) bool
    provenance   (N,) str        JSON record: where the sample came from
    classes/code (K,) str        e.g. "A024";  classes/name (K,) str e.g. "kicking something"
    splits/NAME  (n,) int64      sample indices, sorted (e.g. train, test, xsub_train)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from ..errors import SkelgenError
from ..layouts import Layout
from ..preprocess import prepare
from .atomic import MB, AtomicPath, disk_filled, disk_full, no_space, note_input

SCHEMA_VERSION = 1
FRAMES = ("raw", "normalized")
_STR = h5py.string_dtype()


@dataclass(frozen=True)
class ClassList:
    codes: tuple[str, ...]
    names: tuple[str, ...]

    def __len__(self):
        return len(self.codes)

    def resolve(self, key: str | int) -> int:
        """Class index from a code (``A024``), a name (``kicking something``) or an index."""
        k = str(key).strip()
        for table in (self.codes, self.names):
            lowered = [c.lower() for c in table]
            if k.lower() in lowered:
                return lowered.index(k.lower())
        if k.isdigit() and int(k) < len(self.codes):
            return int(k)
        valid = ", ".join(f"{c} ({n})" for c, n in zip(self.codes, self.names))
        raise SkelgenError(f"unknown class {key!r}; valid classes: {valid}")

    def label(self, i: int) -> str:
        return f"{self.codes[i]} {self.names[i]}"


def _damaged(fn):
    """Reads of a file that opened but whose data is damaged raise SkelgenError, not h5py's."""
    import functools

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except SkelgenError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SkelgenError(f"{self.path}: cannot read its data ({type(e).__name__}); "
                               f"the file is damaged, re-create it") from None
    return wrapper


class SkeletonFile:
    """Read-only view of a dataset file; arrays come from disk on demand, never all at once
    unless asked (``read``)."""

    def __init__(self, path: str | Path):
        self.path = note_input(path)
        if not self.path.is_file():
            raise SkelgenError(f"{self.path}: no such file; check the path")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError:
            raise SkelgenError(f"{self.path} is not a readable HDF5 file (truncated or corrupt?); "
                               f"re-create it with `skelgen convert`") from None
        try:
            self._validate()
        except SkelgenError:
            self._h5.close()
            raise
        except Exception as e:  # any structural surprise in a hand-made or damaged file
            self._h5.close()
            raise SkelgenError(f"{self.path} is not a valid skelgen dataset ({type(e).__name__}: {e}); the file "
                               f"is damaged, re-create it with `skelgen convert`") from None

    def _validate(self):
        h, where = self._h5, str(self.path)
        version = h.attrs.get("schema_version")
        if version is None:
            raise SkelgenError(f"{where} is not a skelgen dataset (no schema_version); "
                               f"convert it with `skelgen convert`")
        if int(version) != SCHEMA_VERSION:
            raise SkelgenError(f"{where} has schema_version {int(version)}, this skelgen reads "
                               f"{SCHEMA_VERSION}; re-create it with this version's `skelgen convert`")
        for key in ("x", "length", "label", "id", "synthetic", "provenance", "classes/code", "classes/name"):
            if key not in h:
                raise SkelgenError(f"{where} lacks '{key}'; the file is damaged, re-create it")
        self.layout = Layout.from_dict(json.loads(h.attrs["layout"]))
        self.frame = str(h.attrs.get("frame", "raw"))
        self.units = str(h.attrs.get("units", "m"))
        x = h["x"]
        if x.ndim != 5 or x.shape[3] != self.layout.num_joints:
            raise SkelgenError(f"{where}: x has shape {x.shape}, expected (N, M, T, "
                               f"{self.layout.num_joints}, C) for layout {self.layout.name}")
        n = x.shape[0]
        for key in ("length", "label", "id", "synthetic", "provenance"):
            if h[key].shape != (n,):
                raise SkelgenError(f"{where}: '{key}' has {h[key].shape[0]} entries for {n} samples")
        self.classes = ClassList(tuple(_strings(h["classes/code"])), tuple(_strings(h["classes/name"])))
        for key in ("length", "label"):
            if h[key].dtype.kind not in "iu":
                raise SkelgenError(f"{where}: '{key}' holds {h[key].dtype} values, not integers; "
                                   f"the file is damaged, re-create it")
        self.lengths = h["length"][:].astype(np.int64)
        self.labels = h["label"][:].astype(np.int64)
        if n and (self.lengths.min() < 1 or self.lengths.max() > x.shape[2]):
            raise SkelgenError(f"{where}: sample lengths must be within 1..{x.shape[2]} (an empty sequence?); "
                               f"the file is damaged, re-create it")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise SkelgenError(f"{where}: labels out of range for {len(self.classes)} classes; "
                               f"the file is damaged, re-create it")
        self.splits = {}
        for name, ds in h.get("splits", {}).items():
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype.kind not in "iu":
                raise SkelgenError(f"{where}: split {name!r} is not a list of sample indices (1-D integers); "
                                   f"the file is damaged, re-create it")
            self.splits[name] = idx = ds[:].astype(np.int64)
            if len(np.unique(idx)) != len(idx):
                raise SkelgenError(f"{where}: split {name!r} names a sample more than once; "
                                   f"the file is damaged, re-create it")
            if len(idx) and (idx.min() < 0 or idx.max() >= n):
                raise SkelgenError(f"{where}: split {name!r} points outside the {n} samples; "
                                   f"the file is damaged, re-create it")

    # -- shape ------------------------------------------------------------------------------
    def __len__(self):
        return self._h5["x"].shape[0]

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """(N, M, T, V, C)"""
        return tuple(self._h5["x"].shape)

    @property
    @_damaged
    def ids(self) -> list[str]:
        return _strings(self._h5["id"])

    @property
    @_damaged
    def synthetic(self) -> np.ndarray:
        return self._h5["synthetic"][:]

    @_damaged
    def provenance(self, i: int) -> dict:
        return json.loads(self._h5["provenance"][i])

    def indices(self, split: str | None) -> np.ndarray:
        """Sample indices of a split (all samples for ``None``)."""
        if split is None:
            return np.arange(len(self))
        if split not in self.splits:
            raise SkelgenError(f"{self.path} has no split {split!r}; it has {sorted(self.splits) or 'none'}")
        return self.splits[split]

    # -- samples ----------------------------------------------------------------------------
    @_damaged
    def sample(self, i: int) -> np.ndarray:
        """One sample, trimmed to its length: (M, T_i, V, C)."""
        return self._finite(self._h5["x"][i, :, : self.lengths[i]], [i])

    @_damaged
    def read(self, indices=None, batch: int = 512) -> np.ndarray:
        """Padded samples (n, M, T, V, C), read from disk in sorted batches of ``batch``."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        unique, inverse = np.unique(idx, return_inverse=True)  # h5py wants increasing indices
        out = np.empty((len(unique),) + self.shape[1:], np.float32)
        for s in range(0, len(unique), batch):
            out[s: s + batch] = self._finite(self._h5["x"][unique[s: s + batch]], unique[s: s + batch])
        return out[inverse]

    def _finite(self, x: np.ndarray, indices) -> np.ndarray:
        """x itself; NaN or inf (never written by DatasetWriter) means a damaged or hand-made file,
        refused here rather than poisoning training, embeddings or generated data."""
        finite = np.isfinite(x.reshape(len(indices), -1)).all(1)  # per sample
        if not finite.all():
            raise SkelgenError(f"{self.path}: sample {indices[np.argmin(finite)]} has NaN or infinite coordinates; "
                               f"the file is damaged, re-create it from clean data")
        return x

    def close(self):
        self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def summary(self) -> dict:
        """Everything `skelgen info` shows, as plain data."""
        def counts(idx):
            c = np.bincount(self.labels[idx], minlength=len(self.classes))
            return {self.classes.codes[k]: int(c[k]) for k in range(len(self.classes))}
        lengths = self.lengths
        return {
            "path": str(self.path), "schema_version": SCHEMA_VERSION, "samples": len(self),
            "shape": list(self.shape), "layout": self.layout.name, "joints": self.layout.num_joints,
            "frame": self.frame, "units": self.units, "synthetic": int(self.synthetic.sum()),
            "classes": [{"index": k, "code": c, "name": n}
                        for k, (c, n) in enumerate(zip(self.classes.codes, self.classes.names))],
            "lengths": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                        "max": int(lengths.max())} if len(lengths) else {},
            "splits": {name: {"samples": len(idx), "per_class": counts(idx)}
                       for name, idx in sorted(self.splits.items())},
            "per_class": counts(np.arange(len(self))),
        }


class SkeletonDataset(torch.utils.data.Dataset):
    """One split of a dataset file as a torch ``Dataset``: item k -> (x, label).

    x is (M, T, V, C) float32: padded to the file's T, or with ``frames`` set, prepared as the
    model reads it (normalized unless already, resampled to ``frames``). The file is opened on
    first access in each process, since an h5py handle must not cross a DataLoader worker fork.
    """

    def __init__(self, path: str | Path, split: str | None = None, frames: int | None = None):
        self.path, self.frames = Path(path), frames
        with SkeletonFile(self.path) as sf:
            self.indices = sf.indices(split)
            self.labels = sf.labels[self.indices]
        self._file: SkeletonFile | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        if self._file is None:
            self._file = SkeletonFile(self.path)
        sf, i = self._file, int(self.indices[k])
        if self.frames is None:
            x = sf.read([i])[0]
        else:
            x = prepare(sf.sample(i), int(sf.lengths[i]), sf.layout, self.frames, sf.frame == "normalized")
        return torch.from_numpy(np.ascontiguousarray(x)), int(self.labels[k])


def integers(what: str, values) -> np.ndarray:
    """``values`` as int64, refusing what would be silently truncated (1.5 -> 1) or is no number."""
    a = np.asarray(values)
    if a.dtype.kind == "f" and not np.array_equal(a, np.round(a)) or a.dtype.kind not in "iubf":
        raise SkelgenError(f"{what} must be whole numbers, got {a.dtype} values such as "
                           f"{a.ravel()[:1].tolist()}; store them as integers")
    return a.astype(np.int64)


def sample_bytes(persons: int, frames: int, joints: int, channels: int = 3) -> int:
    """About how many bytes one sample takes in a file: its coordinates and its id, label and
    provenance (compression is not counted on: generated coordinates barely compress)."""
    return persons * frames * joints * channels * 4 + 512


def expected_size(sf: "SkeletonFile") -> int:
    """About how many bytes a copy of ``sf``'s samples takes, trimmed to their lengths."""
    n, m, _, v, c = sf.shape
    return int(sf.lengths.sum()) * m * v * c * 4 + 512 * n


def _strings(ds) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[:]]


ABANDONED: list = []  # HDF5 files left open after a write failed: closing them would crash


class DatasetWriter:
    """Append samples in chunks to a new dataset file, published atomically on ``close``.

    >>> with DatasetWriter("out.h5", layout, codes, names, max_frames=64) as w:
    ...     w.append(x, lengths, labels, ids)            # x: (n, M, T', V, C), T' <= 64
    ...     w.set_split("train", train_indices)
    """

    def __init__(self, path, layout: Layout, codes, names, *, max_frames: int, max_persons: int = 1,
                 channels: int = 3, frame: str = "raw", units: str = "m", overwrite: bool = False,
                 compression: str | None = "lzf", expected_samples: int = 0):
        if frame not in FRAMES:
            raise SkelgenError(f"coordinate frame must be one of {FRAMES}, not {frame!r}")
        self.layout, self.max_frames, self.n = layout, int(max_frames), 0
        self.num_classes = len(codes)
        self._splits: dict[str, np.ndarray] = {}
        self._sample_bytes = sample_bytes(max_persons, self.max_frames, layout.num_joints, channels)
        self._full = False
        self._out = AtomicPath(path, overwrite, expected_samples * self._sample_bytes)
        try:
            self._h5 = h5py.File(self._out.tmp, "w")
        except BaseException as e:
            self._out.fail(e)
            raise
        h = self._h5
        h.attrs.update(schema_version=SCHEMA_VERSION, layout=json.dumps(layout.to_dict()),
                       frame=frame, units=units)
        shape = (max_persons, self.max_frames, layout.num_joints, channels)
        h.create_dataset("x", (0, *shape), np.float32, maxshape=(None, *shape), chunks=(1, *shape),
                         compression=compression, shuffle=compression is not None)
        for key, dtype in (("length", np.int32), ("label", np.int64), ("id", _STR),
                           ("synthetic", bool), ("provenance", _STR)):
            h.create_dataset(key, (0,), dtype, maxshape=(None,), chunks=(4096,))
        h.create_dataset("classes/code", data=np.array(list(codes), dtype=object), dtype=_STR)
        h.create_dataset("classes/name", data=np.array(list(names), dtype=object), dtype=_STR)

    def append(self, x, lengths, labels, ids, synthetic=None, provenance=None):
        """Add n samples. x: (n, M, T', V, C) with T' <= max_frames; zero-padded to max_frames."""
        x = np.asarray(x, np.float32)
        n = len(x)
        if n == 0:
            return
        lengths, labels = integers("lengths", lengths), integers("labels", labels)
        if x.ndim != 5 or x.shape[1] > self._h5["x"].shape[1] or x.shape[2] > self.max_frames \
                or x.shape[3:] != self._h5["x"].shape[3:]:
            raise SkelgenError(f"samples of shape {x.shape[1:]} do not fit this file's "
                               f"{self._h5['x'].shape[1:]} (M, T, V, C)")
        if lengths.min() < 1 or lengths.max() > x.shape[2]:
            raise SkelgenError("every sample needs between 1 and T valid frames (an empty sequence was given)")
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise SkelgenError(f"labels must lie in 0..{self.num_classes - 1}")
        if not np.isfinite(x).all():
            raise SkelgenError("coordinates contain NaN or infinite values; clean the input first")
        self._check_space(n)
        padded = np.zeros((n, *self._h5["x"].shape[1:]), np.float32)
        padded[:, : x.shape[1], : x.shape[2]] = x
        beyond = np.arange(padded.shape[2])[None, :] >= lengths[:, None]  # (n, T)
        padded.transpose(0, 2, 1, 3, 4)[beyond] = 0  # padding is zero, whatever the input held
        columns = {"x": padded, "length": lengths, "label": labels, "id": list(map(str, ids)),
                   "synthetic": np.zeros(n, bool) if synthetic is None else np.asarray(synthetic, bool),
                   "provenance": [json.dumps(p or {}) for p in (provenance or [None] * n)]}
        opened = []  # kept open until flushed: a dataset closed in a destructor writes its cached
        for key, value in columns.items():  # chunks there, where a failed write cannot be raised
            ds = self._h5[key]
            opened.append(ds)
            ds.resize(self.n + n, axis=0)
            ds[self.n:] = np.array(value, dtype=object) if ds.dtype == _STR else value
        self._h5.flush()  # a write that failed on a full disk raises here
        self.n += n
        self._check_space(0)

    def set_split(self, name: str, indices):
        if not name or "/" in name or name.strip(".") == "":
            raise SkelgenError(f"split name {name!r} is not usable; use letters, digits and _")
        idx = np.sort(integers(f"split {name!r}", indices))
        if idx.ndim != 1 or (np.diff(idx) == 0).any():
            raise SkelgenError(f"split {name!r} must be a 1-D list of distinct sample indices; "
                               f"remove the repeated ones")
        self._splits[name] = idx

    def close(self, ok: bool = True):
        """Publish the file (``ok``) or delete it; a full disk becomes one clear error."""
        if self._h5 is None:
            return
        h5, self._h5 = self._h5, None
        try:
            if ok:
                self._check_space(0)  # closing flushes HDF5's caches
                for name, idx in self._splits.items():
                    h5.create_dataset(f"splits/{name}", data=idx)
                h5.close()
            else:
                self._discard(h5, None)
        except BaseException as e:
            self._discard(h5, e)
            self._out.fail(e)
            raise
        self._out.commit() if ok else self._out.abort()

    def _check_space(self, n: int):
        """HDF5 crashes (SIGSEGV) when a write fails on a full disk, so it never meets one: refuse
        the n samples, or the flush at close, that would not fit."""
        self._full = disk_filled()
        if self._full or shutil.disk_usage(self._out.tmp.parent).free < n * self._sample_bytes + 4 * MB:
            raise no_space(self._out.tmp.parent, max(self._out.expected, (self.n + n) * self._sample_bytes))

    def _discard(self, h5, exc: BaseException | None):
        """Give up a failed file without writing to the disk. After a write failed on a full disk,
        HDF5 crashes (SIGSEGV) when the file is closed or collected, so it is never closed: its
        descriptor is pointed at /dev/null and the handle kept (the CLI ends the process with
        ``os._exit`` when ABANDONED is not empty, before the interpreter would collect it)."""
        with contextlib.suppress(Exception):
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, h5.id.get_vfd_handle())
            os.close(null)
        if disk_filled() or (exc is not None and disk_full(exc, self._out.tmp.parent)) or self._full:
            ABANDONED.append(h5)
        else:
            with contextlib.suppress(Exception):
                h5.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(ok=exc_type is None)
        if exc is not None:
            self._out.fail(exc)  # raises the one-line error in place of a full disk's
        return False
