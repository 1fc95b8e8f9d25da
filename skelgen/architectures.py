"""The model a ModelConfig names: TAHAR (skelgen.model) or the paper's MAE baseline
(skelgen.mae). Its own module, so that the two architectures never import each other."""
from __future__ import annotations

import torch.nn as nn

from .errors import SkelgenError
from .mae import MAEBaseline
from .model import TAHAR, ModelConfig


def build_model(cfg: ModelConfig) -> nn.Module:
    """The architecture ``cfg.arch`` names; both expose encode / decode / reconstruct / forward_loss."""
    if cfg.arch == "tahar":
        return TAHAR(cfg)
    if cfg.arch == "mae":
        return MAEBaseline(cfg)
    raise SkelgenError(f"unknown model.arch {cfg.arch!r}; use 'tahar' or 'mae'")
