"""Recipes: one TOML file per experiment, its tables 1:1 with the dataclasses below.

    [model]   -> ModelConfig (dim, enc_depth, ...; in_dim and frames come from the data)
    [data]    -> DataConfig     [augment] -> AugmentConfig     [train] -> TrainConfig

``--set train.epochs=5`` overrides one key; an unknown table or key is an error.
"""
from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SkelgenError
from .model import ModelConfig


def _recipe_dir() -> Path:
    """The top-level recipes/ folder, installed as the data package skelgen.recipes
    (pyproject.toml) so that a wheel carries it as an editable install does."""
    try:
        return Path(str(resources.files("skelgen.recipes")))
    except ModuleNotFoundError:  # a source checkout imported without installing it
        return Path(__file__).resolve().parent.parent / "recipes"


RECIPE_DIR = _recipe_dir()


@dataclass
class DataConfig:
    path: str = ""            # dataset file; empty = the built-in demo data
    split: str = "train"      # the split pretraining reads (labels are never used)
    frames: int = 64          # every sequence is resampled to this many frames


@dataclass
class AugmentConfig:
    rotate: float = 0.3       # max rotation about each axis, radians
    scale: float = 0.1        # per-axis scale in 1 +- scale
    noise_prob: float = 0.1   # probability that a joint position gets Gaussian noise
    noise_std: float = 0.05   # that noise's standard deviation, metres
    frame_mask: float = 0.8   # probability that a frame is zeroed in the decoder input
    joint_mask: float = 0.8   # probability that a sample loses one joint in every frame
    full_mask: float = 0.0    # probability that a sample's decoder input is masked entirely
                              # (not in the paper; teaches the decoder to generate from [CLS])
    encoder: bool = False     # also rotate and scale the encoder's input (and so the target);
                              # not in the paper: asks [CLS] to be robust to the camera view


@dataclass
class TrainConfig:
    epochs: int = 90
    batch_size: int = 128
    lr: float = 1e-3          # peak, reached after warmup
    lr_start: float = 1e-4    # linear warmup from here
    warmup_epochs: int = 10
    weight_decay: float = 0.01
    seed: int = 0
    precision: str = "auto"   # auto | fp32 | bf16
    save_minutes: float = 5.0 # a checkpoint when this many minutes have passed since the last
                              # (0: every epoch); the last epoch and an interrupt always save
    save_every: int = 0       # also a checkpoint every this many epochs (0: off)


@dataclass
class Recipe:
    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, name: str = "custom") -> "Recipe":
        recipe = cls(name=str(d.get("name", name)))
        for table, values in d.items():
            if table == "name":
                continue
            if table not in _TABLES:
                raise SkelgenError(f"recipe {name}: unknown table [{table}]; known: {sorted(_TABLES)}")
            if not isinstance(values, dict):
                raise SkelgenError(f"recipe {name}: [{table}] must be a table of keys")
            for key, value in values.items():
                recipe.set(f"{table}.{key}", value)
        return recipe

    def set(self, dotted: str, value):
        """Set ``table.key`` to ``value`` (a string is parsed as a TOML value), type-checked."""
        table, _, key = dotted.partition(".")
        section = getattr(self, table, None) if table in _TABLES else None
        names = {f.name: f for f in dataclasses.fields(section)} if section is not None else {}
        if key not in names:
            known = sorted(f"{t}.{f.name}" for t in _TABLES for f in dataclasses.fields(getattr(self, t)))
            raise SkelgenError(f"unknown recipe key {dotted!r}; known keys: {', '.join(known)}")
        default = getattr(section, key)
        if isinstance(value, str) and not isinstance(default, str):
            try:
                value = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError:
                raise SkelgenError(f"recipe key {dotted}: {value!r} is not a valid value; give a "
                                   f"{type(default).__name__} such as {default!r}") from None
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise SkelgenError(f"recipe key {dotted} takes a {type(default).__name__}, "
                               f"got {value!r}")
        setattr(section, key, value)


_TABLES = ("model", "data", "augment", "train")


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def read_recipe_file(name_or_path: str, kind: str = "recipe", pattern: str = "*.toml") -> tuple[Path, dict]:
    """(path, parsed TOML) of ``recipes/NAME.toml`` or a path; ``kind`` names it in errors, whose
    list of available names comes from the recipes matching ``pattern``."""
    path = Path(name_or_path)
    if not path.is_file():
        path = RECIPE_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in RECIPE_DIR.glob(pattern)))
        raise SkelgenError(f"unknown {kind} {name_or_path!r}; available: {names} (or give a .toml path)")
    try:
        return path, tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SkelgenError(f"{kind} {path} is not valid TOML: {e}") from None


def load_recipe(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """A recipe from ``recipes/NAME.toml`` or a path, with ``key=value`` overrides applied."""
    path, d = read_recipe_file(name_or_path)
    recipe = Recipe.from_dict(d, name=path.stem)
    for item in overrides:
        key, eq, value = item.partition("=")
        if not eq:
            raise SkelgenError(f"--set needs key=value, got {item!r}")
        recipe.set(key.strip(), value.strip())
    return recipe
