"""Checkpoints: one file holding weights, the full recipe, layout, classes and data fingerprint,
written atomically and read with ``torch.load(weights_only=True)`` (no code runs on load).

The file holds plain data; this module alone reads its keys. Everything else gets the typed,
validated description of the run (``RunInfo``) and the ``Checkpoint`` that holds it."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .architectures import build_model
from .errors import SkelgenError
from .io.atomic import AtomicPath, note_input
from .io.dataset import ClassList
from .layouts import Layout
from .model import ModelConfig
from .recipe import Recipe

FORMAT = "skelgen-checkpoint/1"
LATEST = Path("runs") / "latest.json"  # where `pretrain` records its checkpoint for other commands


@dataclass(frozen=True)
class DataInfo:
    """The data a run was trained on: where it came from (file path and sha256 fingerprint, the
    provenance of every sequence generated with the run) and the shape the model reads from it."""
    path: str
    fingerprint: str
    split: str
    frames: int               # T, every sequence resampled to it
    persons: int              # M
    normalized: bool          # the file held normalized coordinates (no camera pose to restore)
    layout: Layout            # the joints V


@dataclass(frozen=True)
class RunInfo:
    """What a pretraining run is, typed: the model, its data, the class list and the recipe it was
    trained with. Built and validated once (``Checkpoint.from_state`` when a checkpoint is read,
    ``pretrain`` when one is written) and passed around in place of the checkpoint's dict."""
    model: ModelConfig
    data: DataInfo
    classes: ClassList
    recipe: Recipe
    format: str = FORMAT
    # the "table.key" names the saved recipe held (None: all): keys added to skelgen since a
    # checkpoint was written took their defaults, and never count as changed (recipe_changes)
    saved_keys: frozenset | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        d, cfg = self.data, self.model
        if d.frames != cfg.frames or cfg.in_dim % max(d.persons * d.layout.num_joints, 1):
            raise SkelgenError(f"data frames/persons disagree with the model ({cfg.frames} frames, "
                               f"{cfg.in_dim} features)")
        if len(self.classes.codes) != len(self.classes.names):
            raise SkelgenError("class codes and names differ in number")

    @property
    def layout(self) -> Layout:
        return self.data.layout

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(T, M, V, C) of one model input."""
        m, v = self.data.persons, self.layout.num_joints
        return self.data.frames, m, v, self.model.in_dim // (m * v)

    @property
    def can_generate(self) -> bool:
        """Whether its decoder generates from a [CLS] embedding (TAHAR; the MAE's cannot)."""
        return self.model.arch == "tahar"

    @property
    def generation_frame_mask(self) -> float:
        """The share of frames zeroed in the decoder's noise input when generating: all (the
        decoder reads [CLS] alone) for a model trained on fully masked inputs, which learned to
        rebuild from [CLS] alone; else the training frame-mask rate, so that the input looks like
        what the decoder saw in training."""
        aug = self.recipe.augment
        return 1.0 if aug.full_mask > 0 else aug.frame_mask

    def recipe_changes(self, recipe: Recipe) -> str:
        """The keys of ``recipe`` that would change the weights and differ from this run's, as
        "train.epochs 1 -> 3" (when checkpoints are written is no change); a key the saved
        recipe lacked (added to skelgen since) counts as unchanged."""
        saved, now = self.recipe.to_dict(), recipe.to_dict()
        return ", ".join(f"{t}.{k} {saved[t][k]!r} -> {v!r}" for t in recipe.tables() for k, v in now[t].items()
                         if f"{t}.{k}" not in SAVING_KEYS and saved[t][k] != v
                         and (self.saved_keys is None or f"{t}.{k}" in self.saved_keys))

    def to_state(self) -> dict:
        """The checkpoint's plain-data entries (what ``torch.load(weights_only=True)`` reads back)."""
        d = self.data
        return {"format": self.format, "recipe": self.recipe.to_dict(), "model_config": dataclasses.asdict(self.model),
                "layout": d.layout.to_dict(),
                "classes": {"codes": list(self.classes.codes), "names": list(self.classes.names)},
                "data": {"path": d.path, "fingerprint": d.fingerprint, "split": d.split, "frames": d.frames,
                         "persons": d.persons, "normalized": d.normalized}}

    @classmethod
    def from_state(cls, state: dict) -> "RunInfo":
        """The run a checkpoint's dict describes, or a SkelgenError naming what is wrong with it."""
        for key, kind in SCHEMA.items():
            if not isinstance(state.get(key), kind):
                raise SkelgenError(f"'{key}' is missing or not a {kind.__name__}")
        for key, names in SCHEMA_KEYS.items():
            if set(state[key]) != names:
                raise SkelgenError(f"'{key}' has keys {sorted(state[key])}, expected {sorted(names)}")
        unknown = set(state["model_config"]) - {f.name for f in dataclasses.fields(ModelConfig)}
        if unknown:
            raise SkelgenError(f"model_config keys {sorted(unknown)} are unknown")
        cfg = ModelConfig(**state["model_config"])  # ranges, and a size that fits in memory
        data = state["data"]
        try:  # the saved recipe: keys added since take their defaults, a key unknown now is an error
            recipe = Recipe.from_dict(state["recipe"], name=str(state["recipe"].get("name", "custom")))
        except SkelgenError as e:
            raise SkelgenError(f"its recipe does not read ({e})") from None
        saved = frozenset(f"{t}.{k}" for t, keys in state["recipe"].items() if isinstance(keys, dict) for k in keys)
        return cls(cfg, DataInfo(str(data["path"]), str(data["fingerprint"]), str(data["split"]), int(data["frames"]),
                                 int(data["persons"]), bool(data["normalized"]), Layout.from_dict(state["layout"])),
                   ClassList(tuple(map(str, state["classes"]["codes"])), tuple(map(str, state["classes"]["names"]))),
                   recipe, state["format"], saved)


SAVING_KEYS = {"train.save_every", "train.save_minutes"}  # when to save: never the weights
# what every checkpoint holds: top-level key -> its type, and the keys of its dict entries
SCHEMA = {"format": str, "recipe": dict, "model_config": dict, "layout": dict, "classes": dict, "data": dict,
          "model": dict, "epoch": int}
SCHEMA_KEYS = {"classes": {"codes", "names"},
               "data": {"path", "fingerprint", "split", "frames", "persons", "normalized"}}


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file's content: the run, its weights after ``epoch`` epochs and, for
    resuming, the optimizer's state."""
    run: RunInfo
    weights: dict             # the model's state_dict
    epoch: int
    optimizer: dict | None = None

    @property
    def finished(self) -> bool:
        """Whether it holds the run's last epoch."""
        return self.epoch == self.run.recipe.train.epochs

    def to_state(self) -> dict:
        state = {**self.run.to_state(), "model": self.weights, "epoch": self.epoch}
        return state if self.optimizer is None else {**state, "optimizer": self.optimizer}

    @classmethod
    def from_state(cls, state: dict) -> "Checkpoint":
        """Refuse a checkpoint that is a valid pickle of tensors but not of the expected shape (a
        hand-edited or foreign one) before anything is built from it; the message has no trailing hint."""
        run = RunInfo.from_state(state)
        weights, optimizer = state["model"], state.get("optimizer")
        if not all(isinstance(v, torch.Tensor) for v in weights.values()):
            raise SkelgenError("'model' holds something other than tensors")
        if optimizer is not None and not isinstance(optimizer, dict):
            raise SkelgenError("'optimizer' is not a dict")
        with torch.device("meta"):  # shapes only: allocates nothing, whatever the config claims
            expected = {k: tuple(v.shape) for k, v in build_model(run.model).state_dict().items()}
        given = {k: tuple(v.shape) for k, v in weights.items()}
        if given != expected:
            bad = sorted(set(given) ^ set(expected)) or [k for k in expected if given[k] != expected[k]]
            raise SkelgenError(f"its weights do not fit its model_config ({', '.join(bad[:3])})")
        return cls(run, weights, state["epoch"], optimizer)


def save_checkpoint(ckpt: Checkpoint, path: str | Path):
    """Write ``ckpt`` to ``path`` atomically (a crash leaves the previous checkpoint intact);
    a resumed run replaces the checkpoint it started from."""
    with AtomicPath(path, overwrite=True, updates_input=True) as tmp:
        torch.save(ckpt.to_state(), tmp)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint at ``path``, validated (its run, weights that fit it), or one SkelgenError line."""
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
    version = state.get("format") if isinstance(state, dict) else None
    if isinstance(version, str) and version.startswith("skelgen-checkpoint/") and version != FORMAT:
        raise SkelgenError(f"checkpoint {path} has format {version}, this skelgen reads {FORMAT}; "
                           f"retrain with this version or use the skelgen that wrote it")
    if version != FORMAT:
        raise SkelgenError(f"{path} is not a skelgen checkpoint")
    try:
        return Checkpoint.from_state(state)
    except SkelgenError as e:
        raise SkelgenError(f"checkpoint {path} is malformed: {e}; retrain or use another checkpoint") from None


def load_model(path: str | Path) -> tuple[torch.nn.Module, RunInfo]:
    """The trained model (eval mode, CPU) and its run (validated, so this cannot fail)."""
    ckpt = load_checkpoint(path)
    model = build_model(ckpt.run.model)
    model.load_state_dict(ckpt.weights)
    return model.eval(), ckpt.run


def load_generator(path: str | Path) -> tuple[torch.nn.Module, RunInfo]:
    """``load_model`` for generation: refuses a model whose decoder cannot generate."""
    model, run = load_model(path)
    if not run.can_generate:
        raise SkelgenError(f"{path} is a {run.model.arch} model, which cannot generate; use a TAHAR checkpoint")
    return model, run


def check_compatible(run: RunInfo, layout: Layout, persons: int, what: str = "the data"):
    """Refuse data whose layout or persons differ from the run's. Its class list may differ:
    pretraining uses no labels, so a model pretrained on other (or unlabelled) clips of the layout
    serves any labelled data, and generation conditions on that data's own classes."""
    if run.layout.name != layout.name:
        raise SkelgenError(f"the checkpoint was trained on layout {run.layout.name!r} but {what} "
                           f"uses {layout.name!r}; use a checkpoint trained on this layout")
    if list(run.layout.joints) != list(layout.joints):  # a custom layout named like another
        raise SkelgenError(f"the checkpoint's layout and {what}'s are both named {layout.name!r} but their joints "
                           f"differ ({run.layout.num_joints} vs {layout.num_joints} joints, or another "
                           f"order); use a checkpoint trained on this layout, or give custom layouts own names")
    if run.data.persons != persons:
        raise SkelgenError(f"the checkpoint expects {run.data.persons} person(s) per sample, "
                           f"{what} has {persons}")


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
