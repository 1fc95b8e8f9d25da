"""A benchmark classifier trained on a dataset's whole training split and scored on its test
split: parameter count, top-1, class-balanced accuracy and wall time (one torch thread).

    skelgen convert nw-ucla ../shared/data/NW-UCLA/all_sqe --out /tmp/nw-ucla.h5
    python benchmarks/classifier_full.py /tmp/nw-ucla.h5 --kind gcn --epochs 30 --seed 0 [--precision bf16]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from skelgen.bench.classifier import ClassifierConfig, predict, score, train_classifier
from skelgen.preprocess import load_split
from skelgen.io.dataset import SkeletonFile


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--kind", default="gcn")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--width", type=int, default=64, help="conv width")
    p.add_argument("--gcn-width", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-split", default="train")
    p.add_argument("--test-split", default="test", help="val_test with --train-split val_train: choose on validation")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16"))
    a = p.parse_args()
    torch.set_num_threads(1)
    with SkeletonFile(a.data) as sf:
        (x, y, _), (xt, yt, _) = load_split(sf, a.train_split, a.frames), load_split(sf, a.test_split, a.frames)
        layout, k = sf.layout, len(sf.classes.codes)
    cfg = ClassifierConfig(kind=a.kind, width=a.width, gcn_width=a.gcn_width, epochs=a.epochs,
                           precision=a.precision)
    t = time.perf_counter()
    model = train_classifier(x, y, k, cfg, a.seed, layout=layout)
    seconds = time.perf_counter() - t
    s = score(yt, predict(model, xt), torch.bincount(torch.as_tensor(y), minlength=k).numpy())
    print(json.dumps({"kind": a.kind, "params": sum(p.numel() for p in model.parameters()), "epochs": a.epochs,
                      "precision": a.precision, "seed": a.seed, "train": len(y), "test": len(yt), "top1": round(100 * s["top1"], 1),
                      "balanced": round(100 * s["balanced"], 1), "rare_third": round(100 * s["rare_third"], 1),
                      "train_minutes": round(seconds / 60, 2)}))


if __name__ == "__main__":
    main()
