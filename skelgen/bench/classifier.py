"""The downstream classifiers of the benchmark, trained from scratch: ``kind = "conv"`` (the
default), a small temporal 1D-conv net, or ``kind = "gcn"``, the graph network of gcn.py.

The conv net's input: normalized, resampled sequences (B, T, M, V, C). Each frame's joints
(all persons) are flattened to F = M*V*C features and joined by their frame-to-frame velocity
(2F channels); a BatchNorm over those channels (ST-GCN's data_bn) is followed by three
Conv1d-BatchNorm-ReLU blocks over time (kernel 5, 5, 3; the last two with stride 2), global
average pooling over time and one linear layer. The pooled vector (2 * width) is the
penultimate feature the quality metrics use (the GCN's: 4 * gcn_width). Training: AdamW, cosine
learning rate per step, plain cross-entropy (no class weights, no augmentation), so only the
training set differs between benchmark methods.
With a validation set and ``patience`` > 0, training evaluates balanced accuracy on it after
every tenth of its steps (an epoch of a few-shot set is one or two steps: too noisy to stop on),
stops after ``patience`` checks without a better one and returns the best model.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import SkelgenError, check_range
from ..evaluate import Scores
from ..layouts import Layout
from ..progress import Progress
from ..precision import autocast, check_precision, use_bf16
from ..train import pick_device
from .gcn import GCNClassifier


KINDS = ("conv", "gcn")
CHECKS = 10        # validation checks over a training run (early stopping)
TRAINING = 3       # the training procedure's version, part of the benchmark's cache keys: bump it
                   # when training changes, so that cached results are not reused


@dataclass
class ClassifierConfig:
    kind: str = "conv"        # conv | gcn
    width: int = 64           # conv: channels of the first block; the later blocks and features: 2 * width
    gcn_width: int = 32       # gcn: channels of the first blocks; later 2x and 4x, features 4 * gcn_width
    epochs: int = 30          # passes over the training set (the benchmark: its largest one)
    min_steps: int = 0        # the benchmark trains at least this many steps (tiny scenarios)
    batch_size: int = 64
    lr: float = 1e-3          # peak of the cosine schedule
    weight_decay: float = 0.01
    dropout: float = 0.2      # on the pooled features, before the linear layer
    val_fraction: float = 0.0  # the benchmark holds out this share of each scenario class's real
                               # sequences (rounded down) to stop on; 0: no validation set
    patience: int = 0          # stop after this many checks (one every tenth of the steps) without
                               # better validation accuracy (0: never)
    precision: str = "auto"    # of training: auto | fp32 | bf16 (auto: bf16 where its products are
                               # measured faster; the GCN trained 1.7x faster on an AMX Xeon, BENCHMARKS.md 9g)

    def __post_init__(self):
        check_kind(self.kind)
        for key, low in (("width", 1), ("gcn_width", 1), ("epochs", 1), ("min_steps", 0), ("batch_size", 1),
                         ("weight_decay", 0)):
            check_range(f"classifier.{key}", getattr(self, key), low, fix="fix it in the benchmark recipe")
        check_range("classifier.dropout", self.dropout, 0, 1, high_open=True, fix="fix it in the benchmark recipe")
        check_range("classifier.val_fraction", self.val_fraction, 0, 1, high_open=True,
                    fix="fix it in the benchmark recipe")
        check_range("classifier.patience", self.patience, 0, fix="fix it in the benchmark recipe")
        check_precision(self.precision, "classifier.precision")
        if not self.lr > 0:
            raise SkelgenError(f"classifier.lr must be a number > 0, not {self.lr!r}; fix it in the benchmark recipe")


def resolved(cfg: ClassifierConfig) -> ClassifierConfig:
    """``cfg`` with its precision as this machine runs it (``auto`` made fp32 or bf16), so that a
    cached result names the precision that made it."""
    bf16 = use_bf16(cfg.precision, pick_device(), "classifier.precision")
    return dataclasses.replace(cfg, precision="bf16" if bf16 else "fp32")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise SkelgenError(f"unknown classifier kind {kind!r}; use one of {', '.join(KINDS)}")
    return kind


def _block(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm1d(cout), nn.ReLU(inplace=True))


class ConvClassifier(nn.Module):
    """x (B, T, M, V, C) -> logits (B, K); ``features`` gives the pooled (B, 2 * width)."""

    def __init__(self, in_dim: int, num_classes: int, width: int = 64, dropout: float = 0.2):
        super().__init__()
        self.data_bn = nn.BatchNorm1d(2 * in_dim)
        self.blocks = nn.Sequential(_block(2 * in_dim, width, 5), _block(width, 2 * width, 5, 2),
                                    _block(2 * width, 2 * width, 3, 2))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2)  # (B, T, F)
        vel = torch.cat([x[:, 1:] - x[:, :-1], torch.zeros_like(x[:, :1])], 1)  # (B, T, F)
        h = self.data_bn(torch.cat([x, vel], 2).transpose(1, 2))  # (B, 2F, T)
        return self.blocks(h).mean(2)  # (B, 2 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x)))


def make_classifier(cfg: ClassifierConfig, shape: tuple, num_classes: int,
                    layout: Layout | None = None) -> nn.Module:
    """A fresh classifier of ``cfg.kind`` for sequences of shape (T, M, V, C); gcn needs the layout."""
    t, m, v, c = shape
    if check_kind(cfg.kind) == "conv":
        return ConvClassifier(m * v * c, num_classes, cfg.width, cfg.dropout)
    if layout is None or layout.num_joints != v:
        raise SkelgenError(f"the gcn classifier needs the data's layout ({v} joints)")
    return GCNClassifier(layout, m, c, num_classes, cfg.gcn_width, cfg.dropout)


def train_classifier(x: np.ndarray, y: np.ndarray, num_classes: int, cfg: ClassifierConfig,
                     seed: int = 0, steps: int | None = None, show_progress: bool = False,
                     desc: str = "classifier", layout: Layout | None = None, val=None,
                     weights: np.ndarray | None = None) -> nn.Module:
    """Train a fresh classifier (``cfg.kind``) on x (n, T, M, V, C), y (n,); returns it in eval mode.

    ``steps``: total optimizer steps (default ``cfg.epochs`` passes over x); the benchmark gives
    every method of a scenario the same number, so added data never means more training.
    ``val``: (x, y) real sequences to stop early on (with ``cfg.patience`` > 0), never test ones.
    ``weights``: (n,) each sequence's weight in the loss (a batch's loss is their weighted mean).
    Initialization, order and dropout all follow ``seed``."""
    torch.manual_seed(seed)
    gen, device = torch.Generator().manual_seed(seed), pick_device()
    bf16 = use_bf16(cfg.precision, device, "classifier.precision")
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    wt = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
    if wt is not None and (wt.shape != yt.shape or not bool(torch.isfinite(wt).all() and (wt >= 0).all())):
        raise SkelgenError(f"weights must be {len(yt)} finite numbers >= 0, one a sequence")
    model = make_classifier(cfg, tuple(xt.shape[1:]), num_classes, layout).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n, bs = len(xt), min(cfg.batch_size, len(xt))
    per_epoch = max(n // bs, 1)  # full batches only (a last batch of one breaks BatchNorm)
    total = cfg.epochs * per_epoch if steps is None else int(steps)
    stopper = _EarlyStop(model, val, cfg.patience) if val is not None and cfg.patience > 0 else None
    model.train()
    model.steps_trained, check_every = total, max(math.ceil(total / CHECKS), 1)  # fewer where it stops early
    with Progress(total, desc, "steps", enabled=show_progress) as bar:
        for step in range(total):
            if step and stopper and step % check_every == 0 and stopper.done():
                model.steps_trained = step
                break
            if step % per_epoch == 0:
                order = torch.randperm(n, generator=gen).to(device)
            for group in opt.param_groups:
                group["lr"] = 0.5 * cfg.lr * (1 + math.cos(math.pi * step / total))
            b = order[(step % per_epoch) * bs: (step % per_epoch + 1) * bs]
            with autocast(device, bf16):
                logits = model(xt[b])
            if wt is None:
                loss = F.cross_entropy(logits.float(), yt[b])
            else:
                loss = ((F.cross_entropy(logits.float(), yt[b], reduction="none") * wt[b]).sum()
                        / wt[b].sum().clamp_min(1e-12))  # a batch of weight 0 teaches nothing
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1, loss=loss.item())
    if stopper:
        if model.steps_trained == total:
            stopper.done()  # the final model competes too
        model.load_state_dict(stopper.best_state)
    return model.eval()


class _EarlyStop:
    """Balanced accuracy on a validation set at each check; remembers the best weights."""

    def __init__(self, model: nn.Module, val, patience: int):
        self.model, self.x, self.y, self.patience = model, val[0], np.asarray(val[1]), patience
        self.best, self.best_state, self.waited = -1.0, None, 0

    def done(self) -> bool:
        """Evaluate now (then back to training mode); True once patience has run out."""
        hit = predict(self.model, self.x) == self.y
        acc = np.mean([hit[self.y == c].mean() for c in np.unique(self.y)])  # balanced accuracy
        self.model.train()
        if acc > self.best:
            self.best, self.waited = acc, 0
            self.best_state = {name: v.detach().clone() for name, v in self.model.state_dict().items()}
        else:
            self.waited += 1
        return self.waited >= self.patience


@torch.no_grad()
def _batched(fn, model: nn.Module, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """fn(model, xb) over x (n, T, M, V, C) in batches, on the model's device, as one array."""
    model.eval()
    device = next(model.parameters()).device
    xt = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([fn(model, xt[s: s + batch].to(device)).cpu() for s in range(0, len(xt), batch)]).numpy()


def features(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Penultimate features (n, 2 * width) of x (n, T, M, V, C)."""
    return _batched(lambda m, xb: m.features(xb), model, x)


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Predicted labels (n,) of x (n, T, M, V, C)."""
    return _batched(lambda m, xb: m(xb).argmax(1), model, x)


def probabilities(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Class probabilities (n, K) of x (n, T, M, V, C)."""
    return _batched(lambda m, xb: m(xb).softmax(1), model, x)


def rarest(train_counts: np.ndarray) -> np.ndarray:
    """The rarest third of the classes (ceil(K/3) of them) by training count, ties by index."""
    k = len(train_counts)
    return np.sort(np.argsort(train_counts, kind="stable")[: math.ceil(k / 3)])


def score(y_true: np.ndarray, y_pred: np.ndarray, train_counts: np.ndarray) -> dict:
    """top1, class-balanced accuracy, rare_third (mean accuracy of the ``rarest`` classes of the
    scenario's real training counts) and per_class accuracies (K,), all as fractions."""
    s = Scores.of(np.asarray(y_true), np.asarray(y_pred), len(train_counts))
    per_class = np.array(s.per_class, dtype=float)
    return {"top1": s.top1, "balanced": s.balanced,
            "rare_third": float(np.nanmean(per_class[rarest(np.asarray(train_counts))])),
            "per_class": per_class.tolist()}
