"""Evaluation of a frozen encoder: [CLS] embeddings, 1-NN and the linear evaluation protocol.

Cross-dataset use: data of another layout is mapped joint by joint (``layouts.joint_map``) and
padded or cut to the checkpoint's number of persons before embedding.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import balanced_accuracy_score, confusion_matrix
from sklearn.neighbors import KNeighborsClassifier

from .errors import SkelgenError, check_range
from .io.dataset import SkeletonFile
from .layouts import joint_map
from .preprocess import prepare_file
from .progress import Progress
from .repeats import repeats_of


def model_inputs(sf: SkeletonFile, indices, run) -> np.ndarray:
    """Samples of ``sf`` as the model of ``run`` (checkpoint.RunInfo) reads them: (n, T, M, V, C),
    prepared, joint-mapped to the run's layout and padded/cut to its persons."""
    x = prepare_file(sf, indices, run.data.frames)  # (n, T, M, V, C)
    if run.layout.name != sf.layout.name:
        x = x[:, :, :, joint_map(sf.layout, run.layout)]
    m = run.data.persons
    if x.shape[2] != m:
        padded = np.zeros(x.shape[:2] + (m,) + x.shape[3:], np.float32)
        padded[:, :, : min(m, x.shape[2])] = x[:, :, :m]
        x = padded
    return np.ascontiguousarray(x)


@torch.no_grad()
def embed(model, x: np.ndarray | torch.Tensor, batch: int = 256, show_progress: bool = False) -> np.ndarray:
    """[CLS] embeddings (n, D) of model inputs x (n, T, M, V, C), in batches."""
    model.eval()
    x = torch.as_tensor(x)
    out = []
    with Progress(len(x), "embed", "seq", enabled=show_progress) as bar:
        for s in range(0, len(x), batch):
            out.append(model.encode(x[s: s + batch].flatten(2)).float())
            bar.update(len(out[-1]))
    return torch.cat(out).numpy() if out else np.zeros((0, model.cfg.dim), np.float32)


def embed_split(model, run, sf: SkeletonFile, split: str | None, show_progress=False):
    """(embeddings (n, D), labels (n,), model inputs (n, T, M, V, C)) of one split of a file."""
    idx = sf.indices(split)
    if len(idx) == 0:
        raise SkelgenError(f"{sf.path}: split {split!r} is empty")
    x = model_inputs(sf, idx, run)
    return embed(model, x, show_progress=show_progress), sf.labels[idx], x


@dataclass
class Scores:
    top1: float
    balanced: float
    per_class: list[float]
    confusion: np.ndarray

    @classmethod
    def of(cls, y_true, y_pred, num_classes: int) -> "Scores":
        cm = confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))
        support = cm.sum(1)
        per_class = [float(cm[k, k] / support[k]) if support[k] else float("nan") for k in range(num_classes)]
        return cls(float((y_true == y_pred).mean()), float(balanced_accuracy_score(y_true, y_pred)),
                   per_class, cm)

    def to_dict(self) -> dict:
        return {"top1": self.top1, "balanced": self.balanced, "per_class": self.per_class,
                "confusion": self.confusion.tolist()}


def knn_predict(train_x, train_y, test_x, k: int = 1, metric: str = "cosine") -> np.ndarray:
    """k-NN labels for test embeddings (the paper's protocol is k=1)."""
    if metric not in ("cosine", "euclidean"):
        raise SkelgenError(f"metric must be cosine or euclidean, not {metric!r}")
    clf = KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute")
    return clf.fit(train_x, train_y).predict(test_x)


def check_probe(probe: dict):
    """Refuse probe settings out of range before any work."""
    fix = "give another value"
    for key, low, high in (("lr", 0, None), ("noise", 0, None), ("dropout", 0, 1), ("epochs", 1, None)):
        if key in probe:
            check_range(f"--{key}", probe[key], low, high, high_open=key == "dropout", fix=fix)
    if probe.get("lr", 1) == 0:
        raise SkelgenError("--lr must be > 0; give another value")


def linear_probe(train_x, train_y, test_x, num_classes: int, *, epochs: int = 30, lr: float = 1e-4,
                 weight_decay: float = 0.01, batch_size: int = 128, milestones=(5, 15),
                 dropout: float = 0.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """The paper's linear evaluation: one linear layer on frozen embeddings, AdamW, step decay
    x0.1 at ``milestones``; optional dropout or Gaussian noise on the embedding (its Table 2).
    Embeddings are standardized with training statistics (MAE's BatchNorm without affine)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xtr, xte = torch.as_tensor(train_x).float(), torch.as_tensor(test_x).float()
    mean, std = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    ytr = torch.as_tensor(train_y).long()
    layer = nn.Linear(xtr.shape[1], num_classes)
    drop = nn.Dropout(dropout)
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma=0.1)
    for _ in range(epochs):
        order = torch.randperm(len(xtr), generator=gen)
        for s in range(0, len(order), batch_size):
            b = order[s: s + batch_size]
            z = drop(xtr[b])
            if noise > 0:
                z = z + noise * torch.randn(z.shape, generator=gen)
            loss = nn.functional.cross_entropy(layer(z), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        return layer(xte).argmax(1).numpy()


PROBE_LRS = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the paper's 1e-4 and larger steps
VALIDATION_SPLITS = ("val_train", "val_test")  # a pair carved from the training data, by convention


def choose_probe_lr(model, run, sf: SkeletonFile, splits: tuple[str, str], probe: dict | None = None,
                    lrs=PROBE_LRS) -> tuple[float, dict]:
    """(the learning rate of ``lrs`` whose linear probe, fitted on ``splits[0]``, scores the best
    top-1 on ``splits[1]``; {lr: that top-1}). The splits are a validation pair carved from the
    training data (NW-UCLA: val_train = view 1, val_test = view 2); ties go to the smaller lr."""
    tr, ytr, _ = embed_split(model, run, sf, splits[0])
    va, yva, _ = embed_split(model, run, sf, splits[1])
    top1 = {lr: float((linear_probe(tr, ytr, va, len(sf.classes), **{**(probe or {}), "lr": lr}) == yva).mean())
            for lr in lrs}
    return max(top1, key=lambda lr: (top1[lr], -lr)), top1


def evaluate_checkpoint(model, run, sf: SkeletonFile, protocol: str = "both", *, k: int = 1,
                        metrics=("cosine", "euclidean"), train_split: str = "train",
                        test_split: str = "test", probe: dict | None = None,
                        choose_lr_on: tuple[str, str] | str | None = "auto", show_progress=False) -> dict:
    """1-NN and/or linear evaluation of a frozen model on ``sf``; a JSON-ready dict with
    embeddings of the test split under ``_test`` for plotting. ``choose_lr_on``: a validation
    pair of splits (fit, score) on which the linear probe's learning rate is chosen first
    (choose_probe_lr); it may not share a sample with the test split. "auto" (the default):
    VALIDATION_SPLITS where the file has them apart from the test split, else the probe's lr."""
    if protocol not in ("knn", "linear", "both"):
        raise SkelgenError(f"--protocol must be knn, linear or both, not {protocol!r}")
    k_classes = len(sf.classes)
    test_idx = sf.indices(test_split)  # an unknown split fails before any work
    n_train = len(sf.indices(train_split))
    if protocol != "linear" and not 1 <= k <= n_train:
        raise SkelgenError(f"-k {k} must lie between 1 and the {n_train} samples of split {train_split!r}; "
                           f"give a smaller -k")
    check_probe(probe or {})
    if choose_lr_on == "auto":
        choose_lr_on = VALIDATION_SPLITS if all(
            name in sf.splits and not np.intersect1d(sf.splits[name], test_idx).size
            for name in VALIDATION_SPLITS) else None
    for split in choose_lr_on or ():
        if np.intersect1d(sf.indices(split), test_idx).size:
            raise SkelgenError(f"split {split!r} shares samples with the test split {test_split!r}; choose the "
                               f"learning rate on splits carved from the training data (e.g. val_train val_test)")
    lr_choice = None
    if choose_lr_on and protocol != "knn":
        lr, top1 = choose_probe_lr(model, run, sf, tuple(choose_lr_on), probe)
        probe = {**(probe or {}), "lr": lr}
        lr_choice = {"splits": list(choose_lr_on), "chosen": lr, "top1": {str(c): v for c, v in top1.items()}}
    tr, ytr, x_tr = embed_split(model, run, sf, train_split, show_progress)
    te, yte, x_te = embed_split(model, run, sf, test_split, show_progress)
    repeats = repeats_of(x_tr, x_te)  # right by memory: scored apart too
    result = {"data": str(sf.path), "train": {"split": train_split, "samples": len(ytr)},
              "test": {"split": test_split, "samples": len(yte), "repeats_of_train": int(repeats.sum())},
              "classes": list(sf.classes.codes)}

    def scores(pred: np.ndarray) -> dict:
        out = Scores.of(yte, pred, k_classes).to_dict()
        if repeats.any() and not repeats.all():
            out["top1_new"] = float((pred[~repeats] == yte[~repeats]).mean())
        return out
    if protocol in ("knn", "both"):
        for metric in metrics:
            result[f"knn_{metric}"] = {**scores(knn_predict(tr, ytr, te, k, metric)), "k": k}
    if protocol in ("linear", "both"):
        result["linear"] = scores(linear_probe(tr, ytr, te, k_classes, **(probe or {})))
        if lr_choice:
            result["linear"]["lr_choice"] = lr_choice
    result["_test"] = (te, yte)
    return result


def write_embeddings(checkpoint, data, out, split=None, overwrite=False, batch: int = 256) -> int:
    """[CLS] embeddings of ``data`` to ``out`` (.npz: embeddings, labels, ids; .h5 likewise)."""
    import h5py

    from .checkpoint import check_compatible, load_model
    from .io.atomic import AtomicPath, check_output
    check_output(out, overwrite)
    suffix = Path(out).suffix
    if suffix not in (".npz", ".h5", ".hdf5"):  # checked before the work, as is the output path
        raise SkelgenError(f"--out must end in .npz or .h5, not {suffix!r}")
    model, run = load_model(checkpoint)
    with SkeletonFile(data) as sf:
        if sf.layout.name == run.layout.name:
            check_compatible(run, sf.layout, sf.shape[1], str(data))
        idx = sf.indices(split)
        ids = np.array(sf.ids, dtype=object)[idx].astype(str)
        emb = np.concatenate([embed(model, model_inputs(sf, idx[s: s + 4096], run), batch)
                              for s in range(0, len(idx), 4096)]) if len(idx) else np.zeros((0, model.cfg.dim))
        labels = sf.labels[idx]
    with AtomicPath(out, overwrite) as tmp:
        if suffix == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, embeddings=emb, labels=labels, ids=ids)
        else:
            with h5py.File(tmp, "w") as h:
                h["embeddings"], h["labels"] = emb, labels
                h.create_dataset("ids", data=ids.astype(object), dtype=h5py.string_dtype())
    return len(idx)


def report(checkpoint, data, protocol="both", *, out_dir=None, show_progress=True, **kwargs) -> dict:
    """`skelgen evaluate`: scores as a dict; with ``out_dir`` also evaluation.json, a confusion
    matrix PNG (of the best protocol) and a t-SNE PNG of the test embeddings (the paper's Fig. 5)."""
    import json

    from .checkpoint import load_model
    from .io.atomic import AtomicPath, check_folder, make_folder
    if out_dir:
        check_folder(out_dir)  # before the work, not after
    model, run = load_model(checkpoint)
    with SkeletonFile(data) as sf:
        result = evaluate_checkpoint(model, run, sf, protocol, show_progress=show_progress, **kwargs)
        names = [sf.classes.label(k) for k in range(len(sf.classes))]
    test_emb, test_y = result.pop("_test")
    result["checkpoint"] = str(checkpoint)
    if out_dir:
        from .plots import charts
        out = make_folder(out_dir)
        best = max((r for r in result.values() if isinstance(r, dict) and "top1" in r), key=lambda r: r["top1"])
        charts.confusion_plot(np.array(best["confusion"]), names, out / "confusion.png")
        charts.tsne_plot(test_emb, test_y, names, out / "tsne.png", title="t-SNE of test [CLS] embeddings")
        with AtomicPath(out / "evaluation.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
    return result
