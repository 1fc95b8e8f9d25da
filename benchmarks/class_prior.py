"""A learned class-conditional prior over [CLS] embeddings: a small flow-matching network shared
by every class (so a rare class borrows the shape of the common ones), class-conditioned with
classifier-free guidance.

Used by the ``prior:STRENGTH`` route of generation_routes.py (measured, BENCHMARKS.md 8h; not a
library strategy, since it did not beat shift): a real source's [CLS] is partly noised and carried
back onto its class's learned distribution (SDEdit), giving a new point near the source that the
prior finds typical of the class, rather than a Gaussian step that may leave it.

Flow: x_t = (1 - t) eps + t x_1, eps ~ N(0, I), x_1 a standardized embedding; the network predicts
the velocity x_1 - eps. Sampling integrates it with Euler steps from t0 to 1.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from skelgen.errors import check_range


class VelocityNet(nn.Module):
    """v(x_t (b, D), t (b,), class (b,)) -> (b, D); class index K means "no class"."""

    def __init__(self, dim: int, num_classes: int, width: int = 256, depth: int = 3):
        super().__init__()
        self.classes = nn.Embedding(num_classes + 1, 64)
        layers, d = [], dim + 32 + 64
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.SiLU()]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, dim))
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(100.0), 16)))

    def forward(self, x, t, c):
        angle = t[:, None] * self.freqs * 2 * math.pi
        return self.net(torch.cat([x, angle.sin(), angle.cos(), self.classes(c)], 1))


class ClassPrior:
    """Fit on embeddings (n, D) with labels (n,) in 0..K-1; deterministic for a seed."""

    def __init__(self, embeddings: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0,
                 steps: int = 3000, batch: int = 256, lr: float = 2e-3, drop_class: float = 0.15):
        e = torch.as_tensor(np.asarray(embeddings, np.float32))
        self.mean = e.mean(0)
        self.std = e.std(0).clamp_min(1e-6) if len(e) > 1 else torch.ones(e.shape[1])
        self.num_classes = num_classes
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # the network's initial weights
        self.net = VelocityNet(e.shape[1], num_classes)
        x1_all, c_all = (e - self.mean) / self.std, torch.as_tensor(np.asarray(labels), dtype=torch.long)
        opt = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=0.0)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05)
        for _ in range(steps):
            i = torch.randint(len(e), (batch,), generator=gen)
            x1, c = x1_all[i], c_all[i].clone()
            c[torch.rand(batch, generator=gen) < drop_class] = num_classes
            eps = torch.randn(x1.shape, generator=gen)
            t = torch.rand(batch, generator=gen)
            xt = (1 - t[:, None]) * eps + t[:, None] * x1
            loss = ((self.net(xt, t, c) - (x1 - eps)) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        self.net.eval()

    @torch.no_grad()
    def move(self, z: np.ndarray, c: np.ndarray, strength: float, rng: np.random.Generator,
             guidance: float = 1.0, steps: int = 32) -> np.ndarray:
        """Embeddings z (b, D) of class c (b,) noised to time 1 - strength and carried back to t = 1
        along the class-conditioned flow: strength 0 returns z, 1 draws from the prior afresh."""
        check_range("prior strength", strength, 0, 1, fix="give a value from 0 to 1")
        x = (torch.as_tensor(np.asarray(z, np.float32)) - self.mean) / self.std
        c = torch.as_tensor(np.asarray(c), dtype=torch.long)
        t0 = 1.0 - strength
        eps = torch.as_tensor(rng.standard_normal(x.shape).astype(np.float32))
        x = (1 - t0) * eps + t0 * x
        none = torch.full_like(c, self.num_classes)
        n = max(int(round(steps * strength)), 1) if strength > 0 else 0
        for k in range(n):
            t = torch.full((len(x),), t0 + (1 - t0) * k / n)
            v = self.net(x, t, c)
            if guidance != 1.0:
                v = self.net(x, t, none) + guidance * (v - self.net(x, t, none))
            x = x + (1 - t0) / n * v
        return (x * self.std + self.mean).numpy()
