"""The speed baseline: the paper's model written plainly with torch.nn's stock transformer layers.

Same sizes and data flow as skelgen's TAHAR (shared frame embedding, a learnable [CLS] token,
learned positional embeddings, pre-norm blocks, GELU MLPs, a decoder that sees the encoder only
through the [CLS] output), but built from ``nn.TransformerEncoder`` / ``nn.TransformerDecoder``
without any of skelgen's shortcuts: every encoder block computes every token, and the decoder's
cross-attention runs full multi-head attention (query, key, value and output projections) over
its one-token memory. One small difference that costs no measurable time: torch's decoder layer
normalizes the cross-attention query, TAHAR normalizes the [CLS] memory. `skelgen speed` trains
both side by side.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..augment import augment, mask_frames_joints
from ..model import reconstruction_loss


class ReferenceTAHAR(nn.Module):
    def __init__(self, in_dim: int = 75, frames: int = 64, dim: int = 512, enc_depth: int = 2,
                 dec_depth: int = 2, heads: int = 8, mlp_ratio: int = 4):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.enc_pos = nn.Parameter(torch.zeros(1, frames + 1, dim))
        self.dec_pos = nn.Parameter(torch.zeros(1, frames, dim))
        layer = dict(d_model=dim, nhead=heads, dim_feedforward=mlp_ratio * dim, dropout=0.0,
                     activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), enc_depth,
                                             norm=nn.LayerNorm(dim), enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer), dec_depth,
                                             norm=nn.LayerNorm(dim))
        self.head = nn.Linear(dim, in_dim)
        for p in (self.cls_token, self.enc_pos, self.dec_pos):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(self, x, x_dec):
        """x: clean input, x_dec: masked and noised copy, both (B, T, F) -> reconstruction (B, T, F)."""
        b, t, _ = x.shape
        h = torch.cat([self.cls_token.expand(b, -1, -1), self.embed(x)], 1) + self.enc_pos[:, : t + 1]
        memory = self.encoder(h)[:, :1]  # (B, 1, D): the [CLS] output is the decoder's whole memory
        y = self.decoder(self.embed(x_dec) + self.dec_pos[:, :t], memory)
        return self.head(y)


def reference_loss(model: ReferenceTAHAR, x, gen, aug, bf16: bool = False):
    """One pretraining loss on a clean batch x (B, T, M, V, C), with the same augmentation,
    masking and masked smooth-L1 loss as skelgen's ``train_step``."""
    x_dec = augment(x, gen, rotate=aug.rotate, scale=aug.scale, noise_prob=aug.noise_prob, noise_std=aug.noise_std)
    x_dec, mask = mask_frames_joints(x_dec, gen, aug.frame_mask, aug.joint_mask, full_rate=aug.full_mask)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        recon = model(x.flatten(2), x_dec.flatten(2)).view_as(x)
    return reconstruction_loss(recon.float(), x, mask)
