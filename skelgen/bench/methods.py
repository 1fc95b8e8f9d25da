"""Training-set builders: every method but ``none`` adds exactly ``add[c]`` sequences to class c
of a scenario's real training set, each its own way, seeded.

  none                 the real sequences only
  oversample           random copies of real sequences (imbalanced-learn RandomOverSampler)
  smote                SMOTE (imbalanced-learn) on the flattened sequences; a class with a single
                       sequence cannot be interpolated and gets copies of it instead
  classic              augmented copies: random rotation, scale, noise and temporal crop
  skelgen-<strategy>   sequences from the scenario's pretrained TAHAR decoder (sample,
                       interpolate or gaussian, see skelgen.generate); with ``candidates`` k > 1,
                       k are generated for each one kept, and a recognizer trained on the
                       scenario's real sequences keeps those it gives the highest probability
                       of their class
  skelgen-<s>+classic  half of the additions (rounded up) from skelgen-<s>, half from classic
  skelgen-<s>>classic  all additions from skelgen-<s>, each then classic-augmented: the cheap
                       augmentation applied to new motions rather than to copies of real ones
  oracle               the ceiling: real training sequences the scenario removed, add[c] of
                       them (all there are, where fewer), never test ones; the gain any method
                       could hope for

All sequences are normalized and resampled, in model-input order (n, T, M, V, C). A scenario's
generator is pretrained on its sequences only and cached (``generator_checkpoint``).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler

from ..augment import classic_augment
from ..checkpoint import load_checkpoint, load_generator
from ..errors import SkelgenError
from ..generate import GenerationConfig, bank_from_inputs, synthesize
from ..generation_config import STRATEGIES
from ..io.dataset import DatasetWriter
from ..recipe import load_recipe
from ..precision import use_bf16
from ..train import pick_device, pretrain
from .classifier import probabilities

BASELINES = ("none", "oversample", "smote", "classic")
CEILING = "oracle"
COMBINATIONS = {"": "generated only", "+classic": "half generated, half classic",
                ">classic": "generated, then classic-augmented"}
METHODS = BASELINES + tuple(f"skelgen-{s}" for s in STRATEGIES) + ("skelgen-borrow>classic", "skelgen-shift>classic", CEILING)


@dataclass
class TrainingSet:
    """x (n, T, M, V, C), y (n,), ids (n,) (real ids, or made-up ids of added sequences),
    synthetic (n,) bool, and ``seen``: every real id that went into making it (for leak checks)."""
    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    synthetic: np.ndarray
    seen: frozenset

    def extended(self, x, y, ids, seen=()) -> "TrainingSet":
        """This set plus added sequences x (a, T, M, V, C), y (a,), ids (a,)."""
        if len(x) == 0:
            return self
        return TrainingSet(np.concatenate([self.x, np.asarray(x, np.float32)]), np.concatenate([self.y, y]),
                           np.concatenate([self.ids, ids]), np.concatenate([self.synthetic, np.ones(len(x), bool)]),
                           self.seen | frozenset(seen))

    def check(self, expected: np.ndarray, test_ids: set, where: str):
        """Refuse class counts other than ``expected`` (K,) and any test id among those used."""
        counts = np.bincount(self.y, minlength=len(expected))
        if not np.array_equal(counts, expected):
            raise SkelgenError(f"{where}: class counts {counts.tolist()} differ from {expected.tolist()}")
        leaked = (self.seen | set(self.ids.tolist())) & test_ids
        if leaked:
            raise SkelgenError(f"{where}: test sequences reached the training set: {sorted(leaked)[:5]}")


def real_set(x: np.ndarray, y: np.ndarray, ids) -> TrainingSet:
    ids = np.asarray(ids).astype(str)
    return TrainingSet(np.asarray(x, np.float32), np.asarray(y, np.int64), ids, np.zeros(len(x), bool),
                       frozenset(ids.tolist()))


def parse_method(name: str) -> tuple[str, str | None, str]:
    """(base, skelgen strategy or None, combination: a key of COMBINATIONS) of a method name;
    unknown names are errors."""
    if name in BASELINES or name == CEILING:
        return name, None, ""
    for combo in sorted(COMBINATIONS, key=len, reverse=True):
        strategy = name.removeprefix("skelgen-").removesuffix(combo) if name.endswith(combo) else None
        if name.startswith("skelgen-") and strategy in STRATEGIES:
            return "skelgen", strategy, combo
    raise SkelgenError(f"unknown method {name!r}; use one of {', '.join(BASELINES)}, {CEILING}, "
                       f"skelgen-<{'|'.join(STRATEGIES)}>, skelgen-<strategy>+classic or skelgen-<strategy>>classic")


class Generator:
    """A pretrained TAHAR conditioned on a scenario's real sequences (normalized frame).

    checkpoint: pretrained on exactly these sequences; x (n, T, M, V, C) with T the model's frames.
    critic: a classifier trained on these sequences (bench.classifier); with ``candidates`` k > 1,
    ``generate`` makes k sequences for each one it returns and keeps those the critic finds most
    like their class, which drops the ones rendered as a neighbouring class's motion.
    """

    def __init__(self, checkpoint, x: np.ndarray, y: np.ndarray, ids, noise_scale: float = 1.0,
                 temperature: float = 1.0, critic=None, candidates: int = 1,
                 novelty: float = GenerationConfig.novelty, calibrate: bool = GenerationConfig.calibrate):
        if candidates < 1 or (candidates > 1 and critic is None):
            raise SkelgenError(f"candidates must be >= 1 (got {candidates}), and above 1 needs a critic")
        self.critic, self.candidates = critic, candidates
        self.model, self.run = load_generator(checkpoint)
        if x.shape[1] != self.run.data.frames:
            raise SkelgenError(f"the generator was pretrained on {self.run.data.frames} frames, "
                               f"the benchmark prepares {x.shape[1]}")
        self.bank = bank_from_inputs(self.model, x, y, np.asarray(ids).astype(str))
        self.noise_scale, self.temperature, self.novelty = noise_scale, temperature, novelty
        self.calibrate = calibrate
        self.seen = frozenset(np.asarray(ids).astype(str).tolist())
        self.x, self.y = x, np.asarray(y)  # the real sequences it conditions on

    def generate(self, c: int, n: int, strategy: str, seed: int) -> np.ndarray:
        """n sequences (n, T, M, V, C) of class c, deterministic for a seed."""
        cfg = GenerationConfig(strategy=strategy, noise_scale=self.noise_scale,
                               temperature=self.temperature, novelty=self.novelty, calibrate=self.calibrate,
                               length="model")
        made = n * self.candidates
        xs = [s for batch, _ in synthesize(self.model, self.run, self.bank, c, made, cfg, seed) for s in batch]
        x = np.stack(xs)  # (n, T, M, V, C)
        if self.candidates == 1:
            return x
        p = probabilities(self.critic, x)[:, c]
        return x[np.sort(np.argsort(-p, kind="stable")[:n])]


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True).encode())
    return h.hexdigest()[:16]


# Keys added after generator caches were first written, left out of a digest at these defaults
# so that those caches keep their names (hours of training each).
LATER_KEYS = {("train", "init"): "", ("augment", "crop"): 1.0, ("train", "vicreg"): 0.0, ("model", "projector"): 0,
              ("model", "streams"): "joints", ("model", "parents"): [], ("augment", "shear"): 0.0}


def recipe_digest(recipe) -> str:
    """The recipe's part of a generator cache folder's name. train.save_minutes is left out (when
    checkpoints are written changes no weight), and so are LATER_KEYS at their defaults."""
    d = {**recipe.to_dict(), "name": ""}
    for table, keys in d.items():
        if isinstance(keys, dict):
            d[table] = {k: v for k, v in keys.items() if (table, k) != ("train", "save_minutes")
                        and not ((table, k) in LATER_KEYS and LATER_KEYS[table, k] == v)}
    return _digest(d)


def generator_recipe(g, frames: int, n: int):
    """The pretraining recipe for a scenario of ``n`` sequences: ``g`` (run.GeneratorConfig) names a
    recipe and overrides; epochs (and warmup) are raised so that training takes ``g.min_steps``."""
    r = load_recipe(g.recipe, [*g.overrides, f"data.frames={frames}", "data.split=train",
                               f"train.min_steps={g.min_steps}"])
    return r.fitted_to(n)


def pretraining_set(g, train, indices: np.ndarray):
    """(x, y, ids) a scenario's generator learns from: ``train`` (x, y, ids of the training split)
    at the scenario's ``indices``, or with ``g.pretrain_on == "split"`` the whole split with its
    labels withheld (all zero), the same for every scenario and so one cache entry."""
    if g.pretrain_on == "split":
        return train[0], np.zeros_like(train[1]), train[2]
    return tuple(a[indices] for a in train)


def generator_folder(x, y, ids, meta: dict, g, cache_dir) -> Path:
    """``<cache_dir>/<fingerprint of the data>-<hash of the recipe>[-bf16]``: where the generator
    pretrained on x, y, ids with the settings ``g`` is cached (``generator_checkpoint``); one
    trained in bf16 (``auto`` on a CPU with native bf16) is kept apart from fp32 ones."""
    key = _digest(x.tobytes(), y.astype(np.int64).tobytes(), list(map(str, ids)),
                  meta["layout"].to_dict(), meta["codes"])
    recipe = generator_recipe(g, x.shape[1], len(x))
    bf16 = use_bf16(recipe.train.precision, pick_device())
    return Path(cache_dir) / f"{key}-{recipe_digest(recipe)}{'-bf16' if bf16 else ''}"


def generator_checkpoint(x, y, ids, meta: dict, g, cache_dir, show_progress=True):
    """(checkpoint pretrained on exactly x (n, T, M, V, C), y, ids; whether it came from the cache).

    The cache folder is ``generator_folder``'s; the data, normalized, goes to train.h5 there, and
    an interrupted pretraining resumes.
    meta: the data's ``layout`` (Layout), class ``codes`` and ``names``."""
    recipe, folder = generator_recipe(g, x.shape[1], len(x)), generator_folder(x, y, ids, meta, g, cache_dir)
    ckpt = folder / "checkpoint.pt"
    if ckpt.is_file() and load_checkpoint(ckpt).epoch == recipe.train.epochs:
        return ckpt, True
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "train.h5").is_file():
        t, m, v, c = x.shape[1:]
        with DatasetWriter(folder / "train.h5", meta["layout"], meta["codes"], meta["names"],
                           max_frames=t, max_persons=m, channels=c, frame="normalized") as w:
            w.append(x.transpose(0, 2, 1, 3, 4), np.full(len(x), t), y, ids)
            w.set_split("train", np.arange(len(x)))
    return pretrain(recipe, str(folder / "train.h5"), folder, resume=ckpt.is_file(),
                    show_progress=show_progress, record=False), False


def _targets(real: TrainingSet, add: np.ndarray) -> dict[int, int]:
    counts = np.bincount(real.y, minlength=len(add))
    return {c: int(counts[c] + add[c]) for c in range(len(add)) if add[c] > 0}


def _made_ids(tag: str, y: np.ndarray, seed: int) -> np.ndarray:
    return np.array([f"{tag}-{seed}-c{c}-{i:06d}" for i, c in enumerate(y)])


def oversample(real: TrainingSet, add: np.ndarray, seed: int) -> TrainingSet:
    targets = _targets(real, add)
    if not targets:
        return real
    ros = RandomOverSampler(sampling_strategy=targets, random_state=seed)
    ros.fit_resample(np.arange(len(real.y))[:, None], real.y)
    pick = ros.sample_indices_[len(real.y):]
    return real.extended(real.x[pick], real.y[pick], real.ids[pick])  # copies keep their real ids


def smote(real: TrainingSet, add: np.ndarray, seed: int) -> TrainingSet:
    flat = real.x.reshape(len(real.x), -1)
    xs, ys = [], []
    for c, total in _targets(real, add).items():
        n_c = int((real.y == c).sum())
        if n_c < 2:  # nothing to interpolate with: copies of the one sequence
            xs.append(np.repeat(flat[real.y == c], total - n_c, 0))
        else:
            sm = SMOTE(sampling_strategy={c: total}, k_neighbors=min(5, n_c - 1), random_state=seed + c)
            xs.append(sm.fit_resample(flat, real.y)[0][len(flat):])
        ys.append(np.full(total - n_c, c))
    if not xs:
        return real
    y = np.concatenate(ys)
    return real.extended(np.concatenate(xs).reshape((-1,) + real.x.shape[1:]), y, _made_ids("smote", y, seed))


def classic(real: TrainingSet, add: np.ndarray, seed: int) -> TrainingSet:
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    pick = np.concatenate([rng.choice(np.flatnonzero(real.y == c), int(a)) for c, a in enumerate(add) if a > 0]
                          or [np.zeros(0, np.int64)])
    if len(pick) == 0:
        return real
    x = classic_augment(torch.from_numpy(real.x[pick]), gen).numpy()
    return real.extended(x, real.y[pick], _made_ids("classic", real.y[pick], seed))


def skelgen(real: TrainingSet, add: np.ndarray, seed: int, generator: Generator, strategy: str) -> TrainingSet:
    xs, ys = [], []
    for c, a in enumerate(add):
        if a > 0:
            xs.append(generator.generate(c, int(a), strategy, seed * 10_007 + c))
            ys.append(np.full(int(a), c))
    if not xs:
        return real
    y = np.concatenate(ys)
    return real.extended(np.concatenate(xs), y, _made_ids(f"skelgen-{strategy}", y, seed), generator.seen)


def oracle(real: TrainingSet, add: np.ndarray, seed: int, removed: TrainingSet) -> TrainingSet:
    """``real`` plus add[c] of the ``removed`` real sequences of each class c (all, where fewer)."""
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.permutation(np.flatnonzero(removed.y == c))[: int(a)] for c, a in enumerate(add)]
                          or [np.zeros(0, np.int64)])
    out = real.extended(removed.x[pick], removed.y[pick], removed.ids[pick], removed.ids[pick].tolist())
    out.synthetic[len(real.y):] = False  # real sequences, only held back by the scenario
    return out


def build(method: str, real: TrainingSet, add: np.ndarray, seed: int,
          generator: Generator | None = None, removed: TrainingSet | None = None) -> TrainingSet:
    """The training set of ``method``: ``real`` plus add[c] sequences for each class c
    (``oracle``: from ``removed``, the training sequences the scenario left out)."""
    base, strategy, combo = parse_method(method)
    add = np.asarray(add, np.int64)
    if base == CEILING:
        if removed is None:
            raise SkelgenError("method oracle needs the sequences the scenario removed")
        return oracle(real, add, seed, removed)
    if base != "skelgen":
        return {"none": lambda: real, "oversample": lambda: oversample(real, add, seed),
                "smote": lambda: smote(real, add, seed), "classic": lambda: classic(real, add, seed)}[base]()
    if generator is None:
        raise SkelgenError(f"method {method} needs a pretrained generator")
    if combo == "":
        return skelgen(real, add, seed, generator, strategy)
    if combo == ">classic":
        made, n = skelgen(real, add, seed, generator, strategy), len(real.y)
        if len(made.y) > n:  # made.x is a new array (extended concatenates): augment its additions in place
            made.x[n:] = classic_augment(torch.from_numpy(made.x[n:]), torch.Generator().manual_seed(seed)).numpy()
        return made
    gen_part = (add + 1) // 2
    out = skelgen(real, gen_part, seed, generator, strategy)
    extra = classic(real, add - gen_part, seed)
    n = len(real.y)
    return out.extended(extra.x[n:], extra.y[n:], extra.ids[n:])
