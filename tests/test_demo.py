"""The built-in procedural demo dataset: deterministic, well-shaped, upright and learnable."""
import numpy as np
import pytest

from skelgen.demo import DEMO_CLASSES, make_demo, write_demo
from skelgen.errors import SkelgenError
from skelgen.io.dataset import SkeletonFile
from skelgen.layouts import NTU25
from skelgen.preprocess import normalize, prepare


@pytest.fixture(scope="module")
def demo():
    return make_demo(n_per_class=20, frames=64, seed=3)


def test_same_seed_same_arrays_other_seed_differs(demo):
    again = make_demo(n_per_class=20, frames=64, seed=3)
    for key in demo:
        np.testing.assert_array_equal(demo[key], again[key])
    other = make_demo(n_per_class=20, frames=64, seed=4)
    assert not np.array_equal(demo["x"], other["x"])


def test_shapes_lengths_and_classes(demo):
    k = len(DEMO_CLASSES)
    x, length, label = demo["x"], demo["length"], demo["label"]
    assert x.shape == (k * 20, 1, 64, 25, 3) and x.dtype == np.float32
    assert length.min() >= 32 and length.max() <= 64 and len(np.unique(length)) > 5
    assert np.bincount(label).tolist() == [20] * k
    assert len(set(demo["id"])) == len(x)
    for i in range(len(x)):  # real frames hold a body, padding is exactly zero
        assert np.abs(x[i, :, : length[i]]).sum(axis=(0, 2, 3)).min() > 0
        assert not x[i, :, length[i]:].any()
    codes = [c for c, _ in DEMO_CLASSES]
    assert len(set(codes)) == k == 8 and {"A008", "A010", "A024", "A027", "A038"} <= set(codes)


def test_camera_space_in_metres(demo):
    first = demo["x"][:, 0, 0]  # (N, V, 3), frame 0 of every sample
    assert 2.0 < np.median(first[..., 2]) < 4.0  # a few metres in front of the sensor
    feet = [NTU25.index("foot_left"), NTU25.index("foot_right")]
    height = first[:, NTU25.index("head"), 1] - first[:, feet, 1].min(1)
    seated = demo["label"] == [c for c, _ in DEMO_CLASSES].index("A009")  # standing up starts seated
    assert 1.3 < height[~seated].min() and height[~seated].max() < 2.0
    assert 0.9 < height[seated].min() and height[seated].max() < 1.6


def test_splits_are_stratified_and_disjoint(demo):
    train, test, label = demo["train"], demo["test"], demo["label"]
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(label)
    assert np.bincount(label[test]).tolist() == [5] * len(DEMO_CLASSES)
    assert np.bincount(label[train]).tolist() == [15] * len(DEMO_CLASSES)


def test_imbalance_thins_train_exponentially_and_keeps_test_balanced(demo):
    d = make_demo(n_per_class=20, frames=64, seed=3, imbalance=10)
    k = len(DEMO_CLASSES)
    train_counts = np.bincount(d["label"][d["train"]], minlength=k)
    expected = np.round(15 * 10.0 ** (-np.arange(k) / (k - 1)))
    np.testing.assert_array_equal(train_counts, expected)
    assert train_counts[0] == 15 and train_counts[-1] == 2  # 15 / 10 rounded
    assert np.bincount(d["label"][d["test"]]).tolist() == [5] * k
    # The test samples do not depend on the imbalance: the same evaluation set either way.
    np.testing.assert_array_equal(d["x"][d["test"]], demo["x"][demo["test"]])
    with pytest.raises(SkelgenError):
        make_demo(n_per_class=20, imbalance=0.5)


def test_written_file_opens_with_splits(tmp_path):
    path = write_demo(tmp_path / "demo.h5", n_per_class=8, frames=48, seed=1)
    with SkeletonFile(path) as sf:
        assert sf.layout.name == "ntu25" and sf.frame == "raw" and sf.units == "m"
        assert sf.shape == (64, 1, 48, 25, 3)
        assert sf.classes.codes == tuple(c for c, _ in DEMO_CLASSES)
        assert sorted(sf.splits) == ["test", "train"]
        assert len(sf.indices("test")) == 16 and len(sf.indices("train")) == 48
        d = make_demo(n_per_class=8, frames=48, seed=1)
        np.testing.assert_array_equal(sf.read(), d["x"])
        assert not sf.synthetic.any() and sf.provenance(0)["source"] == "skelgen-demo"
    with pytest.raises(SkelgenError):  # no silent overwrite
        write_demo(path, n_per_class=8, frames=48)
    write_demo(path, n_per_class=8, frames=48, overwrite=True)


def test_normalized_skeleton_is_upright_and_faces_forward(demo):
    head, base = NTU25.index("head"), NTU25.index("spine_base")
    toes = [NTU25.index("foot_left"), NTU25.index("foot_right")]
    heels = [NTU25.index("ankle_left"), NTU25.index("ankle_right")]
    for i in range(0, len(demo["x"]), 7):
        x = normalize(demo["x"][i], int(demo["length"][i]), NTU25)[0, 0]  # first frame
        assert x[head, 2] > x[base, 2] + 0.4  # +z along the spine: head well above the hips
        # a right-handed camera frame puts the face (and the toes) on +y after normalization
        assert (x[toes, 1] > x[heels, 1]).all()


def test_classes_are_learnable():
    d = make_demo(n_per_class=40, frames=64, seed=0)
    feats = np.stack([prepare(d["x"][i], int(d["length"][i]), NTU25, 32).ravel()
                      for i in range(len(d["x"]))])  # normalized, 32 frames, flattened
    y, train, test = d["label"], d["train"], d["test"]
    dist = ((feats[test, None] - feats[None, train]) ** 2).sum(-1)
    accuracy = (y[train][dist.argmin(1)] == y[test]).mean()  # 1-nearest neighbour
    assert accuracy > 0.6  # chance is 1/8
