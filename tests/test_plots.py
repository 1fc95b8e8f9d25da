"""skelgen.plots: every figure is a valid image of the expected size, bones follow the layout,
data/layout mismatches are clear errors, and files appear atomically."""
import numpy as np
import pytest
from PIL import Image

from skelgen.plots import charts, skeletons, style
from skelgen.errors import SkelgenError
from skelgen.layouts import KINECT20, NTU25, Layout

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 3 joints, 2 bones: pelvis <- chest <- hand_left (the landmarks may share joints)
TINY = Layout("tiny", ("pelvis", "chest", "hand_left"), (-1, 0, 1),
              {"spine_base": "pelvis", "spine_mid": "chest", "shoulder_left": "hand_left",
               "shoulder_right": "hand_left"})


def walking(layout, t=6, persons=1, seed=0):
    """A fake normalized sequence (M, T, V, 3): joints spread vertically, drifting in time."""
    rng = np.random.default_rng(seed)
    v = layout.num_joints
    base = np.stack([rng.uniform(-0.3, 0.3, v), rng.uniform(-0.1, 0.1, v), np.linspace(-1, 0.6, v)], -1)
    x = base[None, None] + np.linspace(0, 0.5, t)[None, :, None, None] * np.array([1.0, 0.2, 0.0])
    x = np.repeat(x, persons, 0) + np.arange(persons)[:, None, None, None] * np.array([0.8, 0, 0])
    return x.astype(np.float32)


def png_size(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def px(inches):
    return round(inches * style.DPI)


def no_leftovers(folder, *expected):
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


# -- bones follow the layout ------------------------------------------------------------------
def test_bone_segments_follow_the_layout():
    pose = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 1]], float)
    segs = skeletons.bone_segments(pose, TINY)
    assert [len(segs[s]) for s in ("left", "right", "centre")] == [1, 0, 1]
    np.testing.assert_array_equal(segs["centre"][0], pose[[1, 0]])  # chest -> pelvis
    np.testing.assert_array_equal(segs["left"][0], pose[[2, 1]])    # hand_left -> chest
    pose[2] = np.nan  # a missing joint draws none of its bones
    assert sum(map(len, skeletons.bone_segments(pose, TINY).values())) == 1


@pytest.mark.parametrize("layout", [NTU25, KINECT20], ids=lambda l: l.name)
def test_builtin_layouts_draw_every_bone_with_sides(layout):
    segs = skeletons.bone_segments(walking(layout)[0, 0], layout)
    assert sum(map(len, segs.values())) == len(layout.bones) == layout.num_joints - 1
    assert len(segs["left"]) == len(segs["right"]) > 0


def test_panel_draws_one_segment_per_bone_and_person():
    x = skeletons._as_sequence(walking(TINY, t=3, persons=2), TINY)
    x[1, 2, 0] = np.nan  # second person's pelvis missing in the last frame
    centres, span = skeletons._box([x])
    fig = style.new_figure(2, 2)
    panel = skeletons._Panel(fig.add_subplot(projection="3d"), x, TINY, centres[0], span)
    assert len(panel.show(0)) == 2 * len(TINY.bones)
    assert len(panel.show(2)) == 2 * len(TINY.bones) - 1
    assert len(panel.show(99)) == 3  # beyond the end: the last frame is held
    fig.canvas.draw()  # what is actually rendered: the projected segments of the collections
    assert sum(len(c.get_segments()) for person in panel.lines for c in person.values()) == 3


def test_zero_joints_are_missing_and_camera_space_is_y_up():
    x = walking(KINECT20, t=2)
    x[0, 1, 3] = 0
    plotted = skeletons._as_sequence(x, KINECT20, normalized=False)
    assert np.isnan(plotted[0, 1, 3]).all() and np.isfinite(plotted[0, 0]).all()
    np.testing.assert_allclose(plotted[0, 0, :, 2], x[0, 0, :, 1])   # camera y is up
    np.testing.assert_allclose(plotted[0, 0, :, 1], -x[0, 0, :, 2])  # depth, right-handed
    np.testing.assert_allclose(skeletons._as_sequence(x, KINECT20)[0, 0], x[0, 0])


# -- errors -----------------------------------------------------------------------------------
def test_data_layout_mismatch_is_a_clear_error(tmp_path):
    with pytest.raises(SkelgenError, match="data has 19 joints but layout 'kinect20' has 20"):
        skeletons.skeleton_montage([walking(KINECT20)[:, :, :19]], KINECT20, ["x"], tmp_path / "m.png")
    with pytest.raises(SkelgenError, match="data has 25 joints but layout 'kinect20' has 20"):
        skeletons.skeleton_gif([walking(NTU25)], KINECT20, ["x"], tmp_path / "m.gif")
    with pytest.raises(SkelgenError, match="expected"):
        skeletons.skeleton_montage([np.zeros((1, 4, 20, 2))], KINECT20, ["x"], tmp_path / "m.png")
    with pytest.raises(SkelgenError, match="titles"):
        skeletons.skeleton_montage([walking(KINECT20)], KINECT20, ["a", "b"], tmp_path / "m.png")
    with pytest.raises(SkelgenError, match="does not exist"):
        skeletons.skeleton_montage([walking(KINECT20)], KINECT20, ["x"], tmp_path / "nowhere" / "m.png")
    no_leftovers(tmp_path)


def test_bad_parent_index_is_a_clear_error():
    broken = object.__new__(Layout)  # bypass Layout's own validation, as a hand-built object could
    for name, value in [("name", "broken"), ("joints", ("a", "b")), ("parents", (-1, 5)), ("landmarks", {})]:
        object.__setattr__(broken, name, value)
    with pytest.raises(SkelgenError, match="joint 'b' has parent 5"):
        skeletons.check_layout_drawable(broken)
    skeletons.check_layout_drawable(KINECT20, 20)


# -- skeleton figures -------------------------------------------------------------------------
@pytest.mark.parametrize("layout", [NTU25, KINECT20], ids=lambda l: l.name)
def test_montage_size_and_atomic_write(tmp_path, layout):
    out = tmp_path / "montage.png"
    out.write_bytes(b"old")  # replaced
    seqs = [walking(layout, t=7), walking(layout, t=4, persons=2, seed=1)]
    path = skeletons.skeleton_montage(seqs, layout, ["A001 one · real", "A002 two · synthetic"], out,
                                      frames_across=3, synthetic=[False, True])
    assert path == out
    assert png_size(out) == (px(3 * skeletons.PANEL[0]), px(2 * (skeletons.PANEL[1] + skeletons.TITLE_H)))
    no_leftovers(tmp_path, "montage.png")


def test_montage_of_camera_space_data(tmp_path):
    x = walking(KINECT20)[..., [0, 2, 1]] + np.array([0, 1.0, 3.0], np.float32)  # y up, 3 m away
    out = skeletons.skeleton_montage([x], KINECT20, ["raw"], tmp_path / "raw.png", frames_across=2,
                                     normalized=False)
    assert png_size(out) == (px(2 * skeletons.PANEL[0]), px(skeletons.PANEL[1] + skeletons.TITLE_H))


def test_compare_montage_pairs_real_and_synthetic(tmp_path):
    out = skeletons.compare_montage([walking(TINY)], [walking(TINY, seed=1), walking(TINY, seed=2)], TINY,
                                    tmp_path / "cmp.png", frames_across=2)
    assert png_size(out) == (px(2 * 2 * skeletons.PANEL[0]), px(2 * (skeletons.PANEL[1] + skeletons.TITLE_H)))


def test_reconstruction_figure_greys_masked_frames(tmp_path):
    x = walking(KINECT20, t=2)
    masked = x.copy()
    masked[:, 0] = 0
    out = skeletons.reconstruction_figure(x, masked, x + 0.01, KINECT20, tmp_path / "rec.png",
                                          title="A001", frames_across=2)
    w, h = png_size(out)
    assert (w, h) == (px(2 * skeletons.PANEL[0]), px(3 * (skeletons.PANEL[1] + skeletons.TITLE_H)))
    with Image.open(out) as im:
        row = px(skeletons.PANEL[1] + skeletons.TITLE_H)
        masked_centre = im.convert("RGB").getpixel((w // 4, row + row // 2 + 30))
        plain_centre = im.convert("RGB").getpixel((w // 4, row // 2 + 30))
    grey = int(skeletons.FACE["masked"][1:3], 16)
    assert masked_centre == (grey, grey, grey) and plain_centre != masked_centre


def test_gif_frame_count_is_the_longest_sequence(tmp_path):
    seqs = [walking(KINECT20, t=5), walking(KINECT20, t=2, persons=2, seed=3)]
    out = skeletons.skeleton_gif(seqs, KINECT20, ["long", "short"], tmp_path / "a.gif", fps=10,
                                 synthetic=[False, True])
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 5
        assert im.size == (px(2 * skeletons.GIF_PANEL[0]), px(skeletons.GIF_PANEL[1] + skeletons.TITLE_H))
    no_leftovers(tmp_path, "a.gif")


# -- result figures ---------------------------------------------------------------------------
def test_training_curve(tmp_path):
    rows = [{"epoch": e, "loss": 1.0 / (e + 1), "lr": 1e-3 * (e + 1) / 5, "samples_per_s": 900.0}
            for e in range(5)]
    assert png_size(charts.training_curve(rows[::-1], tmp_path / "curve.png")) == (640, 360)
    with pytest.raises(SkelgenError, match="no rows"):
        charts.training_curve([], tmp_path / "empty.png")


def test_tsne_plot(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    emb = rng.normal(size=(30, 8)) + labels[:, None] * 3
    assert png_size(charts.tsne_plot(emb, labels, ["a", "b", "c"], tmp_path / "t.png")) == (750, 500)
    with pytest.raises(SkelgenError, match="class names"):
        charts.tsne_plot(emb, labels, ["a", "b"], tmp_path / "t.png")


def test_confusion_plot(tmp_path):
    cm = np.array([[5, 1, 0, 0], [0, 6, 0, 1], [2, 0, 3, 0], [0, 0, 0, 0]])
    side = 3.0 + 0.35 * 4
    out = charts.confusion_plot(cm, ["a", "b", "c", "d"], tmp_path / "cm.png")
    assert png_size(out) == (px(side + 1), px(side))
    with pytest.raises(SkelgenError, match="shape"):
        charts.confusion_plot(cm, ["a", "b"], tmp_path / "cm.png")


def test_bar_and_per_class_charts(tmp_path):
    table = {"1-shot": {"baseline": (40.0, 2.0), "+ skelgen": (51.0, 1.0)},
             "full": {"baseline": (85.0, 0.3), "+ flip": (85.5, 0.4), "+ skelgen": (86.0, 0.2)}}
    assert png_size(charts.bar_chart(table, tmp_path / "bars.png", "top-1 (%)", "few-shot")) == (500, 360)
    gains = {"+ flip": [1.0, -2.0, 0.5], "+ skelgen": [4.0, 2.0, -0.5]}
    assert png_size(charts.per_class_chart(gains, ["a", "b", "c"], tmp_path / "gain.png")) == (600, 400)
    with pytest.raises(SkelgenError, match="2 values for 3 classes"):
        charts.per_class_chart({"m": [1.0, 2.0]}, ["a", "b", "c"], tmp_path / "gain.png")
    shares = {"real": [80.0, 90.0, float("nan")]}  # NaN: a gap, not a bar at 0
    assert png_size(charts.per_class_chart(shares, ["a", "b", "c"], tmp_path / "share.png", "recognized (%)")) \
        == (600, 400)


def test_method_colours_are_stable_across_figures():
    a = charts.method_colors(["baseline", "+ flip", "+ skelgen"])
    b = charts.method_colors(["+ skelgen", "+ flip"])
    assert a["baseline"] == style.BASELINE_COLOR and a["+ skelgen"] == b["+ skelgen"]
    assert charts.method_colors(["real", "borrow"])["real"] == style.BASELINE_COLOR  # quality's reference row
    assert len(set(charts.method_colors([f"m{i}" for i in range(8)]).values())) == 8
