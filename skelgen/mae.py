"""The paper's MAE-style baseline (its section 5.2 and Table 3), with TAHAR's interface.

Frames are tokens, as in TAHAR. In training the encoder sees only the *visible* frames (a frame
is masked when the mask covers every person and joint of it, i.e. frame masking) plus a learnable
[CLS] token; joint-masked joints of visible frames are zeros, as the paper does ("we set the
masked joints to zeros"). The decoder gets the encoder outputs at the visible positions and a
learnable [mask] token at the masked ones, adds its own positional embeddings and runs
self-attention blocks only: there is no cross-attention to [CLS]. Width and depths are TAHAR's
(``cfg.dim``, ``cfg.enc_depth``, ``cfg.dec_depth``); the loss is TAHAR's smooth L1 on masked
positions (``reconstruction_loss``).

The visible frames come from ``x_dec``, the same augmented and masked copy the TAHAR decoder gets,
and the target is the clean ``x``: both models solve the same denoising task from the same
corrupted input; TAHAR also sees the clean sequence through [CLS], the MAE does not.

Samples of a batch keep different numbers of visible frames: their tokens are gathered to the
front (in time order) and the rest is hidden from attention by a key-padding mask, so every
sample's result equals its result alone (tests/test_mae.py checks it).

For evaluation ``encode`` sees all frames plus [CLS] and returns the [CLS] output, like TAHAR.
The MAE decoder cannot generate from a [CLS] embedding, so ``decode`` refuses.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .errors import SkelgenError
from .model import Autoencoder, EncoderBlock, ModelConfig, init_linear, key_padding


def visible_frames(mask: torch.Tensor | None, b: int, t: int, lengths: torch.Tensor | None = None,
                   device=None) -> torch.Tensor:
    """(B, T) bool, True where a frame reaches the MAE encoder: not frame-masked (the mask does
    not cover all of its persons and joints) and within the sample's length."""
    if mask is None:
        vis = torch.ones(b, t, dtype=torch.bool, device=device)
    else:
        vis = ~mask.reshape(b, t, -1).all(-1)
    if lengths is not None:
        vis = vis & (torch.arange(t, device=vis.device)[None, :] < lengths.to(vis.device)[:, None])
    return vis


class MAEBaseline(Autoencoder):
    sees_target = False  # x_dec's unmasked frames only

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.in_dim, cfg.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.enc_pos = nn.Parameter(torch.zeros(1, cfg.frames + 1, cfg.dim))
        self.dec_pos = nn.Parameter(torch.zeros(1, cfg.frames, cfg.dim))
        self.encoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.enc_depth))
        self.enc_norm = nn.LayerNorm(cfg.dim)
        self.dec_embed = nn.Linear(cfg.dim, cfg.dim)  # MAE's encoder -> decoder projection
        self.decoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.dec_depth))  # self-attention only
        self.dec_norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.in_dim)
        for p in (self.cls_token, self.mask_token, self.enc_pos, self.dec_pos):
            nn.init.trunc_normal_(p, std=0.02)
        self.apply(init_linear)

    # -- evaluation: the whole sequence ----------------------------------------------------------
    def forward_encoder(self, x, lengths=None):
        """x: (B, T, F) -> all encoder outputs (B, 1+T, D); index 0 is [CLS]."""
        b, t, _ = x.shape
        h = torch.cat([self.cls_token.expand(b, -1, -1), self.embed(x)], 1) + self.enc_pos[:, : t + 1]
        mask = key_padding(lengths, t, extra=1)
        for block in self.encoder:
            h = block(h, mask)
        return self.enc_norm(h)

    def encode(self, x, lengths=None):
        """The sequence embedding: x (B, T, F), every frame visible -> [CLS] (B, D)."""
        return self.forward_encoder(x, lengths)[:, 0]

    def decode(self, cls, x_dec, lengths=None):
        raise SkelgenError("the MAE baseline cannot generate from a [CLS] embedding (its decoder has no "
                           "cross-attention to [CLS]); use a checkpoint trained with model.arch = \"tahar\"")

    # -- training: visible frames only ------------------------------------------------------------
    def encode_visible(self, x_dec, visible):
        """Encoder on the visible frames only. x_dec: (B, T, F), visible: (B, T) bool.

        Returns (encoder outputs (B, 1+L, D) with [CLS] first, positions (B, L) of the gathered
        frames, their count per sample (B,)); L is the most visible frames of any sample, and
        slots beyond a sample's count are padding that no token attends to.
        """
        b, t, _ = x_dec.shape
        count = visible.sum(1)
        width = int(count.max()) if b else 0
        # visible frames first, each group in time order (a stable sort of 0 = visible, 1 = masked)
        order = torch.sort((~visible).to(torch.int8), dim=1, stable=True).indices[:, :width]  # (B, L)
        tokens = self.embed(x_dec) + self.enc_pos[:, 1: t + 1]
        tokens = torch.gather(tokens, 1, order[..., None].expand(-1, -1, tokens.shape[-1]))
        cls = (self.cls_token + self.enc_pos[:, :1]).expand(b, -1, -1).to(tokens.dtype)
        h = torch.cat([cls, tokens], 1)
        mask = key_padding(count, width, extra=1)
        for block in self.encoder:
            h = block(h, mask)
        return self.enc_norm(h), order, count

    def reconstruct(self, x, x_dec, mask=None, lengths=None):
        """x_dec: (B, T, M, V, C) masked copy; mask: (B, T, M, V) True = masked, or None (all
        frames visible) -> reconstruction (B, T, M, V, C). The clean x is never read (the
        MAE rebuilds from the visible frames alone); it is taken for the shared interface."""
        b, t = x_dec.shape[:2]
        visible = visible_frames(mask, b, t, lengths, x_dec.device)
        enc, order, _ = self.encode_visible(x_dec.flatten(2), visible)
        tokens = self.dec_embed(enc[:, 1:])  # (B, L, D)
        d = tokens.shape[-1]
        placed = tokens.new_zeros(b, t, d).scatter(1, order[..., None].expand(-1, -1, d), tokens)
        h = torch.where(visible[..., None], placed, self.mask_token.to(placed.dtype))
        h = h + self.dec_pos[:, :t].to(h.dtype)
        pad = key_padding(lengths, t)
        for block in self.decoder:
            h = block(h, pad)
        return self.head(self.dec_norm(h)).view_as(x_dec)
