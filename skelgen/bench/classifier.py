"""The downstream classifier of the benchmark: a small temporal 1D-conv net, trained from scratch.

Input: normalized, resampled sequences (B, T, M, V, C). Each frame's joints (all persons) are
flattened to F = M*V*C features and joined by their frame-to-frame velocity (2F channels); a
BatchNorm over those channels (ST-GCN's data_bn) is followed by three Conv1d-BatchNorm-ReLU
blocks over time (kernel 5, 5, 3; the last two with stride 2), global average pooling over time
and one linear layer. The pooled vector (2 * width) is the penultimate feature the quality
metrics use. Training: AdamW, cosine learning rate per step, plain cross-entropy (no class
weights, no augmentation), so only the training set differs between benchmark methods.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import SkelgenError, check_range
from ..evaluate import Scores
from ..progress import Progress
from ..train import pick_device


@dataclass
class ClassifierConfig:
    width: int = 64           # channels of the first block; the later blocks and features: 2 * width
    epochs: int = 30          # passes over the training set (the benchmark: its largest one)
    min_steps: int = 0        # the benchmark trains at least this many steps (tiny scenarios)
    batch_size: int = 64
    lr: float = 1e-3          # peak of the cosine schedule
    weight_decay: float = 0.01
    dropout: float = 0.2      # on the pooled features, before the linear layer

    def __post_init__(self):
        for key, low in (("width", 1), ("epochs", 1), ("min_steps", 0), ("batch_size", 1), ("weight_decay", 0)):
            check_range(f"classifier.{key}", getattr(self, key), low, fix="fix it in the benchmark recipe")
        check_range("classifier.dropout", self.dropout, 0, 1, high_open=True, fix="fix it in the benchmark recipe")
        if not self.lr > 0:
            raise SkelgenError(f"classifier.lr must be a number > 0, not {self.lr!r}; fix it in the benchmark recipe")


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


def train_classifier(x: np.ndarray, y: np.ndarray, num_classes: int, cfg: ClassifierConfig,
                     seed: int = 0, steps: int | None = None, show_progress: bool = False,
                     desc: str = "classifier") -> ConvClassifier:
    """Train a fresh ConvClassifier on x (n, T, M, V, C), y (n,); returns it in eval mode.

    ``steps``: total optimizer steps (default ``cfg.epochs`` passes over x); the benchmark gives
    every method of a scenario the same number, so added data never means more training.
    Initialization, order and dropout all follow ``seed``."""
    torch.manual_seed(seed)
    gen, device = torch.Generator().manual_seed(seed), pick_device()
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, dtype=torch.long, device=device)
    model = ConvClassifier(int(np.prod(xt.shape[2:])), num_classes, cfg.width, cfg.dropout).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n, bs = len(xt), min(cfg.batch_size, len(xt))
    per_epoch = max(n // bs, 1)  # full batches only (a last batch of one breaks BatchNorm)
    total = cfg.epochs * per_epoch if steps is None else int(steps)
    model.train()
    with Progress(total, desc, "steps", enabled=show_progress) as bar:
        for step in range(total):
            if step % per_epoch == 0:
                order = torch.randperm(n, generator=gen).to(device)
            for group in opt.param_groups:
                group["lr"] = 0.5 * cfg.lr * (1 + math.cos(math.pi * step / total))
            b = order[(step % per_epoch) * bs: (step % per_epoch + 1) * bs]
            loss = F.cross_entropy(model(xt[b]), yt[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1, loss=loss.item())
    return model.eval()


@torch.no_grad()
def _batched(fn, model: ConvClassifier, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """fn(model, xb) over x (n, T, M, V, C) in batches, on the model's device, as one array."""
    model.eval()
    device = next(model.parameters()).device
    xt = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([fn(model, xt[s: s + batch].to(device)).cpu() for s in range(0, len(xt), batch)]).numpy()


def features(model: ConvClassifier, x: np.ndarray) -> np.ndarray:
    """Penultimate features (n, 2 * width) of x (n, T, M, V, C)."""
    return _batched(lambda m, xb: m.features(xb), model, x)


def predict(model: ConvClassifier, x: np.ndarray) -> np.ndarray:
    """Predicted labels (n,) of x (n, T, M, V, C)."""
    return _batched(lambda m, xb: m(xb).argmax(1), model, x)


def probabilities(model: ConvClassifier, x: np.ndarray) -> np.ndarray:
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
