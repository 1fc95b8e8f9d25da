"""Property tests: every importer, and SkeletonFile, given random or damaged input, either gives a
correct result or raises SkelgenError: never another exception, never a hang.

Profiles: HYPOTHESIS_PROFILE=ci (default, ~30 examples per test) or long (thousands):
    HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import pickle
import re
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skelgen.errors import SkelgenError
from skelgen.io import ntu
from skelgen.io.dataset import DatasetWriter, SkeletonFile
from skelgen.io.npz import convert_npz
from skelgen.io.nwucla import read_clip
from skelgen.io.pyskl import convert_pyskl
from skelgen.io.safe_pickle import safe_loads
from skelgen.layouts import NTU25
from test_importers import moving, ntu_text

# an exception numpy or h5py can only print (one raised while freeing an object) fails the test too
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("long", max_examples=3000, deadline=None, suppress_health_check=_QUIET)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))  # per test: no global change


@contextlib.contextmanager
def no_hang(seconds=20):
    def stop(*_):
        raise TimeoutError(f"no answer within {seconds} s: the importer hangs on this input")
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def outcome(fn, *args, **kw):
    """fn's result, or None for a SkelgenError; anything else fails the test."""
    with no_hang():
        try:
            return fn(*args, **kw)
        except SkelgenError:
            return None


_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_TOKENS = [b"", b"0", b"-0", b"1", b"2", b"3", b"25", b"24", b"-1", b"nan", b"inf", b"1e999", b"-.5", b"1_0",
           b"99999999999999999999", b"1" + b"0" * 400, b"0.1.2", b"--1", b"\t", b" ", b"\r\n", b"x"]


@st.composite
def mutated(draw, raw: bytes):
    """``raw`` after 1-4 edits: truncate, flip a bit, set a byte, delete or duplicate a run,
    insert bytes, or swap a number for another (including nonsense ones)."""
    b = bytearray(raw)
    for op in draw(st.lists(st.sampled_from("tfbddin"), min_size=1, max_size=4)):
        if not b:
            break
        i = draw(st.integers(0, len(b) - 1))
        if op == "t":
            del b[i:]
        elif op == "f":
            b[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "b":
            b[i] = draw(st.integers(0, 255))
        elif op == "d":
            n = draw(st.integers(1, 64))
            b[i:i] = b[i: i + n] if draw(st.booleans()) else b""
            if not draw(st.booleans()):
                del b[i: i + n]
        elif op == "i":
            b[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            numbers = list(_NUMBER.finditer(bytes(b)))
            if numbers:
                m = numbers[draw(st.integers(0, len(numbers) - 1))]
                new = draw(st.sampled_from(_TOKENS) | st.floats().map(lambda v: repr(v).encode()))
                b[m.start(): m.end()] = new
    return bytes(b)


# -- NTU .skeleton -------------------------------------------------------------------------------
@functools.lru_cache
def ntu_raw(layout: int) -> bytes:
    one = [(7, range(3), moving(3, 0.2, 1))]
    three = one + [(8, range(1, 3), moving(3, 0.5, 2)), (9, [0, 2], moving(3, 0.1, 3))]
    bodies = [one, three, []][layout]
    return ntu_text(3, bodies, fmt="{:.6g}")[0].encode()


def _check_ntu(raw: bytes):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "S001C001P001R001A001.skeleton"
        path.write_bytes(raw)
        x = outcome(ntu.read_skeleton, path)
    if x is not None:
        assert x.dtype == np.float32 and x.shape[0] == 2 and x.shape[1] >= 1 and x.shape[2:] == (25, 3)
        assert np.isfinite(x).all()
    with no_hang():
        fast = ntu._parse_fast(raw)
    if fast is not None:  # whatever the fast parser accepts, the reference reads the same way
        ref = ntu._parse_reference(raw, "x")
        assert (fast[0], fast[1], fast[3]) == (ref[0], ref[1], ref[3])
        np.testing.assert_array_equal(fast[2], ref[2])


@FUZZ
@given(st.integers(0, 2).flatmap(lambda k: mutated(ntu_raw(k))))
def test_ntu_mutated(raw):
    _check_ntu(raw)


_PIECES = [b"0", b"1", b"2", b"25", b" ", b"\n", b"\r\n", b"7 0 1 1 1 1 0 0 0 2",
           b"0.5 0.5 0.5 1 1 1 1 1 1 1 1 2"]


@FUZZ
@given(st.binary(max_size=400) | st.lists(st.sampled_from(_PIECES), max_size=80).map(b"".join))
def test_ntu_random(raw):
    _check_ntu(raw)


# -- NW-UCLA json ----------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=30)


def _check_clip(raw: bytes):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a01_s01_e00_v01.json"
        path.write_bytes(raw)
        clip = outcome(read_clip, path)
    if clip is not None:
        x, label, view = clip
        assert x.shape[0] == 1 and x.shape[2:] == (20, 3) and np.isfinite(x).all() and (label, view) == (0, 1)


@FUZZ
@given(mutated(json.dumps({"file_name": "a01_s01_e00_v01", "label": 1,
                           "skeletons": moving(2, 0.1, 4)[:, :20].round(4).tolist()}).encode()))
def test_nwucla_mutated(raw):
    _check_clip(raw)


@FUZZ
@given(_JSON.map(lambda v: {"skeletons": v}) | _JSON)
def test_nwucla_random_json(value):
    _check_clip(json.dumps(value).encode())


@pytest.mark.parametrize("skeletons", ["[[[1" + "0" * 400 + ", 2, 3]]]", "[" * 5000 + "]" * 5000])
def test_nwucla_number_beyond_float_and_deep_nesting(skeletons):  # found by this fuzzing
    _check_clip(('{"skeletons": ' + skeletons + "}").encode())


# -- pyskl pickle ----------------------------------------------------------------------------------
def _pyskl_value():
    ann = [{"frame_dir": f"s{i}", "label": i, "total_frames": 2 + i,
            "keypoint": moving(2 + i, 0.1, i)[None].astype(np.float32)} for i in range(2)]
    return {"split": {"xsub_train": ["s0"], "xsub_val": ["s1"]}, "annotations": ann}


def _check_converter(convert, raw: bytes, suffix: str, **kw):
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / f"in{suffix}", Path(d) / "out.h5"
        src.write_bytes(raw)
        result = outcome(convert, src, out, **kw)
        if result is None:
            assert not out.exists()
            return
        with SkeletonFile(out) as f:  # what an importer wrote must read back whole
            assert len(f) == result["samples"] > 0 and np.isfinite(f.read()).all()
            assert all(f.sample(i).shape[1] == f.lengths[i] for i in range(len(f)))


@FUZZ
@given(st.sampled_from([2, 4, 5]).flatmap(lambda p: mutated(pickle.dumps(_pyskl_value(), protocol=p))))
def test_pyskl_mutated(raw):
    _check_converter(convert_pyskl, raw, ".pkl")


_ARRAYS = hnp.arrays(st.sampled_from(["f4", "f8", "i8", "u1", "bool", "U3", "c8"]),
                     hnp.array_shapes(min_dims=0, max_dims=4, max_side=3) |
                     st.sampled_from([(1, 2, 25, 3), (2, 1, 25, 3), (1, 0, 25, 3)]))
_FIELD = (_ARRAYS | st.integers(-2, 3) | st.text(max_size=4) | st.none()
          | st.lists(st.text(max_size=3), max_size=3))


@FUZZ
@given(st.fixed_dictionaries({"annotations": st.lists(st.dictionaries(
    st.sampled_from(["frame_dir", "label", "total_frames", "keypoint", "other"]), _FIELD), max_size=3)},
    optional={"split": st.dictionaries(st.text(max_size=6), _FIELD | st.lists(st.sampled_from(["", "s0"])),
                                       max_size=2),
              "skelgen": st.dictionaries(st.sampled_from(["layout", "class_codes", "frame"]), _FIELD)}))
def test_pyskl_random_structures(value):
    _check_converter(convert_pyskl, pickle.dumps(value), ".pkl")


@FUZZ
@given(st.binary(max_size=300))
@example(b"cos\nsystem\n(S'touch /tmp/pwned_marker'\ntR.")
def test_safe_pickle_random_bytes(raw):
    outcome(safe_loads, raw)
    assert not Path("/tmp/pwned_marker").exists()


# -- .npz ----------------------------------------------------------------------------------------------
@functools.lru_cache
def npz_raw(compressed: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        x = np.stack([moving(3, 0.1, 5), moving(3, 0.2, 6)])[:, None].astype(np.float32)
        (np.savez_compressed if compressed else np.savez)(
            Path(d) / "a.npz", x=x, lengths=np.array([3, 2]), labels=np.array([0, 1]),
            layout=np.array("ntu25"), ids=np.array(["a", "b"]), split_train=np.array([0]),
            class_codes=np.array(["A001", "A002"]))
        return (Path(d) / "a.npz").read_bytes()


@FUZZ
@given(st.booleans().flatmap(lambda c: mutated(npz_raw(c))))
def test_npz_mutated(raw):
    _check_converter(convert_npz, raw, ".npz")


_NPZ_KEYS = ["x", "lengths", "labels", "ids", "class_codes", "class_names", "layout", "frame", "units",
             "split_a", "split_b/c", "other"]


@FUZZ
@given(st.dictionaries(st.sampled_from(_NPZ_KEYS), _ARRAYS, max_size=8),
       st.sampled_from([None, "ntu25", "kinect20"]))
def test_npz_random_arrays(arrays, layout):
    with tempfile.TemporaryDirectory() as d:
        np.savez(Path(d) / "a.npz", **arrays)
        raw = (Path(d) / "a.npz").read_bytes()
    _check_converter(convert_npz, raw, ".npz", layout=layout)


# -- SkeletonFile ----------------------------------------------------------------------------------
@functools.lru_cache
def h5_raw() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        with DatasetWriter(Path(d) / "a.h5", NTU25, ["A001", "A002"], ["a", "b"], max_frames=3,
                           max_persons=2) as w:
            w.append(np.stack([moving(3, 0.1, 7), moving(3, 0.3, 8)])[:, None].repeat(2, 1), [3, 2], [0, 1],
                     ["a", "b"], provenance=[{"file": "a"}, {"file": "b"}])
            w.set_split("train", [0])
        return (Path(d) / "a.h5").read_bytes()


def _open_h5(raw: bytes, read_all: bool):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.h5"
        path.write_bytes(raw)
        f = outcome(SkeletonFile, path)
        if f is None:
            return
        with f, no_hang():
            assert f.shape[3:] == (25, 3) and len(f.lengths) == len(f.labels) == len(f)
            if read_all:
                try:
                    x = f.read()
                    assert x.shape == f.shape
                    assert len(f.ids) == len(f.synthetic) == len(f)
                    [(f.sample(i), f.provenance(i)) for i in range(len(f))]
                    f.summary()
                except SkelgenError:
                    pass


@FUZZ
@given(st.binary(max_size=300) | mutated(h5_raw()))
def test_skeleton_file_opens_or_refuses(raw):
    _open_h5(raw, read_all=False)


@FUZZ
@given(mutated(h5_raw()))
def test_skeleton_file_reads_or_refuses(raw):
    _open_h5(raw, read_all=True)
