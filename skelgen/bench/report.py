"""The benchmark's results folder: results.json, results.md (the change over ``none`` at a glance,
then every score), ids.json and, per classifier kind (conv, gcn), the figures
<kind>-accuracy-{balanced,top1,rare}.png (by scenario and method), <kind>-change.png (balanced
accuracy change over ``none``, mean ± std over seeds of the paired per-seed differences, per
scenario), <kind>-gain-<scenario>.png (per-class accuracy gain over ``none``); and quality-fid.png."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..plots import charts
from ..io.atomic import AtomicPath, make_folder
from .methods import CEILING
from .quality import least_recognized, markdown as quality_markdown

SCORES = {"top1": "top-1", "balanced": "balanced", "rare_third": "rarest third"}


def _stats(v) -> dict:
    v = np.asarray(v, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "runs": v.tolist()}


def aggregate(runs: list[dict]) -> dict:
    """Per-seed score dicts -> {score: {mean, std, runs}} plus ``per_class`` (K,) seed means and
    the mean classifier ``steps`` (fewer than given where it stopped early)."""
    out = {key: _stats([r[key] for r in runs]) for key in SCORES}
    out["per_class"] = np.nanmean([r["per_class"] for r in runs], axis=0).tolist()
    out["steps"] = float(np.mean([r.get("steps", np.nan) for r in runs]))
    return out


def change_over_none(methods: dict, key: str = "balanced") -> dict:
    """{method: (mean, std)} in points of the per-seed differences to ``none`` (same seeds)."""
    base = np.array(methods["none"][key]["runs"])
    return {m: tuple(_stats((np.array(r[key]["runs"]) - base) * 100)[s] for s in ("mean", "std"))
            for m, r in methods.items() if m != "none"}


def _write(path: Path, text: str):
    with AtomicPath(path, overwrite=True) as tmp:
        tmp.write_text(text)


def accuracy_markdown(result: dict) -> str:
    """One row per classifier, scenario and method: mean +- std over seeds, in %, and the
    balanced change over none (mean ± std of the per-seed differences)."""
    lines = ["| classifier | scenario | method | train size | top-1 % | balanced % | rarest third % "
             "| Δ balanced |", "|---|---|---|---|---|---|---|---|"]
    for kind, scenarios in result["results"].items():
        for sc, methods in scenarios.items():
            change = change_over_none(methods)
            for m, r in methods.items():
                cells = [f"{r[s]['mean'] * 100:.1f} ± {r[s]['std'] * 100:.1f}" for s in SCORES]
                delta = "" if m == "none" else "{:+.1f} ± {:.1f}".format(*change[m])
                lines.append(f"| {kind} | {sc} | {m} | {r['train_size']} | {' | '.join(cells)} | {delta} |")
    return "\n".join(lines) + "\n"


def change_markdown(result: dict) -> str:
    """The results at a glance, per classifier: each method's balanced change over ``none`` (points,
    mean ± std of the per-seed differences) by scenario, under none's own balanced accuracy; the
    best method of each scenario in bold (the oracle is the ceiling, not a contender)."""
    tables = []
    for kind, scenarios in result["results"].items():
        names = list(scenarios)
        changes = {sc: change_over_none(methods) for sc, methods in scenarios.items()}
        best = {sc: max((m for m in ch if m != CEILING), key=lambda m: ch[m][0], default=None)
                for sc, ch in changes.items()}
        lines = [f"{kind}: balanced accuracy change over none, points (best in bold)\n",
                 "| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|",
                 "| none (balanced %) | " + " | ".join(f"{scenarios[sc]['none']['balanced']['mean'] * 100:.1f}"
                                                    for sc in names) + " |"]
        for m in dict.fromkeys(m for methods in scenarios.values() for m in methods if m != "none"):
            cells = ["" if m not in changes[sc] else
                     ("**{:+.1f} ± {:.1f}**" if best[sc] == m else "{:+.1f} ± {:.1f}").format(*changes[sc][m])
                     for sc in names]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)


def scenario_markdown(result: dict) -> str:
    """Per scenario the real sequences per class (of them held out to stop on), the sequences
    each adding method adds and the classes with fewer than the scenario asks."""
    lines = ["| scenario | real sequences per class | of them validation | added per class | short classes |",
             "|---|---|---|---|---|"]
    for sc, info in result["scenarios"].items():
        short = ", ".join(f"{result['classes'][int(c)]} has only {n}" for c, n in info.get("fewer", {}).items())
        lines.append(f"| {sc} | {info['counts']} | {info.get('validation', '')} | {info['added']} | {short} |")
    return "\n".join(lines) + "\n"


def repeats_line(result: dict) -> str:
    """A warning where test sequences repeat training ones under other ids (none share an id)."""
    n = result["leak_check"].get("identical_to_train", 0)
    return "" if not n else (f"Warning: {n} of the {result['test_samples']} test sequences repeat a training "
                             f"sequence exactly (the data's own duplicates under other ids): a classifier can "
                             f"get them right by memory.\n")


def generator_line(result: dict) -> str:
    """What the generators learned from: each scenario's own sequences, or the whole split unlabelled."""
    if result["recipe"]["generator"].get("pretrain_on", "scenario") == "scenario":
        return "Each scenario's generator learned from that scenario's sequences only.\n"
    return (f"One generator learned from all {result['train_samples']} training sequences with their labels "
            f"withheld (generator.pretrain_on = \"split\"); each scenario conditions it on its own labelled "
            f"sequences.\n")


def write_report(result: dict, ids: dict, out: Path) -> dict:
    """Aggregate the per-seed runs in ``result`` (in place), write the folder ``out``, return result."""
    make_folder(out)
    for scenarios in result["results"].values():
        for methods in scenarios.values():
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
          f"{len(result['classes'])} classes. Classifiers {', '.join(result['classifiers'])}, scored on the real "
          f"test split, mean ± std over {len(seeds)} seed(s) {seeds}. Wall time {t['wall'] / 60:.1f} min with "
          f"{t.get('jobs', 1)} job(s) at a time (minutes of work: generators "
          f"{sum(t['generators'].values()) / 60:.1f}, classifiers "
          + ", ".join(f"{k} {v / 60:.1f}" for k, v in t["classifiers"].items())
          + f", quality {t['quality'] / 60:.1f}).\n",
          repeats_line(result),
          "Classes: " + ", ".join(f"{c} {n}" for c, n in zip(result["classes"], result["class_names"])) + ".\n",
          generator_line(result),
          "## At a glance\n", change_markdown(result),
          "## Scenarios\n", scenario_markdown(result),
          "## Downstream accuracy\n", accuracy_markdown(result)]
    if result["quality"]:
        labels = [f"{c} {n}" for c, n in zip(result["classes"], result["class_names"])]
        md += ["## Generation quality (ACTOR/MDM protocol, mean ± 95 % interval)\n",
               quality_markdown(result["quality"]),
               "Classes whose generated sequences the evaluator recognizes least, per scenario "
               "(every class's share: results.json, `per_class_accuracy`):\n"]
        md += [f"- {sc}: " + least_recognized(rows, labels).strip().replace("\n", "; ")
               for sc, rows in result["quality"].items()]
    _write(out / "results.md", "\n".join(md))
    for kind, scenarios in result["results"].items():
        order = list(dict.fromkeys(m for methods in scenarios.values() for m in methods))  # one colour each
        for key, name in (("balanced", "balanced"), ("top1", "top1"), ("rare_third", "rare")):
            table = {sc: {m: (r[key]["mean"] * 100, r[key]["std"] * 100) for m, r in methods.items()}
                     for sc, methods in scenarios.items()}
            charts.bar_chart(table, out / f"{kind}-accuracy-{name}.png", f"{SCORES[key]} accuracy (%)",
                             f"{kind} classifier: {SCORES[key]} accuracy by method", colors=order)
        charts.bar_chart({sc: change_over_none(methods) for sc, methods in scenarios.items()},
                         out / f"{kind}-change.png", "balanced accuracy change over none (points)",
                         f"{kind} classifier: change over no added data (mean ± std over seeds)",
                         colors=order, zero_line=True)
        for sc, methods in scenarios.items():
            gains = {m: [g * 100 for g in r["per_class_gain"]] for m, r in methods.items() if m != "none"}
            if gains:
                charts.per_class_chart(gains, result["classes"], out / f"{kind}-gain-{sc}.png",
                                       "accuracy gain over none (points)", f"{kind} classifier, {sc}: per-class gain "
                                       f"over no change", colors=order)
    if result["quality"]:
        table = {sc: {row: (s["fid"]["mean"], s["fid"]["ci95"] or 0.0) for row, s in rows.items()}
                 for sc, rows in result["quality"].items()}
        charts.bar_chart(table, out / "quality-fid.png", "FID (lower is better)", "FID to the real test split")
    return result
