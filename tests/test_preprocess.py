"""Normalization invariants (both layouts) and resampling; augmentation and masking."""
import numpy as np
import pytest
import torch

from skelgen.augment import augment, mask_frames_joints
from skelgen.layouts import KINECT20, NTU25
from skelgen.preprocess import normalize, resample


def random_body(layout, t=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(1, t, layout.num_joints, 3)).astype(np.float32) + [0.5, 0.2, 3.0]
    return x


@pytest.mark.parametrize("layout", [NTU25, KINECT20])
def test_normalized_body_is_centred_upright_and_square(layout):
    x = random_body(layout)
    x = np.concatenate([np.zeros_like(x[:, :2]), x], 1)  # two empty frames are dropped
    y = normalize(x, x.shape[1], layout)
    assert y.shape[1] == x.shape[1] - 2
    first = y[0, 0]
    np.testing.assert_allclose(first[layout.landmark("spine_mid")], 0, atol=1e-5)
    spine = first[layout.landmark("spine_mid")] - first[layout.landmark("spine_base")]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-5)
    shoulders = first[layout.landmark("shoulder_right")] - first[layout.landmark("shoulder_left")]
    assert shoulders[0] > 0 and abs(shoulders[1]) < 1e-5
    # a rigid motion of the input does not change the result
    a = 0.7
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]], np.float32)
    body = x[:, 2:]
    np.testing.assert_allclose(normalize(body @ rot.T + 1.0, body.shape[1], layout), y, atol=1e-4)


def test_missing_joints_stay_zero():
    x = random_body(NTU25)
    x[0, :, 24] = 0
    assert not normalize(x, x.shape[1], NTU25)[0, :, 24].any()


def test_resample_endpoints_and_length():
    x = np.arange(5, dtype=np.float32).reshape(1, 5, 1, 1) * np.ones((1, 5, 2, 3), np.float32)
    y = resample(x, 9)
    assert y.shape == (1, 9, 2, 3)
    np.testing.assert_allclose(y[0, :, 0, 0], np.linspace(0, 4, 9))


def test_augment_is_seeded_and_keeps_zeros():
    x = torch.randn(4, 10, 1, 25, 3)
    x[:, :, :, 3] = 0
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, augment(x, torch.Generator().manual_seed(2)))
    assert not a[:, :, :, 3].any()


def test_masking_rates_and_shape():
    x = torch.ones(64, 40, 1, 25, 3)
    xm, mask = mask_frames_joints(x, torch.Generator().manual_seed(0), 0.8, 0.8)
    assert xm.shape == x.shape and mask.shape == (64, 40, 1, 25)
    assert torch.equal(xm == 0, mask[..., None].expand_as(x))
    frame_rate = mask.all(-1).all(-1).float().mean()
    assert 0.75 < frame_rate < 0.85
    lengths = torch.full((64,), 20)
    _, mask = mask_frames_joints(x, torch.Generator().manual_seed(0), 1.0, 0.0, lengths)
    assert not mask[:, 20:].any() and mask[:, :20].all()
