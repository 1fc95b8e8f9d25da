"""Analytic FLOP counts of TAHAR and of the plain reference, for `skelgen speed`'s GFLOP/s.

Only matrix products are counted; they are nearly all the work (norms, GELU, softmax, bias adds
and the loss are left out, a few per cent at the paper's size):

    linear  n_in -> n_out on N tokens:          2 * N * n_in * n_out   (a multiply and an add per weight)
    attention, Tq queries over Tk keys, width D: 4 * Tq * Tk * D       (q k^T, then the weighted sum of v)
    training step:                              3 x the forward        (the backward computes, for each
                                                                        product, the gradients of both
                                                                        operands, each as costly as it)

The training figure slightly overcounts: the first embedding's input gradient is never computed.
Counts are per sample; multiply by the batch size. tests/test_speed.py checks the forward counts
against torch's own FLOP counter.
"""
from __future__ import annotations

from ..model import ModelConfig


def linear(tokens: int, n_in: int, n_out: int) -> int:
    return 2 * tokens * n_in * n_out


def attention(queries: int, keys: int, dim: int) -> int:
    return 4 * queries * keys * dim


def block(cfg: ModelConfig, tokens: int, queries: int | None = None) -> int:
    """One pre-norm self-attention + MLP block over ``tokens`` tokens, of which ``queries`` (all
    by default) produce outputs."""
    d, q = cfg.dim, tokens if queries is None else queries
    return (linear(q, d, d) + linear(tokens, d, 2 * d)  # query; key and value
            + attention(q, tokens, d) + linear(q, d, d)  # attention; output projection
            + linear(q, d, cfg.mlp_ratio * d) + linear(q, cfg.mlp_ratio * d, d))


def decoder_forward(cfg: ModelConfig, frames: int) -> int:
    """TAHAR's decoder on one sequence: embedding, blocks with [CLS]-only cross-attention (value and
    output projections of the one [CLS] vector), head."""
    cross = linear(1, cfg.dim, cfg.dim) * 2
    return (linear(frames, cfg.embed_in, cfg.dim) + cfg.dec_depth * (block(cfg, frames) + cross)
            + linear(frames, cfg.dim, cfg.in_dim))


def tahar_forward(cfg: ModelConfig, frames: int) -> int:
    """TAHAR's training forward on one sequence: the encoder's last block computes the [CLS]
    query only (``encode``), then the decoder."""
    enc = linear(frames, cfg.embed_in, cfg.dim) + (cfg.enc_depth - 1) * block(cfg, frames + 1) \
        + block(cfg, frames + 1, queries=1)
    return enc + decoder_forward(cfg, frames)


def reference_forward(cfg: ModelConfig, frames: int) -> int:
    """The plain reference (skelgen.speed.reference) on one sequence: every encoder block on every
    token, and full multi-head cross-attention over the one-token memory."""
    d = cfg.dim
    cross = linear(frames, d, d) + linear(1, d, 2 * d) + attention(frames, 1, d) + linear(frames, d, d)
    return (2 * linear(frames, cfg.in_dim, d) + cfg.enc_depth * block(cfg, frames + 1)
            + cfg.dec_depth * (block(cfg, frames) + cross) + linear(frames, d, cfg.in_dim))


def training_step(forward_flops: int, batch: int) -> int:
    """Forward + backward FLOPs of one training step."""
    return 3 * forward_flops * batch
