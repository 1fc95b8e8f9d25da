"""TAHAR: the cross-attention transformer autoencoder of the seed paper (sections 3.2-3.5).

Frames are tokens (each frame's joints of all persons flattened, F = M*V*C). One linear embedding
is shared by encoder and decoder. The encoder prepends a learnable [CLS] token; the decoder
rebuilds the sequence from a masked, noised copy and sees the encoder only through the [CLS]
output, by cross-attention.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import SkelgenError, check_range


@dataclass
class ModelConfig:
    in_dim: int = 75          # F = M*V*C features per frame
    frames: int = 64          # T, the longest sequence (positional embeddings)
    dim: int = 512            # D
    enc_depth: int = 2        # N
    dec_depth: int = 2        # M
    heads: int = 8
    mlp_ratio: int = 4
    dropout: float = 0.0
    arch: str = "tahar"       # tahar | mae (the paper's MAE-style baseline, Table 3)
    projector: int = 0        # width of a projector after [CLS] (D -> P -> P), trained by
                              # train.vicreg's view agreement and used by nothing else; 0: none
    streams: str = "joints"   # what the model reads of each frame: the joints, and beside them, as
                              # the field's strongest models do, bone vectors (joint minus parent)
                              # and motion (next frame minus this one); it always rebuilds joints
    parents: list[int] = field(default_factory=list)  # each joint feature's parent feature, for the
                              # bones; set from the data's layout as in_dim and frames are

    MAX_PARAMETERS = 10**10   # 40 GB of weights: beyond any machine this runs on, so a typo
    STREAMS = ("joints", "joints+bones", "joints+motion", "joints+bones+motion")

    def __post_init__(self):
        for key in ("in_dim", "frames", "dim", "enc_depth", "dec_depth", "heads", "mlp_ratio", "projector"):
            check_range(f"model.{key}", getattr(self, key), 0 if key == "projector" else 1)
            if not isinstance(getattr(self, key), int):
                raise SkelgenError(f"model.{key} must be a whole number, not {getattr(self, key)!r}")
        check_range("model.dropout", self.dropout, 0, 1, high_open=True)
        if self.dim % self.heads:
            fits = ", ".join(str(h) for h in range(1, 17) if self.dim % h == 0)
            raise SkelgenError(f"model.heads ({self.heads}) must divide model.dim ({self.dim}); "
                               f"choose heads {fits} or another dim")
        if self.arch not in ("tahar", "mae"):
            raise SkelgenError(f"model.arch must be tahar or mae, not {self.arch!r}")
        if self.streams not in self.STREAMS:
            raise SkelgenError(f"model.streams must be one of {', '.join(self.STREAMS)}, not {self.streams!r}")
        if not (isinstance(self.parents, list) and all(type(p) is int for p in self.parents)):
            raise SkelgenError(f"model.parents must be a list of feature indices, not {self.parents!r}")
        if self.streams != "joints" and self.arch != "tahar":
            raise SkelgenError("model.streams other than joints needs model.arch = tahar")
        if self.parameters() > self.MAX_PARAMETERS:
            raise SkelgenError(f"a model of dim {self.dim}, depth {self.enc_depth}+{self.dec_depth}, frames "
                               f"{self.frames} would have about {self.parameters():.1e} parameters; "
                               f"choose a smaller model")

    @property
    def embed_in(self) -> int:
        """What the embedding reads of a frame: F features for each of the streams."""
        return self.in_dim * len(self.streams.split("+"))

    def parameters(self) -> int:
        """About how many weights the model has (blocks, embeddings), before building it."""
        block = (4 + 2 * self.mlp_ratio) * self.dim ** 2
        embeddings = (self.embed_in + self.in_dim + self.frames + 2) * self.dim  # embed, head, positions
        return ((2 * self.enc_depth + 3 * self.dec_depth) * block + embeddings
                + (self.dim + self.projector) * self.projector)


def input_streams(x: torch.Tensor, streams: str, parents: torch.Tensor | None = None,
                  lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Joints (B, T, F) -> (B, T, S * F), the S streams ``streams`` names side by side: the joints;
    bones, each feature minus its ``parents`` feature (F indices, Layout.feature_parents); motion,
    the next frame minus this one, zero at each sequence's last frame (``lengths``, B)."""
    parts = [x]
    if "bones" in streams:
        parts.append(x - x[..., parents])
    if "motion" in streams:
        motion = F.pad(x[:, 1:] - x[:, :-1], (0, 0, 0, 1))
        if lengths is not None:  # nothing moves from a sequence's last frame into its padding
            motion = motion * (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None] - 1)[..., None]
        parts.append(motion)
    return torch.cat(parts, -1) if len(parts) > 1 else x


def key_padding(lengths: torch.Tensor | None, t: int, extra: int = 0) -> torch.Tensor | None:
    """Attention mask (B, 1, 1, extra+T), True where a key may be attended (``extra`` leading
    always-valid tokens such as [CLS]); None when nothing is padded."""
    if lengths is None:
        return None
    valid = torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]
    valid = torch.cat([valid.new_ones(len(lengths), extra), valid], 1)
    return valid[:, None, None, :]


def attention(q, k, v, mask=None, dropout: float = 0.0):
    """Scaled dot-product attention, q (B, H, Tq, d), k and v (B, H, T, d) -> (B, H, Tq, d).

    In fp32 when bf16 tensors that need gradients reach it on a CPU: there torch's bf16 attention
    backward ran 3.6-5.5x slower than its fp32 one at these shapes (T <= 65 tokens, head size
    32-64), which made bf16 training slower than fp32 at the generator's size; its bf16 forward
    is as fast or 1.7x faster, so inference stays bf16 (BENCHMARKS.md 9g). The matrix products around it
    stay in bf16.
    """
    if q.dtype == torch.bfloat16 and q.device.type == "cpu" and q.requires_grad and torch.is_grad_enabled():
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask,
                                                  dropout_p=dropout).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads, self.dropout = cfg.heads, cfg.dropout
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x, mask=None, queries: int | None = None):
        """x (B, T, D) -> (B, T, D); with ``queries=k`` only the first k tokens' outputs (B, k, D),
        their keys and values still from all T tokens (the query rows of the others are skipped)."""
        b, t, d = x.shape
        heads = lambda z: z.view(b, z.shape[1], -1, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if queries is None:
            q, k, v = heads(self.qkv(x))  # each (B, H, T, d)
        else:
            w, bias = self.qkv.weight, self.qkv.bias
            (q,), (k, v) = heads(F.linear(x[:, :queries], w[:d], bias[:d])), heads(F.linear(x, w[d:], bias[d:]))
        y = attention(q, k, v, mask, self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, q.shape[2], d))


class CLSCrossAttention(nn.Module):
    """Cross-attention whose only key/value is the encoder's [CLS] output.

    With a single key, softmax(q k^T) is exactly 1 for every query and head, so the output is the
    value projection of [CLS], projected out and broadcast over time: standard multi-head
    cross-attention computed without its query and key products, which cannot change the result
    (tests/test_model.py checks the equivalence against nn.MultiheadAttention).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.value = nn.Linear(cfg.dim, cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x, cls):  # x: (B, T, D), cls: (B, D)
        return self.proj(self.value(cls))[:, None, :].expand_as(x)


class MLP(nn.Sequential):
    def __init__(self, cfg: ModelConfig):
        super().__init__(nn.Linear(cfg.dim, cfg.mlp_ratio * cfg.dim), nn.GELU(),
                         nn.Linear(cfg.mlp_ratio * cfg.dim, cfg.dim), nn.Dropout(cfg.dropout))


class EncoderBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.dim), SelfAttention(cfg)
        self.ln2, self.mlp = nn.LayerNorm(cfg.dim), MLP(cfg)

    def forward(self, x, mask=None, queries: int | None = None):
        """x (B, T, D) -> (B, T, D), or only the first ``queries`` tokens (B, queries, D)."""
        h = self.ln1(x)
        x = (x if queries is None else x[:, :queries]) + self.attn(h, mask, queries)
        return x + self.mlp(self.ln2(x))


class DecoderBlock(EncoderBlock):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.ln_cross, self.cross = nn.LayerNorm(cfg.dim), CLSCrossAttention(cfg)

    def forward(self, x, cls, mask=None):
        x = x + self.attn(self.ln1(x), mask)
        x = x + self.cross(x, self.ln_cross(cls))
        return x + self.mlp(self.ln2(x))


class Autoencoder(nn.Module):
    """What both architectures (TAHAR, mae.MAEBaseline) offer their callers, so that none
    branches on ``cfg.arch``: ``reconstruct(x, x_dec, mask, lengths)`` -> (B, T, M, V, C) from the
    clean x and the decoder input x_dec (B, T, M, V, C), mask (B, T, M, V) True = masked or None,
    and its training loss. ``sees_target``: whether the model reads the clean x (TAHAR's encoder
    does; the MAE sees only x_dec's unmasked frames)."""
    sees_target = True

    def forward(self, x, x_dec, mask=None, lengths=None):
        return self.reconstruct(x, x_dec, mask, lengths)

    def forward_loss(self, x, x_dec, mask, lengths=None):
        """Training loss: smooth L1 at masked positions (all positions when mask is None)."""
        recon = self.reconstruct(x, x_dec, mask, lengths)
        return reconstruction_loss(recon.float(), x.float(), mask, lengths)


class TAHAR(Autoencoder):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        if "bones" in cfg.streams and (len(cfg.parents) != cfg.in_dim
                                       or not all(0 <= p < cfg.in_dim for p in cfg.parents)):
            raise SkelgenError(f"model.streams {cfg.streams} needs a parent for each of the {cfg.in_dim} "
                               f"features (model.parents, set from the data's layout by pretraining)")
        # not saved with the weights: the config holds it, and older checkpoints have none
        self.register_buffer("bone_parents", torch.tensor(cfg.parents, dtype=torch.long), persistent=False)
        self.embed = nn.Linear(cfg.embed_in, cfg.dim)  # shared by encoder and decoder
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.enc_pos = nn.Parameter(torch.zeros(1, cfg.frames + 1, cfg.dim))
        self.dec_pos = nn.Parameter(torch.zeros(1, cfg.frames, cfg.dim))
        self.encoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.enc_depth))
        self.enc_norm = nn.LayerNorm(cfg.dim)
        self.decoder = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.dec_depth))
        self.dec_norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.in_dim)
        if cfg.projector:
            self.projector = nn.Sequential(nn.Linear(cfg.dim, cfg.projector), nn.GELU(),
                                           nn.Linear(cfg.projector, cfg.projector))
        for p in (self.cls_token, self.enc_pos, self.dec_pos):
            nn.init.trunc_normal_(p, std=0.02)
        self.apply(init_linear)

    def forward_encoder(self, x, lengths=None, cls_only: bool = False):
        """x: (B, T, F) -> all encoder outputs (B, 1+T, D); index 0 is [CLS].

        ``cls_only``: only the [CLS] output (B, 1, D). The last block then computes attention,
        MLP and norm for the [CLS] query alone (the frame outputs it would also compute are never
        used), which removes about a fifth of the paper-size model's training FLOPs.
        """
        b, t, _ = x.shape
        tokens = self.embed(self.streams(x, lengths))
        h = torch.cat([self.cls_token.expand(b, -1, -1), tokens], 1) + self.enc_pos[:, : t + 1]
        mask = key_padding(lengths, t, extra=1)
        for i, block in enumerate(self.encoder):
            h = block(h, mask, 1 if cls_only and i == len(self.encoder) - 1 else None)
        return self.enc_norm(h)

    def streams(self, x, lengths=None):
        """Joints (B, T, F) -> what the embedding reads, (B, T, S * F) (``input_streams``)."""
        return input_streams(x, self.cfg.streams, self.bone_parents, lengths)

    def encode(self, x, lengths=None):
        """The sequence embedding: x (B, T, F) -> [CLS] (B, D)."""
        return self.forward_encoder(x, lengths, cls_only=True)[:, 0]

    def decode(self, cls, x_dec, lengths=None):
        """Rebuild a sequence from [CLS] (B, D) and a decoder input (B, T, F) -> (B, T, F)."""
        t = x_dec.shape[1]
        h = self.embed(self.streams(x_dec, lengths)) + self.dec_pos[:, :t]
        mask = key_padding(lengths, t)
        for block in self.decoder:
            h = block(h, cls, mask)
        return self.head(self.dec_norm(h))

    def reconstruct(self, x, x_dec, mask=None, lengths=None):
        """The decoder's rebuild of x from the [CLS] of the clean x and the decoder input x_dec,
        both (B, T, M, V, C) or flattened (B, T, F); the mask is not needed (x_dec holds it)."""
        return self.decode(self.encode(x.flatten(2), lengths), x_dec.flatten(2), lengths).view_as(x)

    def forward_loss(self, x, x_dec, mask, lengths=None, other_view=None, vicreg: float = 0.0):
        """The reconstruction loss, plus ``vicreg`` x ``vicreg_loss`` between the projected [CLS] of
        x and of ``other_view`` (another augmented view of the same sequences, (B, T, M, V, C))."""
        cls = self.encode(x.flatten(2), lengths)
        recon = self.decode(cls, x_dec.flatten(2), lengths).view_as(x)
        loss = reconstruction_loss(recon.float(), x.float(), mask, lengths)
        if other_view is None or not vicreg:
            return loss
        other = self.encode(other_view.flatten(2), lengths)
        return loss + vicreg * vicreg_loss(self.projector(cls).float(), self.projector(other).float())


def init_linear(m):
    """Xavier-uniform weights and zero biases for every nn.Linear (both architectures)."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def vicreg_loss(p1, p2) -> torch.Tensor:
    """VICReg (Bardes et al., 2022) between two views' projections p1, p2 (B, P): invariance (mean
    squared difference), variance (a hinge keeping each dimension's std at 1 or more, so the views
    cannot agree by collapsing) and covariance (off-diagonal covariances squared, per dimension),
    weighted 25, 25, 1 as in the paper and divided by 51 so that the term starts near 1. Zero for
    identical views whose dimensions each vary with std 1 or more and are uncorrelated."""
    invariance = F.mse_loss(p1, p2)
    variance = sum(F.relu(1 - torch.sqrt(p.var(0) + 1e-4)).mean() for p in (p1, p2))
    covariance = 0.0
    for p in (p1, p2):
        p = p - p.mean(0)
        cov = p.T @ p / (len(p) - 1)
        covariance = covariance + (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / p.shape[1]
    return (25 * invariance + 25 * variance + covariance) / 51


def reconstruction_loss(recon, target, mask=None, lengths=None):
    """Smooth L1 on masked (frame, person, joint) positions only, never on padding.

    recon, target: (B, T, M, V, C); mask: (B, T, M, V) bool, True = was masked (None: all count).
    """
    per_joint = F.smooth_l1_loss(recon, target, reduction="none").mean(-1)  # (B, T, M, V)
    weight = torch.ones_like(per_joint) if mask is None else mask.to(per_joint.dtype)
    if lengths is not None:
        t = recon.shape[1]
        weight = weight * (torch.arange(t, device=recon.device)[None, :] < lengths[:, None])[:, :, None, None]
    return (per_joint * weight).sum() / weight.sum().clamp(min=1)
