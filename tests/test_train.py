"""Pretraining: recipes, the schedule, checkpoints, exact resume, and 2-process DDP."""
import os
import socket
import subprocess
import sys

import pytest
import torch

from skelgen.checkpoint import load_checkpoint
from skelgen.errors import SkelgenError
from skelgen.recipe import available_recipes, load_recipe
from skelgen.precision import bf16_matmul_faster, use_bf16
from skelgen.train import lr_at, pretrain, read_log
from conftest import tiny_recipe


def test_every_shipped_recipe_loads():
    names = available_recipes()
    for needed in ("demo", "tahar-nw-ucla", "tahar-ntu60-xsub", "tahar-ntu60-xview", "tahar-ntu120-xsub",
                   "tahar-ntu120-xset"):
        assert needed in names
    for name in names:
        if not name.startswith("bench"):
            load_recipe(name)


def test_recipe_rejects_unknown_keys_and_bad_types(tmp_path):
    r = load_recipe("demo", ["train.epochs=5", "augment.noise_std=0.1", "model.dim=64"])
    assert (r.train.epochs, r.augment.noise_std, r.model.dim) == (5, 0.1, 64)
    with pytest.raises(SkelgenError, match="unknown recipe key"):
        load_recipe("demo", ["train.epoch=5"])
    with pytest.raises(SkelgenError, match="takes a int"):
        load_recipe("demo", ["train.epochs='many'"])
    (tmp_path / "r.toml").write_text("[trian]\nepochs = 3\n")
    with pytest.raises(SkelgenError, match="unknown table"):
        load_recipe(str(tmp_path / "r.toml"))
    with pytest.raises(SkelgenError, match="unknown recipe"):
        load_recipe("no-such-recipe")


def test_schedule_warms_up_then_decays():
    cfg = load_recipe("tahar-nw-ucla").train
    assert lr_at(0, 10, cfg) == pytest.approx(1e-4)
    assert lr_at(100, 10, cfg) == pytest.approx(1e-3)
    assert lr_at(899, 10, cfg) < 1e-5


def test_checkpoint_log_and_exact_resume(tmp_path, demo_file):
    r = tiny_recipe(epochs=3, **{"model.dropout": 0.1})
    full = pretrain(r, str(demo_file), tmp_path / "full", show_progress=False)
    part = pretrain(r, str(demo_file), tmp_path / "part", show_progress=False, stop_after=1)
    assert load_checkpoint(part).epoch == 1
    with pytest.raises(SkelgenError, match="--resume"):
        pretrain(r, str(demo_file), tmp_path / "part", show_progress=False)
    resumed = pretrain(r, str(demo_file), tmp_path / "part", resume=True, show_progress=False)
    a, b = load_checkpoint(full), load_checkpoint(resumed)
    for k in a.weights:
        assert torch.equal(a.weights[k], b.weights[k]), k
    rows = read_log(tmp_path / "part")
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert {"loss", "lr", "samples_per_s"} <= set(rows[0])
    run = load_checkpoint(full).run
    assert run.layout.name == "ntu25" and len(run.classes.codes) == 8
    assert run.recipe.train.epochs == 3 and len(run.data.fingerprint) == 16


def test_init_starts_from_another_runs_weights_and_refuses_another_model(tmp_path, demo_file):
    first = pretrain(tiny_recipe(epochs=1, **{"train.seed": 1}), str(demo_file), tmp_path / "first",
                     show_progress=False, record=False)
    # lr 0 throughout: a run started from ``first`` must end with exactly its weights
    frozen = {"train.lr": 1e-12, "train.lr_start": 0.0, "train.weight_decay": 0.0}
    fresh = pretrain(tiny_recipe(epochs=1, **frozen), str(demo_file), tmp_path / "fresh",
                     show_progress=False, record=False)
    started = pretrain(tiny_recipe(epochs=1, **frozen, **{"train.init": str(first)}), str(demo_file),
                       tmp_path / "started", show_progress=False, record=False)
    a, b, c = (load_checkpoint(p).weights for p in (first, started, fresh))
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert any(not torch.allclose(a[k], c[k], atol=1e-3) for k in a)
    with pytest.raises(SkelgenError, match="another model"):
        pretrain(tiny_recipe(epochs=1, **{"train.init": str(first), "model.dim": 48}), str(demo_file),
                 tmp_path / "other", show_progress=False, record=False)
    with pytest.raises(SkelgenError, match="no checkpoint"):
        pretrain(tiny_recipe(epochs=1, **{"train.init": str(tmp_path / "missing.pt")}), str(demo_file),
                 tmp_path / "missing", show_progress=False, record=False)
    assert not (tmp_path / "other").exists() and not (tmp_path / "missing").exists()


def saved_epochs(monkeypatch) -> list[int]:
    """The epochs of the checkpoints pretrain writes from now on."""
    import skelgen.train as train_module
    saved, save = [], train_module.save_checkpoint
    monkeypatch.setattr(train_module, "save_checkpoint", lambda ckpt, path: (saved.append(ckpt.epoch),
                                                                               save(ckpt, path)))
    return saved


def test_save_every_checkpoints_less_often_and_logs_every_epoch(tmp_path, demo_file, monkeypatch):
    saved = saved_epochs(monkeypatch)
    ckpt = pretrain(tiny_recipe(epochs=5, **{"train.save_every": 2}), str(demo_file), tmp_path / "run",
                    show_progress=False)
    assert saved == [2, 4, 5] and load_checkpoint(ckpt).epoch == 5  # the last epoch always saves
    assert [row["epoch"] for row in read_log(tmp_path / "run")] == [1, 2, 3, 4, 5]
    with pytest.raises(SkelgenError, match="train.save_every must be a number >= 0, not -1"):
        pretrain(tiny_recipe(**{"train.save_every": -1}), str(demo_file), tmp_path / "bad", show_progress=False)


def test_save_minutes_and_empty_init_leave_generator_cache_names_unchanged():
    """The benchmark's generator caches are named by a digest of their recipe; one written before
    train.save_minutes and train.init existed (bench recipes set train.save_every=50) keeps its
    name, and a generator started from another checkpoint gets its own."""
    import hashlib
    import json
    from skelgen.bench.methods import recipe_digest
    r = tiny_recipe(**{"train.save_every": 50})
    before = r.to_dict()
    del before["train"]["save_minutes"], before["train"]["init"], before["train"]["vicreg"]
    del before["augment"]["crop"], before["augment"]["shear"], before["model"]["projector"]
    del before["model"]["streams"], before["model"]["parents"]
    old_name = hashlib.sha256(json.dumps({**before, "name": ""}, sort_keys=True).encode()).hexdigest()[:16]
    assert recipe_digest(r) == old_name
    r.set("train.save_minutes", 0.5)
    assert recipe_digest(r) == recipe_digest(tiny_recipe(**{"train.save_every": 50}))
    r.set("train.init", "base/checkpoint.pt")
    assert recipe_digest(r) != old_name
    assert recipe_digest(tiny_recipe(**{"train.save_every": 50, "model.streams": "joints+bones"})) != old_name


def test_checkpoints_by_elapsed_time(tmp_path, demo_file, monkeypatch):
    import skelgen.train as train_module
    now = iter(range(0, 10_000, 100))  # every look at the clock is 100 s later: 200 s an epoch
    monkeypatch.setattr(train_module, "clock", lambda: next(now))
    saved = saved_epochs(monkeypatch)
    pretrain(tiny_recipe(epochs=7, **{"train.save_minutes": 5.0}), str(demo_file), tmp_path / "run",
             show_progress=False)
    # the clock reads 0 s at the start, 100, 200, 300 s at the ends of epochs 1-3 (saved: 5 minutes),
    # 400 s just after that save, then 500, 600, 700 s at the ends of epochs 4-6 (saved)
    assert saved == [3, 6, 7]
    assert [row["epoch"] for row in read_log(tmp_path / "run")] == list(range(1, 8))
    with pytest.raises(SkelgenError, match="train.save_minutes must be a number >= 0, not -1.0"):
        pretrain(tiny_recipe(**{"train.save_minutes": -1}), str(demo_file), tmp_path / "bad", show_progress=False)


def test_interrupt_saves_last_completed_epoch_and_resumes_exactly(tmp_path, demo_file, monkeypatch):
    import skelgen.train as train_module
    r = tiny_recipe(epochs=4, **{"model.dropout": 0.1})  # default save_minutes: only the end saves
    full = load_checkpoint(pretrain(r, str(demo_file), tmp_path / "full", show_progress=False))
    steps, step = [], train_module.train_step

    def interrupted_step(*args, **kwargs):
        steps.append(1)
        if len(steps) == 2 * 6 + 3:  # 6 steps an epoch (96 sequences, batch 16): inside epoch 3
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    saved = saved_epochs(monkeypatch)
    monkeypatch.setattr(train_module, "train_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        pretrain(r, str(demo_file), tmp_path / "part", show_progress=False)
    assert saved == [2]  # the last completed epoch, never the half-done third
    assert [row["epoch"] for row in read_log(tmp_path / "part")] == [1, 2]
    monkeypatch.setattr(train_module, "train_step", step)
    resumed = load_checkpoint(pretrain(r, str(demo_file), tmp_path / "part", resume=True, show_progress=False))
    assert all(torch.equal(full.weights[k], resumed.weights[k]) for k in full.weights)
    assert [row["epoch"] for row in read_log(tmp_path / "part")] == [1, 2, 3, 4]


def test_a_resume_drops_log_rows_its_checkpoint_does_not_hold(demo_file, tmp_path):
    """Rows are written before their checkpoint: a run killed between the two (or in the middle of
    a row) left rows beyond it, which the resumed run must not repeat."""
    r = tiny_recipe(4, **{"train.save_minutes": 0})
    pretrain(r, str(demo_file), tmp_path / "run", stop_after=2, show_progress=False)
    log = tmp_path / "run" / "log.jsonl"
    with open(log, "a") as f:
        f.write('{"epoch": 3, "loss": 0.5, "lr": 0.001}\n{"epoch": 4, "lo')  # the killed run's row, torn one
    pretrain(r, str(demo_file), tmp_path / "run", resume=True, show_progress=False)
    assert [row["epoch"] for row in read_log(tmp_path / "run")] == [1, 2, 3, 4]
    assert read_log(tmp_path / "run")[2]["loss"] != 0.5  # epoch 3 as the resumed run trained it


@pytest.mark.parametrize("faster", [True, False])
def test_auto_precision_follows_the_probe(faster, monkeypatch, capsys):
    import skelgen.precision as precision_module
    monkeypatch.setattr(precision_module, "bf16_matmul_faster", lambda: faster)
    cpu = torch.device("cpu")
    assert use_bf16("auto", cpu) is faster
    assert use_bf16("fp32", cpu) is False
    assert use_bf16("bf16", cpu) is True  # works either way; warns only where bf16 is slower
    warning = capsys.readouterr().err
    assert ("warning: bf16" in warning and len(warning.splitlines()) == 1) if not faster else warning == ""


def test_probe_answers():
    assert isinstance(bf16_matmul_faster(), bool) and bf16_matmul_faster() is bf16_matmul_faster()  # cached


def test_unknown_precision_is_one_line_and_writes_nothing(tmp_path, demo_file):
    with pytest.raises(SkelgenError, match="train.precision must be auto, fp32 or bf16, not 'xyz'"):
        pretrain(tiny_recipe(**{"train.precision": "xyz"}), str(demo_file), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()


def test_bf16_training_loss_matches_fp32(tmp_path, demo_file):
    losses = {}
    for precision in ("fp32", "bf16"):
        run = tmp_path / precision
        pretrain(tiny_recipe(epochs=2, **{"train.precision": precision}), str(demo_file), run, show_progress=False)
        rows = read_log(run)
        assert all(row["bf16"] is (precision == "bf16") for row in rows)
        losses[precision] = [row["loss"] for row in rows]
    # measured: relative differences 3e-5 and 2e-4 (2 epochs); bf16 keeps 8 bits of mantissa
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.02)


def test_training_is_deterministic(tmp_path, demo_file):
    r = tiny_recipe(epochs=1)
    a = load_checkpoint(pretrain(r, str(demo_file), tmp_path / "a", show_progress=False))
    b = load_checkpoint(pretrain(r, str(demo_file), tmp_path / "b", show_progress=False))
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)


def test_two_process_gloo_ddp(tmp_path, demo_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
              "from conftest import tiny_recipe\nfrom skelgen.train import pretrain\n"
              f"pretrain(tiny_recipe(epochs=1), {str(demo_file)!r}, {str(tmp_path / 'ddp')!r}, show_progress=False)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={port}", str(tmp_path / "job.py")]
    (tmp_path / "job.py").write_text(script)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[:3000] + "\n...\n" + done.stderr[-2000:]  # a rank's own error comes first
    assert load_checkpoint(tmp_path / "ddp" / "checkpoint.pt").epoch == 1
    assert len((tmp_path / "ddp" / "log.jsonl").read_text().splitlines()) == 1  # rank 0 only


def test_min_steps_fits_the_epochs_to_a_small_dataset(tmp_path, demo_file):
    """train.min_steps raises epochs (and warmup) on small data; a dataset smaller than one batch
    trains on all of it as one batch, never on nothing."""
    from skelgen.recipe import Recipe, steps_per_epoch
    assert steps_per_epoch(100, 128) == 1 and steps_per_epoch(300, 128) == 2
    r = tiny_recipe(epochs=2, **{"train.batch_size": 128, "train.min_steps": 5, "train.warmup_epochs": 1})
    assert r.fitted_to(10_000).train.epochs == 2  # enough steps already: unchanged
    fitted = r.fitted_to(96)  # 96 training sequences < one batch: one step an epoch
    assert (fitted.train.epochs, fitted.train.warmup_epochs) == (5, 2) and r.train.epochs == 2
    ckpt = pretrain(r, str(demo_file), tmp_path / "run", show_progress=False, record=False)
    saved = load_checkpoint(ckpt)
    assert saved.epoch == 5 and saved.run.recipe.train.epochs == 5
    assert len(read_log(tmp_path / "run")) == 5
    assert isinstance(Recipe().fitted_to(1), Recipe)


def test_view_agreement_trains_a_projector_that_checkpoints_and_resumes_exactly(tmp_path, demo_file):
    r = tiny_recipe(epochs=2, **{"train.vicreg": 0.1, "model.projector": 16, "augment.encoder": True,
                                 "augment.crop": 0.7})
    full = pretrain(r, str(demo_file), tmp_path / "full", show_progress=False)
    pretrain(r, str(demo_file), tmp_path / "part", show_progress=False, stop_after=1)
    resumed = pretrain(r, str(demo_file), tmp_path / "part", resume=True, show_progress=False)
    a, b = load_checkpoint(full), load_checkpoint(resumed)
    assert any(k.startswith("projector.") for k in a.weights)
    for k in a.weights:
        assert torch.equal(a.weights[k], b.weights[k]), k
    plain = load_checkpoint(pretrain(tiny_recipe(epochs=2), str(demo_file), tmp_path / "plain", show_progress=False))
    assert read_log(tmp_path / "full")[-1]["loss"] != read_log(tmp_path / "plain")[-1]["loss"]
    assert not any(k.startswith("projector.") for k in plain.weights)
