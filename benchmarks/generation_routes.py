"""Choose a generation route on a validation benchmark: accuracy gain, recognition and novelty.

Route "orth:NOVELTY" is shift with its noise kept out of the directions that separate the class
means (a variant under test). Route "resid:NOVELTY" is shift with real within-class residuals
(a random training sequence's [CLS] minus its class mean, from any class) in place of the Gaussian
draw (an ablation of the library's ``borrow`` strategy, which rescales every residual to the
Gaussian draw's typical length). A suffix "@K" (e.g. "shift:1@4") makes K candidates per sequence
and keeps those a critic (the recipe's classifier trained on the scenario's real sequences)
finds most like their class. Route "prior:STRENGTH" moves the source's [CLS] with a learned
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
calibrated move by its own spacing over the pooled one.
Route "direct:NOVELTY" is an ablation of shift: the same moved [CLS], decoded on its own
(D(z_s + noise)) instead of as the source plus the decoder's change.

For one benchmark recipe (use validation splits, never the test split, to choose) and each of its
scenarios, this trains (or takes from the cache) the scenario's generator, then for every route
("STRATEGY" or "STRATEGY:NOVELTY") and seed builds three training sets:
  ROUTE          the real sequences plus the generated ones (as the benchmark's skelgen-*)
  ROUTE+classic  half generated, half classic augmentation of real sequences
  ROUTE>classic  the generated sequences, each then classic-augmented
and the baselines none, oversample, smote, classic. With ``--caps 1,2`` (beside ``none``) each
route is also run with at most R x a class's real count generated, the rest of its additions
real copies (plain) or classic-augmented real copies (>classic): does a rare class drown in
generated sequences? Trains the recipe's classifier on each and
scores the test split. For the generated sequences of seed 0 it also reports how often an
evaluator trained on all real training sequences recognizes their class, their novelty
(skelgen.novelty) against the scenario's training sequences, with the test split as reference,
and their mean bone length over the real training sequences'.

    python benchmarks/generation_routes.py RECIPE.toml --routes shift:0.5,shift:1,interpolate \
        --out routes.json
    python benchmarks/generation_routes.py --curve A.json B.json --out curve.png   # one curve, merged
"""
from __future__ import annotations

import argparse
import contextlib
import json
import time
from unittest.mock import patch

import numpy as np
import torch

from skelgen import plots
from skelgen.augment import classic_augment
from skelgen.bench import methods as M
from skelgen.bench.classifier import predict, score, train_classifier
from skelgen.bench.quality import train_evaluator
from skelgen.bench.run import demo_data, load_bench_recipe
from skelgen.preprocess import load_split
from skelgen.runtime import torch_threads
from skelgen.bench.scenarios import make_scenario
from skelgen.io.dataset import SkeletonFile
from skelgen.novelty import novelty


def parse_route(text: str) -> tuple[str, float | None, int]:
    """"STRATEGY[:NOVELTY][@CANDIDATES]" -> (strategy, novelty or None, candidates)."""
    text, _, k = text.partition("@")
    strategy, _, value = text.partition(":")
    return strategy, float(value) if value else None, int(k or 1)


def generated(generator: M.Generator, add: np.ndarray, strategy: str, novelty_: float | None, seed: int):
    """(x (a, T, M, V, C), y (a,)) generated for the counts ``add`` (K,)."""
    if novelty_ is not None:
        generator.novelty = novelty_
    library_strategy, patched = route_patch(generator, strategy, novelty_)
    xs, ys = [], []
    with patched:
        for c, a in enumerate(add):
            if a > 0:
                s = seed * 10_007 + c
                xs.append(direct(generator, c, int(a), s) if strategy == "direct"
                          else generator.generate(c, int(a), library_strategy, s))
                ys.append(np.full(int(a), c))
    return np.concatenate(xs), np.concatenate(ys)


def route_patch(generator: M.Generator, strategy: str, novelty_: float | None):
    """(the library strategy a route generates with, the patch of the library it runs under)."""
    if strategy == "orth":
        return "shift", orthogonal_noise(generator.bank)
    if strategy == "prior":
        return "shift", prior_moves(generator.bank, novelty_, GUIDANCE)
    if strategy == "resid":
        return "shift", residual_noise()
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


GUIDANCE, PRIOR_STEPS = 1.0, 3000  # --guidance, --prior-steps: the prior route's settings


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
    from dataclasses import replace
    from skelgen.novelty import pairwise
    bank, shape = generator.bank, generator.run.input_shape
    pooled, ratio = G.neighbour_spacing(bank, shape), {}
    for c in np.unique(bank.labels):
        rows = np.flatnonzero(bank.labels == c)
        if len(rows) > 1:
            x = bank.inputs[rows].reshape((len(rows),) + tuple(shape))
            d = pairwise(x, x)
            np.fill_diagonal(d, np.inf)
            ratio[int(c)] = float(np.median(d.min(1))) / pooled
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


def bone_length(x: np.ndarray, layout) -> float:
    """Mean length of the layout's bones over sequences x (n, T, M, V, C), persons present only."""
    lengths = np.stack([np.linalg.norm(x[..., c, :] - x[..., p, :], axis=-1) for c, p in layout.bones], -1)
    present = np.abs(x).any(axis=(-2, -1))  # (n, T, M)
    return float(lengths[present].mean())


def classic_of(x: np.ndarray, seed: int) -> np.ndarray:
    return classic_augment(torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                           torch.Generator().manual_seed(seed)).numpy()


KNOBBED = ("shift", "borrow")  # the routes with a novelty knob, each plotted as one curve


def knob_curve(rows: dict, strategy: str) -> list[dict]:
    """The ``strategy`` routes of one scenario's rows as novelty_curve points, by knob value."""
    none = np.mean(rows["none"]["balanced"])
    points = [{"knob": nov, "recognized": row["recognized"], "copy_rate": row["novelty"]["copy_rate"],
               "gain": 100 * (np.mean(row["balanced"]) - none)}
              for route, row in rows.items() if "recognized" in row and "balanced" in row
              for s, nov, k in [parse_route(route)] if s == strategy and nov is not None and k == 1]
    return sorted(points, key=lambda p: p["knob"])


def plot_curves(rows: dict, out_stem: str, title: str):
    """OUT_STEM.png for shift's knob (the name it always had), OUT_STEM-borrow.png for borrow's;
    only for a strategy run at some knob value."""
    for strategy in KNOBBED:
        curve = knob_curve(rows, strategy)
        if curve:
            suffix = "" if strategy == "shift" else f"-{strategy}"
            plots.novelty_curve(curve, f"{out_stem}{suffix}.png", f"{strategy}: novelty knob, {title}")


def merged_curve(paths: list[str], out: str):
    """One knob curve per scenario and strategy from several result files of one recipe."""
    merged: dict[str, dict] = {}
    for path in paths:
        with open(path) as f:
            result = json.load(f)
        for name, rows in result["scenarios"].items():
            merged.setdefault(name, {}).update(rows)
    for name, rows in merged.items():
        plot_curves(rows, out.removesuffix(".png") + f"-{name}", name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recipe", nargs="?")
    ap.add_argument("--curve", nargs="+", help="result files to merge into one knob curve (no training)")
    ap.add_argument("--routes", default="shift:1,interpolate")
    ap.add_argument("--baselines", default="none,oversample,smote,classic")
    ap.add_argument("--combos", default="plain,+classic,>classic")
    ap.add_argument("--caps", default="none",
                    help="comma list of R or none: at most R x a class's real count generated, the rest of "
                         "its additions real copies (plain) or classic-augmented real copies (>classic)")
    ap.add_argument("--out", required=True, help="results JSON; beside it NAME-SCENARIO.png and NAME-SCENARIO-borrow.png, "
                                                 "the shift and borrow knobs' curves")
    ap.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance of prior:STRENGTH routes")
    ap.add_argument("--prior-steps", type=int, default=3000, help="training steps of the prior route's flow")
    args = ap.parse_args()
    global GUIDANCE, PRIOR_STEPS
    GUIDANCE, PRIOR_STEPS = args.guidance, args.prior_steps
    if args.curve:
        return merged_curve(args.curve, args.out)
    r = load_bench_recipe(args.recipe)
    b = r.benchmark
    with torch_threads(b.threads), SkeletonFile(b.data or demo_data(b)) as sf:
        train = load_split(sf, b.train_split, b.frames)
        test = load_split(sf, b.test_split, b.frames)
        meta = {"layout": sf.layout, "codes": list(sf.classes.codes), "names": list(sf.classes.names)}
        k = len(meta["codes"])
        evaluator = train_evaluator(train[0], train[1], k, r.quality.evaluator_epochs, 0)
        result = {"recipe": args.recipe, "routes": args.routes, "scenarios": {}}
        for name in b.scenarios:
            sc = make_scenario(name, train[1], k, b.add_fraction, b.subset_seed)
            x, y, ids = (a[sc.indices] for a in train)
            largest = int(sc.counts.sum() + sc.add.sum())
            steps = max(r.classifier.min_steps,
                        r.classifier.epochs * max(largest // min(r.classifier.batch_size, largest), 1))
            ckpt, _ = M.generator_checkpoint(x, y, ids, meta, r.generator, b.cache_dir, show_progress=False)
            gen = M.Generator(ckpt, x, y, ids, r.generator.noise_scale, r.generator.temperature)
            real = M.real_set(x, y, ids)
            rows = {}

            def run(label, make):
                t0, scores = time.perf_counter(), []
                for seed in b.seeds:
                    ts = make(seed)
                    model = train_classifier(ts.x, ts.y, k, r.classifier, seed, steps)
                    scores.append(score(test[1], predict(model, test[0]), sc.counts)["balanced"])
                rows.setdefault(label, {})["balanced"] = scores
                print(f"{name} {label:28s} balanced {100 * np.mean(scores):5.1f} ± {100 * np.std(scores):.1f}"
                      f"  ({time.perf_counter() - t0:.0f} s)", flush=True)

            for base in args.baselines.split(","):
                run(base, lambda seed, base=base: M.build(base, real, sc.add, seed))
            for route in args.routes.split(","):
                strategy, nov, gen.candidates = parse_route(route)
                if gen.candidates > 1 and gen.critic is None:
                    gen.critic = train_classifier(x, y, k, r.classifier, 0, steps, layout=meta["layout"])
                cache = {}

                def gen_for(seed, add=sc.add):
                    key = (seed, tuple(add))
                    if key not in cache:
                        cache[key] = generated(gen, add, strategy, nov, seed)
                    return cache[key]

                gx, gy = gen_for(b.seeds[0])
                nov_joint, _, _ = novelty(gx, gy, x, y, test[0], test[1])
                rec = float((predict(evaluator, gx) == gy).mean())
                bones = bone_length(gx, gen.run.layout) / bone_length(x, gen.run.layout)
                reach = {k[1]: v for k, v in gen.bank._fitted.items() if isinstance(k, tuple) and k[0] == "reach"}
                rows[route] = {"recognized": rec, "novelty": nov_joint.to_dict(), "bone_length_ratio": bones,
                               "reach": reach.get(route_patch(gen, strategy, nov)[0])}
                print(f"{name} {route:28s} recognized {100 * rec:5.1f} %  copy rate "
                      f"{100 * nov_joint.copy_rate:5.1f} %  nearest {nov_joint.generated_median:.3f} "
                      f"(real {nov_joint.reference_median:.3f})  diversity x{nov_joint.diversity_ratio:.2f}  "
                      f"bones x{bones:.3f}"
                      + (f"  reach {rows[route]['reach']:.3f}" if rows[route]["reach"] else ""), flush=True)
                def mixed(s, generated_part, rest_method, augment_generated):
                    """The real set plus generated_part[c] generated sequences of each class c
                    (classic-augmented if augment_generated) and the rest of sc.add from rest_method."""
                    gx_, gy_ = gen_for(s, generated_part)
                    out = real.extended(classic_of(gx_, s) if augment_generated else gx_, gy_,
                                        [f"g{i}" for i in range(len(gy_))])
                    extra = rest_method(real, sc.add - generated_part, s)
                    return out.extended(extra.x[len(y):], extra.y[len(y):], extra.ids[len(y):])

                for cap in args.caps.split(","):
                    part = sc.add if cap == "none" else np.minimum(sc.add, np.floor(float(cap) * sc.counts).astype(int))
                    tag = "" if cap == "none" else f"[cap {cap}]"
                    combos = {"plain": ("", part, M.oversample, False),
                              "+classic": ("+classic", np.minimum((sc.add + 1) // 2, part), M.classic, False),
                              ">classic": (">classic", part, M.classic, True)}
                    for combo in args.combos.split(","):
                        suffix, generated_part, rest_method, augment = combos[combo]
                        run(route + suffix + tag, lambda s, g=generated_part, m=rest_method, a=augment: mixed(s, g, m, a))
            result["scenarios"][name] = rows
            plot_curves(rows, args.out.removesuffix(".json") + f"-{name}", f"{r.name} {name}")
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
