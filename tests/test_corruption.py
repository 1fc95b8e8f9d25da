"""The decoder's corruption, pinned: masked fractions and noise statistics on fixed seeds, both
readings of the paper's joint masking, and one builder of the decoder input for every caller."""
import pytest
import torch

from skelgen.augment import augment, decoder_input, mask_frames_joints
from skelgen.errors import SkelgenError
from skelgen.recipe import AugmentConfig, Recipe

B, T, M, V = 2000, 16, 1, 25


def ones():
    return torch.ones(B, T, M, V, 3)


def test_one_joint_a_sample_reading():
    _, mask = mask_frames_joints(ones(), torch.Generator().manual_seed(0), frame_rate=0.0, joint_rate=0.8)
    lost = mask.all(dim=(1, 2))  # (B, V): joints lost in every frame and person
    assert lost.sum(1).max() == 1  # never more than one joint a sample
    assert lost.any(1).float().mean().item() == pytest.approx(0.8, abs=0.03)


def test_each_joint_with_the_rate_reading():
    _, mask = mask_frames_joints(ones(), torch.Generator().manual_seed(0), frame_rate=0.0, joint_rate=0.8,
                                 joint_mode="each")
    lost = mask.all(dim=(1, 2))
    assert lost.float().mean().item() == pytest.approx(0.8, abs=0.01)
    assert (mask == lost[:, None, None, :]).all()  # a lost joint is lost in every frame


def test_frame_masking_rate_and_zeroing():
    x, mask = mask_frames_joints(ones(), torch.Generator().manual_seed(1), frame_rate=0.8, joint_rate=0.0)
    frames = mask.all(dim=(2, 3))  # (B, T)
    assert frames.float().mean().item() == pytest.approx(0.8, abs=0.01)
    assert (x[mask] == 0).all() and (x[~mask] == 1).all()
    with pytest.raises(SkelgenError, match="joint mask mode"):
        mask_frames_joints(ones(), torch.Generator(), joint_mode="some")


def test_noise_probability_and_std():
    y = augment(ones(), torch.Generator().manual_seed(2), rotate=0.0, scale=0.0, noise_prob=0.1, noise_std=0.05)
    moved = (y - 1).abs().sum(-1) > 0  # (B, T, M, V)
    assert moved.float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert (y - 1)[moved].std().item() == pytest.approx(0.05, rel=0.03)


def test_training_and_reconstruct_build_the_same_decoder_input():
    from skelgen.reconstruct import decoder_input as for_figure
    x = torch.randn(4, T, M, V, 3)
    aug = AugmentConfig(joint_mask_mode="each")
    a, mask_a = decoder_input(x, torch.Generator().manual_seed(5), aug)
    b, mask_b = for_figure(x, aug, seed=5)
    assert torch.equal(a, b) and torch.equal(mask_a, mask_b)


def test_the_mode_is_a_checked_recipe_key():
    r = Recipe()
    r.set("augment.joint_mask_mode", "each")
    assert r.augment.joint_mask_mode == "each"
    with pytest.raises(SkelgenError, match="one of one, each"):
        r.set("augment.joint_mask_mode", "some")


def test_encoder_view_is_the_old_encoder_augmentation_unless_cropped():
    from skelgen.augment import encoder_view, temporal_crop
    x = torch.randn(4, T, M, V, 3)
    aug = AugmentConfig(encoder=True)
    assert torch.equal(encoder_view(x, torch.Generator().manual_seed(1), aug),
                       augment(x, torch.Generator().manual_seed(1), rotate=0.3, scale=0.1, noise_prob=0.0))
    g = torch.Generator().manual_seed(1)
    cropped = temporal_crop(augment(x, g, rotate=0.3, scale=0.1, noise_prob=0.0), g, 0.5)
    assert torch.equal(encoder_view(x, torch.Generator().manual_seed(1), AugmentConfig(encoder=True, crop=0.5)), cropped)
    assert cropped.shape == x.shape


def test_shear_mixes_each_axis_with_the_others_within_its_amount():
    from skelgen.augment import encoder_view, shear
    x = torch.randn(64, T, M, V, 3)
    axis = torch.zeros(1, 1, 1, 1, 3)
    axis[..., 0] = 1.0  # a point on the x axis maps to (1, h_yx, h_zx): column 0 of the shear matrix
    y = shear(axis.expand(64, T, M, V, 3), torch.Generator().manual_seed(0), 0.5)
    assert torch.equal(y[..., 0], torch.ones_like(y[..., 0]))
    assert y[..., 1:].abs().max() <= 0.5 and y[..., 1:].abs().max() > 0.3
    assert torch.equal(shear(x, torch.Generator().manual_seed(0), 0.0), x)
    g = torch.Generator().manual_seed(1)
    sheared = shear(augment(x, g, rotate=0.3, scale=0.1, noise_prob=0.0), g, 0.5)
    assert torch.equal(encoder_view(x, torch.Generator().manual_seed(1), AugmentConfig(encoder=True, shear=0.5)), sheared)


def test_view_agreement_is_zero_for_identical_views_and_grows_with_their_difference():
    from skelgen.model import vicreg_loss
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 16, generator=g)
    q, _ = torch.linalg.qr(a - a.mean(0))  # centred, orthonormal columns
    p = q * (len(a) - 1) ** 0.5             # every dimension std 1, uncorrelated
    assert vicreg_loss(p, p).item() == pytest.approx(0.0, abs=1e-6)
    near, far = p + 0.1 * torch.randn(64, 16, generator=g), p + 1.0 * torch.randn(64, 16, generator=g)
    assert 0 < vicreg_loss(p, near) < vicreg_loss(p, far)
    collapsed = torch.zeros(64, 16)  # identical and constant: agreement by collapse is not free
    assert vicreg_loss(collapsed, collapsed).item() == pytest.approx(25 * 2 * (1 - 0.01) / 51, rel=1e-4)  # std 0: hinge 1 - sqrt(1e-4)


@pytest.mark.parametrize("sets, needs", [(["train.vicreg=0.1"], "model.projector > 0 and augment.encoder=true"),
                                         (["train.vicreg=0.1", "model.projector=32", "augment.encoder=true",
                                           "model.arch=mae"], "model.arch=tahar"),
                                         (["augment.crop=0.5"], "augment.encoder=true"),
                                         (["augment.shear=0.5"], "augment.encoder=true"),
                                         (["model.projector=32"], "trained only by train.vicreg")])
def test_view_agreement_and_crop_name_what_they_need(sets, needs):
    with pytest.raises(SkelgenError, match=needs.replace("+", r"\+")):
        Recipe.load("demo", sets)
