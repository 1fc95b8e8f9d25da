"""Importers and exporters: NTU .skeleton, NW-UCLA json, pyskl pickle, .npz, on files written here
in each format's real layout, plus the real NW-UCLA folder where it is present."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
from pathlib import Path

import numpy as np
import pytest

from skelgen.errors import SkelgenError
from skelgen.io import ntu
from skelgen.io.dataset import DatasetWriter, SkeletonFile
from skelgen.io.npz import convert_npz, export_npz
from skelgen.io.nwucla import convert_nwucla
from skelgen.io.pyskl import convert_pyskl, export_pyskl
from skelgen.io.safe_pickle import safe_load, safe_loads
from skelgen.layouts import KINECT20, NTU25, Layout
from skelgen.stopping import stoppable

REAL_NWUCLA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "NW-UCLA" / "all_sqe"


# -- NTU .skeleton files as the Kinect SDK writes them -----------------------------------------
def ntu_text(num_frames, bodies, newline="\r\n", fmt="{:.7g}"):
    """``bodies``: [(body_id, frames, xyz (num_frames, 25, 3))]; returns (text, expected xyz per
    body as float32 of the written decimals)."""
    lines, expected = [str(num_frames)], {}
    for b, (_, _, xyz) in enumerate(bodies):
        expected[b] = np.array([[[float(fmt.format(v)) for v in j] for j in f] for f in xyz], np.float32)
    for t in range(num_frames):
        present = [(b, body) for b, body in enumerate(bodies) if t in body[1]]
        lines.append(str(len(present)))
        for b, (body_id, _, xyz) in present:
            lines += [f"{body_id} 0 1 1 1 1 0 -0.0513 0.2271 2", "25"]
            lines += [" ".join(fmt.format(v) for v in xyz[t, j]) + " 277.4 191.8 1036.2 519.2 "
                      "-0.2509 -0.0572 0.9655 -0.0331 2" for j in range(25)]
    return newline.join(lines) + newline, expected


def moving(num_frames, amplitude, seed):
    """A body whose joints move by ``amplitude`` metres around a standing pose: (T, 25, 3)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.5, 0.5, (1, 25, 3)) + [0, 0, 3]
    wave = np.sin(np.linspace(0, 6, num_frames))[:, None, None]
    return base + amplitude * wave * rng.normal(size=(1, 25, 3))


def write_ntu(folder, name, num_frames, bodies, **kw):
    text, expected = ntu_text(num_frames, bodies, **kw)
    path = Path(folder) / name
    path.write_text(text, newline="")
    return path, expected


def test_ntu_one_body(tmp_path):
    body = (72057594037931101, range(30), moving(30, 0.1, 0))
    path, exp = write_ntu(tmp_path, "S001C001P001R001A001.skeleton", 30, [body])
    x = ntu.read_skeleton(path)
    assert x.shape == (2, 30, 25, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], exp[0])
    assert not x[1].any()


def test_ntu_two_bodies_most_active_first(tmp_path):
    calm, lively = moving(40, 0.01, 1), moving(40, 0.3, 2)
    path, exp = write_ntu(tmp_path, "S001C001P001R001A050.skeleton", 40,
                          [(72057594037931101, range(40), calm), (72057594037931102, range(40), lively)])
    x = ntu.read_skeleton(path)
    np.testing.assert_array_equal(x[0], exp[1])
    np.testing.assert_array_equal(x[1], exp[0])


def test_ntu_three_bodies_keeps_the_two_most_active(tmp_path):
    # ids one apart: float64 could not tell them apart, the parser must
    bodies = [(72057594037931101, range(25), moving(25, 0.2, 3)),
              (72057594037931102, range(25), moving(25, 0.001, 4)),  # e.g. a chair seen as a body
              (72057594037931103, range(25), moving(25, 0.5, 5))]
    path, exp = write_ntu(tmp_path, "S001C001P001R001A050.skeleton", 25, bodies)
    x = ntu.read_skeleton(path)
    np.testing.assert_array_equal(x[0], exp[2])
    np.testing.assert_array_equal(x[1], exp[0])


def test_ntu_tracking_loss_merges_into_one_slot_and_empty_frames_drop(tmp_path):
    a = moving(30, 0.3, 6)
    bodies = [(11, range(3, 15), a), (12, range(15, 30), a), (13, range(3, 30), moving(30, 0.05, 7))]
    path, exp = write_ntu(tmp_path, "S001C001P001R001A050.skeleton", 30, bodies)
    x = ntu.read_skeleton(path)
    assert x.shape[1] == 27  # frames 0-2 hold no body
    np.testing.assert_array_equal(x[0], exp[0][3:])  # one person under two ids, re-joined
    np.testing.assert_array_equal(x[1], exp[2][3:])


def test_ntu_no_body_is_its_own_error(tmp_path):
    path, _ = write_ntu(tmp_path, "S001C001P001R001A001.skeleton", 5, [])
    with pytest.raises(ntu.NoBodyError):
        ntu.read_skeleton(path)
    (tmp_path / "empty.skeleton").write_text("0\r\n")
    with pytest.raises(ntu.NoBodyError):
        ntu.read_skeleton(tmp_path / "empty.skeleton")


@pytest.mark.parametrize("newline, fmt", [("\r\n", "{:.7g}"), ("\n", "{:.7g}"), ("\n", "{:.3e}"),
                                          ("\r\n", "{:+.4f}"), ("\n", "{:.17g}")])
def test_ntu_fast_parser_agrees_with_the_reference(tmp_path, newline, fmt):
    bodies = [(1, range(0, 20), moving(20, 0.3, 8) * 10.0 ** np.arange(-6, 7).repeat(2)[:25, None]),
              (2, range(5, 20), -moving(20, 0.1, 9))]
    text, exp = ntu_text(20, bodies, newline=newline, fmt=fmt)
    raw = text.encode()
    fast, ref = ntu._parse_fast(raw), ntu._parse_reference(raw, "x")
    assert fast is not None
    assert fast[0] == ref[0] and fast[1] == ref[1] and fast[3] == ref[3]
    np.testing.assert_array_equal(fast[2], ref[2])
    odd = raw.replace(b" 0 1 1 1 1 0", b"\t0 1 1 1 1 0")  # tabs: only the reference parser reads them
    assert ntu._parse_fast(odd) is None
    np.testing.assert_array_equal(ntu._parse_reference(odd, "x")[2], ref[2])


@pytest.mark.parametrize("edit, line", [
    (lambda t: t[: len(t) // 2], None),                                  # truncated
    (lambda t: t.replace("1036.2", "1036.2 7", 1), 5),                   # 13 values on a joint line
    (lambda t: t.replace("\r\n25\r\n", "\r\n24\r\n", 1), 4),              # joint count
    (lambda t: "x" + t, 1),                                              # frame count
    (lambda t: t + "1\r\n", None),                                       # trailing content
    (lambda t: t.replace("-0.0513 0.2271 2", "2", 1), 3),                # short body line
])
def test_ntu_malformed_names_file_and_line(tmp_path, edit, line):
    text, _ = ntu_text(3, [(5, range(3), moving(3, 0.1, 10))])
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(edit(text), newline="")
    with pytest.raises(SkelgenError, match=path.name) as e:
        ntu.read_skeleton(path)
    assert not isinstance(e.value, ntu.NoBodyError)
    if line is not None:
        assert f"line {line}:" in str(e.value)


def test_ntu_nan_and_garbage_coordinates(tmp_path):
    text, _ = ntu_text(2, [(5, range(2), moving(2, 0.1, 11))])
    lines = text.split("\r\n")
    for bad, line in (("nan", 7), ("1e999", 8), ("0.1.2", 9), ("--1", 9)):
        edited = lines.copy()
        edited[line - 1] = bad + edited[line - 1][edited[line - 1].index(" "):]
        path = tmp_path / "S001C001P001R001A001.skeleton"
        path.write_text("\r\n".join(edited), newline="")
        with pytest.raises(SkelgenError, match=f"line {line}:"):
            ntu.read_skeleton(path)


def ntu_folder(folder):
    """Five files: ntu60 train/test by subject and view, one without body, two NTU120-only."""
    specs = {"S001C001P001R001A001": 1, "S001C002P003R002A002": 2, "S002C003P002R001A060": 1,
             "S003C001P008R001A010": 0, "S018C001P045R001A061": 1, "S019C002P001R001A120": 2}
    expected = {}
    for k, (stem, persons) in enumerate(specs.items()):
        bodies = [(100 + p, range(12 + k), moving(12 + k, 0.3 / (p + 1), k * 10 + p)) for p in range(persons)]
        _, exp = write_ntu(folder, stem + ".skeleton", 12 + k, bodies)
        expected[stem] = exp
    (Path(folder) / "notes.txt").write_text("not a skeleton")
    return expected


def test_convert_ntu60_and_ntu120(tmp_path):
    src = tmp_path / "nturgb+d_skeletons"
    src.mkdir()
    expected = ntu_folder(src)
    r = ntu.convert_ntu(src, tmp_path / "ntu60.h5", benchmark="ntu60")
    assert r == {"samples": 3, "skipped_no_body": 1, "skipped_other_benchmark": 2, "skipped_unnamed": 0,
                 "xsub_train": 2, "xsub_test": 1, "xview_train": 2, "xview_test": 1}
    with SkeletonFile(tmp_path / "ntu60.h5") as f:
        assert f.ids == ["S001C001P001R001A001", "S001C002P003R002A002", "S002C003P002R001A060"]
        assert list(f.labels) == [0, 1, 59] and len(f.classes) == 60 and f.layout == NTU25
        assert f.classes.label(23) == "A024 kicking something" and f.shape[1] == 2
        assert list(f.splits["xsub_train"]) == [0, 2] and list(f.splits["xview_test"]) == [0]
        np.testing.assert_array_equal(f.sample(1)[0], expected["S001C002P003R002A002"][0])
        np.testing.assert_array_equal(f.sample(1)[1], expected["S001C002P003R002A002"][1])
        assert f.provenance(0) == {"source": "ntu-rgb+d", "file": "S001C001P001R001A001.skeleton"}
    r = ntu.convert_ntu(src, tmp_path / "ntu120.h5", benchmark="ntu120", progress=list)
    assert r["samples"] == 5 and r["xset_train"] == 2 and r["xsub_train"] == 4 and "xview_train" not in r
    assert ntu.convert_ntu(src, tmp_path / "ntu120p.h5", benchmark="ntu120", workers=2) == r  # processes
    with SkeletonFile(tmp_path / "ntu120.h5") as f:
        assert len(f.classes) == 120 and f.classes.names[-1].startswith("finger-guessing")
        assert list(f.labels) == [0, 1, 59, 60, 119]
    with pytest.raises(SkelgenError, match="benchmark"):
        ntu.convert_ntu(src, tmp_path / "x.h5", benchmark="ntu90")
    with pytest.raises(SkelgenError, match="no NTU .skeleton"):
        ntu.convert_ntu(tmp_path / "nowhere", tmp_path / "x.h5")


def _stop_handlers(_path):
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_ntu_parsing_processes_leave_stopping_to_the_parent(monkeypatch):
    """The pool ends its forked parsers with SIGTERM; with the parent's stop handlers they printed
    a KeyboardInterrupt traceback now and then (seen in `skelgen speed`)."""
    monkeypatch.setattr(ntu, "_read_or_none", _stop_handlers)
    with stoppable(), ntu._readers(2) as read:
        assert set(read(range(16))) == {(signal.SIG_IGN, signal.SIG_DFL)}


def test_convert_ntu_refuses_a_damaged_folder(tmp_path):
    ntu_folder(tmp_path)
    bad = tmp_path / "S001C001P001R001A002.skeleton"
    bad.write_text("oops\r\n")
    with pytest.raises(SkelgenError, match=f"{bad.name}: line 1:"):
        ntu.convert_ntu(tmp_path, tmp_path / "out.h5")
    bad.write_text("100\r\n1\r\n")  # truncated: the header promises more than the file holds
    with pytest.raises(SkelgenError, match=f"{bad.name}: line 1:"):
        ntu.convert_ntu(tmp_path, tmp_path / "out.h5")
    bad.write_text("3\r\n1\r\n")  # found by a parsing process, reported here
    with pytest.raises(SkelgenError, match=f"{bad.name}: line 3:"):
        ntu.convert_ntu(tmp_path, tmp_path / "out.h5", workers=2)
    assert not (tmp_path / "out.h5").exists()
    for p in tmp_path.glob("*.skeleton"):
        if p.name != "S003C001P008R001A010.skeleton":  # the one file without a body
            p.unlink()
    with pytest.raises(SkelgenError, match="none of the 1 files holds a body"):
        ntu.convert_ntu(tmp_path, tmp_path / "out.h5")
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob(".*partial"))


def test_ntu_action_names_are_complete():
    assert len(ntu.ACTIONS) == 120 == len(set(ntu.ACTIONS))
    assert ntu.ACTIONS[0] == "drink water" and ntu.ACTIONS[59] == "walking apart from each other"
    assert ntu.ACTIONS[60] == "put on headphone"


# -- round trips ---------------------------------------------------------------------------------
def _dataset(path, layout=NTU25, n=7, persons=2, frames=9, frame="raw"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, persons, frames, layout.num_joints, 3)).astype(np.float32)
    lengths = rng.integers(1, frames + 1, n)
    x[:, 1, :, :, :] *= np.arange(n)[:, None, None, None] % 2  # some samples hold one person
    with DatasetWriter(path, layout, ["A001", "A002", "A003"], ["drink water", "eat", "x"], max_frames=frames,
                       max_persons=persons, frame=frame) as w:
        w.append(x, lengths, rng.integers(0, 3, n), [f"s{i}" for i in range(n)])
        w.set_split("xsub_train", [0, 2, 4, 6])
        w.set_split("xsub_test", [1, 3, 5])
    return path


def _same(a, b):
    with SkeletonFile(a) as fa, SkeletonFile(b) as fb:
        np.testing.assert_array_equal(fa.read(), fb.read())
        assert (list(fa.lengths), list(fa.labels), fa.ids) == (list(fb.lengths), list(fb.labels), fb.ids)
        assert {k: list(v) for k, v in fa.splits.items()} == {k: list(v) for k, v in fb.splits.items()}
        assert fa.classes == fb.classes and fa.layout == fb.layout and fa.frame == fb.frame


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_npz_round_trip(tmp_path):
    src = _dataset(tmp_path / "a.h5", frame="normalized")
    before = _digest(src)
    export_npz(src, tmp_path / "a.npz")
    assert _digest(src) == before
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        assert z["x"].shape == (7, 2, 9, 25, 3) and str(z["layout"]) == "ntu25"
        assert sorted(k for k in z.files if k.startswith("split_")) == ["split_xsub_test", "split_xsub_train"]
    assert convert_npz(tmp_path / "a.npz", tmp_path / "b.h5")["samples"] == 7
    _same(src, tmp_path / "b.h5")


def test_npz_minimal_keys_and_custom_layout(tmp_path):
    x = np.random.default_rng(1).normal(size=(3, 1, 4, 20, 3))
    np.savez(tmp_path / "m.npz", x=x, lengths=np.array([4, 2, 1]), labels=np.array([0, 1, 1]))
    convert_npz(tmp_path / "m.npz", tmp_path / "m.h5", layout="kinect20")
    with SkeletonFile(tmp_path / "m.h5") as f:
        assert f.layout == KINECT20 and f.ids == ["000000", "000001", "000002"]
        assert f.classes.codes == ("C000", "C001")
        np.testing.assert_array_equal(f.sample(1), x[1, :, :2].astype(np.float32))
    custom = Layout("tri", ("a", "b", "c", "d"), (-1, 0, 1, 1),
                    {"spine_base": "a", "spine_mid": "b", "shoulder_left": "c", "shoulder_right": "d"})
    src = _dataset(tmp_path / "c.h5", layout=custom)
    export_npz(src, tmp_path / "c.npz")
    convert_npz(tmp_path / "c.npz", tmp_path / "d.h5")
    _same(src, tmp_path / "d.h5")


def test_pyskl_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    annotations = [{"frame_dir": f"S001C001P00{i}R001A00{i + 1}", "label": i, "total_frames": t,
                    "keypoint": rng.normal(size=(1 + i % 2, t, 25, 3)).astype(np.float32)}
                   for i, t in enumerate([5, 9, 3])]
    data = {"split": {"xsub_train": ["S001C001P000R001A001", "S001C001P002R001A003"],
                      "xsub_val": ["S001C001P001R001A002"]}, "annotations": annotations}
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(data))
    r = convert_pyskl(tmp_path / "p.pkl", tmp_path / "p.h5")
    assert r == {"samples": 3, "classes": 60, "xsub_test": 1, "xsub_train": 2}
    with SkeletonFile(tmp_path / "p.h5") as f:
        assert f.shape == (3, 2, 9, 25, 3) and f.classes.label(2) == "A003 brushing teeth"
        np.testing.assert_array_equal(f.sample(1), annotations[1]["keypoint"])
    before = _digest(tmp_path / "p.h5")
    export_pyskl(tmp_path / "p.h5", tmp_path / "q.pkl")
    assert _digest(tmp_path / "p.h5") == before
    back = safe_load(tmp_path / "q.pkl")
    assert back["split"] == data["split"]
    for a, b in zip(annotations, back["annotations"]):
        for key in ("frame_dir", "label", "total_frames"):
            assert a[key] == b[key]
        np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
    convert_pyskl(tmp_path / "q.pkl", tmp_path / "q.h5")
    _same(tmp_path / "p.h5", tmp_path / "q.h5")


def test_every_format_round_trips_an_ntu_conversion(tmp_path):
    src = tmp_path / "skeletons"
    src.mkdir()
    ntu_folder(src)
    ntu.convert_ntu(src, tmp_path / "n.h5", benchmark="ntu120")
    export_npz(tmp_path / "n.h5", tmp_path / "n.npz")
    convert_npz(tmp_path / "n.npz", tmp_path / "n2.h5")
    _same(tmp_path / "n.h5", tmp_path / "n2.h5")
    export_pyskl(tmp_path / "n2.h5", tmp_path / "n.pkl")
    convert_pyskl(tmp_path / "n.pkl", tmp_path / "n3.h5")
    _same(tmp_path / "n.h5", tmp_path / "n3.h5")


def test_exporters_refuse_to_overwrite_and_leave_nothing_on_failure(tmp_path):
    src = _dataset(tmp_path / "a.h5")
    (tmp_path / "taken.npz").write_bytes(b"keep")
    for export, name in ((export_npz, "taken.npz"), (export_pyskl, "taken.npz")):
        with pytest.raises(SkelgenError, match="already exists"):
            export(src, tmp_path / name)
        assert (tmp_path / name).read_bytes() == b"keep"
        with pytest.raises(SkelgenError):
            export(tmp_path / "missing.h5", tmp_path / "new.out")
    export_npz(src, tmp_path / "taken.npz", overwrite=True)
    assert np.load(tmp_path / "taken.npz")["x"].shape[0] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "taken.npz"]


# -- bad inputs ----------------------------------------------------------------------------------
class _Evil:
    def __reduce__(self):
        return os.system, ("touch /tmp/pwned_marker",)


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = Path("/tmp/pwned_marker")
    marker.unlink(missing_ok=True)
    for protocol in (0, 2, 5):
        (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"annotations": [_Evil()]}, protocol=protocol))
        with pytest.raises(SkelgenError, match=r"refusing to load .*evil\.pkl.* asks for (posix|os)\.system"):
            convert_pyskl(tmp_path / "evil.pkl", tmp_path / "x.h5")
    assert not marker.exists() and not (tmp_path / "x.h5").exists()
    with pytest.raises(SkelgenError, match="builtins.eval"):
        safe_loads(b"cbuiltins\neval\n(S'1'\ntR.")


def test_safe_pickle_admits_numpy_and_containers():
    value = {"a": [np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.5), {1, 2}],
             "b": (None, True, b"x", "s", 1 + 2j), "c": np.array(["u", "vw"]), "d": np.int64(7)}
    for protocol in range(6):
        back = safe_loads(pickle.dumps(value, protocol=protocol))
        np.testing.assert_array_equal(back["a"][0], value["a"][0])
        assert back["b"] == value["b"] and back["d"] == 7 and list(back["c"]) == ["u", "vw"]
    records = np.zeros(2, np.dtype([("a", "u1"), ("b", "f8", (2,)), ("c", "O")], align=True))
    assert safe_loads(pickle.dumps(records)).dtype == records.dtype


def test_safe_pickle_refuses_a_dtype_whose_state_lies():
    data = bytearray(pickle.dumps(np.zeros(3, np.float32), protocol=2))
    at = data.index(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00") + 14  # the dtype state's flags
    data[at] = 1  # "holds Python objects": numpy would free the floats as object pointers
    with pytest.raises(SkelgenError, match="contradicts its type"):
        safe_loads(bytes(data))


def _pyskl_bytes(split=None, **change):
    a = {"frame_dir": "s0", "label": 0, "total_frames": 4, "keypoint": np.zeros((1, 4, 25, 3), np.float32)}
    a.update(change)
    return pickle.dumps({"split": split or {"train": ["s0"]}, "annotations": [a]})


@pytest.mark.parametrize("content, match", [
    (b"", "not a readable pickle"),
    (pickle.dumps([1, 2])[:-3], "not a readable pickle"),
    (pickle.dumps([1, 2]), "not a pyskl annotation file"),
    (_pyskl_bytes()[:-10], "not a readable pickle"),
    (_pyskl_bytes(keypoint=np.full((1, 4, 25, 3), np.nan)), "NaN"),
    (_pyskl_bytes(keypoint=np.zeros((1, 0, 25, 3)), total_frames=0), "non-empty"),
    (_pyskl_bytes(keypoint=np.zeros((1, 4, 17, 2))), "25, 3"),
    (_pyskl_bytes(total_frames=5), "total_frames"),
    (_pyskl_bytes(label=-1), "label"),
    (_pyskl_bytes(keypoint=[[1.0]]), "numeric"),
    (_pyskl_bytes(split={"x": ["nobody"]}), "not among"),
    (_pyskl_bytes(split={"a/b": ["s0"]}), "split name"),
    (_pyskl_bytes(frame_dir=5), "frame_dir must be text"),
])
def test_pyskl_bad_inputs(tmp_path, content, match):
    (tmp_path / "bad.pkl").write_bytes(content)
    with pytest.raises(SkelgenError, match=match):
        convert_pyskl(tmp_path / "bad.pkl", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def _npz(path, **change):
    arrays = {"x": np.zeros((2, 1, 4, 25, 3)), "lengths": np.array([4, 2]), "labels": np.array([0, 1]),
              "layout": np.array("ntu25")}
    arrays.update(change)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize("change, match", [
    ({"x": np.full((2, 1, 4, 25, 3), np.nan)}, "NaN"),
    ({"lengths": np.array([4, 0])}, "no empty sequences"),
    ({"layout": np.array("ntu99")}, "neither a built-in layout"),
    ({"layout": None}, "no 'layout' key"),
    ({"labels": None}, "lacks the key 'labels'"),
    ({"x": np.zeros((2, 1, 4, 20, 3))}, "expected non-empty numbers"),
    ({"ids": np.array(["a", None], dtype=object)}, "not a readable .npz"),
    ({"split_train": np.array([0, 5])}, "outside"),
    ({"labels": np.array([0.5, 1.0])}, "whole numbers"),
])
def test_npz_bad_inputs(tmp_path, change, match):
    with pytest.raises(SkelgenError, match=match):
        convert_npz(_npz(tmp_path / "bad.npz", **change), tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_npz_bad_files_and_options(tmp_path):
    good = _npz(tmp_path / "good.npz")
    with pytest.raises(SkelgenError, match="unknown layout"):
        convert_npz(good, tmp_path / "o.h5", layout="nope")
    with pytest.raises(SkelgenError, match="asked for"):
        convert_npz(good, tmp_path / "o.h5", layout="kinect20")
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:300])
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "text.npz").write_text("x,lengths\n1,2\n")
    for name, match in (("trunc.npz", "not a readable"), ("one.npy", "single array"),
                        ("text.npz", "not a readable"), ("absent.npz", "no such file")):
        with pytest.raises(SkelgenError, match=match):
            convert_npz(tmp_path / name, tmp_path / "o.h5")
    with pytest.raises(SkelgenError, match="unknown layout"):
        convert_pyskl(tmp_path / "p.pkl", tmp_path / "o.h5", layout="nope")


# -- NW-UCLA -------------------------------------------------------------------------------------
def write_clip(folder, name, frames, label=1):
    xyz = np.random.default_rng(len(name) + frames).normal(size=(frames, 20, 3)).round(6)
    (Path(folder) / f"{name}.json").write_text(json.dumps(
        {"file_name": name, "skeletons": xyz.tolist(), "label": label}))
    return xyz


def test_nwucla_tiny_folder(tmp_path):
    clips = {name: write_clip(tmp_path, name, 5 + k) for k, name in
             enumerate(["a01_s01_e00_v01", "a04_s02_e01_v02", "a12_s01_e00_v03"])}
    r = convert_nwucla(tmp_path, tmp_path / "nw.h5")
    assert r == {"samples": 3, "train": 2, "test": 1}
    with SkeletonFile(tmp_path / "nw.h5") as f:
        assert f.layout == KINECT20 and list(f.labels) == [0, 3, 9] and list(f.splits["test"]) == [2]
        np.testing.assert_allclose(f.sample(1)[0], clips["a04_s02_e01_v02"], atol=1e-6)


@pytest.mark.parametrize("content", ["{", '{"skeletons": [[[1, 2]]]}', '{"skeletons": []}',
                                     '{"skeletons": [[[NaN, 1, 2]]]}', "[1, 2]", '{"label": 1}'])
def test_nwucla_bad_json(tmp_path, content):
    (tmp_path / "a01_s01_e00_v01.json").write_text(content)
    with pytest.raises(SkelgenError):
        convert_nwucla(tmp_path, tmp_path / "nw.h5")


def test_nwucla_real_data(tmp_path):
    if not REAL_NWUCLA.is_dir():
        pytest.skip(f"real NW-UCLA data not present at {REAL_NWUCLA}")
    r = convert_nwucla(REAL_NWUCLA, tmp_path / "nw.h5")
    assert (r["train"], r["test"]) == (1020, 464)
    with SkeletonFile(tmp_path / "nw.h5") as f:
        assert len(f.classes) == 10 and len(np.unique(f.labels)) == 10
        assert len(f.splits["train"]) == 1020 and len(f.splits["test"]) == 464
        # the validation splits live inside the training views, never in the test view
        val = np.concatenate([f.splits["val_train"], f.splits["val_test"]])
        assert sorted(val) == sorted(f.splits["train"]) and not set(val) & set(f.splits["test"])


def test_repeated_samples_are_found_and_counted_across_splits():
    from skelgen.repeats import across_splits, repeated
    a, b = np.zeros((4, 1, 20, 3)), np.ones((4, 1, 20, 3))
    assert repeated([a, b, a.copy(), a[:2], b]) == [(2, 0), (4, 1)]  # a's first 2 frames are another sample
    splits = {"train": np.array([0, 1]), "test": np.array([2, 3, 4]), "val_test": np.array([4])}
    assert across_splits([(2, 0), (4, 1)], splits) == 2  # val_test has no val_train: not counted
    assert across_splits([(2, 0)], {"xsub_train": np.array([0, 2]), "xsub_test": np.array([1])}) == 0


def test_convert_warns_about_a_test_sample_that_repeats_a_training_one(tmp_path):
    from click.testing import CliRunner

    from skelgen import cli
    x = np.random.default_rng(1).normal(size=(4, 1, 6, 20, 3))
    x[3] = x[0]
    np.savez(tmp_path / "r.npz", x=x, lengths=np.array([6, 6, 6, 6]), labels=np.array([0, 1, 1, 0]),
             split_train=np.array([0, 1]), split_test=np.array([2, 3]))
    result = CliRunner().invoke(cli.main, ["convert", "npz", str(tmp_path / "r.npz"), "--layout", "kinect20",
                                           "--out", str(tmp_path / "r.h5")])
    assert result.exit_code == 0, result.output
    assert ("1 of its 4 samples repeat another sample's joints exactly (e.g. 000003 = 000000); in 1 pair one "
            "is a test sample and the other a training one") in result.output
