"""Shared fixtures: tiny demo data and a tiny model trained for a few seconds."""
from pathlib import Path

import pytest

from skelgen.demo import write_demo
from skelgen.recipe import Recipe

NWUCLA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "NW-UCLA" / "all_sqe"


TINY = {"model.dim": 32, "model.heads": 4, "model.enc_depth": 1, "model.dec_depth": 1,
        "data.frames": 16, "train.batch_size": 16, "train.warmup_epochs": 1}


def tiny_recipe(epochs: int = 2, **overrides) -> Recipe:
    """A TAHAR small enough to train in seconds on 2 cores."""
    r = Recipe(name="tiny")
    for key, value in {**TINY, "train.epochs": epochs, **overrides}.items():
        r.set(key, value)
    return r


def tiny_recipe_file(path: Path, epochs: int = 1, **overrides) -> Path:
    """``tiny_recipe(epochs, **overrides)`` as a TOML file, for commands that take ``--recipe PATH``."""
    tables: dict[str, list[str]] = {}
    for key, value in {**TINY, "train.epochs": epochs, **overrides}.items():
        table, name = key.split(".")
        tables.setdefault(table, []).append(f"{name} = {value}")
    path.write_text("".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items()))
    return path


def sha256(path) -> str:
    """A file's content hash: inputs must come out of every command unchanged."""
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_and_checkpoint(folder: Path) -> tuple[Path, Path]:
    """(a tiny demo data file, a checkpoint trained on it for one epoch), made in ``folder``."""
    from skelgen.train import pretrain
    data = write_demo(folder / "demo.h5", n_per_class=4, frames=16)
    return data, pretrain(tiny_recipe(epochs=1), str(data), folder / "run", show_progress=False, record=False)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> Path:
    """8 classes x 16 samples (12 train, 4 test each), 32 frames."""
    return write_demo(tmp_path_factory.mktemp("data") / "demo.h5", n_per_class=16, frames=32, seed=0)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, demo_file) -> Path:
    """A checkpoint of a small TAHAR trained on the demo data for about a minute."""
    import torch

    from skelgen.train import pretrain
    # Decoding from [CLS] alone (full_mask 1) at a high lr. Generated samples recognized (seed 0,
    # 300 epochs) 97-100 %; seed 1 needed 400 epochs (78 % at 300, 100 % at 400); 200 epochs or
    # lr 2e-3 left 72-77 % (BENCHMARKS.md, section 3).
    r = tiny_recipe(epochs=400, **{"model.dim": 64, "train.lr": 5e-3, "augment.full_mask": 1.0})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # session fixtures start before the autouse one below sets this
    try:
        return pretrain(r, str(demo_file), tmp_path_factory.mktemp("run") / "tiny", show_progress=False, record=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test runs in its own folder (commands write runs/ there) with one torch thread,
    which is much faster for tiny models on a busy 2-core machine."""
    import torch
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
