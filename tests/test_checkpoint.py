"""The run schema: a checkpoint is read once into a typed, validated RunInfo; old checkpoints of
this format load, other versions and malformed ones get one clear line; modules do not import
each other."""
import ast
from pathlib import Path

import pytest
import torch
from conftest import data_and_checkpoint, tiny_recipe

from skelgen.checkpoint import FORMAT, load_checkpoint, load_generator
from skelgen.errors import SkelgenError
from skelgen.train import pretrain


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(data, checkpoint, its raw dict as torch.load reads it)."""
    data, ckpt = data_and_checkpoint(tmp_path_factory.mktemp("schema"))
    return data, ckpt, torch.load(ckpt, weights_only=True)


def saved(tmp_path, state, name="edited.pt") -> Path:
    torch.save(state, tmp_path / name)
    return tmp_path / name


def test_the_run_is_typed_and_round_trips(run):
    data, path, state = run
    ckpt = load_checkpoint(path)
    r = ckpt.run
    assert (r.data.frames, r.data.persons, r.layout.name, len(r.classes)) == (16, 1, "ntu25", 8)
    assert r.input_shape == (16, 1, 25, 3) and r.model.in_dim == 75 and r.can_generate
    assert r.data.path == str(Path(data).resolve()) and r.format == FORMAT
    assert ckpt.finished and ckpt.epoch == 1 and ckpt.optimizer is not None
    assert r.to_state() == {k: v for k, v in state.items() if k not in ("model", "optimizer", "epoch")}


def test_an_older_checkpoint_of_this_format_loads_with_defaults(run, tmp_path):
    """Recipe keys added to skelgen since a checkpoint was written take their defaults, and a
    resume does not count them as changed."""
    _, path, state = run
    recipe = {t: dict(v) if isinstance(v, dict) else v for t, v in state["recipe"].items()}
    del recipe["augment"]["full_mask"], recipe["train"]["min_steps"]
    model_config = {k: v for k, v in state["model_config"].items() if k != "dropout"}
    old = saved(tmp_path, {**state, "recipe": recipe, "model_config": model_config})
    r = load_checkpoint(old).run
    assert r.recipe.augment.full_mask == 0.0 and r.recipe.train.min_steps == 0 and r.model.dropout == 0.0
    assert r.generation_frame_mask == r.recipe.augment.frame_mask  # not trained on fully masked inputs
    assert r.recipe_changes(tiny_recipe(epochs=1, **{"augment.full_mask": 0.5})) == ""
    assert "train.epochs 1 -> 3" in r.recipe_changes(tiny_recipe(epochs=3))


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update(format="skelgen-checkpoint/2"), "has format skelgen-checkpoint/2, this skelgen reads"),
    (lambda s: s.update(format="other"), "is not a skelgen checkpoint"),
    (lambda s: s["recipe"]["augment"].update(renamed=1), "is malformed: its recipe does not read .*augment.renamed"),
    (lambda s: s["recipe"]["train"].update(epochs="many"), "is malformed: its recipe does not read"),
    (lambda s: s["data"].update(frames=99), "is malformed: data frames/persons disagree"),
    (lambda s: s.update(epoch="1"), "is malformed: 'epoch' is missing or not a int"),
    (lambda s: s.update(optimizer=[1]), "is malformed: 'optimizer' is not a dict"),
])
def test_other_versions_and_malformed_checkpoints_get_one_line(run, tmp_path, edit, message):
    _, _, state = run
    bad = {k: ({t: dict(v) if isinstance(v, dict) else v for t, v in v.items()} if k == "recipe" else
               dict(v) if isinstance(v, dict) else v) for k, v in state.items()}
    edit(bad)
    with pytest.raises(SkelgenError, match=message) as e:
        load_checkpoint(saved(tmp_path, bad))
    assert "\n" not in str(e.value)


def test_an_mae_checkpoint_is_refused_for_generation(tmp_path, demo_file):
    ckpt = pretrain(tiny_recipe(epochs=1, **{"model.arch": "mae"}), str(demo_file), tmp_path / "mae",
                    show_progress=False, record=False, stop_after=1)
    assert not load_checkpoint(ckpt).run.can_generate
    with pytest.raises(SkelgenError, match="is a mae model, which cannot generate"):
        load_generator(ckpt)


def imports(path: Path, package: Path) -> set[str]:
    """The skelgen modules a file imports, at its top or inside functions."""
    here = path.relative_to(package.parent).with_suffix("").parts[:-1]  # its package
    is_module = lambda t: (package.parent / Path(*t)).with_suffix(".py").is_file() or \
        (package.parent / Path(*t) / "__init__.py").is_file()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - node.level + 1] + (tuple(node.module.split(".")) if node.module else ())
            submodules = {base + (a.name,) for a in node.names if is_module(base + (a.name,))}
            found |= submodules if submodules and not node.module else {base}
    return {".".join(t) for t in found}


def test_no_two_modules_import_each_other():
    package = Path(__file__).resolve().parent.parent / "skelgen"
    graph = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = imports(path, package)
    pairs = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, ())})
    assert pairs == []
