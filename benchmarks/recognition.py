"""How recognizable are generated sequences? Pretrain a recipe on the demo data, generate 20
sequences of every class with each strategy, and count how many a logistic regression trained on
the real training split (features: sequences resampled to the recipe's frames) assigns to the
class they were generated for (the test of issue 5 asks >= 80 %). Also prints the 1-NN accuracy
of the [CLS] embeddings.

    python benchmarks/recognition.py --set augment.full_mask=1.0 --set train.lr=3e-3 --set train.batch_size=16

The test suite's model and data (tests/conftest.py), seed 1:

    python benchmarks/recognition.py --demo-per-class 16 --demo-frames 32 --classes A008,A010,A024,A027 \
        --set model.dim=64 --set model.heads=4 --set model.enc_depth=1 --set model.dec_depth=1 \
        --set data.frames=16 --set train.batch_size=16 --set train.warmup_epochs=1 \
        --set train.epochs=400 --set train.lr=5e-3 --set augment.full_mask=1.0 --set train.seed=1
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
from skelgen.generate import GenerationConfig
from skelgen.generation_config import STRATEGIES
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
    p.add_argument("--demo-per-class", type=int, default=60, help="Demo sequences per class.")
    p.add_argument("--demo-frames", type=int, default=80, help="Frames of the demo sequences.")
    p.add_argument("--classes", default=None, help="Comma-separated class codes to generate (default: all).")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="skelgen-recognition-"))
    recipe = load_recipe(args.recipe, args.overrides)
    frames = recipe.data.frames
    demo = write_demo(work / "demo.h5", n_per_class=args.demo_per_class, frames=args.demo_frames, seed=0)
    with SkeletonFile(demo) as sf:
        train = sf.indices("train")
        codes = args.classes.split(",") if args.classes else sf.classes.codes
        x = prepare_file(sf, train, frames).reshape(len(train), -1)
        clf = LogisticRegression(max_iter=3000).fit(x, sf.labels[train])
    t0 = time.perf_counter()
    ckpt = pretrain(recipe, str(demo), work / "run", show_progress=False, record=False)
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
