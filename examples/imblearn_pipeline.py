"""skelgen's sampler inside an imbalanced-learn pipeline, on the demo data.

    python examples/imblearn_pipeline.py [--checkpoint runs/demo/checkpoint.pt] [--strategy sample]

A long-tailed copy of the demo dataset (largest / smallest training class = 10, balanced test
split) is written to runs/demo-imbalanced.h5. The checkpoint is the last `skelgen pretrain` run
when it was trained on the demo's layout and classes (e.g. after the README's main-job command);
otherwise a tiny TAHAR is pretrained on the imbalanced training split first (about a minute on 2
CPU cores, kept in runs/example-imblearn/ for later runs). The script then fits a logistic
regression on the flattened training sequences without and with SkelgenSampler in front of it
and prints both classifiers' test scores.
"""
import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from skelgen.checkpoint import check_compatible, latest, load_checkpoint
from skelgen.demo import write_demo
from skelgen.errors import SkelgenError
from skelgen.generation_config import STRATEGIES, GenerationConfig
from skelgen.io.dataset import SkeletonFile
from skelgen.sampler import SkelgenSampler, load_prepared


def demo_checkpoint(data: Path) -> Path:
    """The last pretrain run if it fits the demo data, else a tiny one trained here."""
    try:
        last = Path(latest()["checkpoint"])
        with SkeletonFile(data) as sf:
            check_compatible(load_checkpoint(last).run, sf.layout, sf.classes.codes, sf.shape[1], str(data))
        print(f"checkpoint: {last} (the last `skelgen pretrain` run)")
        return last
    except SkelgenError as e:
        reason = str(e)
    ckpt = Path("runs/example-imblearn/checkpoint.pt")
    if ckpt.is_file():
        print(f"checkpoint: {ckpt} (trained by an earlier run of this example)")
        return ckpt
    from skelgen.recipe import load_recipe
    from skelgen.train import pretrain
    print(f"the last pretrain run does not fit the demo data ({reason});")
    print(f"pretraining a tiny TAHAR on {data}'s training split into {ckpt.parent} ...")
    r = load_recipe("demo", ["model.dim=64", "model.enc_depth=1", "model.dec_depth=1", "data.frames=16",
                             "train.epochs=80", "train.batch_size=16", "train.lr=2e-3", "train.warmup_epochs=2"])
    start = time.time()
    pretrain(r, str(data), ckpt.parent, show_progress=False, record=False)
    print(f"  done in {time.time() - start:.0f} s")
    return ckpt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="a TAHAR checkpoint trained on the demo layout")
    ap.add_argument("--strategy", default=GenerationConfig.strategy, choices=STRATEGIES)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    data = Path("runs/demo-imbalanced.h5")
    if not data.is_file():
        data.parent.mkdir(parents=True, exist_ok=True)
        write_demo(data, imbalance=10)
    ckpt = Path(args.checkpoint) if args.checkpoint else demo_checkpoint(data)

    # prepared for the checkpoint (normalized, resampled to its frames), flattened for sklearn
    X, y = load_prepared(data, ckpt, "train", flatten=True)
    X_test, y_test = load_prepared(data, ckpt, "test", flatten=True)
    print(f"train X {X.shape}, per class {dict(sorted(Counter(y.tolist()).items()))}; test X {X_test.shape}")

    sampler = SkelgenSampler(checkpoint=ckpt, strategy=args.strategy, random_state=args.seed)
    models = {
        "logistic regression": Pipeline([("clf", LogisticRegression(max_iter=2000))]),
        f"SkelgenSampler({args.strategy}) + logistic regression":
            Pipeline([("skelgen", sampler), ("clf", LogisticRegression(max_iter=2000))]),
    }
    for name, pipe in models.items():
        start = time.time()
        pipe.fit(X, y)  # the sampler runs here only; predict sees the test data untouched
        pred = pipe.predict(X_test)
        print(f"{name:50s} test accuracy {accuracy_score(y_test, pred):.3f}, "
              f"balanced {balanced_accuracy_score(y_test, pred):.3f} (fit {time.time() - start:.1f} s)")
    added = pipe.named_steps["skelgen"].sampling_strategy_
    print(f"synthetic samples added per class: {dict(sorted((int(k), int(v)) for k, v in added.items()))}")
    X_res, y_res = SkelgenSampler(checkpoint=ckpt, random_state=args.seed).fit_resample(X, y)
    assert np.array_equal(X_res[: len(X)], X) and len(np.unique(np.bincount(y_res))) == 1
    print(f"fit_resample: {X.shape} -> {X_res.shape}, every class now {np.bincount(y_res)[0]}")


if __name__ == "__main__":
    main()
