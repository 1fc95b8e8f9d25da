"""The benchmark's results folder: results.json, results.md, ids.json and the figures
accuracy-{balanced,top1,rare}.png (by scenario and method), gain-<scenario>.png (per-class
accuracy gain over ``none``) and quality-fid.png."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import plots
from ..io.atomic import AtomicPath, make_folder
from .quality import markdown as quality_markdown

SCORES = {"top1": "top-1", "balanced": "balanced", "rare_third": "rarest third"}


def aggregate(runs: list[dict]) -> dict:
    """Per-seed score dicts -> {score: {mean, std, runs}} plus ``per_class`` (K,) seed means."""
    out = {}
    for key in SCORES:
        v = np.array([r[key] for r in runs], float)
        out[key] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "runs": v.tolist()}
    out["per_class"] = np.nanmean([r["per_class"] for r in runs], axis=0).tolist()
    return out


def _write(path: Path, text: str):
    with AtomicPath(path, overwrite=True) as tmp:
        tmp.write_text(text)


def accuracy_markdown(result: dict) -> str:
    """One row per scenario and method: mean +- std over seeds, in %, and the gain over none."""
    lines = ["| scenario | method | train size | top-1 % | balanced % | rarest third % | Δ balanced |",
             "|---|---|---|---|---|---|---|"]
    for sc, methods in result["results"].items():
        base = methods["none"]["balanced"]["mean"]
        for m, r in methods.items():
            cells = [f"{r[s]['mean'] * 100:.1f} ± {r[s]['std'] * 100:.1f}" for s in SCORES]
            delta = "" if m == "none" else f"{(r['balanced']['mean'] - base) * 100:+.1f}"
            lines.append(f"| {sc} | {m} | {r['train_size']} | {' | '.join(cells)} | {delta} |")
    return "\n".join(lines) + "\n"


def scenario_markdown(result: dict) -> str:
    lines = ["| scenario | real sequences per class | added per class |", "|---|---|---|"]
    for sc, info in result["scenarios"].items():
        lines.append(f"| {sc} | {info['counts']} | {info['added']} |")
    return "\n".join(lines) + "\n"


def write_report(result: dict, ids: dict, out: Path) -> dict:
    """Aggregate the per-seed runs in ``result`` (in place), write the folder ``out``, return result."""
    make_folder(out)
    for methods in result["results"].values():
        for r in methods.values():
            r.update(aggregate(r.pop("runs")))
        none = np.array(methods["none"]["per_class"])
        for r in methods.values():
            r["per_class_gain"] = (np.array(r["per_class"]) - none).tolist()
    _write(out / "results.json", json.dumps(result, indent=2))
    _write(out / "ids.json", json.dumps(ids))
    seeds, t = result["recipe"]["benchmark"]["seeds"], result["timing"]
    md = [f"# Benchmark {result['recipe']['name']}\n",
          f"Data {result['data']}: {result['train_samples']} training, {result['test_samples']} test sequences, "
          f"{len(result['classes'])} classes. Classifier scores on the real test split, mean ± std over "
          f"{len(seeds)} seed(s) {seeds}. Wall time {t['wall'] / 60:.1f} min (generators "
          f"{sum(t['generators'].values()) / 60:.1f}, classifiers {t['classifiers'] / 60:.1f}, "
          f"quality {t['quality'] / 60:.1f}).\n",
          "Classes: " + ", ".join(f"{c} {n}" for c, n in zip(result["classes"], result["class_names"])) + ".\n",
          "## Scenarios\n", scenario_markdown(result),
          "## Downstream accuracy\n", accuracy_markdown(result)]
    if result["quality"]:
        md += ["## Generation quality (ACTOR/MDM protocol, mean ± 95 % interval)\n",
               quality_markdown(result["quality"])]
    _write(out / "results.md", "\n".join(md))
    for key, file in (("balanced", "accuracy-balanced.png"), ("top1", "accuracy-top1.png"),
                      ("rare_third", "accuracy-rare.png")):
        table = {sc: {m: (r[key]["mean"] * 100, r[key]["std"] * 100) for m, r in methods.items()}
                 for sc, methods in result["results"].items()}
        plots.bar_chart(table, out / file, f"{SCORES[key]} accuracy (%)", f"{SCORES[key]} accuracy by method")
    for sc, methods in result["results"].items():
        gains = {m: [g * 100 for g in r["per_class_gain"]] for m, r in methods.items() if m != "none"}
        if gains:
            plots.gain_chart(gains, result["classes"], out / f"gain-{sc}.png",
                             "accuracy gain over none (points)", f"{sc}: per-class gain over no change")
    if result["quality"]:
        table = {sc: {row: (s["fid"]["mean"], s["fid"]["ci95"] or 0.0) for row, s in rows.items()}
                 for sc, rows in result["quality"].items()}
        plots.bar_chart(table, out / "quality-fid.png", "FID (lower is better)", "FID to the real test split")
    return result
