"""Checkpoints: one file holding weights, the full recipe, layout, classes and data fingerprint,
written atomically and read with ``torch.load(weights_only=True)`` (no code runs on load)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import torch

from .errors import SkelgenError
from .io.atomic import AtomicPath, note_input
from .layouts import Layout
from .architectures import build_model
from .model import ModelConfig

FORMAT = "skelgen-checkpoint/1"
LATEST = Path("runs") / "latest.json"  # where `pretrain` records its checkpoint for other commands


def save_checkpoint(state: dict, path: str | Path):
    """Write ``state`` to ``path`` atomically (a crash leaves the previous checkpoint intact);
    a resumed run replaces the checkpoint it started from."""
    with AtomicPath(path, overwrite=True, updates_input=True) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path: str | Path) -> dict:
    path = note_input(path)
    if not path.is_file():
        raise SkelgenError(f"checkpoint {path} not found; run `skelgen pretrain` first or pass --checkpoint")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; anything else is not ours
        raise SkelgenError(f"{path} is not a skelgen checkpoint (truncated, or another kind of file); "
                           f"pass the checkpoint.pt of a `skelgen pretrain` run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise SkelgenError(f"checkpoint {path} holds objects other than tensors and plain data; "
                           f"refusing to load it ({str(e).splitlines()[0]})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise SkelgenError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}); "
                           f"retrain or use another checkpoint") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SkelgenError(f"{path} is not a skelgen checkpoint")
    try:
        _validate(state)
    except SkelgenError as e:
        raise SkelgenError(f"checkpoint {path} is malformed: {e}; retrain or use another checkpoint") from None
    return state


# what every checkpoint holds: top-level key -> its type, and the keys of its dict entries
SCHEMA = {"recipe": dict, "model_config": dict, "layout": dict, "classes": dict, "data": dict, "model": dict,
          "epoch": int}
SCHEMA_KEYS = {"classes": {"codes", "names"},
               "data": {"path", "fingerprint", "split", "frames", "persons", "normalized"}}


def _validate(state: dict):
    """Refuse a checkpoint that is a valid pickle of tensors but not of the expected shape (a
    hand-edited or foreign one) before anything is built from it; the message has no trailing hint."""
    for key, kind in SCHEMA.items():
        if not isinstance(state.get(key), kind):
            raise SkelgenError(f"'{key}' is missing or not a {kind.__name__}")
    for key, names in SCHEMA_KEYS.items():
        if set(state[key]) != names:
            raise SkelgenError(f"'{key}' has keys {sorted(state[key])}, expected {sorted(names)}")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    if set(state["model_config"]) != known:
        raise SkelgenError(f"model_config keys {sorted(set(state['model_config']) ^ known)} are unknown or missing")
    cfg = ModelConfig(**state["model_config"])  # ranges, and a size that fits in memory
    layout = Layout.from_dict(state["layout"])
    data = state["data"]
    if data["frames"] != cfg.frames or cfg.in_dim % max(int(data["persons"]) * layout.num_joints, 1):
        raise SkelgenError(f"data frames/persons disagree with the model ({cfg.frames} frames, {cfg.in_dim} features)")
    if len(state["classes"]["codes"]) != len(state["classes"]["names"]):
        raise SkelgenError("class codes and names differ in number")
    if not all(isinstance(v, torch.Tensor) for v in state["model"].values()):
        raise SkelgenError("'model' holds something other than tensors")
    with torch.device("meta"):  # shapes only: allocates nothing, whatever the config claims
        expected = {k: tuple(v.shape) for k, v in build_model(cfg).state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state["model"].items()}
    if given != expected:
        bad = sorted(set(given) ^ set(expected)) or [k for k in expected if given[k] != expected[k]]
        raise SkelgenError(f"its weights do not fit its model_config ({', '.join(bad[:3])})")


def load_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The trained model (eval mode, CPU) and its checkpoint dict (validated, so this cannot fail)."""
    state = load_checkpoint(path)
    model = build_model(ModelConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.eval(), state


def check_compatible(state: dict, layout: Layout, codes, persons: int, what: str = "the data"):
    """Refuse data whose layout, persons or class list differ from the checkpoint's."""
    if state["layout"]["name"] != layout.name:
        raise SkelgenError(f"the checkpoint was trained on layout {state['layout']['name']!r} but {what} "
                           f"uses {layout.name!r}; use a checkpoint trained on this layout")
    if list(state["layout"]["joints"]) != list(layout.joints):  # a custom layout named like another
        raise SkelgenError(f"the checkpoint's layout and {what}'s are both named {layout.name!r} but their joints "
                           f"differ ({len(state['layout']['joints'])} vs {layout.num_joints} joints, or another "
                           f"order); use a checkpoint trained on this layout, or give custom layouts own names")
    if state["data"]["persons"] != persons:
        raise SkelgenError(f"the checkpoint expects {state['data']['persons']} person(s) per sample, "
                           f"{what} has {persons}")
    if codes is not None and list(state["classes"]["codes"]) != list(codes):
        raise SkelgenError(f"the checkpoint's class list differs from {what}'s; "
                           f"use a checkpoint trained on this dataset")


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes (first 16 hex digits): which data a checkpoint saw."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def record_latest(checkpoint: Path, data: str):
    LATEST.parent.mkdir(parents=True, exist_ok=True)
    with AtomicPath(LATEST, overwrite=True) as tmp:
        tmp.write_text(json.dumps({"checkpoint": str(Path(checkpoint).resolve()),
                                   "data": str(Path(data).resolve())}))


def latest() -> dict:
    """``{"checkpoint", "data"}`` of the last `skelgen pretrain` run in this folder."""
    if not LATEST.is_file():
        raise SkelgenError("no checkpoint given and no earlier `skelgen pretrain` here; "
                           "run `skelgen pretrain` or pass --checkpoint")
    return json.loads(LATEST.read_text())
