"""skelgen.show: montages and GIFs of chosen samples, real beside synthetic, clear errors."""
import numpy as np
import pytest
from PIL import Image

from skelgen.plots import skeletons, style
from skelgen.demo import write_demo
from skelgen.errors import SkelgenError
from skelgen.io.dataset import DatasetWriter, SkeletonFile
from skelgen.layouts import NTU25
from skelgen.show import select, show


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("show") / "demo.h5", n_per_class=4, frames=24)


@pytest.fixture(scope="module")
def synthetic(demo, tmp_path_factory):
    """A file of 'synthetic' samples of two demo classes (real data, flagged synthetic)."""
    path = tmp_path_factory.mktemp("synth") / "synth.h5"
    with SkeletonFile(demo) as sf:
        idx = np.flatnonzero(np.isin(sf.labels, [1, 4]))
        with DatasetWriter(path, sf.layout, sf.classes.codes, sf.classes.names, max_frames=24) as w:
            w.append(sf.read(idx), sf.lengths[idx], sf.labels[idx], [f"syn-{i}" for i in idx],
                     synthetic=np.ones(len(idx), bool))
    return path


def image(path, fmt):
    with Image.open(path) as im:
        assert im.format == fmt
        return im.size, getattr(im, "n_frames", 1)


def test_montage_by_index_and_id(demo, tmp_path):
    with SkeletonFile(demo) as sf:
        second = sf.ids[5]
    r = show(demo, tmp_path / "m.png", index=[0, 3], frames_across=3)
    assert r["indices"] == [0, 3] and r["gif"] is None
    size, _ = image(r["png"], "PNG")
    assert size == (round(3 * skeletons.PANEL[0] * style.DPI), round(2 * (skeletons.PANEL[1] + skeletons.TITLE_H) * style.DPI))
    r = show(demo, tmp_path / "id.png", sample_id=second, frames_across=2)
    assert r["indices"] == [5] and r["ids"] == [second]


def test_class_selection_is_seeded_and_writes_a_gif(demo, tmp_path):
    with SkeletonFile(demo) as sf:
        a = select(sf, class_key="A024", n=2, seed=1)
        assert a == select(sf, class_key="kicking something", n=2, seed=1)
        assert all(sf.labels[i] == sf.classes.resolve("A024") for i in a)
        assert len(select(sf, class_key="A024", n=100)) == 4  # all of the class
    r = show(demo, tmp_path / "c.png", class_key="A024", n=2, gif=tmp_path / "c.gif", seed=1, frames_across=2)
    assert r["indices"] == a
    image(r["png"], "PNG")
    _, frames = image(r["gif"], "GIF")
    assert frames > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.gif", "c.png"]  # no temporary leftovers


def test_compare_puts_synthetic_of_the_same_class_beside(demo, synthetic, tmp_path):
    r = show(demo, tmp_path / "cmp.png", class_key="A009", n=2, compare=synthetic, frames_across=2)
    assert len(r["compare_ids"]) == 2 and all(s.startswith("syn-") for s in r["compare_ids"])
    with SkeletonFile(synthetic) as other:
        assert {other.classes.codes[other.labels[j]] for j in r["compare_indices"]} == {"A009"}
        assert len(set(r["compare_indices"])) == 2  # distinct partners while the class has enough
    size, _ = image(r["png"], "PNG")
    assert size[0] == round(2 * 2 * skeletons.PANEL[0] * style.DPI)
    with pytest.raises(SkelgenError, match="no synthetic samples of class A008"):
        show(demo, tmp_path / "bad.png", class_key="A008", n=1, compare=synthetic)


@pytest.mark.parametrize("kwargs, message", [
    ({"index": [32]}, "out of range"),
    ({"index": -1}, "out of range"),
    ({"sample_id": "nope"}, "no sample with id 'nope'"),
    ({"class_key": "A999"}, "unknown class"),
    ({"index": 0, "class_key": "A024"}, "not both"),
    ({"n": 0}, "at least 1"),
])
def test_bad_selection_is_a_clear_error(demo, tmp_path, kwargs, message):
    with pytest.raises(SkelgenError, match=message):
        show(demo, tmp_path / "x.png", **kwargs)
    assert not list(tmp_path.iterdir())


def test_class_without_samples_and_bad_suffix(tmp_path):
    path = tmp_path / "one.h5"
    x = np.zeros((1, 1, 4, NTU25.num_joints, 3), np.float32)
    x[..., 2] = np.linspace(0, 1, NTU25.num_joints)
    with DatasetWriter(path, NTU25, ["A001", "A002"], ["one", "two"], max_frames=4, frame="normalized") as w:
        w.append(x, [4], [0], ["only"])
    with pytest.raises(SkelgenError, match="no samples of class A002 two"):
        show(path, tmp_path / "x.png", class_key="A002")
    with pytest.raises(SkelgenError, match=r"must end in \.png"):
        show(path, tmp_path / "x.jpg")
    assert show(path, tmp_path / "x.png", frames_across=1)["ids"] == ["only"]  # normalized data as is


def test_nearest_puts_generated_samples_beside_their_nearest_real_one(trained, demo_file, tmp_path):
    from skelgen.generate import GenerationConfig
    from skelgen.synth import synth
    syn = tmp_path / "syn.h5"
    synth(trained, demo_file, "A024", 3, syn, GenerationConfig(strategy="shift"), seed=0, show_progress=False)
    r = show(syn, tmp_path / "n.png", class_key="A024", n=3, nearest=demo_file)
    with SkeletonFile(syn) as sf:
        assert r["compare_ids"] == [sf.provenance(i)["nearest"] for i in r["indices"]]
    assert image(tmp_path / "n.png", "PNG")[0][1] > 0
    with pytest.raises(SkelgenError, match="names no nearest"):
        show(demo_file, tmp_path / "x.png", index=0, nearest=demo_file)  # real samples name none
    with pytest.raises(SkelgenError, match="not both"):
        show(syn, tmp_path / "y.png", index=0, nearest=demo_file, compare=syn)
