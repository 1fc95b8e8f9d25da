"""Issue 9, bad input through the CLI: every command, given a bad file, key, count, output path or
checkpoint, exits non-zero with ONE line on stderr that says what is wrong and what to do, shows
no traceback, leaves no output (not even a temporary file) and changes no input."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shlex
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tiny_recipe, tiny_recipe_file
from skelgen.cli import main
from skelgen.demo import write_demo
from skelgen.io.dataset import DatasetWriter, SkeletonFile
from skelgen.io.npz import export_npz
from skelgen.io.pyskl import export_pyskl
from skelgen.layouts import KINECT20, NTU25, joint_map
from skelgen.train import pretrain

TINY_BENCH = """
name = "bench-tiny"
[benchmark]
jobs = 1
frames = 16
scenarios = ["full"]
methods = ["none"]
seeds = [0]
[classifier]
width = 8
epochs = 1
[quality]
samples = 0
"""


# -- inputs: a small valid dataset, a checkpoint trained on it, and broken copies -------------------
def damaged_copy(good: Path, path: Path, edit) -> Path:
    """A copy of ``good`` whose HDF5 content ``edit(h5file)`` changed."""
    shutil.copy(good, path)
    with h5py.File(path, "r+") as h:
        edit(h)
    return path


def set_array(key: str, index, value):
    """An edit that sets ``h[key][index] = value`` (index may be a boolean mask)."""
    def edit(h):
        a = h[key][...]
        a[index(a) if callable(index) else index] = value
        h[key][...] = a
    return edit


def replace_codes(h):
    del h["classes/code"]
    h.create_dataset("classes/code", data=np.array([f"Z{k:03d}" for k in range(8)], dtype=object),
                     dtype=h5py.string_dtype())


def other_layout(good: Path, path: Path) -> Path:
    """``good`` mapped to the kinect20 layout: the same classes, a different skeleton."""
    with SkeletonFile(good) as sf, DatasetWriter(path, KINECT20, sf.classes.codes, sf.classes.names,
                                                  max_frames=sf.shape[2]) as w:
        w.append(sf.read()[:, :, :, joint_map(NTU25, KINECT20)], sf.lengths, sf.labels, sf.ids)
        for name, idx in sf.splits.items():
            w.set_split(name, idx)
    return path


class Evil:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    good = write_demo(d / "good.h5", n_per_class=4, frames=16)  # 8 classes, 24 train + 8 test
    pretrain(tiny_recipe(epochs=1), str(good), d / "run", show_progress=False, record=False)
    tiny_recipe_file(d / "tiny.toml")
    (d / "bench.toml").write_text(TINY_BENCH)
    (d / "badkey.toml").write_text(TINY_BENCH.replace("[classifier]\n", "[classifier]\nnope = 1\n"))
    (d / "badrange.toml").write_text(TINY_BENCH.replace("[classifier]\n", "[classifier]\ndropout = 2.0\n"))
    (d / "badkind.toml").write_text(TINY_BENCH.replace("[classifier]\n", "[classifier]\nkind = \"rnn\"\n"))
    (d / "badscenario.toml").write_text(TINY_BENCH.replace('scenarios = ["full"]', 'scenarios = ["fewshot"]'))

    raw = good.read_bytes()
    (d / "truncated.h5").write_bytes(raw[: len(raw) // 2])
    (d / "corrupt.h5").write_bytes(bytes(512) + raw[512:])                     # superblock gone
    (d / "damaged.h5").write_bytes(raw[: len(raw) // 4] + bytes(len(raw) // 2) + raw[3 * len(raw) // 4:])
    damaged_copy(good, d / "schema2.h5", lambda h: h.attrs.update(schema_version=2))
    damaged_copy(good, d / "nan.h5", set_array("x", np.s_[:, 0, 0, 0, 0], np.nan))  # in every sample
    damaged_copy(good, d / "inf.h5", set_array("x", np.s_[:, 0, 1, 3, 2], np.inf))
    damaged_copy(good, d / "empty-sequence.h5", set_array("length", 0, 0))
    damaged_copy(good, d / "label-range.h5", set_array("label", 0, 8))
    damaged_copy(good, d / "label-negative.h5", set_array("label", 0, -1))
    damaged_copy(good, d / "empty-class.h5", set_array("label", lambda a: a == 2, 3))  # no A010 left
    damaged_copy(good, d / "other-classes.h5", replace_codes)
    damaged_copy(good, d / "no-test.h5", lambda h: h["splits"].pop("test"))
    other_layout(good, d / "kinect.h5")
    damaged_copy(d / "kinect.h5", d / "fake-ntu25.h5",  # a custom layout named like the built-in
                 lambda h: h.attrs.update(layout=json.dumps({**KINECT20.to_dict(), "name": "ntu25"})))

    export_npz(good, d / "good.npz")
    export_pyskl(good, d / "good.pkl")
    arrays = dict(np.load(d / "good.npz"))
    for name, key, index, value in (("nan.npz", "x", (0, 0, 0, 0, 0), np.nan), ("empty.npz", "lengths", 0, 0),
                                    ("label.npz", "labels", 0, -1)):
        a = {k: v.copy() for k, v in arrays.items()}
        a[key][index] = value
        np.savez(d / name, **a)

    # issue 15: files that are well-formed containers of malformed content
    def replace(key, data):
        def edit(h):
            del h[key]
            h[key] = data
        return edit
    damaged_copy(good, d / "split-2d.h5", replace("splits/train", np.arange(24).reshape(12, 2)))
    damaged_copy(good, d / "split-repeated.h5", replace("splits/train", np.r_[np.arange(24), 0, 1]))
    damaged_copy(good, d / "label-float.h5", replace("label", np.full(32, 1.5)))
    (d / "cycle.json").write_text(json.dumps({**NTU25.to_dict(), "name": "cyclic",
                                              "parents": [1, 0] + list(NTU25.parents[2:])}))
    import torch
    state = torch.load(d / "run" / "checkpoint.pt", weights_only=True)
    for name, edit in (("extra-key", lambda s: s["model_config"].update(extra=1)),
                       ("no-layout", lambda s: s.pop("layout")),
                       ("absurd-size", lambda s: s["model_config"].update(dim=2**20, heads=1)),
                       ("other-size", lambda s: s["model_config"].update(dim=4096, heads=1)),
                       ("bad-heads", lambda s: s["model_config"].update(heads=5))):
        bad = {**state, "model_config": dict(state["model_config"])}
        edit(bad)
        torch.save(bad, d / f"{name}.pt")
    shutil.copytree(d / "run", d / "bad-log")
    with open(d / "bad-log" / "log.jsonl", "a") as f:
        f.write('{"epoch": 2, "loss": \n')

    (d / "evil.pkl").write_bytes(pickle.dumps({"annotations": [Evil(d / "pwned")]}))
    ckpt = (d / "run" / "checkpoint.pt").read_bytes()
    (d / "truncated.pt").write_bytes(ckpt[: len(ckpt) // 2])
    return d


@pytest.fixture(autouse=True)
def folders(monkeypatch):
    """out/ for outputs and ro/, a folder no one may write in (root may write anywhere, so for
    root os.access is made to answer as for anyone else)."""
    Path("out").mkdir()
    ro = Path("ro").resolve()
    ro.mkdir(mode=0o555)
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: not (
        mode & os.W_OK and Path(path).resolve().is_relative_to(ro)) and access(path, mode, **kw))
    yield
    ro.chmod(0o755)


def snapshot(folder: Path) -> dict:
    """{relative path: content hash} of every file and folder under ``folder`` (hidden ones too)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def invoke(cmdline: str, inputs: Path):
    args = shlex.split(cmdline.format(i=inputs, ck=inputs / "run" / "checkpoint.pt", good=inputs / "good.h5"))
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart itself
    return runner.invoke(main, args)


def assert_refused(result, message: str):
    """A non-zero exit with one line on stderr, of the form "what is wrong; what to do"."""
    lines = result.stderr.splitlines()
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), f"not a clean exit: {result.exception!r}"  # a traceback
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("skelgen: error: ") and ";" in lines[0], lines[0]
    assert re.search(message, lines[0]), f"{message!r} not in {lines[0]!r}"
    assert "Traceback" not in result.output


def check_refused(cmdline: str, message: str, inputs: Path, existing=()):
    """Run ``cmdline`` (after creating the files ``existing``): refused, and nothing changed."""
    for path in existing:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"an earlier result")
    here, given = snapshot(Path.cwd()), snapshot(inputs)
    assert_refused(invoke(cmdline, inputs), message)
    assert snapshot(Path.cwd()) == here, "the failed run left output behind or changed an existing file"
    assert snapshot(inputs) == given, "the failed run changed an input"


# -- every command that reads a dataset file, given each damaged file ------------------------------
READERS = {  # DATA stands for the dataset file
    "info": "info DATA",
    "export": "export DATA npz --out out/x.npz",
    "pretrain": "pretrain --data DATA --recipe {i}/tiny.toml --out out/run",
    "embed": "embed --checkpoint {ck} --data DATA --out out/e.npz",
    "evaluate": "evaluate --checkpoint {ck} --data DATA --epochs 1 --out out/eval",
    "synth": "synth --checkpoint {ck} --data DATA --class A008 --n 2 --out out/s.h5",
    "rebalance": "rebalance DATA --checkpoint {ck} --out out/r.h5",
    "reconstruct": "reconstruct --checkpoint {ck} --data DATA --out out/rc",
    "show": "show DATA --n 2 --out out/m.png",
    "quality": "quality --checkpoint {ck} --data DATA --n 8 --seeds 0 --out out/q",
    "benchmark": "benchmark --recipe {i}/bench.toml --data DATA --out out/bench",
}
DAMAGED = {  # file -> what the message says
    "missing.h5": "no such file; check the path",
    "truncated.h5": "not a readable HDF5 file .*; re-create it",
    "corrupt.h5": "not a readable HDF5 file .*; re-create it",
    # zeroed bytes land in the data or in an array the checks read, as the file's layout has it
    "damaged.h5": "(not a readable HDF5 file|not a valid skelgen dataset|cannot read its data|the file is damaged)"
                  ".*re-create it",
    "schema2.h5": "schema_version 2, this skelgen reads 1; re-create it",
    "nan.h5": r"sample \d+ has NaN or infinite coordinates; the file is damaged",
    "inf.h5": r"sample \d+ has NaN or infinite coordinates; the file is damaged",
    "empty-sequence.h5": r"lengths must be within 1\.\.16 .*; the file is damaged",
    "label-range.h5": "labels out of range for 8 classes; the file is damaged",
    "label-negative.h5": "labels out of range for 8 classes; the file is damaged",
}
NOT_READ = {("info", "nan.h5"), ("info", "inf.h5")}  # info reads no coordinates


@pytest.mark.parametrize("command, bad", [(c, f) for c in READERS for f in DAMAGED if (c, f) not in NOT_READ])
def test_damaged_dataset_file(inputs, command, bad):
    check_refused(READERS[command].replace("DATA", f"{{i}}/{bad}"), DAMAGED[bad], inputs)


# -- everything else, one row per case: command line, what the message says[, files made before] ---
def case(name, cmdline, message, existing=()):
    return pytest.param(cmdline, message, existing, id=name)


SYNTH = "synth --checkpoint {ck} --data {good} --class A008"
ONTO = "is an input of this command.*; writing there would destroy it, choose another --out"
CASES = [
    # missing or damaged files other than datasets
    case("convert-npz-missing", "convert npz {i}/missing.npz --out out/x.h5", "no such file"),
    case("convert-pyskl-missing", "convert pyskl {i}/missing.pkl --out out/x.h5", "cannot read .*missing.pkl"),
    case("convert-nwucla-missing", "convert nw-ucla {i}/missing --out out/x.h5", "no NW-UCLA .json clips found"),
    case("convert-ntu-missing", "convert ntu60 {i}/missing --out out/x.h5", "no NTU .skeleton files found"),
    case("checkpoint-missing", "embed --checkpoint {i}/missing.pt --data {good} --out out/e.npz", "not found"),
    case("checkpoint-truncated", SYNTH + " --checkpoint {i}/truncated.pt --n 2 --out out/s.h5",
         "not a skelgen checkpoint"),
    case("checkpoint-not-one", "embed --checkpoint {good} --data {good} --out out/e.npz", "not a skelgen checkpoint"),
    case("no-checkpoint-yet", "embed --data {good} --out out/e.npz", "no earlier `skelgen pretrain` here"),
    case("plot-log-missing", "plot-log {i}/missing", "no training log"),
    case("rebalance-missing-no-checkpoint", "rebalance {i}/missing.h5 --out out/r.h5", "no such file"),
    case("rebalance-truncated-no-checkpoint", "rebalance {i}/truncated.h5 --out out/r.h5", "not a readable HDF5"),
    # bad values in files to import
    case("convert-npz-nan", "convert npz {i}/nan.npz --out out/x.h5", "NaN or infinite"),
    case("convert-npz-empty-sequence", "convert npz {i}/empty.npz --out out/x.h5", "no empty sequences"),
    case("convert-npz-negative-label", "convert npz {i}/label.npz --out out/x.h5", "labels be >= 0"),
    # an empty class where a command needs every class
    case("synth-empty-class", "synth --checkpoint {ck} --data {i}/empty-class.h5 --class A010 --n 2 --out out/s.h5",
         "class A010 clapping has no real samples"),
    case("rebalance-empty-class", "rebalance {i}/empty-class.h5 --checkpoint {ck} --out out/r.h5",
         "class A010 clapping has no samples in split 'train', so it cannot be generated"),
    case("quality-empty-class", "quality --checkpoint {ck} --data {i}/empty-class.h5 --n 8 --seeds 0 --out out/q",
         "split 'train' has no samples of class A010 clapping"),
    case("benchmark-empty-class", "benchmark --recipe {i}/bench.toml --data {i}/empty-class.h5 --out out/b",
         "split 'train' has no samples of class A010 clapping"),
    # unknown class, layout, recipe or recipe key
    case("synth-unknown-class", SYNTH.replace("A008", "A999") + " --n 2 --out out/s.h5", "unknown class 'A999'"),
    case("show-unknown-class", "show {good} --class A999 --out out/m.png", "unknown class 'A999'"),
    case("rebalance-unknown-class", "rebalance {good} --checkpoint {ck} --sampling-strategy A999=4 --out out/r.h5",
         "unknown class 'A999'"),
    case("convert-unknown-layout", "convert npz {i}/good.npz --layout nope --out out/x.h5", "unknown layout 'nope'"),
    case("convert-pyskl-unknown-layout", "convert pyskl {i}/evil.pkl --layout nope --out out/x.h5",
         "unknown layout 'nope'"),
    case("pretrain-unknown-recipe", "pretrain --data {good} --recipe nope --out out/run", "unknown recipe 'nope'"),
    case("rebalance-unknown-recipe", "rebalance {good} --recipe nope --out out/r.h5", "unknown recipe 'nope'"),
    case("benchmark-unknown-recipe", "benchmark --recipe nope --out out/b", "unknown benchmark recipe 'nope'"),
    case("pretrain-unknown-key", "pretrain --data {good} --set model.nope=1 --out out/run",
         "unknown recipe key 'model.nope'"),
    case("pretrain-bad-value", "pretrain --data {good} --set train.epochs=many --out out/run",
         "'many' is not a valid value"),
    case("benchmark-unknown-key", "benchmark --recipe {i}/badkey.toml --out out/b",
         "unknown benchmark recipe key 'classifier.nope'"),
    case("benchmark-unknown-classifier", "benchmark --recipe {i}/badkind.toml --out out/b",
         "unknown classifier kind 'rnn'; use one of conv, gcn"),
    case("benchmark-unknown-scenario", "benchmark --recipe {i}/badscenario.toml --out out/b",
         "unknown scenario 'fewshot'"),
    case("benchmark-no-test-split", "benchmark --recipe {i}/bench.toml --data {i}/no-test.h5 --out out/b",
         "has no split 'test'; it has"),
    case("unknown-command", "nope", "No such command 'nope'; see"),
    case("unknown-option", "info {good} --nope", "No such option '--nope'; see"),
    # --n of 0 or less
    case("synth-n-0", SYNTH + " --n 0 --out out/s.h5", "--n must be a positive number"),
    case("synth-n-negative", SYNTH + " --n -3 --out out/s.h5", "--n must be a positive number"),
    case("show-n-0", "show {good} --n 0 --out out/m.png", "--n must be at least 1"),
    case("show-n-negative", "show {good} --n -1 --out out/m.png", "--n must be at least 1"),
    case("quality-n-0", "quality --checkpoint {ck} --data {good} --n 0", "Invalid value for '--n'"),
    case("quality-n-negative", "quality --checkpoint {ck} --data {good} --n -5", "Invalid value for '--n'"),
    case("demo-data-n-0", "demo-data --n-per-class 0 --out out/d.h5", "Invalid value for '--n-per-class'"),
    # an existing output without --overwrite (left as it was)
    case("convert-exists", "convert npz {i}/good.npz --out out/x.h5", "already exists; pass --overwrite",
         ["out/x.h5"]),
    case("export-exists", "export {good} pyskl --out out/x.pkl", "already exists; pass --overwrite", ["out/x.pkl"]),
    case("demo-data-exists", "demo-data --out out/d.h5", "already exists; pass --overwrite", ["out/d.h5"]),
    case("embed-exists", "embed --checkpoint {ck} --data {good} --out out/e.npz", "already exists; pass --overwrite",
         ["out/e.npz"]),
    case("synth-exists", SYNTH + " --n 2 --out out/s.h5", "already exists; pass --overwrite", ["out/s.h5"]),
    case("rebalance-exists", "rebalance {good} --checkpoint {ck} --out out/r.h5", "already exists; pass --overwrite",
         ["out/r.h5"]),
    case("reconstruct-exists", "reconstruct --checkpoint {ck} --data {good} --out out/rc",
         "already exists; pass --overwrite", ["out/rc.png"]),
    case("show-exists", "show {good} --out out/m.png", "already exists; pass --overwrite", ["out/m.png"]),
    case("show-gif-exists", "show {good} --out out/m.png --gif out/m.gif", "already exists; pass --overwrite",
         ["out/m.gif"]),
    case("plot-log-exists", "plot-log {i}/run --out out/c.png", "already exists; pass --overwrite", ["out/c.png"]),
    case("pretrain-exists", "pretrain --data {good} --recipe {i}/tiny.toml --out out/run",
         "exists; pass --resume", ["out/run/checkpoint.pt"]),
    # an output onto an input (data, checkpoint, recipe, log), by any path: refused, never replaced
    case("rebalance-onto-input", "rebalance {good} --checkpoint {ck} --out {good} --overwrite", ONTO),
    case("synth-onto-data", SYNTH + " --n 2 --out {good} --overwrite", ONTO),
    case("synth-onto-checkpoint", SYNTH + " --n 2 --out {ck} --overwrite", ONTO),
    case("synth-onto-data-relative", SYNTH + " --n 2 --out {i}/run/../good.h5 --overwrite", ONTO),
    case("export-onto-data", "export {good} npz --out {good} --overwrite", ONTO),
    case("export-pyskl-onto-data", "export {good} pyskl --out {good} --overwrite", ONTO),
    case("convert-onto-source", "convert pyskl {i}/good.pkl --out {i}/good.pkl --overwrite", ONTO),
    case("convert-npz-onto-source", "convert npz {i}/good.npz --out {i}/good.npz --overwrite", ONTO),
    case("embed-onto-data", "embed --checkpoint {ck} --data {good} --out {good} --overwrite", ONTO),
    case("embed-onto-checkpoint", "embed --checkpoint {ck} --data {good} --out {ck} --overwrite", ONTO),
    case("plot-log-onto-log", "plot-log {i}/run --out {i}/run/log.jsonl --overwrite", ONTO),

    # an output under /proc or naming a folder
    case("synth-out-proc", SYNTH + " --n 2 --out /proc/s.h5", "folder /proc is not writable"),
    case("export-out-proc", "export {good} npz --out /proc/x.npz", "folder /proc is not writable"),
    case("synth-out-folder", SYNTH + " --n 2 --out out", "out is a folder; give a file name"),
    case("demo-data-out-folder", "demo-data --out out --overwrite", "out is a folder; give a file name"),
    case("export-out-folder", "export {good} pyskl --out out --overwrite", "out is a folder; give a file name"),
    # values out of range (issue 15): recipes, probe settings, seeds, generation settings
    case("pretrain-heads", "pretrain --data {good} --recipe {i}/tiny.toml --set model.heads=5 --out out/run",
         r"model.heads \(5\) must divide model.dim \(32\); choose heads 1, 2, 4, 8, 16"),
    case("pretrain-frames-0", "pretrain --data {good} --set data.frames=0 --out out/run", "data.frames must be .* >= 1"),
    case("pretrain-dropout", "pretrain --data {good} --set model.dropout=2 --out out/run",
         r"model.dropout must be a number in \[0, 1\), not 2.0"),
    case("pretrain-weight-decay", "pretrain --data {good} --set train.weight_decay=-0.1 --out out/run",
         "train.weight_decay must be a number >= 0"),
    case("pretrain-lr", "pretrain --data {good} --set train.lr=-1 --out out/run", "train.lr must be a number > 0"),
    case("pretrain-mask", "pretrain --data {good} --set augment.frame_mask=1.5 --out out/run",
         r"augment.frame_mask must be a number in \[0, 1\]"),
    case("pretrain-huge", "pretrain --data {good} --set model.dim=1000000 --set model.heads=1 --out out/run",
         "parameters; choose a smaller model"),
    case("benchmark-out-of-range", "benchmark --recipe {i}/badrange.toml --out out/b",
         r"classifier.dropout must be a number in \[0, 1\), not 2.0; fix it in the benchmark recipe"),
    case("evaluate-k-too-large", "evaluate --checkpoint {ck} --data {good} -k 25", "-k 25 must lie between 1 and the 24"),
    case("evaluate-negative-lr", "evaluate --checkpoint {ck} --data {good} --lr -0.1", "--lr must be a number >= 0"),
    case("evaluate-zero-lr", "evaluate --checkpoint {ck} --data {good} --lr 0", "--lr must be > 0"),
    case("demo-data-negative-seed", "demo-data --seed -1 --out out/d.h5", "--seed must be 0 or more"),
    case("synth-nan-temperature", SYNTH + " --n 2 --strategy gaussian --temperature nan --out out/s.h5",
         "--temperature must be a number >= 0, not nan"),
    case("synth-nan-noise", SYNTH + " --n 2 --noise-scale nan --out out/s.h5", "--noise-scale must be a number"),
    # checkpoints that are valid pickles of tensors but malformed
    case("checkpoint-extra-key", SYNTH + " --checkpoint {i}/extra-key.pt --n 2 --out out/s.h5",
         r"is malformed: model_config keys \['extra'\] are unknown"),
    case("checkpoint-no-layout", SYNTH + " --checkpoint {i}/no-layout.pt --n 2 --out out/s.h5",
         "is malformed: 'layout' is missing"),
    case("checkpoint-absurd-size", "embed --checkpoint {i}/absurd-size.pt --data {good} --out out/e.npz",
         "is malformed: a model of dim 1048576, .* would have about 6.6e\\+13 parameters"),
    case("checkpoint-other-size", "embed --checkpoint {i}/other-size.pt --data {good} --out out/e.npz",
         "is malformed: its weights do not fit its model_config"),
    case("checkpoint-bad-heads", "evaluate --checkpoint {i}/bad-heads.pt --data {good}", "is malformed: model.heads"),
    # damaged logs and files whose arrays have the wrong kind
    case("plot-log-corrupt", "plot-log {i}/bad-log --out out/c.png", "line 2: not a training log row"),
    case("info-split-2d", "info {i}/split-2d.h5", "split 'train' is not a list of sample indices"),
    case("pretrain-split-repeated", "pretrain --data {i}/split-repeated.h5 --recipe {i}/tiny.toml --out out/run",
         "split 'train' names a sample more than once"),
    case("info-label-float", "info {i}/label-float.h5", "'label' holds float64 values, not integers"),
    case("convert-layout-cycle", "convert npz {i}/good.npz --layout {i}/cycle.json --out out/x.h5",
         "parents of joint 'spine_base' form a cycle"),
    # messages that name what the user wrote (classes by code, strategies by name), not internals
    case("rebalance-strategy-unknown", "rebalance {good} --checkpoint {ck} --sampling-strategy nope --out out/r.h5",
         "unknown sampling strategy 'nope'; use auto, minority, 'not minority', 'not majority', all, a ratio"),
    case("rebalance-strategy-ratio", "rebalance {good} --checkpoint {ck} --sampling-strategy 2 --out out/r.h5",
         r"a sampling ratio .* lies in \(0, 1\], not 2.0; use auto"),
    case("rebalance-strategy-fewer", "rebalance {good} --checkpoint {ck} --sampling-strategy A008=1 --out out/r.h5",
         "class A008 already has 3 samples and 1 were asked; rebalancing only adds, so ask for 3 or more"),
    case("rebalance-strategy-empty-class", "rebalance {i}/empty-class.h5 --checkpoint {ck} --sampling-strategy "
         "A010=5 --out out/r.h5", "class A010 has no samples to generate from"),
    case("synth-same-name-other-layout", "synth --checkpoint {ck} --data {i}/fake-ntu25.h5 --class A008 --n 2 "
         "--out out/s.h5", "layout and .*fake-ntu25.h5's are both named 'ntu25' but their joints differ"),
    # an output folder that does not exist
    case("convert-no-folder", "convert npz {i}/good.npz --out nowhere/x.h5", "folder nowhere does not exist"),
    case("export-no-folder", "export {good} npz --out nowhere/x.npz", "folder nowhere does not exist"),
    case("demo-data-no-folder", "demo-data --out nowhere/d.h5", "folder nowhere does not exist"),
    case("embed-no-folder", "embed --checkpoint {ck} --data {good} --out nowhere/e.npz", "folder nowhere does not"),
    case("synth-no-folder", SYNTH + " --n 2 --out nowhere/s.h5", "folder nowhere does not exist"),
    case("rebalance-no-folder", "rebalance {good} --checkpoint {ck} --out nowhere/r.h5", "folder nowhere does not"),
    case("reconstruct-no-folder", "reconstruct --checkpoint {ck} --data {good} --out nowhere/rc", "folder nowhere"),
    case("show-no-folder", "show {good} --out nowhere/m.png", "folder nowhere does not exist"),
    case("plot-log-no-folder", "plot-log {i}/run --out nowhere/c.png", "folder nowhere does not exist"),
    case("pretrain-out-is-file", "pretrain --data {good} --recipe {i}/tiny.toml --out {good}", "is a file"),
    # an output folder that is not writable
    case("convert-read-only", "convert npz {i}/good.npz --out ro/x.h5", "folder ro is not writable"),
    case("export-read-only", "export {good} npz --out ro/x.npz", "folder ro is not writable"),
    case("demo-data-read-only", "demo-data --out ro/d.h5", "folder ro is not writable"),
    case("embed-read-only", "embed --checkpoint {ck} --data {good} --out ro/e.npz", "folder ro is not writable"),
    case("synth-read-only", SYNTH + " --n 2 --out ro/s.h5", "folder ro is not writable"),
    case("rebalance-read-only", "rebalance {good} --checkpoint {ck} --out ro/r.h5", "folder ro is not writable"),
    case("reconstruct-read-only", "reconstruct --checkpoint {ck} --data {good} --out ro/rc", "folder ro is not"),
    case("show-read-only", "show {good} --out ro/m.png", "folder ro is not writable"),
    case("plot-log-read-only", "plot-log {i}/run --out ro/c.png", "folder ro is not writable"),
    case("pretrain-read-only", "pretrain --data {good} --recipe {i}/tiny.toml --out ro/run", "ro is not writable"),
    case("evaluate-read-only", "evaluate --checkpoint {ck} --data {good} --out ro/eval", "ro is not writable"),
    case("quality-read-only", "quality --checkpoint {ck} --data {good} --n 8 --out ro/q", "ro is not writable"),
    case("benchmark-read-only", "benchmark --recipe {i}/bench.toml --data {good} --out ro/b", "ro is not writable"),
    # a checkpoint for another layout or class list than the data
    case("synth-other-layout", "synth --checkpoint {ck} --data {i}/kinect.h5 --class A008 --n 2 --out out/s.h5",
         "trained on layout 'ntu25' but .*kinect.h5 uses 'kinect20'"),
    case("rebalance-other-layout", "rebalance {i}/kinect.h5 --checkpoint {ck} --out out/r.h5", "layout 'ntu25'"),
    case("quality-other-layout", "quality --checkpoint {ck} --data {i}/kinect.h5 --n 8 --seeds 0", "layout 'ntu25'"),
]


@pytest.mark.parametrize("cmdline, message, existing", CASES)
def test_bad_input(inputs, cmdline, message, existing):
    check_refused(cmdline, message, inputs, existing)


def test_a_checkpoint_of_other_classes_is_not_bad_input(inputs, tmp_path, monkeypatch):
    """Pretraining uses no labels: a model pretrained on clips of another class list (or on
    unlabelled ones) generates for any labelled data of its layout, in that data's classes."""
    monkeypatch.chdir(tmp_path)
    result = invoke("synth --checkpoint {ck} --data {i}/other-classes.h5 --class Z000 --n 2 --out s.h5", inputs)
    assert result.exit_code == 0, result.output
    with SkeletonFile(tmp_path / "s.h5") as out, SkeletonFile(inputs / "other-classes.h5") as data:
        assert list(out.classes.codes) == list(data.classes.codes) and out.labels.tolist() == [0, 0]


def test_resume_with_data_of_another_layout(inputs):
    """--resume on data the run's model cannot take: refused, the run left as it was."""
    shutil.copytree(inputs / "run", "out/run")
    check_refused("pretrain --data {i}/kinect.h5 --recipe {i}/tiny.toml --out out/run --resume",
                  "trained on layout 'ntu25' but .*kinect.h5 uses 'kinect20'", inputs)


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_output_through_a_link_onto_the_input(inputs, link):
    """An --out that is another name of the input (a symbolic or hard link) is refused too."""
    os.symlink(inputs / "good.h5", "out/alias.h5") if link == "symlink" else os.link(inputs / "good.h5", "out/alias.h5")
    check_refused("export out/alias.h5 npz --out {good} --overwrite", ONTO, inputs)
    check_refused("synth --checkpoint {ck} --data {good} --class A008 --n 2 --out out/alias.h5 --overwrite", ONTO,
                  inputs)


def test_malicious_pickle_through_the_cli(inputs):
    """The pickle's os.system call never runs; the library-level test is in test_importers."""
    check_refused("convert pyskl {i}/evil.pkl --out out/x.h5", r"refusing to load .*asks for (posix|os)\.system",
                  inputs)
    assert not (inputs / "pwned").exists()


def test_debug_shows_the_traceback(inputs):
    result = invoke("--debug info {i}/missing.h5", inputs)
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and result.stderr.splitlines()[-1].startswith("skelgen: error: ")


def test_one_frame_sequences_are_valid_input(inputs):
    """The format allows 1..T frames per sample (importers write such samples); commands take a
    one-frame sequence as a still pose rather than failing."""
    damaged_copy(inputs / "good.h5", Path("one-frame.h5"), set_array("length", np.s_[:], 1))
    for cmdline, out in (("pretrain --data one-frame.h5 --recipe {i}/tiny.toml --out out/run",
                          "out/run/checkpoint.pt"),
                         ("synth --checkpoint {ck} --data one-frame.h5 --class A008 --n 2 --out out/s.h5",
                          "out/s.h5"),
                         ("show one-frame.h5 --n 2 --out out/m.png", "out/m.png")):
        result = invoke(cmdline, inputs)
        assert result.exit_code == 0, result.output
        assert Path(out).is_file()
    with SkeletonFile("out/s.h5") as sf:
        assert np.isfinite(sf.read()).all() and (sf.lengths == 1).all()
