"""A pickle loader that cannot run code: it admits plain containers, numbers, strings, bytes and
numpy arrays, dtypes and scalars, and refuses every other global a pickle asks for.

Unpickling calls whatever function the file names (``os.system`` included), so pickles from
elsewhere (pyskl annotation files) are only ever read through ``safe_load``.
"""
from __future__ import annotations

import codecs
import collections
import io
import pickle
from pathlib import Path

import numpy as np

try:
    from numpy._core import multiarray, numeric
except ImportError:  # numpy < 2
    from numpy.core import multiarray, numeric

from ..errors import SkelgenError


_NDARRAY = object()  # what the name numpy.ndarray resolves to: only _reconstruct accepts it


def _reconstruct(subtype, shape, dtype):
    """numpy's pickled-array constructor, held to empty plain ndarrays (the data comes after)."""
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError("arrays must be plain numpy.ndarray")
    return multiarray._reconstruct(np.ndarray, (0,), dtype)


def _latin1(text, encoding="latin1"):
    """How protocol 0-2 pickles carry bytes: ``_codecs.encode(str, 'latin1')``, nothing else."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError("only latin1 encoding of text is allowed")
    return codecs.encode(text, "latin1")


def _no_size(cls):
    """``bytes``/``bytearray`` from data, never from a size (``bytes(10**12)`` allocates it)."""
    def make(*args):
        if args and isinstance(args[0], int):
            raise pickle.UnpicklingError(f"{cls.__name__} from a size is not allowed")
        return cls(*args)
    return make


_BUILTINS = {"set": set, "frozenset": frozenset, "complex": complex,
             "bytes": _no_size(bytes), "bytearray": _no_size(bytearray)}
_NUMPY = {"_reconstruct": _reconstruct, "scalar": multiarray.scalar}
_NUMPY_PACKAGES = ("numpy.core", "numpy._core")  # numpy 1.x and 2.x write different module names
_ALLOWED = {
    **{(mod, name): obj for mod in ("builtins", "__builtin__") for name, obj in _BUILTINS.items()},
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
    **{(f"{pkg}.multiarray", name): obj for pkg in _NUMPY_PACKAGES for name, obj in _NUMPY.items()},
    **{(f"{pkg}.numeric", "_frombuffer"): numeric._frombuffer for pkg in _NUMPY_PACKAGES},
}


class _Refused(Exception):
    pass


def _check_dtype(dt: np.dtype):
    """A dtype's pickled state sets its flags as given, and a float32 that claims to hold objects
    has numpy treat numbers as object pointers (or fail when freeing them): accept only dtypes
    numpy itself would build."""
    try:
        fresh = (np.dtype(dt.descr, align=dt.isalignedstruct) if dt.names
                 else np.dtype(dt.subdtype or dt.str))
    except Exception:
        raise pickle.UnpicklingError("a dtype that numpy cannot rebuild") from None
    if fresh.flags != dt.flags or fresh.itemsize != dt.itemsize:
        raise pickle.UnpicklingError("a dtype whose state contradicts its type")


class _Unpickler(pickle._Unpickler):
    """The pure-Python unpickler: its memo is a dict, where the C one grows an array to any index
    a file names (``LONG_BINPUT 680825748`` allocates gigabytes); as fast for array-heavy data."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def load_build(self):
        inst = self.stack[-2]
        pickle._Unpickler.load_build(self)
        if isinstance(inst, np.dtype):
            _check_dtype(inst)

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise _Refused("a persistent id")


def safe_load(path_or_file):
    """The object pickled in a file (path or binary file object), built only from allowed types.
    Raises SkelgenError for a refused global or a damaged pickle; nothing in the file is called."""
    where = getattr(path_or_file, "name", None) or ("pickle data" if hasattr(path_or_file, "read")
                                                     else str(path_or_file))
    try:
        f = path_or_file if hasattr(path_or_file, "read") else open(Path(path_or_file), "rb")
    except OSError as e:
        raise SkelgenError(f"cannot read {where}: {e.strerror or e}; check the path") from None
    try:
        return _Unpickler(f, encoding="latin1").load()
    except _Refused as e:
        raise SkelgenError(f"refusing to load {where}: it asks for {e}, which could run code; only "
                           f"containers, numbers, strings and numpy arrays are allowed "
                           f"(re-save the data as plain lists/arrays or use .npz)") from None
    except Exception as e:  # a damaged pickle can fail in any constructor it names
        try:  # KeyError comes from the pure-Python unpickler's opcode table or memo
            detail = f"{type(e).__name__}: {e}" if not isinstance(e, KeyError) else "an unknown opcode"
        except Exception:  # str() of some exceptions' arguments fails too
            detail = type(e).__name__
        raise SkelgenError(f"{where} is not a readable pickle ({detail[:200]}); the file is truncated "
                           f"or not a pickle, re-create it") from None
    finally:
        if f is not path_or_file:
            f.close()


def safe_loads(data: bytes):
    """``safe_load`` for bytes in memory."""
    return safe_load(io.BytesIO(data))
