"""Input streams (model.streams): joints, bones and motion side by side, shapes and values exact."""
import pytest
import torch

from skelgen.checkpoint import load_checkpoint, load_model
from skelgen.errors import SkelgenError
from skelgen.generate import GenerationConfig
from skelgen.io.dataset import SkeletonFile
from skelgen.layouts import Layout
from skelgen.model import ModelConfig, TAHAR, input_streams
from skelgen.recipe import load_recipe
from skelgen.synth import synth
from skelgen.train import pretrain
from conftest import tiny_recipe

# a 3-joint chain: 0 (root) <- 1 <- 2 (landmarks are preprocessing's, unused here)
CHAIN = Layout("chain", ("hip", "knee", "foot"), (-1, 0, 1),
               {"spine_base": "hip", "spine_mid": "hip", "shoulder_left": "knee", "shoulder_right": "foot"})


def test_feature_parents_point_at_the_same_person_and_coordinate_of_the_parent_joint():
    p = CHAIN.feature_parents(persons=2, channels=3)
    assert len(p) == 2 * 3 * 3
    assert p[:9] == [0, 1, 2, 0, 1, 2, 3, 4, 5]       # person 0: the root is its own parent
    assert p[9:] == [9, 10, 11, 9, 10, 11, 12, 13, 14]  # person 1 never points into person 0


def test_each_stream_has_the_joints_shape_and_its_exact_values():
    x = torch.arange(2 * 4 * 9, dtype=torch.float32).view(2, 4, 9) ** 1.5  # (B, T, F): one person, 3 joints, xyz
    parents = torch.tensor(CHAIN.feature_parents(1, 3))
    for streams, s in (("joints", 1), ("joints+bones", 2), ("joints+motion", 2), ("joints+bones+motion", 3)):
        assert input_streams(x, streams, parents).shape == (2, 4, 9 * s)
    jbm = input_streams(x, "joints+bones+motion", parents)
    joints, bones, motion = jbm[..., :9], jbm[..., 9:18], jbm[..., 18:]
    assert torch.equal(joints, x)
    assert torch.equal(bones[..., :3], torch.zeros(2, 4, 3))          # the root has no bone
    assert torch.equal(bones[..., 3:6], x[..., 3:6] - x[..., 0:3])    # knee - hip
    assert torch.equal(bones[..., 6:9], x[..., 6:9] - x[..., 3:6])    # foot - knee
    assert torch.equal(motion[:, :3], x[:, 1:] - x[:, :-1])
    assert torch.equal(motion[:, 3], torch.zeros(2, 9))               # nothing after the last frame


def test_motion_stops_at_each_sequences_last_frame_not_in_its_padding():
    x = torch.randn(2, 5, 6)
    motion = input_streams(x, "joints+motion", lengths=torch.tensor([5, 3]))[..., 6:]
    assert torch.equal(motion[0, :4], x[0, 1:] - x[0, :-1])
    assert torch.equal(motion[1, :2], x[1, 1:3] - x[1, :2])
    assert torch.equal(motion[1, 2:], torch.zeros(3, 6))


def test_a_model_with_streams_reads_them_and_still_rebuilds_joints():
    parents = CHAIN.feature_parents(2, 3)
    cfg = ModelConfig(in_dim=18, frames=6, dim=16, heads=2, enc_depth=1, dec_depth=1,
                      streams="joints+bones+motion", parents=parents)
    model = TAHAR(cfg)
    assert model.embed.in_features == 3 * 18
    x = torch.randn(3, 6, 2, 3, 3)
    assert model.encode(x.flatten(2)).shape == (3, 16)
    assert model.reconstruct(x, torch.zeros_like(x)).shape == x.shape
    assert "bone_parents" not in model.state_dict()  # the config holds it: older checkpoints load
    assert cfg.parameters() > ModelConfig(in_dim=18, frames=6, dim=16, heads=2, enc_depth=1, dec_depth=1).parameters()


def test_streams_are_refused_in_one_line_where_they_cannot_work():
    with pytest.raises(SkelgenError, match="model.streams must be one of"):
        ModelConfig(streams="joints+velocity")
    with pytest.raises(SkelgenError, match="takes one of"):
        load_recipe("demo", ["model.streams='bones'"])
    with pytest.raises(SkelgenError, match="needs model.arch = tahar"):
        ModelConfig(arch="mae", streams="joints+motion")
    with pytest.raises(SkelgenError, match="needs a parent for each"):
        TAHAR(ModelConfig(in_dim=9, frames=4, dim=8, heads=2, streams="joints+bones"))


def test_pretraining_with_streams_sets_parents_from_the_layout_and_generation_works(tmp_path, demo_file):
    out = pretrain(tiny_recipe(epochs=1, **{"model.streams": "joints+bones+motion"}), str(demo_file),
                   tmp_path / "run", show_progress=False)
    model, run = load_model(out)
    cfg = run.model
    t, m, v, c = run.input_shape
    assert cfg.streams == "joints+bones+motion"
    assert cfg.parents == run.layout.feature_parents(m, c)
    x = torch.randn(2, t, m * v * c)
    assert model.encode(x).shape == (2, cfg.dim)
    for strategy in ("borrow", "shift"):  # the routes read and decode [CLS] through the streams
        synth(out, demo_file, "A024", 3, tmp_path / f"{strategy}.h5", GenerationConfig(strategy=strategy), seed=0,
              show_progress=False)
        with SkeletonFile(tmp_path / f"{strategy}.h5") as sf:
            assert len(sf) == 3 and sf.synthetic.all()
    joints_only = load_checkpoint(pretrain(tiny_recipe(epochs=1), str(demo_file), tmp_path / "plain",
                                           show_progress=False))
    assert joints_only.run.model.parents == []  # checkpoints without bones stay as they were
