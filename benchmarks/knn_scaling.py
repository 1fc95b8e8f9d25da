"""1-NN on a checkpoint's [CLS] with the features as they are (the paper's cosine), centred, and
standardized, each with the fitting split's own statistics (no labels, nothing of the scored
split): does the protocol, rather than the encoder, leave accuracy unused? (issue 19)

    python benchmarks/knn_scaling.py CHECKPOINT DATA.h5

Prints val (val_train -> val_test) and test (train -> test) 1-NN % for each.
"""
import argparse

import torch

from skelgen.checkpoint import load_model
from skelgen.evaluate import embed_split, knn_predict
from skelgen.io.dataset import SkeletonFile


def scaled(fit, score, how: str):
    mu, sd = fit.mean(0), fit.std(0) + 1e-6
    if how == "centred":
        return fit - mu, score - mu
    if how == "standardized":
        return (fit - mu) / sd, (score - mu) / sd
    return fit, score


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("data")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, run = load_model(a.checkpoint)
    sf = SkeletonFile(a.data)
    emb = {s: embed_split(model, run, sf, s)[:2] for s in ("train", "test", "val_train", "val_test")}
    for how in ("as it is", "centred", "standardized"):
        row = []
        for name, fit, score in (("val", "val_train", "val_test"), ("test", "train", "test")):
            (fx, fy), (sx, sy) = emb[fit], emb[score]
            fx, sx = scaled(fx, sx, how)
            row.append(f"{name} {(knn_predict(fx, fy, sx) == sy).mean() * 100:.1f} %")
        print(f"{how:>12}: " + ", ".join(row))


if __name__ == "__main__":
    main()
