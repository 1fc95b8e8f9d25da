"""Issue 15, data safety, driven as a user would (a subprocess, real signals, a real small tmpfs):
no command destroys its input, a stop signal ends any command promptly with one line and no
partial output, a killed run's temporary files are removed by the next run, and a full disk is
one line with nothing left behind. `synth` runs with --no-calibrate: these tests are about
signals and disks, and calibration's seconds before the first batch are tested in test_generate."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import data_and_checkpoint, sha256, tiny_recipe, tiny_recipe_file
from skelgen.cli import main
from skelgen.demo import write_demo
from skelgen.train import pretrain


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(data file, checkpoint trained on it for one epoch)"""
    return data_and_checkpoint(tmp_path_factory.mktemp("safety"))


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "skelgen.cli", *map(str, args)]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), capture_output=True, text=True, env=ENV, timeout=timeout)


def assert_one_line(result: subprocess.CompletedProcess, pattern: str):
    """Refused: exit 1, exactly one line on stderr matching ``pattern``, no traceback."""
    import re
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert re.search(pattern, lines[0]), lines[0]


# -- 1. an output onto an input -------------------------------------------------------------------
def test_output_onto_input_is_refused(inputs):
    data, ckpt = inputs
    given = sha256(data), sha256(ckpt)
    os.symlink(data, "alias.h5")  # test_cli_errors tries every command, in-process
    result = run("synth", "--checkpoint", ckpt, "--data", data, "--class", "A008", "--no-calibrate", "--n", 2,
                 "--out", "alias.h5", "--overwrite")
    assert_one_line(result, "is an input of this command.*; writing there would destroy it")
    assert (sha256(data), sha256(ckpt)) == given
    assert sorted(p.name for p in Path.cwd().iterdir()) == ["alias.h5"]
    assert sorted(p.name for p in Path(data).parent.iterdir()) == ["demo.h5", "run"]


# -- 2. stopping ----------------------------------------------------------------------------------
def start(*args) -> subprocess.Popen:
    err = open("stderr.txt", "w")
    return subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=err, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stderr() -> str:
    return Path("stderr.txt").read_text()


def wait_for(condition, proc, timeout: float = 60):
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"it ended (exit {proc.returncode}) before it was stopped:\n{stderr()}"
        assert time.monotonic() < end, stderr()
        time.sleep(0.05)


@pytest.mark.parametrize("sig, trials", [(signal.SIGINT, 1), (signal.SIGTERM, 1)], ids=["SIGINT", "SIGTERM"])
def test_one_signal_stops_synth_at_once(inputs, sig, trials):
    """Every trial: the first signal stops it (a KeyboardInterrupt swallowed in a weakref callback
    is raised again at the next batch: tested deterministically below), within a couple of
    seconds, with one line, no partial file."""
    data, ckpt = inputs
    given = sha256(data), sha256(ckpt)
    Path("out").mkdir()
    for trial in range(trials):
        proc = start("synth", "--checkpoint", ckpt, "--data", data, "--class", "A008", "--no-calibrate",
                     "--n", 1_000_000, "--out", "out/s.h5")
        wait_for(lambda: "synth A008 [" in stderr(), proc)
        time.sleep(0.1 * trial)
        t0 = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
        took = time.monotonic() - t0
        assert rc == 128 + sig, stderr()
        assert took < 3, f"took {took:.1f} s to stop"
        tail = stderr().replace("\r", "\n").splitlines()
        assert tail[-1] == "skelgen: interrupted; no partial output was kept", stderr()
        assert "Traceback" not in stderr() and "Exception ignored" not in stderr(), stderr()
        assert list(Path("out").iterdir()) == []
    assert (sha256(data), sha256(ckpt)) == given


def test_absurd_count_is_refused_before_the_work(inputs):
    data, ckpt = inputs
    result = run("synth", "--checkpoint", ckpt, "--data", data, "--class", "A008", "--no-calibrate", "--n", 10**12,
                 "--out", "s.h5")
    assert_one_line(result, r"no space left on .*: needed about \d+ MB, .* MB free; .*ask for less")
    assert list(Path.cwd().iterdir()) == []


# -- 3. a full disk: a real small tmpfs -------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path, request):
    """A 1 MB tmpfs, or the size a test's ``disk_size`` mark gives (needs root; skipped elsewhere,
    where test_full_disk_mid_write stands in)."""
    disk = tmp_path / "small"
    disk.mkdir()
    size = request.node.get_closest_marker("disk_size")
    size = size.args[0] if size else "1m"
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_full_disk_is_one_line_and_no_debris(inputs, small_disk):
    data, ckpt = inputs
    given = sha256(data), sha256(ckpt)
    tiny_recipe_file(Path("tiny.toml"))
    (small_disk / "filler").write_bytes(bytes(950 * 1024))  # about 70 KB stay free
    for args in (["demo-data", "--n-per-class", 40, "--out", small_disk / "d.h5"],
                 ["synth", "--checkpoint", ckpt, "--data", data, "--class", "A008", "--no-calibrate", "--n", 500,
                  "--out", small_disk / "s.h5"]):
        assert_one_line(run(*args), rf"no space left on {small_disk}: needed about \d+ MB")
        assert [p.name for p in small_disk.iterdir()] == ["filler"], args
    for fmt in ("pyskl", "npz"):  # in-process: saves a start of python
        result = CliRunner().invoke(main, ["export", str(data), fmt, "--out", str(small_disk / "x")])
        assert result.exit_code == 1 and len(result.output.splitlines()) == 1, result.output
        assert f"no space left on {small_disk}: needed about" in result.output
        assert [p.name for p in small_disk.iterdir()] == ["filler"], fmt
    result = run("pretrain", "--data", data, "--recipe", "tiny.toml", "--out", small_disk / "run")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"skelgen: error: no space left on {small_disk}: needed about")
    assert [p.name for p in small_disk.iterdir()] == ["filler"], "no run folder, no partial checkpoint"
    assert (sha256(data), sha256(ckpt)) == given


@pytest.mark.disk_size("64m")
def test_disk_filling_during_synth(small_disk):
    """The disk fills while synth writes (another program takes all the space): HDF5 must not
    crash (it did: SIGSEGV), the error is one line, no partial file stays."""
    data = write_demo("big.h5", n_per_class=4, frames=80)  # samples of 80 frames: ~25 KB each
    ckpt = pretrain(tiny_recipe(epochs=1), str(data), "run", show_progress=False, record=False)
    proc = start("synth", "--checkpoint", ckpt, "--data", data, "--class", "A008", "--no-calibrate", "--n", 2400,
                 "--out", small_disk / "s.h5")  # about 59 MB, within the 64 MB
    wait_for(lambda: "synth A008 [" in stderr(), proc)
    with open(small_disk / "filler", "wb") as f, pytest.raises(OSError):
        while True:
            f.write(bytes(1 << 16))
            f.flush()
    assert proc.wait(timeout=60) == 1, stderr()
    assert "Traceback" not in stderr()
    assert stderr().splitlines()[-1].startswith(f"skelgen: error: no space left on {small_disk}: needed about")
    assert [p.name for p in small_disk.iterdir()] == ["filler"]


def test_full_disk_mid_write(inputs, monkeypatch, tmp_path):
    """A disk that fills while a file is written (the estimate was not enough): one line, no
    temporary file (in-process: pickle.dump fails with ENOSPC as on a full disk)."""
    data, _ = inputs
    import skelgen.io.pyskl as pyskl

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pyskl.pickle, "dump", full)
    result = CliRunner().invoke(main, ["export", str(data), "pyskl", "--out", "p.pkl"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("skelgen: error: no space left on /"), result.output
    assert list(Path.cwd().iterdir()) == []


# -- 5. information carried through, or refused -----------------------------------------------------
@pytest.mark.parametrize("fmt", ["pyskl", "npz"])
@pytest.mark.parametrize("name", ["mine", "ntu25"])
def test_export_then_convert_keeps_synthetic_provenance_and_layout(fmt, name, tmp_path):
    """Generated samples never come back counted as real; a custom layout survives the trip,
    even one named like a built-in."""
    import numpy as np

    from skelgen.io.dataset import DatasetWriter, SkeletonFile
    from skelgen.layouts import NTU25, Layout
    rename = {j: f"j{k}" for k, j in enumerate(NTU25.joints)}
    mine = Layout(name, tuple(rename.values()), NTU25.parents, {r: rename[j] for r, j in NTU25.landmarks.items()})
    rng = np.random.default_rng(0)
    with DatasetWriter("a.h5", mine, ["A", "B"], ["a", "b"], max_frames=6) as w:
        w.append(rng.normal(size=(4, 1, 6, 25, 3)), [6, 5, 4, 6], [0, 1, 0, 1], ["r0", "r1", "s0", "s1"],
                 synthetic=[False, False, True, True],
                 provenance=[{"source": "x"}, {"source": "y"}, {"strategy": "sample", "seed": 3}, {"seed": 4}])
        w.set_split("train", [0, 1, 2, 3])
    out = "a.pkl" if fmt == "pyskl" else "a.npz"
    for args in (["export", "a.h5", fmt, "--out", out], ["convert", fmt, out, "--out", "b.h5"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    with SkeletonFile("a.h5") as a, SkeletonFile("b.h5") as b:
        assert b.synthetic.tolist() == [False, False, True, True]
        assert b.provenance(2)["strategy"] == "sample" and b.provenance(2)["seed"] == 3
        assert b.provenance(2)["imported"]["file"] == out
        assert b.layout == a.layout == mine
        assert np.array_equal(a.read(), b.read())


def test_resume_on_other_data_or_epochs_is_refused(inputs, tmp_path):
    """--resume continues the same run only: other data or another epoch count would mix two
    runs under one provenance."""
    import shutil
    data, ckpt = inputs
    shutil.copytree(Path(ckpt).parent, "run")
    given = sha256("run/checkpoint.pt")
    write_demo("other.h5", n_per_class=4, frames=16, seed=1)
    tiny_recipe_file(Path("tiny.toml"), epochs=1)
    tiny_recipe_file(Path("tiny3.toml"), epochs=3)
    for args, message in ((["--data", "other.h5", "--recipe", "tiny.toml"], "was trained on other data"),
                          (["--data", str(data), "--recipe", "tiny3.toml"], "with another recipe")):
        result = CliRunner().invoke(main, ["pretrain", *args, "--out", "run", "--resume"])
        assert result.exit_code == 1 and len(result.output.splitlines()) == 1, result.output
        assert message in result.output
    assert sha256("run/checkpoint.pt") == given


def test_a_stop_swallowed_in_a_weakref_callback_is_raised_again(capfd):
    """Python prints and drops a KeyboardInterrupt raised inside a weakref callback (torch and h5py
    run many): the signal is remembered, nothing is printed, and the next check stops the work."""
    import weakref

    from skelgen import stopping

    class Thing:
        pass
    with stopping.stoppable():
        thing = Thing()
        weakref.finalize(thing, lambda: signal.raise_signal(signal.SIGTERM))
        del thing  # the callback runs here; its KeyboardInterrupt cannot propagate
        with pytest.raises(KeyboardInterrupt):
            stopping.check()
        assert stopping.exit_code() == 143
    assert "Exception ignored" not in capfd.readouterr().err


def test_import_warns_when_the_joint_order_is_not_the_layouts(tmp_path):
    """A dataset in another joint order imports, with one warning naming the joints that look
    swapped; data in the layout's order raises none."""
    import numpy as np

    from skelgen.io.npz import export_npz
    write_demo("demo.h5", n_per_class=4, frames=16)
    export_npz("demo.h5", "demo.npz")
    arrays = dict(np.load("demo.npz"))
    order = list(range(25))
    order[4:8], order[12:16] = list(range(12, 16)), list(range(4, 8))  # left arm and left leg swapped
    np.savez("swapped.npz", **{**arrays, "x": arrays["x"][..., order, :]})
    for source, warned in (("demo.npz", False), ("swapped.npz", True)):
        result = CliRunner().invoke(main, ["convert", "npz", source, "--out", source + ".h5"])
        assert result.exit_code == 0, result.output
        lines = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(lines) == int(warned), result.stderr
    assert "does not look like layout ntu25: bones spine_shoulder-shoulder_left and spine_shoulder-shoulder_right " \
           "should be mirror images" in lines[0]
