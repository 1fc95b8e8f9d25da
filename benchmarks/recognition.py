"""How recognizable are generated sequences? Pretrain a recipe on the demo data, generate 20
sequences of every class with each strategy, and count how many a logistic regression trained on
the real training split assigns to the class they were generated for (the test of issue 5 asks
>= 80 %). Also prints the 1-NN accuracy of the [CLS] embeddings.

    python benchmarks/recognition.py --set augment.full_mask=1.0 --set train.lr=3e-3 --set train.batch_size=16
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from skelgen.checkpoint import load_model
from skelgen.demo import write_demo
from skelgen.evaluate import evaluate_checkpoint
from skelgen.generate import STRATEGIES, GenerationConfig
from skelgen.io.dataset import SkeletonFile
from skelgen.preprocess import prepare_file
from skelgen.recipe import load_recipe
from skelgen.synth import synth
from skelgen.train import pretrain


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="demo")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--per-class", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="skelgen-recognition-"))
    demo = write_demo(work / "demo.h5")
    with SkeletonFile(demo) as sf:
        frames, train, codes = 32, sf.indices("train"), sf.classes.codes
        clf = LogisticRegression(max_iter=3000).fit(prepare_file(sf, train, 32).reshape(len(train), -1), sf.labels[train])
    t0 = time.perf_counter()
    ckpt = pretrain(load_recipe(args.recipe, args.overrides), str(demo), work / "run", show_progress=False, record=False)
    row = {"recipe": args.recipe, "overrides": args.overrides, "pretrain_s": round(time.perf_counter() - t0, 1)}
    model, state = load_model(ckpt)
    with SkeletonFile(demo) as sf:
        row["knn"] = evaluate_checkpoint(model, state, sf, "knn", metrics=("cosine",))["knn_cosine"]["top1"]
    for strategy in STRATEGIES:
        hits = []
        for c in codes:
            out = work / f"{strategy}-{c}.h5"
            synth(ckpt, demo, c, args.per_class, out, GenerationConfig(strategy=strategy), seed=1, show_progress=False)
            with SkeletonFile(out) as g:
                x = prepare_file(g, np.arange(len(g)), frames).reshape(len(g), -1)
                hits.append(clf.predict(x) == g.classes.resolve(c))
        row[f"recognized_{strategy}"] = float(np.concatenate(hits).mean())
    print(json.dumps(row))


if __name__ == "__main__":
    main()
