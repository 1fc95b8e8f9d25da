"""Which classes does a generator draw? Per class, how often an evaluator trained on real clips
recognizes the generator's sequences, and how much of that rests on the clips' frame-to-frame
jitter rather than their motion (BENCHMARKS.md 8o). First, how long each class's clips are.

The evaluator (the benchmark's conv recognizer, 30 epochs) is trained on the fitting split's
real clips as they are, and again on the same clips smoothed over time (a K-frame moving
average). Printed per class, in %:
  real test, smoothed 1..K   the plain evaluator on the test clips, smoothed more and more: a
                             class whose share falls is recognized by its jitter
  smoothed evaluator         the smooth-trained evaluator on smoothed test clips (the floor for
                             sequences without jitter)
  ROUTE                      each route's sequences (100 a class, seed = class index), judged by
                             the plain evaluator, then smoothed and judged by the smoothed one

    python benchmarks/class_recognition.py GENERATOR_FOLDER --data runs/nw-ucla.h5 \
        --fit val_train --score val_test --routes sample,borrow

GENERATOR_FOLDER is a benchmark cache entry (checkpoint.pt, and train.h5: the clips it was
pretrained on, which it conditions on).
"""
import argparse

import h5py
import numpy as np
import torch

from skelgen.bench.classifier import predict
from skelgen.bench.methods import Generator
from skelgen.bench.quality import train_evaluator
from skelgen.io.dataset import SkeletonFile
from skelgen.preprocess import load_split


def smooth(x: np.ndarray, k: int) -> np.ndarray:
    """x (n, T, ...) averaged over k frames centred on each (k odd; ends padded with the end frames)."""
    if k <= 1:
        return x
    pad = np.concatenate([np.repeat(x[:, :1], k // 2, 1), x, np.repeat(x[:, -1:], k // 2, 1)], 1)
    return np.mean([pad[:, i:i + x.shape[1]] for i in range(k)], 0)


def shares(pred: np.ndarray, y: np.ndarray, k: int) -> str:
    return " ".join(f"{100 * (pred[y == c] == c).mean():4.0f}" for c in range(k))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("generator", help="a benchmark generator cache folder")
    p.add_argument("--data", required=True)
    p.add_argument("--fit", default="val_train", help="the split the evaluators learn from")
    p.add_argument("--score", default="val_test", help="the split of real clips they are scored on")
    p.add_argument("--routes", default="sample,borrow")
    p.add_argument("--smooth", type=int, default=5, help="frames of the moving average (odd)")
    p.add_argument("--frames", type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(1)
    sf = SkeletonFile(a.data)
    k = len(sf.classes)
    x, y, ids = load_split(sf, a.fit, a.frames)
    xt, yt, _ = load_split(sf, a.score, a.frames)
    plain = train_evaluator(x, y, k, epochs=30, seed=0)
    smoothed = train_evaluator(smooth(x, a.smooth), y, k, epochs=30, seed=0)
    print(f"{'':>28} " + " ".join(f"{c[:4]:>4}" for c in sf.classes.codes))
    frames = sf.lengths[sf.indices(a.fit)]
    print(f"{'frames recorded (mean)':>28} " + " ".join(f"{frames[y == c].mean():4.0f}" for c in range(k)))
    for w in range(1, a.smooth + 1, 2):
        print(f"{f'real test, smoothed {w}':>28} {shares(predict(plain, smooth(xt, w)), yt, k)}")
    print(f"{'smoothed evaluator':>28} {shares(predict(smoothed, smooth(xt, a.smooth)), yt, k)}")
    with h5py.File(f"{a.generator}/train.h5") as f:
        seen = set(f["id"][:].astype(str))
    mine = np.array([i in seen for i in ids])
    gen = Generator(f"{a.generator}/checkpoint.pt", x[mine], y[mine], ids[mine], noise_scale=0.05)
    labels = np.repeat(np.arange(k), 100)
    for route in a.routes.split(","):
        made = np.concatenate([gen.generate(c, 100, route, seed=c) for c in range(k)])
        print(f"{route + ', plain evaluator':>28} {shares(predict(plain, made), labels, k)}")
        print(f"{route + ', smoothed':>28} {shares(predict(smoothed, smooth(made, a.smooth)), labels, k)}")


if __name__ == "__main__":
    main()
