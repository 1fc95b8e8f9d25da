"""Recipes: one TOML file per experiment, its tables 1:1 with the dataclasses below.

    [model]   -> ModelConfig (dim, enc_depth, ...; in_dim, frames and parents come from the data)
    [data]    -> DataConfig     [augment] -> AugmentConfig     [train] -> TrainConfig

``--set train.epochs=5`` overrides one key; an unknown table or key is an error.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SkelgenError, check_range
from .io.atomic import note_input
from .model import ModelConfig
from .precision import check_precision


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

    def __post_init__(self):
        check_range("data.frames", self.frames, 1)
        if not self.split:
            raise SkelgenError("data.split must name a split, e.g. train")


@dataclass
class AugmentConfig:
    rotate: float = 0.3       # max rotation about each axis, radians
    scale: float = 0.1        # per-axis scale in 1 +- scale
    noise_prob: float = 0.1   # probability that a joint position gets Gaussian noise: our reading of
                              # the paper's "noise probability" 0.1 (its Table 1, "Noise" column)
    noise_std: float = 0.05   # that noise's standard deviation, metres (the paper gives none)
    frame_mask: float = 0.8   # probability that a frame is zeroed in the decoder input
    joint_mask: float = 0.8   # joint masking rate ("we choose joint and frame masking rates to 0.8")
    joint_mask_mode: str = "one"  # how joint_mask is read: "one", a sample loses one joint in all
                              # frames with that probability ("for joint masking, we choose to set
                              # one joint in all frames to zero", section 3.3: the paper's recipes);
                              # "each", every joint is lost with that probability
    full_mask: float = 0.0    # probability that a sample's decoder input is masked entirely
                              # (not in the paper; teaches the decoder to generate from [CLS])
    encoder: bool = False     # also rotate and scale the encoder's input (and so the target);
                              # not in the paper: asks [CLS] to be robust to the camera view
    crop: float = 1.0         # with encoder: ... and crop it to a random crop..1 of its frames,
                              # resampled, drawn anew every step (pyskl's UniformSample); 1: off
    shear: float = 0.0        # with encoder: ... and sheared, each axis plus U(-shear, shear) times
                              # each other axis (SkeletonCLR's augmentation); 0: off

    def __post_init__(self):
        for key in ("rotate", "noise_std"):
            check_range(f"augment.{key}", getattr(self, key), 0)
        check_range("augment.scale", self.scale, 0, 1, high_open=True)  # 1 - scale stays positive
        for key in ("noise_prob", "frame_mask", "joint_mask", "full_mask"):  # probabilities
            check_range(f"augment.{key}", getattr(self, key), 0, 1)
        check_range("augment.crop", self.crop, 0.1, 1)
        check_range("augment.shear", self.shear, 0, 1)


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
    min_steps: int = 0        # at least this many optimizer steps: on a small dataset the epochs
                              # (and warmup) are raised to reach them, so that one recipe trains
                              # properly on 100 clips and on 100,000 (Recipe.fitted_to)
    init: str = ""            # a checkpoint to start from (same layout and model): a small dataset
                              # starts from what a model pretrained on a larger one knows
    vicreg: float = 0.0       # weight of a view-agreement term beside the reconstruction: VICReg
                              # on model.projector's outputs for two augmented views of each
                              # sequence (augment.encoder); not in the paper (BENCHMARKS.md 11e)

    def __post_init__(self):
        for key in ("epochs", "batch_size"):
            check_range(f"train.{key}", getattr(self, key), 1)
        for key in ("warmup_epochs", "seed", "weight_decay", "lr_start", "save_every", "save_minutes", "min_steps",
                    "vicreg"):
            check_range(f"train.{key}", getattr(self, key), 0)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise SkelgenError(f"train.lr must be a number > 0, not {self.lr!r}; fix it in the recipe or with --set")
        check_precision(self.precision)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimizer steps in one pass over n sequences: full batches only (a last batch of a few
    sequences would be a noisy step), but a dataset smaller than a batch is one whole batch."""
    return max(n // batch_size, 1)


class Tables:
    """A recipe file's reader, for every kind of recipe: a dataclass whose fields (besides
    ``name``) are its TOML tables, each a dataclass of keys. TOML values and ``table.key=value``
    overrides go through the one ``set``: type-checked against the key's annotation (lists
    element by element), a string parsed as a TOML value where the key is not a string. Ranges
    are checked by each table's ``__post_init__`` once every key is set (``validate``).
    Subclasses: Recipe (pretraining) and bench.run.BenchRecipe."""
    KIND = "recipe"       # names it in errors
    PATTERN = "*.toml"    # its files in recipes/, listed when a name is unknown
    CHOICES: dict = {}    # "table.key" -> the values a string key takes

    @classmethod
    def tables(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "name")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self):
        """Check every table's ranges (keys are set one at a time, so this runs once all are set)."""
        for table in self.tables():
            getattr(self, table).__post_init__()
        return self

    @classmethod
    def from_dict(cls, d: dict, name: str = "custom"):
        recipe = cls(name=str(d.get("name", name)))
        for table, values in d.items():
            if table == "name":
                continue
            if table not in cls.tables():
                raise SkelgenError(f"{cls.KIND} {name}: unknown table [{table}]; known: {', '.join(cls.tables())}")
            if not isinstance(values, dict):
                raise SkelgenError(f"{cls.KIND} {name}: [{table}] must be a table of keys")
            for key, value in values.items():
                recipe.set(f"{table}.{key}", value)
        return recipe.validate()

    @classmethod
    def load(cls, name_or_path: str, overrides: list[str] | tuple[str, ...] = ()):
        """The recipe ``recipes/NAME.toml`` or a path, with ``key=value`` overrides applied."""
        path, d = read_recipe_file(name_or_path, cls.KIND, cls.PATTERN)
        recipe = cls.from_dict(d, name=path.stem)
        for item in overrides:
            key, eq, value = item.partition("=")
            if not eq:
                raise SkelgenError(f"--set needs key=value, got {item!r}")
            recipe.set(key.strip(), value.strip())
        return recipe.validate()

    def set(self, dotted: str, value):
        """Set ``table.key`` to ``value`` (a string is parsed as a TOML value), type-checked."""
        table, _, key = dotted.partition(".")
        section = getattr(self, table) if table in self.tables() else None
        hints = typing.get_type_hints(type(section)) if section is not None else {}
        if key not in hints:
            known = sorted(f"{t}.{k}" for t in self.tables() for k in typing.get_type_hints(type(getattr(self, t))))
            raise SkelgenError(f"unknown {self.KIND} key {dotted!r}; known keys: {', '.join(known)}")
        want = hints[key]
        inner = typing.get_args(want)[0] if typing.get_origin(want) is list else None
        name = getattr(want, "__name__", str(want))
        if isinstance(value, str) and want is not str:
            try:
                value = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError:
                raise SkelgenError(f"{self.KIND} key {dotted}: {value!r} is not a valid value; give a "
                                   f"{name} such as {getattr(section, key)!r}") from None
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not (isinstance(value, list) and all(type(v) is inner for v in value) if inner else type(value) is want):
            raise SkelgenError(f"{self.KIND} key {dotted} takes a {name}, got {value!r}")
        if dotted in self.CHOICES and value not in self.CHOICES[dotted]:
            raise SkelgenError(f"{self.KIND} key {dotted} takes one of {', '.join(self.CHOICES[dotted])}, "
                               f"not {value!r}")
        setattr(section, key, value)


@dataclass
class Recipe(Tables):
    """A pretraining recipe: [model], [data], [augment], [train]."""
    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    CHOICES = {"augment.joint_mask_mode": ("one", "each"), "model.streams": ModelConfig.STREAMS}

    def validate(self):
        super().validate()
        for key, off in (("crop", 1.0), ("shear", 0.0)):
            if getattr(self.augment, key) != off and not self.augment.encoder:
                raise SkelgenError(f"augment.{key} changes the encoder's input; it needs augment.encoder=true")
        if self.model.projector and not self.train.vicreg:  # an untrained projector (DDP refuses unused weights)
            raise SkelgenError("model.projector is trained only by train.vicreg; set train.vicreg > 0 or "
                               "model.projector=0")
        if self.train.vicreg > 0:
            needs = [k for k, missing in (("model.projector > 0", self.model.projector == 0),
                                          ("augment.encoder=true", not self.augment.encoder),
                                          ("model.arch=tahar", self.model.arch != "tahar")) if missing]
            if needs:
                raise SkelgenError(f"train.vicreg compares the [CLS] of two augmented views through a projector; "
                                   f"it needs {' and '.join(needs)}")
        return self

    def fitted_to(self, n: int) -> "Recipe":
        """This recipe for a dataset of ``n`` sequences: epochs and warmup raised in proportion
        where ``train.min_steps`` needs more epochs than it has (itself otherwise)."""
        tc = self.train
        epochs = max(tc.epochs, math.ceil(tc.min_steps / steps_per_epoch(n, tc.batch_size)))
        if epochs == tc.epochs:
            return self
        return dataclasses.replace(self, train=dataclasses.replace(
            tc, epochs=epochs, warmup_epochs=round(tc.warmup_epochs * epochs / tc.epochs)))


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
    note_input(path)
    try:
        return path, tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SkelgenError(f"{kind} {path} is not valid TOML: {e}") from None


def load_recipe(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """A pretraining recipe from ``recipes/NAME.toml`` or a path, with ``key=value`` overrides applied."""
    return Recipe.load(name_or_path, overrides)
