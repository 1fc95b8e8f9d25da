"""The HDF5 dataset file: round trips, chunked reading, validation and atomic writing."""
import h5py
import numpy as np
import pytest

from skelgen.errors import SkelgenError
from skelgen.io.dataset import DatasetWriter, SkeletonDataset, SkeletonFile
from skelgen.layouts import KINECT20, NTU25, get_layout, joint_map


def write(path, n=6, t=10, **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2, t, 25, 3)).astype(np.float32)
    lengths = np.arange(n) % t + 1
    with DatasetWriter(path, NTU25, ["A001", "A002"], ["drink water", "eat meal"], max_frames=t,
                       max_persons=2, **kw) as w:
        w.append(x[:4], lengths[:4], [0, 1, 0, 1], [f"s{i}" for i in range(4)])
        w.append(x[4:], lengths[4:], [1] * (n - 4), [f"s{i}" for i in range(4, n)],
                 synthetic=[True] * (n - 4), provenance=[{"k": i} for i in range(n - 4)])
        w.set_split("train", [0, 1, 2, 3])
        w.set_split("test", [4, 5])
    return x, lengths


def test_round_trip_and_padding(tmp_path):
    x, lengths = write(tmp_path / "a.h5")
    with SkeletonFile(tmp_path / "a.h5") as sf:
        assert sf.shape == (6, 2, 10, 25, 3) and sf.layout == NTU25
        assert sf.ids == [f"s{i}" for i in range(6)]
        assert list(sf.synthetic) == [False] * 4 + [True] * 2
        assert sf.provenance(5) == {"k": 1}
        for i in range(6):
            np.testing.assert_array_equal(sf.sample(i), x[i, :, : lengths[i]])
        full = sf.read([5, 0, 5])
        assert not full[0, :, lengths[5]:].any(), "padding must be zero"
        np.testing.assert_array_equal(full[0], full[2])
        s = sf.summary()
        assert s["splits"]["train"]["per_class"] == {"A001": 2, "A002": 2}
        assert sf.classes.resolve("eat meal") == 1 and sf.classes.resolve("a001") == 0


def test_unknown_class_lists_valid_ones(tmp_path):
    write(tmp_path / "a.h5")
    with SkeletonFile(tmp_path / "a.h5") as sf, pytest.raises(SkelgenError, match="A001 \\(drink water\\)"):
        sf.classes.resolve("A999")


@pytest.mark.parametrize("bad", ["nan", "inf", "empty", "label", "shape"])
def test_writer_rejects_bad_samples_and_leaves_nothing(tmp_path, bad):
    x = np.zeros((1, 1, 5, 25, 3), np.float32)
    length, label = [5], [0]
    if bad == "nan":
        x[0, 0, 0, 0, 0] = np.nan
    elif bad == "inf":
        x[0, 0, 0, 0, 0] = np.inf
    elif bad == "empty":
        length = [0]
    elif bad == "label":
        label = [3]
    else:
        x = np.zeros((1, 1, 5, 20, 3), np.float32)
    with pytest.raises(SkelgenError):
        with DatasetWriter(tmp_path / "o.h5", NTU25, ["A"], ["a"], max_frames=5) as w:
            w.append(x, length, label, ["id"])
    assert list(tmp_path.iterdir()) == []


def test_existing_output_refused(tmp_path):
    write(tmp_path / "a.h5")
    with pytest.raises(SkelgenError, match="--overwrite"):
        write(tmp_path / "a.h5")
    write(tmp_path / "a.h5", overwrite=True)


@pytest.mark.parametrize("damage", ["missing", "not-hdf5", "truncated", "schema", "no-version", "no-label", "labels"])
def test_validation_on_open(tmp_path, damage):
    path = tmp_path / "a.h5"
    if damage != "missing":
        write(path)
    if damage == "not-hdf5":
        path.write_text("hello")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
    elif damage in ("schema", "no-version", "no-label", "labels"):
        with h5py.File(path, "a") as h:
            if damage == "schema":
                h.attrs["schema_version"] = 99
            elif damage == "no-version":
                del h.attrs["schema_version"]
            elif damage == "no-label":
                del h["label"]
            else:
                h["label"][0] = 7
    with pytest.raises(SkelgenError):
        SkeletonFile(path)


def test_large_file_chunked_per_sample(tmp_path):
    write(tmp_path / "a.h5")
    with h5py.File(tmp_path / "a.h5") as h:
        assert h["x"].chunks[0] == 1 and h["x"].compression is not None


def test_user_layout_file_and_joint_maps(tmp_path):
    (tmp_path / "arm.toml").write_text('name = "arm"\njoints = ["base", "mid", "l", "r"]\n'
                                       'parents = [-1, 0, 1, 1]\n[landmarks]\nspine_base = "base"\n'
                                       'spine_mid = "mid"\nshoulder_left = "l"\nshoulder_right = "r"\n')
    arm = get_layout(tmp_path / "arm.toml")
    assert arm.bones == [(1, 0), (2, 1), (3, 1)]
    (tmp_path / "bad.toml").write_text('name = "bad"\njoints = ["a", "b"]\nparents = [-1, 5]\n')
    with pytest.raises(SkelgenError, match="parent"):
        get_layout(tmp_path / "bad.toml")
    with pytest.raises(SkelgenError, match="unknown layout"):
        get_layout("ntu26")
    to_k = joint_map(NTU25, KINECT20)
    assert [NTU25.joints[i] for i in to_k][:4] == ["spine_base", "spine_mid", "spine_shoulder", "head"]
    back = joint_map(KINECT20, NTU25)
    assert len(back) == 25 and KINECT20.joints[back[NTU25.index("hand_tip_left")]] == "hand_left"


def test_torch_dataset_padded_and_prepared(tmp_path):
    import torch
    path = tmp_path / "d.h5"
    write(path)
    with SkeletonFile(path) as sf:
        split = sf.indices("train")
        first = sf.read([split[0]])[0]
        labels = sf.labels[split]
    padded = SkeletonDataset(path, "train")
    assert len(padded) == len(split)
    x, y = padded[0]
    assert x.dtype == torch.float32 and np.array_equal(x.numpy(), first) and y == labels[0]
    loader = torch.utils.data.DataLoader(SkeletonDataset(path, "train", frames=8), batch_size=2)
    xb, yb = next(iter(loader))
    assert xb.shape == (2,) + first.shape[:1] + (8,) + first.shape[2:] and list(yb) == list(labels[:2])
