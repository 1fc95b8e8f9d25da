"""Benchmark generator settings side by side: a benchmark recipe run once per combination of
generator training steps (``generator.min_steps``) and critic candidates (``generator.candidates``),
then one table of balanced accuracy per method and generation quality.

    python benchmarks/sweep_generators.py --recipe bench-nw-ucla-lt10 --steps 2400 6000 \\
        --candidates 1 4 --out runs/generator-sweep

Generators are cached by recipe, so combinations that differ in candidates only share one.
"""
import argparse
import json
from pathlib import Path

from skelgen.bench.run import load_bench_recipe, run_benchmark


def summary(result: dict) -> dict:
    """{scenario: {method (classifier): balanced % mean, quality row: recognized % mean}}."""
    out = {}
    for scenario in result["scenarios"]:
        row = {f"{m} ({kind})": 100 * v["balanced"]["mean"]
               for kind, scenarios in result["results"].items() for m, v in scenarios[scenario].items()}
        for q, v in result["quality"].get(scenario, {}).items():
            row[f"quality {q} acc"] = 100 * v["accuracy"]["mean"]
            row[f"quality {q} fid"] = v["fid"]["mean"]
        out[scenario] = row
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default="bench-nw-ucla-lt10")
    p.add_argument("--steps", type=int, nargs="+", default=[2400])
    p.add_argument("--candidates", type=int, nargs="+", default=[1, 4])
    p.add_argument("--methods", nargs="*", help="default: the recipe's")
    p.add_argument("--generator-set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="more pretraining overrides for the generators, e.g. train.save_every=50")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: the recipe's)")
    p.add_argument("--out", default="runs/generator-sweep")
    a = p.parse_args()
    table = {}
    for steps in a.steps:
        for k in a.candidates:
            r = load_bench_recipe(a.recipe)
            r.generator.min_steps, r.generator.candidates = steps, k
            r.generator.overrides += a.generator_set
            r.benchmark.methods = a.methods or r.benchmark.methods
            r.benchmark.threads = a.threads or r.benchmark.threads
            name = f"steps{steps}-candidates{k}"
            table[name] = summary(run_benchmark(r, Path(a.out) / name))
            print(name, json.dumps(table[name]), flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "summary.json").write_text(json.dumps(table, indent=1))
    for name, scenarios in table.items():
        for scenario, row in scenarios.items():
            print(f"{name:28s} {scenario:6s} " + " ".join(f"{m}={v:.1f}" for m, v in row.items()))
