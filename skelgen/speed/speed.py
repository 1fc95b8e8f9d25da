"""`skelgen speed`: how fast skelgen trains, generates and imports on this machine, measured in
one process against a plain reference and this machine's own matrix-product peak.

Figures (``run_speed`` returns them as one dict; report.py holds them to the targets and
formats them):
  peaks         fp32 and bf16 square matrix products, GFLOP/s: the best of a probe before
                the work and one after it (``peak_probes``), against which every fraction is taken
  training      samples/s of skelgen's pretraining step (``train.train_step`` with augmentation
                and masking, then AdamW) and of the plain reference (``reference``), fp32
                and bf16 autocast, steps interleaved so both see the same machine load; achieved
                GFLOP/s (``flops``) against the peak; the bf16 loss against the fp32 loss
  data          batch gather + augmentation + masking as a fraction of skelgen's fp32 step
  generation    sequences/s of ``generate.synthesize`` (synth's decoding path) and the
                decoder's GFLOP/s within it, in fp32 (synth's default) and, where bf16 is
                native, in bf16 (``synth --precision bf16``, under ``"bf16"``); apart, the
                one-off seconds before the first batch: calibrating the novelty
                (``generate.calibrated_reach``) and a warm-up
  conversion    files/s of the NTU and NW-UCLA importers (real NW-UCLA clips where present)
  synth_memory  peak memory (max RSS) of a child ``skelgen synth --n N`` streaming to disk
  targets       the issue's target ratios, each measured, with pass or miss

Training is measured at two sizes: the paper's (D = 512, T = 64, batch 128) and the benchmark's
generator (D = 128, T = 32, batch 64), with the time one benchmark generator takes
(``GENERATOR_STEPS`` steps) at the precision ``train.precision = auto`` picks. bf16 runs at the
fp32 batch where auto picks bf16; where bf16 matrix products are not native (measured slower)
the bf16 rows use a smaller batch, sized so that a step takes about ``bf16_step_s``.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from . import flops
from .report import significant, targets
from ..errors import SkelgenError, check_range
from ..progress import Progress

NWUCLA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "NW-UCLA" / "all_sqe"
GENERATOR_STEPS = 2500  # one benchmark generator's training (recipes/bench-*.toml: min_steps)


@dataclass
class SpeedConfig:
    batch: int = 128            # training batch (the paper's)
    frames: int = 64            # T
    dim: int = 512              # D
    depth: int = 2              # encoder and decoder blocks each
    heads: int = 8
    gen_model_batch: int = 64   # the benchmark's generator: batch, T, D and heads
    gen_model_frames: int = 32  # (recipes/bench-*.toml: model.dim=128, model.heads=4, batch 64)
    gen_model_dim: int = 128
    gen_model_heads: int = 4
    steps: int = 2              # timed training steps per variant at the paper's size (5x at the
                                # generator's), after a warm-up step
    bf16_step_s: float = 3.0    # a bf16 step's length: its batch shrinks to fit where bf16 is slow
    gen_batch: int = 256        # generation batch (GenerationConfig's default)
    gen_batches: int = 2
    ntu_files: int = 100
    nwucla_files: int | None = None  # None: every real clip (300 synthetic ones where absent)
    synth_n: int = 100_000
    demo_per_class: int = 20
    threads: int = os.cpu_count() or 1
    calibrate: bool = True      # generation and synth calibrate their novelty first, as synth does
    peak_max_n: int = 2048      # the largest matrix the peak probe multiplies

    def __post_init__(self):
        for key in ("batch", "frames", "steps", "gen_batch", "gen_batches", "ntu_files", "synth_n", "demo_per_class",
                    "threads", "gen_model_batch", "gen_model_frames", "gen_model_dim", "gen_model_heads", "peak_max_n"):
            check_range(key, getattr(self, key), 1, fix="give another value")
        if self.nwucla_files is not None:
            check_range("nwucla_files", self.nwucla_files, 1, fix="give another value")
        if not self.bf16_step_s > 0:
            raise SkelgenError(f"bf16_step_s must be > 0, not {self.bf16_step_s!r}; give another value")
        self.model_config()  # dim, depth and heads as a model takes them

    @classmethod
    def quick(cls, **overrides) -> "SpeedConfig":
        """A tiny configuration that runs in seconds: checks the command, not the machine."""
        return cls(**{**dict(batch=4, frames=8, dim=32, depth=1, heads=4, steps=1, bf16_step_s=0.5,
                             gen_model_batch=4, gen_model_frames=8, gen_model_dim=16, gen_model_heads=2,
                             gen_batch=8, gen_batches=1, ntu_files=3, nwucla_files=6, synth_n=40,
                             demo_per_class=4, calibrate=False, peak_max_n=256), **overrides})

    def model_config(self, size: str = "paper"):
        """The model of ``size``: "paper" (D = 512) or "generator" (the benchmark's, D = 128)."""
        from ..model import ModelConfig
        frames, dim, heads = ((self.frames, self.dim, self.heads) if size == "paper" else
                              (self.gen_model_frames, self.gen_model_dim, self.gen_model_heads))
        return ModelConfig(in_dim=25 * 3, frames=frames, dim=dim, enc_depth=self.depth,
                           dec_depth=self.depth, heads=heads)  # ntu25, one person

    def train_batch(self, size: str) -> int:
        return self.batch if size == "paper" else self.gen_model_batch


def run_speed(cfg: SpeedConfig | None = None, show_progress: bool = True) -> dict:
    """Every figure of the module docstring, as a JSON-ready dict."""
    from ..runtime import keep_freed_memory
    cfg = cfg or SpeedConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    keep_freed_memory()  # as pretrain does (process-wide: the reference gains as much)
    start = time.perf_counter()
    out, seconds = {"machine": machine(), "config": asdict(cfg)}, {}

    def section(name, fn, *args):
        t = time.perf_counter()
        out[name] = fn(*args)
        seconds[name] = round(time.perf_counter() - t, 1)

    try:
        section("peaks", peaks, cfg)
        section("conversion", conversion, cfg)
        section("generation", generation, cfg, show_progress)
        section("training", training, cfg, show_progress)
        section("data", data_loading, cfg, out["training"]["paper"]["skelgen_fp32"]["step_s"])
        section("synth_memory", synth_memory, cfg, show_progress)
        # probed again after the work, the best of the two: one slow probe would inflate every
        # fraction (159, then 251 and 242 GFLOP/s in three runs within four minutes on one
        # machine, the training GFLOP/s alike in all three: BENCHMARKS.md 9e)
        section("peaks_again", peaks, cfg)
    finally:
        torch.set_num_threads(threads)
    out["peak_probes"] = [out["peaks"], out.pop("peaks_again")]
    out["peaks"] = {k: max(p[k] for p in out["peak_probes"]) for k in ("fp32", "bf16")}
    peak_fractions(out)
    out["generator_estimate"] = generator_estimate(out)
    out["targets"] = targets(out)
    out["section_s"], out["wall_s"] = seconds, round(time.perf_counter() - start, 1)
    return out


def machine() -> dict:
    from ..precision import use_bf16
    from ..runtime import thread_waits_in_effect
    return {"cpus": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu_model": _cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "auto_precision": "bf16" if use_bf16("auto", torch.device("cpu")) else "fp32",
            "thread_waits": thread_waits_in_effect(),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")


def matmul_peak(dtype, max_n: int = 2048, min_s: float = 0.05) -> float:
    """GFLOP/s of n x n products, n doubling from 256 until one takes ``min_s`` (or n = max_n);
    the best of three at that size, in the faster of two layouts: ``a @ b`` and ``a @ b.T`` (the
    one nn.Linear uses; in bf16 on AVX2 it measured 7x faster than the other)."""
    best = 0.0
    for layout in (lambda b: b, lambda b: b.t()):
        n = 256
        while True:
            a, b = torch.randn(n, n, dtype=dtype), layout(torch.randn(n, n, dtype=dtype))
            a @ b
            if _timed(lambda: a @ b) >= min_s or n >= max_n:
                break
            n *= 2
        best = max(best, 2 * n ** 3 / min(_timed(lambda: a @ b) for _ in range(3)) / 1e9)
    return significant(best)


def peaks(cfg: SpeedConfig) -> dict:
    return {"fp32": matmul_peak(torch.float32, cfg.peak_max_n), "bf16": matmul_peak(torch.bfloat16, cfg.peak_max_n)}


def peak_fractions(r: dict):
    """Each achieved GFLOP/s of ``r`` as a fraction of the matching peak, in place: training rows
    (``skelgen_fp32``, ...) against their precision's, the decoder against both."""
    p = r["peaks"]
    for t in r["training"].values():
        for key, row in t.items():
            if isinstance(row, dict):
                row["peak_fraction"] = significant(row["gflops"] / p[key.rsplit("_", 1)[1]])
    g = r["generation"]
    for k in ("fp32", "bf16"):
        g[f"{k}_peak_fraction"] = significant(g["decoder_gflops"] / p[k])
    if g.get("bf16"):
        g["bf16"]["peak_fraction"] = significant(g["bf16"]["decoder_gflops"] / p["bf16"])


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- training ---------------------------------------------------------------------------------
class _Trainer:
    """One model, its AdamW and ``loss_fn(x, generator, bf16)``; ``step()`` runs one timed
    training step on a batch gathered from ``data`` (N, T, M, V, C), as ``pretrain`` does."""

    def __init__(self, model, loss_fn, data, batch: int, bf16: bool, flops_per_sample: int, seed: int = 0):
        from ..recipe import TrainConfig
        tc = TrainConfig()
        self.model, self.loss_fn, self.data, self.batch, self.bf16 = model, loss_fn, data, batch, bf16
        self.opt = torch.optim.AdamW(model.parameters(), lr=tc.lr_start, weight_decay=tc.weight_decay)
        self.flops, self.gen, self.times, self.losses = flops_per_sample, torch.Generator().manual_seed(seed), [], []

    def step(self, batch: int | None = None) -> float:
        """One step on ``self.batch`` samples (recorded), or untimed on ``batch`` samples: a
        warm-up, which pays the first-call costs (lazy initialization, kernel selection) cheaply.
        Returns its seconds."""
        t = time.perf_counter()
        idx = torch.randperm(len(self.data), generator=self.gen)[: batch or self.batch]
        loss = self.loss_fn(self.data[idx], self.gen, self.bf16)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        seconds = time.perf_counter() - t
        if batch is None:
            self.times.append(seconds)
            self.losses.append(loss.item())
        return seconds

    def figures(self) -> dict:
        step_s, step_flops = statistics.median(self.times), self.flops * self.batch
        return {"batch": self.batch, "step_s": significant(step_s), "samples_per_s": significant(self.batch / step_s),
                "gflop_per_step": significant(step_flops / 1e9), "gflops": significant(step_flops / step_s / 1e9),
                "loss": significant(self.losses[-1])}


def _pair(cfg: SpeedConfig, size: str, bf16: bool) -> dict[str, _Trainer]:
    """skelgen's pretraining step and the plain reference's at ``size``, same data."""
    from .reference import ReferenceTAHAR, reference_loss
    from ..architectures import build_model
    from ..recipe import AugmentConfig
    from ..train import Objective, train_step
    mc, aug, cpu, batch = cfg.model_config(size), AugmentConfig(), torch.device("cpu"), cfg.train_batch(size)
    data = 0.3 * torch.randn(max(4 * batch, 16), mc.frames, 1, 25, 3)
    torch.manual_seed(0)
    ours = Objective(build_model(mc)).train()
    ref = ReferenceTAHAR(mc.in_dim, mc.frames, mc.dim, mc.enc_depth, mc.dec_depth, mc.heads, mc.mlp_ratio).train()
    return {"skelgen": _Trainer(ours, lambda x, g, b: train_step(ours, x, g, aug, b, cpu), data, batch, bf16,
                                flops.training_step(flops.tahar_forward(mc, mc.frames), 1)),
            "reference": _Trainer(ref, lambda x, g, b: reference_loss(ref, x, g, aug, b), data, batch, bf16,
                                  flops.training_step(flops.reference_forward(mc, mc.frames), 1))}


def training(cfg: SpeedConfig, show_progress: bool = True) -> dict:
    """Both sizes, each as ``training_at``; {"paper": ..., "generator": ...}."""
    from ..precision import bf16_matmul_faster
    same_batch = bf16_matmul_faster()  # auto picks bf16: measure it at the fp32 batch
    bar_steps = sum(6 + 2 * timed_steps(cfg, size) + 2 * (timed_steps(cfg, size) if same_batch else 1)
                    for size in ("paper", "generator"))  # per size: 6 warm-up and sizing ticks, then the timed steps
    with Progress(bar_steps, "training steps", "steps", enabled=show_progress) as bar:
        return {size: training_at(cfg, size, same_batch, bar) for size in ("paper", "generator")}


def timed_steps(cfg: SpeedConfig, size: str) -> int:
    """``cfg.steps`` at the paper's size; 5x that at the generator's, whose steps are 25-50x
    shorter and so noisier (median of more)."""
    return cfg.steps if size == "paper" else 5 * cfg.steps


def training_at(cfg: SpeedConfig, size: str, same_batch: bool, bar: Progress) -> dict:
    """fp32, then bf16 autocast, at ``size``; each pair warmed up with a step at the batch it is
    timed at (first calls at a shape select and build kernels: with native bf16 they cost more
    than a generator-size step), then its steps timed alternately (both see the same machine
    load), median. Unless ``same_batch``, bf16's batch shrinks so that a step takes about
    ``cfg.bf16_step_s``, sized from a 1-sample step after a warm-up at batch 8."""
    mc = cfg.model_config(size)
    out = {"frames": mc.frames, "dim": mc.dim, "heads": mc.heads, "depth": mc.enc_depth}
    steps = timed_steps(cfg, size)
    for precision in ("fp32", "bf16"):
        pair = _pair(cfg, size, precision == "bf16")
        shrink = precision == "bf16" and not same_batch
        for trainer in pair.values():
            trainer.step(batch=min(trainer.batch, 8) if shrink else trainer.batch)
            bar.update(1)
        if shrink:
            one = pair["skelgen"].step(batch=1)  # includes per-step costs: errs to a smaller batch
            for trainer in pair.values():
                trainer.batch = min(trainer.batch, max(1, int(cfg.bf16_step_s / one)))
        bar.update(1)
        for _ in range(1 if shrink else steps):
            for name, trainer in pair.items():
                trainer.step()
                bar.update(1, last=f"{size} {name} {precision} {trainer.times[-1]:.1f} s")
        for name, trainer in pair.items():
            out[f"{name}_{precision}"] = trainer.figures()
        if precision == "bf16":
            out["bf16_loss_rel_diff"] = bf16_loss_difference(pair["skelgen"])
    return out


def generator_estimate(r: dict) -> dict:
    """Minutes one benchmark generator's ``GENERATOR_STEPS`` training steps take at the generator
    size, at the precision auto picks (the step as measured; data loading is in it)."""
    precision = r["machine"]["auto_precision"]
    row = r["training"]["generator"][f"skelgen_{precision}"]
    return {"steps": GENERATOR_STEPS, "batch": row["batch"], "precision": precision,
            "minutes": significant(GENERATOR_STEPS * row["step_s"] / 60)}


def bf16_loss_difference(trainer: _Trainer) -> float:
    """|loss_bf16 - loss_fp32| / loss_fp32 of the same model, batch and augmentation draw."""
    losses = []
    for bf16 in (False, True):
        with torch.no_grad():
            losses.append(trainer.loss_fn(trainer.data[: trainer.batch], torch.Generator().manual_seed(1), bf16).item())
    return significant(abs(losses[1] - losses[0]) / max(abs(losses[0]), 1e-12))


def data_loading(cfg: SpeedConfig, step_s: float, reps: int = 5) -> dict:
    """Time of ``train_step``'s data work (batch gather, augmentation, masking) alone: the same
    call with a model that costs nothing."""
    from ..recipe import AugmentConfig
    from ..train import train_step
    data = 0.3 * torch.randn(4 * cfg.batch, cfg.frames, 1, 25, 3)
    gen, aug, times = torch.Generator().manual_seed(0), AugmentConfig(), []
    no_model = lambda x, x_dec, mask: x_dec.sum()
    for _ in range(reps + 1):
        times.append(_timed(lambda: train_step(no_model, data[torch.randperm(len(data), generator=gen)[: cfg.batch]],
                                               gen, aug, False, torch.device("cpu"))))
    per_batch = statistics.median(times[1:])
    return {"batch": cfg.batch, "seconds_per_batch": significant(per_batch),
            "fraction_of_step": significant(per_batch / step_s)}


# -- generation -------------------------------------------------------------------------------
class _TimedDecoder(torch.nn.Module):
    """Stands in for the model in ``synthesize`` (which calls only ``decode``), summing the
    seconds spent decoding and the sequences decoded (the shift strategy decodes each twice)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seconds, self.decoded = model, 0.0, 0

    def decode(self, cls, *args):
        t = time.perf_counter()
        out = self.model.decode(cls, *args)
        self.seconds += time.perf_counter() - t
        self.decoded += len(cls)
        return out


def generation(cfg: SpeedConfig, show_progress: bool = True) -> dict:
    """synthesize() at the paper's size with random weights (the decoder's speed does not depend
    on them; the bone projection's does, and random outputs need its most sweeps: a lower bound),
    conditioned on a bank of random [CLS] embeddings and model inputs whose sources have varied
    lengths, so the outputs are resampled as in a real run (default strategy, as synth uses)."""
    from ..architectures import build_model
    from ..checkpoint import DataInfo, RunInfo
    from ..generate import ClassBank, GenerationConfig, synthesize
    from ..io.dataset import ClassList
    from ..layouts import NTU25
    from ..precision import bf16_matmul_faster, in_precision
    from ..recipe import Recipe
    mc = cfg.model_config()
    torch.manual_seed(0)
    model = build_model(mc).eval()
    rng = np.random.default_rng(0)
    bank = ClassBank(rng.standard_normal((64, mc.dim)).astype(np.float32), np.zeros(64, int),
                     np.array([f"s{i}" for i in range(64)]), rng.integers(cfg.frames // 2, 2 * cfg.frames, 64),
                     inputs=0.3 * rng.standard_normal((64, cfg.frames, mc.in_dim)).astype(np.float32))
    run = RunInfo(mc, DataInfo("", "", "train", cfg.frames, 1, True, NTU25), ClassList(("A",), ("a",)), Recipe())
    t = time.perf_counter()
    for _ in synthesize(model, run, bank, 0, 2, GenerationConfig(batch_size=2, calibrate=cfg.calibrate), seed=0):
        pass  # warm-up, and the calibration, cached in the bank for the timed batches
    calibration_s = time.perf_counter() - t if cfg.calibrate else None
    n = cfg.gen_batch * cfg.gen_batches

    def rate(precision: str, bar) -> dict:
        # the decoder as synthesize makes it for this precision, made before the clock starts
        timed, done = _TimedDecoder(in_precision(model, precision == "bf16")), 0
        t = time.perf_counter()
        gc = GenerationConfig(batch_size=cfg.gen_batch, calibrate=cfg.calibrate, precision=precision)
        for xs, _ in synthesize(timed, run, bank, 0, n, gc, seed=0):
            done += len(xs)
            bar.update(len(xs))
        total = time.perf_counter() - t
        gflops = flops.decoder_forward(mc, cfg.frames) * timed.decoded / timed.seconds / 1e9
        return {"sequences": done, "sequences_per_s": significant(done / total),
                "decoder_time_fraction": significant(timed.seconds / total), "decoder_gflops": significant(gflops)}

    # bf16 decoding (synth --precision bf16) only where it is native: emulated, it would take minutes
    precisions = ("fp32", "bf16") if bf16_matmul_faster() else ("fp32",)
    with Progress(n * len(precisions), "generation", "seq", enabled=show_progress) as bar:
        r = {p: rate(p, bar) for p in precisions}
    return {**r["fp32"], "batch": cfg.gen_batch, "bf16": r.get("bf16"),
            "calibration_s": None if calibration_s is None else round(calibration_s, 2)}


# -- conversion -------------------------------------------------------------------------------
def conversion(cfg: SpeedConfig) -> dict:
    """files/s of ``convert_ntu`` (generated .skeleton files, the default worker processes) and
    ``convert_nwucla`` (the real all_sqe clips where present, else generated ones)."""
    from .synthetic_files import write_ntu_files, write_nwucla_files
    from ..io.ntu import convert_ntu
    from ..io.nwucla import convert_nwucla
    with tempfile.TemporaryDirectory(prefix="skelgen-speed-") as d:
        d = Path(d)
        ntu = write_ntu_files(d / "ntu", cfg.ntu_files)
        seconds = _timed(lambda: convert_ntu(d / "ntu", d / "ntu.h5", benchmark="ntu60"))
        out = {"ntu": {"files": len(ntu), "source": "generated", "seconds": round(seconds, 3),
                       "files_per_s": round(len(ntu) / seconds, 1)}}
        if NWUCLA.is_dir():
            source, clips = "real", sorted(NWUCLA.glob("*.json"))[: cfg.nwucla_files]
            (d / "nw").mkdir()
            for p in clips:  # links: a subset without copying
                (d / "nw" / p.name).symlink_to(p.resolve())
        else:
            source, clips = "generated", write_nwucla_files(d / "nw", cfg.nwucla_files or 300)
        seconds = _timed(lambda: convert_nwucla(d / "nw", d / "nw.h5"))
        out["nwucla"] = {"files": len(clips), "source": source, "seconds": round(seconds, 3),
                         "files_per_s": round(len(clips) / seconds, 1)}
    return out


# -- synth memory -----------------------------------------------------------------------------
def synth_memory(cfg: SpeedConfig, show_progress: bool = True) -> dict:
    """Peak RSS of ``skelgen synth --n cfg.synth_n`` in a child process, on the procedural demo
    data with a tiny checkpoint trained for one epoch (memory, not quality, is measured)."""
    from ..demo import write_demo
    from ..recipe import Recipe
    from ..train import pretrain
    with tempfile.TemporaryDirectory(prefix="skelgen-speed-") as d:
        d = Path(d)
        data = write_demo(d / "demo.h5", n_per_class=cfg.demo_per_class, seed=0)
        recipe = Recipe(name="speed-tiny")
        for key, value in {"model.dim": 32, "model.heads": 4, "model.enc_depth": 1, "model.dec_depth": 1,
                           "data.frames": 16, "train.epochs": 1, "train.warmup_epochs": 0,
                           "train.batch_size": 16}.items():
            recipe.set(key, value)
        ckpt = pretrain(recipe, str(data), d / "run", show_progress=False, record=False)
        args = ["synth", "--checkpoint", str(ckpt), "--data", str(data), "--class", "0",
                "--n", str(cfg.synth_n), "--out", str(d / "synth.h5")] + ([] if cfg.calibrate else ["--no-calibrate"])
        t = time.perf_counter()
        rc, peak_kib, err = _peak_rss(args, cwd=d, show_progress=show_progress)
        seconds = time.perf_counter() - t
        if rc != 0:
            raise SkelgenError(f"`skelgen synth` failed while measuring its memory (exit {rc}): {err[-500:].strip()}")
        size = (d / "synth.h5").stat().st_size
    return {"n": cfg.synth_n, "peak_rss_gb": round(peak_kib * 1024 / 1e9, 3), "seconds": round(seconds, 1),
            "sequences_per_s": round(cfg.synth_n / seconds, 1), "file_gb": round(size / 1e9, 3)}


# Runs the skelgen command line in a fresh interpreter and, as it exits, prints the peak resident
# memory of that process alone: VmHWM, the high-water mark of the memory map exec created.
# (getrusage's maxrss and os.wait4 also count the memory a child shares with its parent between
# fork and exec, here the GBs of the models trained before: it reported 2.97 GB for 0.4.)
_PEAK = """
import sys
from skelgen.cli import main
try:
    main(sys.argv[1:], prog_name="skelgen")
finally:
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print(f"\\nVmHWM_KiB {status}", file=sys.__stdout__, flush=True)
"""


def _peak_rss(args: list[str], cwd, show_progress: bool) -> tuple[int, int, str]:
    """Run ``skelgen ARGS``; its exit code, peak RSS in KiB and stderr (shown live instead, where
    ``show_progress``: the command's own progress bar)."""
    proc = subprocess.run([sys.executable, "-c", _PEAK, *args], cwd=cwd, stdout=subprocess.PIPE, text=True,
                          stderr=None if show_progress else subprocess.PIPE)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("VmHWM_KiB ")]
    if not lines:
        raise SkelgenError(f"could not read the peak memory of `skelgen {' '.join(args[:1])}` "
                           f"(exit {proc.returncode}; /proc/self/status is Linux-only)")
    return proc.returncode, int(lines[-1].split()[1]), proc.stderr or ""
