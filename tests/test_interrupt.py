"""Issue 9, interrupted runs: killing a running `synth` or `pretrain` (SIGINT or SIGKILL) once it
has started writing leaves nothing under the final output name and never changes an input; a
killed pretraining resumes from its last complete checkpoint, which Ctrl-C and SIGTERM write
before the run ends. (That a resumed run ends with the
weights of an uninterrupted one is tested in test_train.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import data_and_checkpoint, sha256, tiny_recipe_file
from skelgen.checkpoint import load_checkpoint
from skelgen.cli import main
from skelgen.train import read_log

EPOCHS = 60  # about two seconds for the tiny model, yet it is killed after two
SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGKILL, id="SIGKILL")]
CAUGHT = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(data file, checkpoint trained on it for one epoch)"""
    return data_and_checkpoint(tmp_path_factory.mktemp("interrupt"))


def start(*args) -> subprocess.Popen:
    """`python -m skelgen.cli ARGS` in the current folder; its stderr goes to stderr.txt."""
    with open("stderr.txt", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "skelgen.cli", *map(str, args)], stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            # a test runner started in the background ignores SIGINT, and children inherit that
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stderr() -> str:
    return Path("stderr.txt").read_text()


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60):
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"it ended (exit {proc.returncode}) before it was interrupted:\n{stderr()}"
        assert time.monotonic() < end, f"not started writing after {timeout} s:\n{stderr()}"
        time.sleep(0.05)


def interrupt(proc: subprocess.Popen, sig) -> int:
    proc.send_signal(sig)
    rc = proc.wait(timeout=60)
    if sig in (signal.SIGINT, signal.SIGTERM):
        assert rc == 128 + sig and stderr().splitlines()[-1] == "skelgen: interrupted; no partial output was kept", \
            stderr()
    else:
        assert rc == -signal.SIGKILL
    return rc


@pytest.mark.parametrize("sig", SIGNALS)
def test_killed_synth_leaves_no_output(inputs, sig):
    data, ckpt = inputs
    given = sha256(data), sha256(ckpt)
    Path("out").mkdir()
    proc = start("synth", "--checkpoint", ckpt, "--data", data, "--class", "A008", "--no-calibrate",
                 "--n", 1_000_000, "--out", "out/s.h5")  # calibration is test_generate's subject, not this one
    wait_for(lambda: "synth A008 [" in stderr(), proc)  # the bar moves once a batch is written
    interrupt(proc, sig)
    assert not Path("out/s.h5").exists()
    assert (sha256(data), sha256(ckpt)) == given
    left = [p.name for p in Path("out").iterdir()]
    if sig == signal.SIGINT:
        assert left == [], "the temporary file must be removed"
    else:  # SIGKILL cannot be caught: at most the hidden temporary file stays, never the output,
        assert all(name.startswith(".s.h5.") and name.endswith(".partial") for name in left), left
        # and the next run that writes there removes it (issue 15)
        result = CliRunner().invoke(main, ["synth", "--checkpoint", str(ckpt), "--data", str(data),
                                           "--class", "A008", "--no-calibrate", "--n", "2", "--out", "out/s.h5"])
        assert result.exit_code == 0, result.output
        assert "removed a killed run's temporary files for out/s.h5" in result.stderr
        assert [p.name for p in Path("out").iterdir()] == ["s.h5"]


def resume(args: list[str], data):
    result = CliRunner().invoke(main, args + ["--resume"])
    assert result.exit_code == 0, result.output
    assert load_checkpoint("run/checkpoint.pt").epoch == EPOCHS
    assert [row["epoch"] for row in read_log("run")] == list(range(1, EPOCHS + 1))  # no repeats


def test_killed_pretrain_resumes(inputs):
    """SIGKILL cannot be caught: the run resumes from the last checkpoint it wrote on its own."""
    data, _ = inputs
    given = sha256(data)
    tiny_recipe_file(Path("tiny.toml"), EPOCHS, **{"train.save_minutes": 0})  # every epoch
    args = ["pretrain", "--data", str(data), "--recipe", "tiny.toml", "--out", "run"]
    proc = start(*args)
    log = Path("run/log.jsonl")
    # a row is written just before its checkpoint, so the third row means the second checkpoint is on disk
    wait_for(lambda: log.is_file() and len(log.read_text().splitlines()) >= 3, proc)
    interrupt(proc, signal.SIGKILL)
    epoch = load_checkpoint("run/checkpoint.pt").epoch  # the last complete checkpoint loads
    assert 2 <= epoch < EPOCHS
    resume(args, data)
    assert sha256(data) == given


@pytest.mark.parametrize("sig", CAUGHT)
def test_interrupted_pretrain_saves_and_resumes(inputs, sig):
    """Ctrl-C or SIGTERM long before the first timed checkpoint writes the last completed epoch."""
    data, _ = inputs
    tiny_recipe_file(Path("tiny.toml"), EPOCHS)  # the default train.save_minutes: minutes away
    args = ["pretrain", "--data", str(data), "--recipe", "tiny.toml", "--out", "run"]
    proc = start(*args)
    wait_for(lambda: f"epoch 3/{EPOCHS} [" in stderr(), proc)  # 2 epochs done, none saved
    assert not Path("run/checkpoint.pt").exists()
    interrupt(proc, sig)
    epoch = load_checkpoint("run/checkpoint.pt").epoch
    assert 2 <= epoch < EPOCHS and f"saved epoch {epoch} to run/checkpoint.pt" in stderr()
    assert [row["epoch"] for row in read_log("run")] == list(range(1, epoch + 1))
    resume(args, data)


def test_interrupted_parallel_benchmark_stops_its_workers(inputs):
    """Ctrl-C during `benchmark --jobs 2`: one line, no results folder, and no worker left running."""
    data, _ = inputs
    Path("b.toml").write_text('name = "b"\n[benchmark]\ncache_dir = "cache"\nscenarios = ["full"]\n'
                              'seeds = [0, 1, 2, 3]\n'
                              'methods = ["none", "oversample", "classic"]\nframes = 16\n'
                              '[classifier]\nwidth = 8\nepochs = 2000\nbatch_size = 8\n[quality]\nsamples = 0\n')
    proc = start("benchmark", "--recipe", "b.toml", "--data", data, "--jobs", 2, "--out", "out")
    def children():
        return subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    wait_for(lambda: "full conv [" in stderr() and len(children()) >= 2, proc)  # the workers run
    workers = children()
    interrupt(proc, signal.SIGINT)
    assert "Traceback" not in stderr() and not Path("out").exists()
    end = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers):
        assert time.monotonic() < end, "a worker outlived the interrupted benchmark"
        time.sleep(0.1)
