"""Choose a generation route on a validation benchmark: accuracy gain, recognition and novelty.

The routes besides the library's strategies ("orth", "resid", "prior", "direct" and the suffixes
"-free", "-fk", "-rot", "-raw", "-body", "-pc") are in route_variants.py, beside this script.
A suffix "@K" (e.g. "shift:1@4") makes K candidates per sequence and keeps those a critic (the
recipe's classifier trained on the scenario's real sequences) finds most like their class.

For one benchmark recipe (use validation splits, never the test split, to choose) and each of its
scenarios, this trains (or takes from the cache) the scenario's generator, then for every route
("STRATEGY" or "STRATEGY:NOVELTY") and seed builds three training sets:
  ROUTE          the real sequences plus the generated ones (as the benchmark's skelgen-*)
  ROUTE+classic  half generated, half classic augmentation of real sequences
  ROUTE>classic  the generated sequences, each then classic-augmented
and the baselines none, oversample, smote, classic. With ``--caps 1,2`` (beside ``none``) each
route is also run with at most R x a class's real count generated, the rest of its additions
real copies (plain) or classic-augmented real copies (>classic): does a rare class drown in
generated sequences? With ``--enlarge F`` every class is filled to F times the largest
count instead (every method adds as many: how many sequences are worth adding?). Trains the
recipe's classifier on each and scores the test split. For the generated sequences of seed 0 it
also reports how often an evaluator trained on all real training sequences recognizes their
class, their novelty
(skelgen.novelty) against the scenario's training sequences, with the test split as reference,
and their mean bone length over the real training sequences'.

    python benchmarks/generation_routes.py RECIPE.toml --routes shift:0.5,shift:1,interpolate \
        --out routes.json
    python benchmarks/generation_routes.py --curve A.json B.json --out curve.png   # one curve, merged
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from skelgen.plots import charts
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

import route_variants as variants  # beside this script
from route_variants import direct, route_patch


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


def generated_by(generators: list, add: np.ndarray, strategy: str, novelty_: float | None, seed: int):
    """``generated`` with the counts ``add`` shared out between ``generators`` (an ensemble of
    generators pretrained with other seeds: each makes about 1/K of every class's sequences)."""
    k = len(generators)
    made = [generated(g, (add + i) // k, strategy, novelty_, seed) for i, g in enumerate(generators)
            if ((add + i) // k).sum()]
    return np.concatenate([m[0] for m in made]), np.concatenate([m[1] for m in made])


def calibrated(bank, keys: bool = False):
    """The calibrated scale cached in ``bank`` (skelgen.generate.calibrated_reach), None if none;
    with ``keys``, the cache keys that hold one."""
    found = [k for k in bank._fitted if isinstance(k, tuple) and k[0] == "reach"]
    return found if keys else (bank._fitted[found[-1]] if found else None)


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
            charts.novelty_curve(curve, f"{out_stem}{suffix}.png", f"{strategy}: novelty knob, {title}")


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
    ap.add_argument("--enlarge", type=float, default=1.0,
                    help="fill every class to this many times the largest class's count, not to it: every "
                         "method adds as many (how many sequences is worth adding?)")
    ap.add_argument("--ensemble", type=int, default=1,
                    help="K generators (the recipe's, and K-1 more pretrained with train.seed=1..K-1) share the additions")
    ap.add_argument("--added-weight", type=float, default=1.0,
                    help="every added sequence's weight in the classifier's loss, every method alike (real ones: 1)")
    ap.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance of prior:STRENGTH routes")
    ap.add_argument("--prior-steps", type=int, default=3000, help="training steps of the prior route's flow")
    args = ap.parse_args()
    variants.GUIDANCE, variants.PRIOR_STEPS = args.guidance, args.prior_steps
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
        result = {"recipe": args.recipe, "routes": args.routes, "added_weight": args.added_weight,
                  "ensemble": args.ensemble, "scenarios": {}}
        for name in b.scenarios:
            sc = make_scenario(name, train[1], k, b.add_fraction, b.subset_seed)
            if args.enlarge != 1.0:
                target = round(args.enlarge * (sc.counts + sc.add).max())
                sc = dataclasses.replace(sc, add=np.maximum(target - sc.counts, 0))
            x, y, ids = (a[sc.indices] for a in train)
            largest = int(sc.counts.sum() + sc.add.sum())
            steps = max(r.classifier.min_steps,
                        r.classifier.epochs * max(largest // min(r.classifier.batch_size, largest), 1))
            ckpt, _ = M.generator_checkpoint(*M.pretraining_set(r.generator, train, sc.indices), meta, r.generator,
                                             b.cache_dir, show_progress=False)
            gen = M.Generator(ckpt, x, y, ids, r.generator.noise_scale, r.generator.temperature)
            generators = [gen]
            for k_seed in range(1, args.ensemble):
                g_k = dataclasses.replace(r.generator, overrides=[*r.generator.overrides, f"train.seed={k_seed}"])
                ckpt_k, _ = M.generator_checkpoint(*M.pretraining_set(g_k, train, sc.indices), meta, g_k,
                                                   b.cache_dir, show_progress=False)
                generators.append(M.Generator(ckpt_k, x, y, ids, r.generator.noise_scale, r.generator.temperature))
            real = M.real_set(x, y, ids)
            rows = {}

            def run(label, make):
                t0, scores = time.perf_counter(), []
                for seed in b.seeds:
                    ts = make(seed)
                    weights = None if args.added_weight == 1 else np.where(ts.synthetic, args.added_weight, 1.0)
                    model = train_classifier(ts.x, ts.y, k, r.classifier, seed, steps, weights=weights)
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
                for g in generators:
                    for key in calibrated(g.bank, keys=True):  # each route calibrates under its own patch
                        del g.bank._fitted[key]

                def gen_for(seed, add=sc.add):
                    key = (seed, tuple(add))
                    if key not in cache:
                        cache[key] = generated_by(generators, add, strategy, nov, seed)
                    return cache[key]

                gx, gy = gen_for(b.seeds[0])
                nov_joint, _, _ = novelty(gx, gy, x, y, test[0], test[1])
                rec = float((predict(evaluator, gx) == gy).mean())
                bones = bone_length(gx, gen.run.layout) / bone_length(x, gen.run.layout)
                rows[route] = {"recognized": rec, "novelty": nov_joint.to_dict(), "bone_length_ratio": bones,
                               "reach": calibrated(gen.bank)}
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
