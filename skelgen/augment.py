"""Random transforms on batches of normalized sequences, and the decoder's masking.

Everything takes a ``torch.Generator`` so that the same seed gives the same result, and works
on whole batches at once (B, T, M, V, C) so that augmentation costs little next to a model step.
"""
from __future__ import annotations

import math

import torch

from .errors import SkelgenError


def random_rotation(batch: int, max_angle: float, gen: torch.Generator) -> torch.Tensor:
    """(B, 3, 3) rotations with angles about x, y and z drawn from U(-max_angle, max_angle)."""
    a = (torch.rand(batch, 3, generator=gen) * 2 - 1) * max_angle
    c, s = torch.cos(a), torch.sin(a)
    one, zero = torch.ones(batch), torch.zeros(batch)
    rx = torch.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1).view(-1, 3, 3)
    ry = torch.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1).view(-1, 3, 3)
    rz = torch.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1).view(-1, 3, 3)
    return rz @ ry @ rx


def augment(x: torch.Tensor, gen: torch.Generator, *, rotate: float = 0.3, scale: float = 0.1,
            noise_prob: float = 0.1, noise_std: float = 0.05) -> torch.Tensor:
    """pyskl-style RandomRot + RandomScale, then sparse Gaussian noise.

    x: (B, T, M, V, 3). Each sample is rotated (angles up to ``rotate`` rad about each axis) and
    scaled per axis by U(1-scale, 1+scale); each joint position then receives N(0, noise_std^2)
    noise with probability ``noise_prob`` (our reading of the paper's "noise probability").
    Zero (missing or padded) joints stay zero.
    """
    b = x.shape[0]
    present = (x.abs().sum(-1, keepdim=True) > 0).to(x.dtype)
    r = random_rotation(b, rotate, gen).to(x)
    s = (1 + (torch.rand(b, 1, 3, generator=gen) * 2 - 1) * scale).to(x)
    y = torch.einsum("btmvc,bdc->btmvd", x, r * s.transpose(1, 2))
    if noise_prob > 0 and noise_std > 0:
        hit = (torch.rand(x.shape[:-1] + (1,), generator=gen) < noise_prob).to(x)
        y = y + hit * torch.randn(x.shape, generator=gen).to(x) * noise_std
    return y * present


def shear(x: torch.Tensor, gen: torch.Generator, amount: float) -> torch.Tensor:
    """SkeletonCLR's shear: x (B, T, M, V, 3), each sample's coordinates mixed by a matrix with
    ones on the diagonal and U(-amount, amount) elsewhere (each axis plus a share of the others)."""
    b = x.shape[0]
    off = (torch.rand(b, 3, 3, generator=gen) * 2 - 1) * amount
    h = (off * (1 - torch.eye(3)) + torch.eye(3)).to(x)
    return torch.einsum("btmvc,bdc->btmvd", x, h)


def mask_frames_joints(x: torch.Tensor, gen: torch.Generator, frame_rate: float = 0.8,
                       joint_rate: float = 0.8, lengths: torch.Tensor | None = None,
                       full_rate: float = 0.0, joint_mode: str = "one"):
    """Zero whole frames and whole joints; return ``(x_masked, mask)``.

    x: (B, T, M, V, C). Each valid frame is masked with probability ``frame_rate``. Joints, as
    the paper's two sentences can be read ("for joint masking, we choose to set one joint in all
    frames to zero"; "we choose joint and frame masking rates to 0.8"): ``joint_mode="one"``,
    with probability ``joint_rate`` a sample loses one random joint; ``"each"``, every joint of a
    sample is lost independently with probability ``joint_rate``. A lost joint is zeroed in
    every person and every frame.
    With probability ``full_rate`` a sample is masked entirely, so the decoder must rebuild it
    from [CLS] alone: exactly the situation of generation (an extension; the paper has 0).
    mask: (B, T, M, V) bool, True where the decoder input was zeroed (padding is never masked).
    """
    b, t, m, v, _ = x.shape
    frame = torch.rand(b, t, generator=gen) < frame_rate  # (B, T)
    if full_rate > 0:
        frame |= (torch.rand(b, 1, generator=gen) < full_rate)
    if joint_mode not in ("one", "each"):
        raise SkelgenError(f"joint mask mode must be 'one' or 'each', not {joint_mode!r}")
    if joint_mode == "each":
        joint = torch.rand(b, v, generator=gen) < joint_rate  # (B, V)
    else:
        which = torch.randint(0, v, (b,), generator=gen)
        has_joint = torch.rand(b, generator=gen) < joint_rate
        joint = torch.zeros(b, v, dtype=torch.bool)
        joint[torch.arange(b), which] = has_joint  # (B, V)
    mask = frame[:, :, None, None] | joint[:, None, None, :]
    mask = mask.expand(b, t, m, v)
    if lengths is not None:
        mask = mask & (torch.arange(t)[None, :] < lengths[:, None])[:, :, None, None]
    mask = mask.to(x.device)
    return x.masked_fill(mask[..., None], 0.0), mask


def decoder_input(x: torch.Tensor, gen: torch.Generator, aug, lengths: torch.Tensor | None = None):
    """The decoder's training input, built in this one place from a recipe's [augment] table
    ``aug`` (recipe.AugmentConfig): x (B, T, M, V, C) augmented (rotation, scale, sparse noise),
    then masked. Returns ``(x_dec, mask)`` as ``mask_frames_joints`` does."""
    x_dec = augment(x, gen, rotate=aug.rotate, scale=aug.scale, noise_prob=aug.noise_prob, noise_std=aug.noise_std)
    return mask_frames_joints(x_dec, gen, aug.frame_mask, aug.joint_mask, lengths, aug.full_mask, aug.joint_mask_mode)


def encoder_view(x: torch.Tensor, gen: torch.Generator, aug) -> torch.Tensor:
    """What the encoder sees with ``aug.encoder`` (recipe.AugmentConfig): x (B, T, M, V, C) rotated
    and scaled (no noise), sheared where ``aug.shear > 0``, then, where ``aug.crop < 1``, a random
    temporal crop resampled to T."""
    x = augment(x, gen, rotate=aug.rotate, scale=aug.scale, noise_prob=0.0)
    if aug.shear > 0:  # drawn only when asked, so that other recipes' random numbers stay the same
        x = shear(x, gen, aug.shear)
    return temporal_crop(x, gen, aug.crop) if aug.crop < 1 else x


def temporal_crop(x: torch.Tensor, gen: torch.Generator, min_ratio: float = 0.8) -> torch.Tensor:
    """Random crop of U(min_ratio, 1) of the frames, resampled back to T: (B, T, ...) -> same."""
    b, t = x.shape[:2]
    ratio = min_ratio + (1 - min_ratio) * torch.rand(b, generator=gen)
    start = torch.rand(b, generator=gen) * (1 - ratio) * (t - 1)
    pos = start[:, None] + torch.linspace(0, 1, t)[None, :] * ratio[:, None] * (t - 1)  # (B, T)
    lo = pos.floor().long().clamp(0, t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    w = (pos - lo).view(b, t, *([1] * (x.dim() - 2))).to(x)
    idx = torch.arange(b)[:, None]
    return x[idx, lo] * (1 - w) + x[idx, hi] * w


def classic_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The cheap alternative to synthetic data: rotation, scale, noise and temporal crop."""
    return temporal_crop(augment(x, gen, rotate=math.pi / 12, scale=0.1, noise_prob=1.0, noise_std=0.01), gen)
