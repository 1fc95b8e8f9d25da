"""Conditioned generation (the paper's section 3.4): the decoder, given a class's [CLS]
embedding and random noise as its input, produces a new sequence of that class.

Strategies for choosing the [CLS] embedding of a class c:
  shift        a random training sequence s of c, its [CLS] z_s moved by noise drawn from the
               within-class covariance pooled over every class (so a class with one or two
               sequences borrows the variation the common classes show), scaled by ``novelty``;
               the output is s plus the decoder's change, s + D(z_s + noise) - D(z_s): the
               motion moves as the decoder says a shift of [CLS] moves it, while the detail the
               decoder cannot rebuild from [CLS] (it smooths) stays that of a real sequence.
               ``novelty`` 0 returns s itself; larger values move further from it. By default
               (``calibrate``) the move is first scaled so that at novelty 1 the outputs lie as far
               from their nearest training sequence as training sequences lie from their nearest
               other one: the same knob means the same on any dataset and generator
               (``calibrated_reach``; BENCHMARKS.md 8j). The body stays
               s's too: every bone keeps, frame by frame, its length in s (``keep_bone_lengths``),
               since the decoder's change stretches limbs (BENCHMARKS.md 8i).
  borrow       (the default) shift with real variation in place of the Gaussian draw: z_s
               moves along the within-class residual of a random training sequence of any class
               with 2+ members (its [CLS] minus its class mean), rescaled to the Gaussian draw's
               typical length, times ``novelty``: a rare class borrows the ways common classes
               actually vary (performer, speed, amplitude), not only their second moments;
  sample       the embedding of a random training sequence of c (the paper's);
  interpolate  a random convex mix of two training sequences of c (SMOTE in [CLS] space);
  gaussian     a draw from a Gaussian fitted to c's embeddings (Ledoit-Wolf shrinkage),
               its covariance scaled by ``temperature``.
For a model trained as in the paper (``augment.full_mask = 0``) the decoder input is Gaussian
noise of std ``noise_scale`` with whole frames zeroed at the recipe's frame-mask rate, so it looks
like what the decoder saw in training. A model trained with fully masked inputs
(``full_mask > 0``, the demo recipe) decodes from an all-zero input, [CLS] alone, which measured
more recognizable (demo test: 72 % with noise frames vs >= 80 % without); its variety then comes
from the strategy's choice of [CLS]. With ``augment`` each output then gets classic augmentation
(rotation, scale, noise, temporal crop), as the benchmark's ``>classic`` rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .augment import classic_augment
from .errors import SkelgenError
from .generation_config import GenerationConfig
from .precision import in_precision, use_bf16
from .preprocess import resample, view_frame
from .stopping import check as check_stop

# The version of what generation makes, part of the benchmark's cache keys: bump it whenever the
# same checkpoint, settings and seed would give other sequences (3: moves keep the source's bones;
# 4: moves are calibrated to the data's spacing; 5: each frame leaves the bone projection when
# it has settled, which moves joints by under 0.02 mm against 4).
VERSION = 5
MOVES = ("shift", "borrow")  # strategies that move a real source's [CLS] and add the decoder's change


def shrunk_covariance(x: np.ndarray) -> np.ndarray:
    """The Ledoit-Wolf covariance (D, D) of rows x (n, D). sklearn is imported here, when first
    needed: it takes 1.5 s, and every command refuses bad input before it."""
    from sklearn.covariance import LedoitWolf
    return LedoitWolf().fit(x).covariance_


@dataclass
class ClassBank:
    """What generation conditions on: the real sequences of each class, embedded.

    embeddings (n, D), labels (n,), ids (n,), lengths (n,) original frame counts, for data in
    camera coordinates each sample's normalization (origin (n, 3), rotation (n, 3, 3)) so that
    generated sequences can be placed in a real sample's camera pose, and the model inputs
    (n, T, F) that the shift strategy starts from.
    """
    embeddings: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    lengths: np.ndarray
    origins: np.ndarray | None = None
    rotations: np.ndarray | None = None
    inputs: np.ndarray | None = None
    _fitted: dict = field(default_factory=dict, repr=False)

    def members(self, c: int) -> np.ndarray:
        idx = np.flatnonzero(self.labels == c)
        if len(idx) == 0:
            raise SkelgenError(f"class {c} has no real samples to condition on; it cannot be generated")
        return idx

    def gaussian(self, c: int):
        if c not in self._fitted:
            e = self.embeddings[self.members(c)]
            cov = shrunk_covariance(e) if len(e) > 1 else np.zeros((e.shape[1],) * 2)
            self._fitted[c] = (e.mean(0), np.linalg.cholesky(cov + 1e-6 * np.eye(len(cov))))
        return self._fitted[c]

    def within_residuals(self) -> np.ndarray:
        """(P, D) each embedding minus its class mean, for the members of classes with 2+ of them,
        in bank order; (0, D) if no class has two."""
        if "residuals" not in self._fitted:
            _, inverse, counts = np.unique(self.labels, return_inverse=True, return_counts=True)
            means = np.stack([self.embeddings[inverse == k].mean(0) for k in range(len(counts))])
            self._fitted["residuals"] = (self.embeddings - means[inverse])[counts[inverse] > 1]
        return self._fitted["residuals"]

    def within_class(self) -> np.ndarray:
        """Cholesky factor (D, D) of the within-class covariance of the embeddings, pooled over
        every class with 2+ members (Ledoit-Wolf shrinkage); zeros if no class has two."""
        if "within" not in self._fitted:
            r, d = self.within_residuals(), self.embeddings.shape[1]
            cov = shrunk_covariance(r) if len(r) else np.zeros((d, d))
            self._fitted["within"] = np.linalg.cholesky(cov + 1e-6 * np.eye(d)) if len(r) else cov
        return self._fitted["within"]

    def borrowed_moves(self) -> np.ndarray:
        """``within_residuals`` (P, D), each rescaled to the root-mean-square length of a draw from
        ``within_class`` (the square root of its covariance's trace): the moves of ``borrow``."""
        if "moves" not in self._fitted:
            r = self.within_residuals()
            length = np.sqrt((self.within_class() ** 2).sum())
            self._fitted["moves"] = r * length / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
        return self._fitted["moves"]


def make_bank(model, run, raw: list[np.ndarray], labels, ids, layout, normalized: bool) -> ClassBank:
    """A ClassBank from real samples ``raw`` (each (M, T_i, V, C), trimmed), embedded by ``model``
    of ``run`` (checkpoint.RunInfo)."""
    from .preprocess import prepare
    frames = run.data.frames
    x = np.stack([prepare(s, s.shape[1], layout, frames, normalized).swapaxes(0, 1) for s in raw])  # (n, T, M, V, C)
    origins = rotations = None
    if not normalized:
        frames_ = [view_frame(normalize_input(s), layout) for s in raw]
        origins = np.stack([o for o, _ in frames_])
        rotations = np.stack([r for _, r in frames_])
    return bank_from_inputs(model, x, labels, ids, np.array([s.shape[1] for s in raw]), origins, rotations)


def bank_from_inputs(model, x: np.ndarray, labels, ids, lengths=None, origins=None, rotations=None) -> ClassBank:
    """A ClassBank from in-memory model inputs ``x`` (n, T, M, V, C), already prepared
    (normalized, resampled to the checkpoint's frames). ``lengths`` default to T: generated
    sequences of length mode ``source`` then keep the model's frame count."""
    from .evaluate import embed
    x = np.ascontiguousarray(x, np.float32)
    lengths = np.full(len(x), x.shape[1]) if lengths is None else np.asarray(lengths)
    return ClassBank(embed(model, x), np.asarray(labels), np.asarray(ids), lengths, origins, rotations,
                     inputs=x.reshape(len(x), x.shape[1], -1))


def normalize_input(s: np.ndarray) -> np.ndarray:
    """The non-empty frames of a sample, as view_frame expects them."""
    from .preprocess import drop_empty_frames
    return drop_empty_frames(s, s.shape[1])


def synthesize(model, run, bank: ClassBank, c: int, n: int, cfg: GenerationConfig, seed: int,
               frame_mask: float | None = None):
    """Yield batches of generated sequences of class ``c``, ``n`` in all, by ``model`` of ``run``
    (checkpoint.RunInfo); ``frame_mask`` defaults to ``run.generation_frame_mask``.

    Each batch: (x list of (L_i, M, V, C) arrays, the model's axis order, in the bank's
    coordinate frame; provenance list).
    Deterministic for a given seed and batch size.
    """
    if n <= 0:
        raise SkelgenError(f"--n must be a positive number of sequences, not {n}")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    members = bank.members(c)
    frames, m, v, channels = run.input_shape
    if cfg.augment and channels != 3:
        raise SkelgenError(f"augmenting generated sequences rotates them in 3D, and this model's joints have "
                           f"{channels} coordinates; generate without --augment")
    f = run.model.in_dim
    cpu = torch.device("cpu")  # generation runs where checkpoints load (map_location="cpu")
    bf16 = use_bf16(cfg.precision, cpu, "--precision")
    decoder = in_precision(model, bf16)
    dtype = next(decoder.parameters()).dtype
    rate = run.generation_frame_mask if frame_mask is None else frame_mask
    reach = move_reach(model, run, bank, cfg, rate)
    moved = replace(cfg, novelty=cfg.novelty * reach, calibrate=False)  # the move condition() makes
    done = 0
    while done < n:
        check_stop()  # between batches: a swallowed Ctrl-C or SIGTERM still stops generation
        b = min(cfg.batch_size, n - done)
        cls, sources, poses = condition(bank, c, members, b, moved, rng)
        noise = torch.randn(b, frames, f, generator=gen) * cfg.noise_scale
        noise = noise * (torch.rand(b, frames, 1, generator=gen) >= rate)
        with torch.no_grad():
            out = decoder.decode(torch.as_tensor(cls, dtype=dtype), noise.to(dtype)).float()
            if cfg.strategy in MOVES:  # the source plus the decoder's change, same decoder input
                base = decoder.decode(torch.as_tensor(bank.embeddings[poses], dtype=dtype), noise.to(dtype)).float()
                out = torch.as_tensor(bank.inputs[poses]) + out - base
        out = out.view(b, frames, m, v, -1).numpy()  # (b, T, M, V, C)
        if cfg.strategy in MOVES:
            out = keep_bone_lengths(out, bank.inputs[poses].reshape(out.shape), run.data.layout)
        if cfg.augment:  # after the bones are set: classic augmentation's scale is part of its variety
            out = classic_augment(torch.from_numpy(out), gen).numpy()
        near, near_idx = nearest_member(bank, members, out)
        xs, prov = [], []
        for k in range(b):
            src = poses[k]
            length = {"model": frames, "source": int(bank.lengths[src]),
                      "class": int(bank.lengths[rng.choice(members)])}[cfg.length]
            seq = resample(out[k], max(length, 1), axis=0)
            if bank.origins is not None:  # place it in the camera pose of a real sample of the class
                seq = (seq @ bank.rotations[src]) + bank.origins[src]
            xs.append(seq.astype(np.float32))
            prov.append({"strategy": cfg.strategy, "seed": seed, "index": done + k,
                         "sources": [str(bank.ids[j]) for j in sources[k]], "pose_from": str(bank.ids[src]),
                         "noise_scale": cfg.noise_scale, "temperature": cfg.temperature,
                         "novelty": cfg.novelty, "calibrated": cfg.calibrate, "reach": reach, "length": cfg.length,
                         "augmented": cfg.augment, "precision": "bf16" if bf16 else "fp32",
                         "nearest": None if near is None else str(bank.ids[near_idx[k]]),
                         "nearest_distance": None if near is None else round(float(near[k]), 5)})
        done += b
        yield xs, prov


CALIBRATION_SEQUENCES = 256  # generated per trial of calibrated_reach, over classes at random (seed 0)
# The largest scale calibration may set: a generator whose [CLS] barely moves its output (an
# undertrained one) would be pushed far outside the embeddings it learned, where the decoder
# extrapolates (uncalibrated novelty 3 left 37 % recognized on NW-UCLA validation, BENCHMARKS.md
# 8i); capped, its sequences stay nearer their sources instead. Measured scales: 0.70-1.23.
MAX_REACH = 3.0


def neighbour_gaps(bank: ClassBank, shape: tuple) -> dict[int, np.ndarray]:
    """{class: (members,) each member's distance to its nearest other member} for the classes
    with 2+ members (normalized joint space, skelgen.novelty); {} when the bank holds no model
    inputs. shape: a sequence's (T, M, V, C)."""
    from .novelty import pairwise
    gaps = {}
    for c in np.unique(bank.labels) if bank.inputs is not None else []:
        rows = np.flatnonzero(bank.labels == c)
        if len(rows) > 1:
            x = bank.inputs[rows].reshape((len(rows),) + tuple(shape))
            d = pairwise(x, x)
            np.fill_diagonal(d, np.inf)
            gaps[int(c)] = d.min(1)
    return gaps


def neighbour_spacing(bank: ClassBank, shape: tuple) -> float | None:
    """Median distance from a real sequence to its nearest other real sequence of its class
    (leave-one-out, ``neighbour_gaps``) over every class with 2+ members; None when there is none."""
    gaps = neighbour_gaps(bank, shape)
    return float(np.median(np.concatenate(list(gaps.values())))) if gaps else None


def move_reach(model, run, bank: ClassBank, cfg: GenerationConfig, frame_mask: float | None = None) -> float:
    """The factor on ``cfg.novelty`` that generation uses: ``calibrated_reach`` for a calibrated
    move (shift, borrow), else 1. ``frame_mask`` defaults to ``run.generation_frame_mask``."""
    if not (cfg.calibrate and cfg.strategy in MOVES):
        return 1.0
    return calibrated_reach(model, run, bank, cfg, run.generation_frame_mask if frame_mask is None else frame_mask)


def calibrated_reach(model, run, bank: ClassBank, cfg: GenerationConfig, frame_mask: float) -> float:
    """The novelty at which ``cfg.strategy`` (shift or borrow) puts its sequences, median over
    CALIBRATION_SEQUENCES of them, as far from their nearest real sequence of the class as real
    sequences lie from their nearest other one (``neighbour_spacing``): a new sequence as new as a
    real new take, whatever the generator's [CLS] scale or the dataset's spread. A secant search
    on log distance against log novelty (near linear), the same draws every trial (seed 0), so
    the result depends on the bank and model only (not on ``cfg.batch_size``); cached in the bank.
    At most MAX_REACH; 1.0 where nothing calibrates (no class with two sequences)."""
    key = ("reach", cfg.strategy, cfg.noise_scale, frame_mask)
    if key in bank._fitted:
        return bank._fitted[key]
    model = in_precision(model, use_bf16(cfg.precision, torch.device("cpu"), "--precision"))  # once, not each trial
    target, reach = neighbour_spacing(bank, run.input_shape), 1.0
    if target:
        classes = np.unique(bank.labels)
        picks = np.random.default_rng(0).choice(classes, CALIBRATION_SEQUENCES)
        # the move alone, each class's picks in one batch: the caller's batch size would change the
        # draws (and so the scale), and small batches cost many decoder calls (2 a sequence at size 2)
        trial = replace(cfg, calibrate=False, augment=False, length="model", batch_size=CALIBRATION_SEQUENCES)

        def distance(novelty: float) -> float:
            t = replace(trial, novelty=novelty)
            return float(np.median([p["nearest_distance"] for c in classes if (picks == c).any()
                                    for _, prov in synthesize(model, run, bank, int(c), int((picks == c).sum()),
                                                              t, int(c), frame_mask) for p in prov]))

        points = []  # (scale, median distance) of each trial
        for _ in range(7):
            d = distance(reach)
            points.append((reach, d))
            if d <= 0 or abs(d / target - 1) < 0.01:
                break
            slope = 1.0  # d(log distance) / d(log scale): 1 until two trials measure it
            if len(points) > 1:
                (s0, d0), (s1, d1) = points[-2:]
                if d0 > 0 and s0 != s1:
                    slope = float(np.clip(np.log(d1 / d0) / np.log(s1 / s0), 0.2, 2.0))
            reach = float(np.clip(reach * (target / d) ** (1 / slope), 1e-3, MAX_REACH))
            if reach == points[-1][0]:  # held at the cap
                break
        reach = points[-1][0]
    bank._fitted[key] = reach
    return reach


def keep_bone_lengths(x: np.ndarray, source: np.ndarray, layout, tol: float = 1e-5,
                      max_sweeps: int = 100) -> np.ndarray:
    """x (..., V, C) moved as little as it takes for every bone (child, parent) of ``layout`` to
    have its length in ``source`` (same shape). Each sweep sets every bone in turn to its length by
    moving its two joints equally along it (position-based dynamics), until no bone is off by more
    than ``tol`` (metres) in it: each frame's result depends on that frame alone, never on the rest
    of the batch. Forward kinematics from the root would carry every direction error
    down the chain to the hands and feet; this spreads the correction instead. Where a person is
    absent from a frame of the source (all zeros), it is absent from the result too."""
    v, ch = x.shape[-2:]
    absent = ~np.abs(source).any(axis=(-2, -1), keepdims=True)
    fixed = np.where(absent, 0.0, x.astype(np.float64))  # zero where the source is: nothing to fix there
    # (V, frames, C): each joint's frames in one block, so a bone's two joints are contiguous slices
    joints = np.ascontiguousarray(np.moveaxis(fixed.reshape(-1, v, ch), 1, 0))
    src = np.moveaxis(source.reshape(-1, v, ch), 1, 0)
    bones = layout.bones
    target = np.stack([np.linalg.norm(src[c] - src[p], axis=-1, keepdims=True) for c, p in bones])  # (bones, frames, 1)
    # Frames settle at their own pace: a frame leaves the sweeps once none of its bones was off
    # by more than tol, so the many quick ones do not wait on the slowest (synth 1.4-1.7x faster
    # on a NW-UCLA generator; joints within 0.015 mm of sweeping every frame to the end: BENCHMARKS.md 9d).
    active = np.arange(joints.shape[1])
    for _ in range(max_sweeps):
        part, length = np.take(joints, active, axis=1), np.take(target, active, axis=1)  # contiguous copies
        off = np.empty_like(length)  # each bone's length error before its correction
        for k, (c, p) in enumerate(bones):
            bone = part[c] - part[p]
            now = np.linalg.norm(bone, axis=-1, keepdims=True)
            np.subtract(now, length[k], out=off[k])
            half = 0.5 * off[k] / np.maximum(now, 1e-9) * bone
            part[c] -= half
            part[p] += half
        joints[:, active] = part
        active = active[np.abs(off).max(axis=(0, 2)) > tol]
        if not len(active):
            break
    return np.moveaxis(joints, 0, 1).reshape(x.shape).astype(x.dtype)


def nearest_member(bank: ClassBank, members: np.ndarray, out: np.ndarray):
    """(distance (b,), bank index (b,)) of each generated sequence out (b, T, M, V, C) to its
    nearest real sequence of the class, in normalized joint space (metres RMS, skelgen.novelty);
    (None, None) when the bank holds no model inputs."""
    if bank.inputs is None:
        return None, None
    from .novelty import nearest
    real = bank.inputs[members].reshape((len(members),) + out.shape[1:])
    d, i = nearest(out, np.zeros(len(out)), real, np.zeros(len(members)))
    return d, members[i]


def condition(bank: ClassBank, c: int, members: np.ndarray, b: int, cfg: GenerationConfig, rng):
    """[CLS] embeddings (b, D) for class c; per row the bank indices they came from, and the one
    whose length and camera pose the output takes."""
    if cfg.strategy == "sample" or cfg.strategy in MOVES:
        src = rng.choice(members, b)
        if cfg.strategy == "sample":
            return bank.embeddings[src], [[s] for s in src], src
        if bank.inputs is None:
            raise SkelgenError(f"the {cfg.strategy} strategy needs the real sequences' model inputs in the class bank")
        if cfg.strategy == "shift":
            move = rng.standard_normal((b, bank.embeddings.shape[1])) @ bank.within_class().T
        else:  # borrow
            moves = bank.borrowed_moves()
            move = moves[rng.choice(len(moves), b)] if len(moves) else np.zeros((b, bank.embeddings.shape[1]))
        return bank.embeddings[src] + cfg.novelty * move, [[s] for s in src], src
    if cfg.strategy == "interpolate":
        i, j = rng.choice(members, b), rng.choice(members, b)
        lam = rng.random((b, 1))
        return lam * bank.embeddings[i] + (1 - lam) * bank.embeddings[j], [[a, z] for a, z in zip(i, j)], i
    mean, chol = bank.gaussian(c)
    z = rng.standard_normal((b, len(mean)))
    return mean + np.sqrt(cfg.temperature) * z @ chol.T, [[] for _ in range(b)], rng.choice(members, b)
