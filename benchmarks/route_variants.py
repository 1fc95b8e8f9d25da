"""Generation routes beside the library's strategies, for generation_routes.py: each is the
library strategy it generates with plus a patch of the library it runs under.

Route "orth:NOVELTY" is shift with its noise kept out of the directions that separate the class
means (a variant under test). Route "resid:NOVELTY" is shift with real within-class residuals
(a random training sequence's [CLS] minus its class mean, from any class) in place of the Gaussian
draw (an ablation of the library's ``borrow`` strategy, which rescales every residual to the
Gaussian draw's typical length). Route "prior:STRENGTH" moves the source's [CLS] with a learned
class-conditional flow-matching prior (class_prior.py, beside this script: noised to time
1 - STRENGTH, carried back along the flow; --guidance, --prior-steps) instead of a Gaussian
step, then decodes as shift does. Routes "shift-free:N" and "borrow-free:N" leave the bone
lengths as the decoder's change makes them, "shift-fk:N" and "borrow-fk:N" set them by forward
kinematics from the root (ablations: the library's moves keep the source's lengths by a
least-movement projection, skelgen.generate.keep_bone_lengths); "shift-rot:N" and
"borrow-rot:N" apply the decoder's change as a rotation of each source bone instead.
Routes "shift-raw:N" and "borrow-raw:N" leave novelty in [CLS] units, uncalibrated (the library
scales the move to the data's spacing first, skelgen.generate.calibrated_reach); "borrow-body:N"
also gives each output the bone lengths of a random training clip of any class (another
performer's body), scaled frame by frame from the source's; "borrow-pc:N" scales each class's
calibrated move by its own spacing over the pooled one; "borrow-tex:N" gives each output the
frame-to-frame jitter of another training clip of its class in place of its own.
Route "toward:NOVELTY" is shift with the move a random share of the way toward another
training sequence of the same class (the class's own variation, as the source plus the decoder's
change). Route "cover:NOVELTY" is borrow with its sources taken in turns (each training sequence
of the class once before any again) instead of at random; "spread:NOVELTY" is borrow with each
move scaled by its own log-normal factor (sigma 0.4). Route "direct:NOVELTY" is an ablation of
shift: the same moved [CLS], decoded on its own
(D(z_s + noise)) instead of as the source plus the decoder's change.

"""
from __future__ import annotations

import contextlib
from dataclasses import replace
import time
from unittest.mock import patch

import numpy as np
import torch

from skelgen.bench import methods as M

GUIDANCE, PRIOR_STEPS = 1.0, 3000  # --guidance, --prior-steps of generation_routes.py: the prior route's settings


def route_patch(generator: M.Generator, strategy: str, novelty_: float | None):
    """(the library strategy a route generates with, the patch of the library it runs under)."""
    if strategy == "orth":
        return "shift", orthogonal_noise(generator.bank)
    if strategy == "prior":
        return "shift", prior_moves(generator.bank, novelty_, GUIDANCE)
    if strategy == "resid":
        return "shift", residual_noise()
    if strategy == "toward":
        return "shift", toward_classmate()
    if strategy == "cover":
        return "borrow", covering_sources()
    if strategy == "spread":
        return "borrow", spread_novelty()
    base, _, how = strategy.rpartition("-")
    if how == "rot":
        return base, rotated_moves(generator.model)
    if how in ("free", "fk"):
        return base, bones_by(free_bones if how == "free" else forward_kinematics_bones)
    if how == "raw":
        return base, patch.object(generator, "calibrate", False)
    if how == "pc":
        return base, per_class_reach(generator)
    if how == "body":
        return base, bones_by(borrowed_body(generator.bank))
    if how == "tex":
        return base, bones_by(swapped_texture(generator.bank))
    return strategy, contextlib.nullcontext()


@contextlib.contextmanager
def orthogonal_noise(bank):
    """Within the block, the shift noise factor L becomes (I - P) L, P the projection onto the
    span of the class means' deviations from their mean (the between-class directions)."""
    means = np.stack([bank.embeddings[bank.labels == c].mean(0) for c in np.unique(bank.labels)])
    q, _ = np.linalg.qr((means - means.mean(0)).T)  # (D, K) orthonormal basis of that span
    factor = (np.eye(len(q)) - q @ q.T) @ bank.within_class()
    with patch.object(bank, "within_class", lambda: factor):
        yield


@contextlib.contextmanager
def residual_noise():
    """Within the block, shift moves a source's [CLS] by a real within-class residual (a random
    bank member's embedding minus its class mean, classes of 2+ members) times the novelty, at
    its own length (``borrow`` rescales it)."""
    import skelgen.generate as G
    original = G.condition

    def condition(bank, c, members, b, cfg, rng):
        if cfg.strategy != "shift":
            return original(bank, c, members, b, cfg, rng)
        residuals = bank.within_residuals()
        src, resid = rng.choice(members, b), residuals[rng.choice(len(residuals), b)]
        return bank.embeddings[src] + cfg.novelty * resid, [[s] for s in src], src

    with patch.object(G, "condition", condition):
        yield


@contextlib.contextmanager
def toward_classmate():
    """Within the block, shift moves a source's [CLS] a random fraction of the way toward another
    training sequence of its own class, times the novelty: z_s + novelty * u * (z_t - z_s),
    u ~ U(0, 1). The output is the source plus the decoder's change, so it keeps the source's
    detail and takes a share of the motion in which a classmate differs. A class with one
    sequence has no classmate and borrows (``borrow``'s move) instead."""
    import skelgen.generate as G
    original = G.condition

    def condition(bank, c, members, b, cfg, rng):
        if cfg.strategy != "shift":
            return original(bank, c, members, b, cfg, rng)
        if len(members) < 2:
            return original(bank, c, members, b, replace(cfg, strategy="borrow"), rng)
        src = rng.choice(members, b)
        mate = members[(np.searchsorted(members, src) + rng.integers(1, len(members), b)) % len(members)]  # != src
        move = rng.random((b, 1)) * (bank.embeddings[mate] - bank.embeddings[src])
        return bank.embeddings[src] + cfg.novelty * move, [[s, t] for s, t in zip(src, mate)], src

    with patch.object(G, "condition", condition):
        yield


@contextlib.contextmanager
def covering_sources():
    """Within the block, borrow takes its sources in turns (each training sequence of the class
    once, in a random order, before any is taken again) instead of at random with replacement, so
    that no rare-class sequence is the source of many more outputs than another."""
    import skelgen.generate as G
    original = G.condition

    def condition(bank, c, members, b, cfg, rng):
        cls, sources, src = original(bank, c, members, b, cfg, rng)
        turns = np.concatenate([rng.permutation(members) for _ in range(-(-b // len(members)))])[:b]
        cls = cls - bank.embeddings[src] + bank.embeddings[turns]  # the same moves, from the new sources
        return cls, [[s] for s in turns], turns

    with patch.object(G, "condition", condition):
        yield


@contextlib.contextmanager
def spread_novelty(sigma: float = 0.4):
    """Within the block, each borrowed move is scaled by its own factor exp(N(0, sigma^2)), so that
    outputs lie at a spread of distances around the calibrated one instead of near one distance."""
    import skelgen.generate as G
    original = G.condition

    def condition(bank, c, members, b, cfg, rng):
        cls, sources, src = original(bank, c, members, b, cfg, rng)
        factor = np.exp(sigma * rng.standard_normal((b, 1)))
        return bank.embeddings[src] + factor * (cls - bank.embeddings[src]), sources, src

    with patch.object(G, "condition", condition):
        yield


@contextlib.contextmanager
def prior_moves(bank, strength: float, guidance: float):
    """Within the block, shift's move becomes the learned prior's: the source's [CLS] noised to
    time 1 - strength and carried back along the class-conditioned flow (class_prior.py)."""
    import skelgen.generate as G
    from class_prior import ClassPrior  # beside this script
    if "prior" not in bank._fitted:
        t0 = time.perf_counter()
        bank._fitted["prior"] = ClassPrior(bank.embeddings, bank.labels, int(bank.labels.max()) + 1,
                                           steps=PRIOR_STEPS)
        print(f"prior fitted in {time.perf_counter() - t0:.1f} s", flush=True)
    prior = bank._fitted["prior"]

    def condition(bank_, c, members, b, cfg, rng):
        src = rng.choice(members, b)
        z = prior.move(bank_.embeddings[src], np.full(b, c), strength, rng, guidance)
        return z, [[s] for s in src], src

    with patch.object(G, "condition", condition):
        yield


def bones_by(fix):
    """Within the block, shift and borrow set their bone lengths with ``fix(x, source, layout)`` in
    place of the library's ``keep_bone_lengths``."""
    import skelgen.generate as G
    return patch.object(G, "keep_bone_lengths", fix)


@contextlib.contextmanager
def rotated_moves(model):
    """Within the block, shift and borrow apply the decoder's change as rotations: each source
    bone turns by the rotation that takes the bone of D(z_s) to that of D(z_s + move), placed
    from the root (moved by the decoder's root change) outward; lengths stay the source's."""
    decoded, original_decode = [], model.decode

    def decode(*args, **kwargs):  # synthesize decodes the moved [CLS], then the source's
        out = original_decode(*args, **kwargs)
        decoded.append(out.float().numpy())
        return out

    def fix(x, source, layout):
        moved, base = (d.reshape(x.shape) for d in decoded[-2:])
        return rotate_bones(source, base, moved, layout)

    with patch.object(model, "decode", decode), bones_by(fix):
        yield


def parents_first(parents) -> list[int]:
    """Every joint index once, each after its parent."""
    order = []
    while len(order) < len(parents):
        order += [j for j, p in enumerate(parents) if j not in order and (p < 0 or p in order)]
    return order


def rotate_bones(source, base, moved, layout):
    """source (..., V, C) with each bone turned as the bone of ``base`` turns into that of ``moved``."""
    def unit(v):
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)

    out = source.copy()
    for j in parents_first(layout.parents):
        p = layout.parents[j]
        if p < 0:  # a root moves by the decoder's change of it
            out[..., j, :] = source[..., j, :] + moved[..., j, :] - base[..., j, :]
            continue
        a, b = unit(base[..., j, :] - base[..., p, :]), unit(moved[..., j, :] - moved[..., p, :])
        v, c = np.cross(a, b), (a * b).sum(-1, keepdims=True)
        d = source[..., j, :] - source[..., p, :]
        # Rodrigues for the rotation taking a to b, applied to d
        turned = d * c + np.cross(v, d) + v * (v * d).sum(-1, keepdims=True) / np.maximum(1 + c, 1e-9)
        out[..., j, :] = out[..., p, :] + turned
    absent = ~np.abs(source).any(axis=(-2, -1), keepdims=True)
    return np.where(absent, 0.0, out).astype(source.dtype)


@contextlib.contextmanager
def per_class_reach(generator):
    """Within the block, each class's calibrated move is scaled by its own leave-one-out spacing
    over the pooled one (classes with one sequence keep the pooled scale)."""
    import skelgen.generate as G
    bank, shape = generator.bank, generator.run.input_shape
    pooled = G.neighbour_spacing(bank, shape)
    ratio = {c: float(np.median(gaps)) / pooled for c, gaps in G.neighbour_gaps(bank, shape).items()}
    print("per-class spacing / pooled:", {c: round(r, 2) for c, r in ratio.items()}, flush=True)
    original = G.condition

    def condition(bank_, c, members, b, cfg, rng):
        return original(bank_, c, members, b, replace(cfg, novelty=cfg.novelty * ratio.get(int(c), 1.0)), rng)

    with patch.object(G, "condition", condition):
        yield


def mean_bones(x: np.ndarray, layout) -> np.ndarray:
    """(n, B) each sequence's mean length of every bone of ``layout`` over x (n, ..., V, C),
    frames and persons where it is present."""
    x = x.reshape(len(x), -1, x.shape[-2], x.shape[-1])
    present = np.abs(x).any(axis=(-2, -1))  # (n, frames)
    lengths = np.stack([np.linalg.norm(x[..., c, :] - x[..., p, :], axis=-1) for c, p in layout.bones], -1)
    return (lengths * present[..., None]).sum(1) / np.maximum(present.sum(1, keepdims=True), 1)


def borrowed_body(bank, seed: int = 0):
    """A bones fix: each generated sequence keeps its source's bones frame by frame, each bone
    scaled by the ratio of a random training clip's (any class: another performer) mean length
    to the source's, so a rare class also borrows the bodies of the common classes' performers."""
    from skelgen.generate import keep_bone_lengths
    rng, donors = np.random.default_rng(seed), {}

    def fix(x, source, layout):
        if "bones" not in donors:
            donors["bones"] = mean_bones(bank.inputs.reshape((len(bank.inputs),) + x.shape[1:]), layout)
        donor = donors["bones"][rng.choice(len(donors["bones"]), len(x))]  # (b, B)
        ratio = donor / np.maximum(mean_bones(source, layout), 1e-6)
        # scale each bone of the source about its parent, root outward, so its lengths become the targets
        scaled = source.astype(np.float64).copy()
        for j in parents_first(layout.parents):
            p = layout.parents[j]
            if p >= 0:
                k = layout.bones.index((j, p))
                r = ratio[:, k].reshape((-1,) + (1,) * (source.ndim - 2))
                scaled[..., j, :] = scaled[..., p, :] + r * (source[..., j, :] - source[..., p, :])
        absent = ~np.abs(source).any(axis=(-2, -1), keepdims=True)
        return keep_bone_lengths(x, np.where(absent, 0.0, scaled).astype(source.dtype), layout)

    return fix


def swapped_texture(bank, frames: int = 5, seed: int = 0):
    """A bones fix: the library's, then each output's frame-to-frame jitter (itself minus its
    ``frames``-frame moving average over time) replaced by that of a random training clip of the
    source's class: the recognizer knows some classes by their jitter (BENCHMARKS.md 8o), and
    this pairs a class's motions with its other clips' jitter."""
    from skelgen.generate import keep_bone_lengths
    from class_recognition import smooth  # beside this script
    rng = np.random.default_rng(seed)

    def jitter(a):  # (b, T, ...) minus its moving average over T
        return a - smooth(a, frames)

    def fix(x, source, layout):
        x = keep_bone_lengths(x, source, layout)
        inputs = bank.inputs.reshape((len(bank.inputs),) + x.shape[1:])
        flat = inputs.reshape(len(inputs), -1)
        cls = bank.labels[[int(np.argmin(np.abs(flat - s.reshape(1, -1)).sum(1))) for s in source]]
        donor = np.array([rng.choice(np.flatnonzero(bank.labels == c)) for c in cls])
        return (x - jitter(x) + jitter(inputs[donor])).astype(x.dtype)

    return fix


def free_bones(x, source, layout):
    """The bone lengths as the decoder's change makes them (moves before they kept the source's)."""
    return x


def forward_kinematics_bones(x, source, layout):
    """Each bone at its source length along x's own bone direction, placed from the root outward:
    every direction error is carried down the chain (the first version measured, BENCHMARKS.md 8i)."""
    fixed = x.copy()
    for j in parents_first(layout.parents):
        p = layout.parents[j]
        if p >= 0:
            bone = x[..., j, :] - x[..., p, :]
            length = np.linalg.norm(source[..., j, :] - source[..., p, :], axis=-1, keepdims=True)
            fixed[..., j, :] = fixed[..., p, :] + length * bone / np.maximum(
                np.linalg.norm(bone, axis=-1, keepdims=True), 1e-6)
    return fixed


def direct(generator: M.Generator, c: int, n: int, seed: int) -> np.ndarray:
    """The shift route's moved [CLS] decoded on its own, from an all-zero decoder input."""
    from skelgen.generate import GenerationConfig, condition
    bank, model = generator.bank, generator.model
    cfg = GenerationConfig(strategy="shift", novelty=generator.novelty)
    cls, _, _ = condition(bank, c, bank.members(c), n, cfg, np.random.default_rng(seed))
    t, f = bank.inputs.shape[1:]
    with torch.no_grad():
        out = model.decode(torch.as_tensor(cls, dtype=torch.float32), torch.zeros(n, t, f)).numpy()
    return out.reshape((n, t) + generator.x.shape[2:])
