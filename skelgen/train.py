"""Pretraining: recipe -> data -> training loop -> checkpoint (resumable, optionally distributed).

Every epoch's randomness (order, augmentation, masking, dropout) is drawn from generators seeded
by (seed, epoch, rank), so a run resumed from an epoch checkpoint ends with exactly the weights of
an uninterrupted one, and no generator state needs saving.

Checkpoints are written by elapsed time (``train.save_minutes``), at the last epoch, and on an
interrupt (Ctrl-C, SIGTERM). An interrupt writes the last *completed* epoch, kept in memory at
each unsaved epoch end, never a mid-epoch state: resuming it stays exact.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from .augment import decoder_input, encoder_view
from .checkpoint import (Checkpoint, DataInfo, RunInfo, check_compatible, file_fingerprint, load_checkpoint,
                         record_latest, save_checkpoint)
from .errors import SkelgenError
from .io.atomic import MB, AtomicPath, check_folder, check_space, guarded, make_folder, note_input
from .io.dataset import SkeletonFile
from .architectures import build_model
from .model import ModelConfig
from .preprocess import prepare_file
from .progress import Progress
from .recipe import Recipe, steps_per_epoch
from .stopping import stoppable
from .runtime import keep_freed_memory
from .precision import autocast, use_bf16


def load_sequences(path, split: str | None, frames: int):
    """Prepared training tensor (N, T, M, V, C) and the open file, for ``split`` of ``path``."""
    sf = SkeletonFile(path)
    idx = sf.indices(split)
    if len(idx) == 0:
        raise SkelgenError(f"{path}: split {split!r} has no samples")
    x = torch.from_numpy(prepare_file(sf, idx, frames))
    return x, sf, idx


def lr_at(step: int, steps_per_epoch: int, cfg) -> float:
    """Linear warmup lr_start -> lr over warmup_epochs, then cosine decay to zero."""
    warm, total = cfg.warmup_epochs * steps_per_epoch, cfg.epochs * steps_per_epoch
    if step < warm:
        return cfg.lr_start + (cfg.lr - cfg.lr_start) * step / warm
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


clock = time.monotonic  # seconds; a module name so that tests can move time on


def epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1009 + rank)


class Objective(torch.nn.Module):
    """The model's training loss as ``forward``, so DistributedDataParallel can wrap it;
    ``vicreg``: the weight of the view-agreement term (train.vicreg), which needs ``other_view``."""

    def __init__(self, model, vicreg: float = 0.0):
        super().__init__()
        self.model, self.vicreg = model, vicreg

    def forward(self, x, x_dec, mask, other_view=None):
        if other_view is None:
            return self.model.forward_loss(x, x_dec, mask)
        return self.model.forward_loss(x, x_dec, mask, other_view=other_view, vicreg=self.vicreg)


def train_step(objective, x, gen, aug, bf16: bool, device, views: int = 1):
    """One pretraining loss on a clean batch x (B, T, M, V, C): the decoder gets an augmented,
    masked copy; the loss counts masked positions (all positions when masking is off). With
    ``aug.encoder`` the encoder sees (and the decoder rebuilds) ``encoder_view(x)``; with
    ``views=2`` the objective also gets a second, independent view for its agreement term."""
    clean = x
    if aug.encoder:
        x = encoder_view(clean, gen, aug)
    x_dec, mask = decoder_input(x, gen, aug)
    masking = aug.frame_mask > 0 or aug.joint_mask > 0
    other = (encoder_view(clean, gen, aug).to(device),) if views == 2 else ()
    with autocast(device, bf16):
        return objective(x.to(device), x_dec.to(device), mask.to(device) if masking else None, *other)


@guarded
def pretrain(recipe: Recipe, data: str, out_dir: str | Path, resume: bool = False,
             show_progress: bool = True, stop_after: int | None = None, record: bool = True) -> Path:
    """Train ``recipe`` on the file ``data``; returns the checkpoint path (``out_dir/checkpoint.pt``).

    ``stop_after`` ends the run after that many epochs (as an interruption would), for testing.
    ``record`` makes it the default checkpoint of later commands (runs/latest.json).
    Under torchrun (WORLD_SIZE > 1) it runs DistributedDataParallel; rank 0 writes all files.
    A run that fails or is stopped before its first checkpoint leaves no empty folder behind.
    """
    recipe.validate()
    fresh = not Path(out_dir).exists()
    ours = not dist.is_initialized()  # a process group start_processes joins is ours to leave
    try:
        return _pretrain(recipe, data, out_dir, resume, show_progress, stop_after, record)
    except BaseException:
        if fresh:
            with contextlib.suppress(OSError):
                Path(out_dir).rmdir()  # only if empty: a checkpoint already written stays resumable
        raise
    finally:
        if ours:
            leave_processes()


def _pretrain(recipe: Recipe, data: str, out_dir: str | Path, resume: bool, show_progress: bool,
              stop_after: int | None, record: bool) -> Path:
    """The stages of ``pretrain``, in order; any check that can fail runs before the first file is written."""
    world, rank, device = start_processes()
    out_dir = Path(out_dir)
    ckpt_path, log_path = out_dir / "checkpoint.pt", out_dir / "log.jsonl"
    bf16 = agree_on_bf16(recipe.train.precision, device, world)  # before any file is written: a bad value leaves nothing
    if rank == 0:
        check_run_folder(out_dir, ckpt_path, resume)
    x, run = load_run_data(recipe, data, out_dir, rank)
    tc = run.recipe.train
    torch.manual_seed(tc.seed)
    model = build_model(run.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr_start, weight_decay=tc.weight_decay)
    if tc.init and not resume:  # a resumed run's checkpoint already holds what init gave it
        init_from(tc.init, run, model)
    start_epoch = resume_from(ckpt_path, run, model, opt, data) if resume else 0
    if rank == 0:  # weights and the optimizer's two moments: refuse a run whose checkpoint cannot fit
        check_space(ckpt_path, 3 * sum(p.numel() * p.element_size() for p in model.parameters()) + MB)
    objective = Objective(model, tc.vicreg)
    if world > 1:
        objective = torch.nn.parallel.DistributedDataParallel(objective)
    if show_progress and rank == 0:  # after every check, so that bad input gets one error line only
        chosen = ", chosen by measuring" if recipe.train.precision == "auto" else ""
        print(f"pretraining recipe {run.recipe.name} on {data} ({len(x)} sequences, {'bf16' if bf16 else 'fp32'}"
              f"{chosen}) -> {out_dir}", file=sys.stderr)
    if rank == 0 and log_path.exists():
        if resume:
            trim_log(log_path, start_epoch)
        else:
            log_path.unlink()
    training = Training(run, x, model, opt, objective, device, bf16, world, rank, show_progress)
    last = tc.epochs if stop_after is None else min(tc.epochs, start_epoch + stop_after)
    train_epochs(training, start_epoch, last, ckpt_path, log_path)
    if world > 1:
        dist.barrier()  # every rank stays until rank 0 has written the checkpoint
    if rank == 0 and record:
        record_latest(ckpt_path, data)
    return ckpt_path


def start_processes() -> tuple[int, int, torch.device]:
    """(world size, rank, device) of this process; under torchrun (WORLD_SIZE > 1) it joins the
    process group (nccl on GPUs, gloo on CPUs)."""
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    device = pick_device()
    if device.type == "cpu":
        keep_freed_memory()  # reuse freed activations instead of page-faulting them in every step
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    return world, rank, device


def leave_processes():
    """Leave the process group ``start_processes`` joined, if any. A rank that exits without it
    can abort (SIGABRT) while another still talks to it over gloo, e.g. as rank 0 saves."""
    if dist.is_initialized():
        dist.destroy_process_group()


def agree_on_bf16(precision: str, device: torch.device, world: int) -> bool:
    """``use_bf16`` for this run, the same on every rank."""
    bf16 = use_bf16(precision, device)
    if world > 1 and device.type == "cpu":  # each rank measured its own probe: all follow rank 0's
        pick = torch.tensor([int(bf16)])
        dist.broadcast(pick, 0)
        bf16 = bool(pick.item())
    return bf16


def check_run_folder(out_dir: Path, ckpt_path: Path, resume: bool):
    """Refuse an --out that is a file, a run to start over an existing one, or one to resume that is not there."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SkelgenError(f"--out {out_dir} is a file; give a folder for the run")
    if ckpt_path.exists() and not resume:
        raise SkelgenError(f"{ckpt_path} exists; pass --resume to continue it or choose another --out")
    if resume and not ckpt_path.is_file():
        raise SkelgenError(f"--resume: no checkpoint in {out_dir} to continue; start it without --resume")
    check_folder(out_dir)


def load_run_data(recipe: Recipe, data: str, out_dir: Path, rank: int) -> tuple[torch.Tensor, RunInfo]:
    """(the prepared training data x (N, T, M, V, C), the run: the model sized to the data and
    the recipe fitted to its size). The run folder is made here, once the data has passed its checks."""
    x, sf, _ = load_sequences(data, recipe.data.split, recipe.data.frames)
    with sf:
        if rank == 0:  # only once the data has passed its checks: bad input leaves no empty run folder
            make_folder(out_dir)
        n, t, m, v, c = x.shape
        recipe = recipe.fitted_to(n)  # train.min_steps: more epochs on a small dataset
        parents = sf.layout.feature_parents(m, c) if "bones" in recipe.model.streams else []
        cfg = ModelConfig(**{**asdict(recipe.model), "in_dim": m * v * c, "frames": t, "parents": parents})
        run = RunInfo(cfg, DataInfo(str(Path(data).resolve()), file_fingerprint(data), recipe.data.split, t, m,
                                    sf.frame == "normalized", sf.layout), sf.classes, recipe)
    return x, run


def init_from(path: str, run: RunInfo, model):
    """Load the weights of the checkpoint at ``path`` (train.init) into ``model``; refuses one of
    another layout, persons or model (dimensions, depth, frames). The optimizer starts afresh."""
    if not Path(path).is_file():
        raise SkelgenError(f"train.init: no checkpoint at {path}; give the checkpoint.pt of a pretrain run")
    saved = load_checkpoint(path)
    check_compatible(saved.run, run.layout, run.data.persons, "this data")
    if saved.run.model != run.model:
        theirs, ours = asdict(saved.run.model), asdict(run.model)
        differ = ", ".join(f"{k} {theirs[k]} there, {ours[k]} here" for k in ours if theirs[k] != ours[k])
        raise SkelgenError(f"train.init: {path} holds another model ({differ}); use the model settings "
                           f"and frames it was trained with")
    model.load_state_dict(saved.weights)


def resume_from(ckpt_path: Path, run: RunInfo, model, opt, data) -> int:
    """Load the weights and optimizer state of the run's checkpoint into ``model`` and ``opt``;
    returns the epochs it holds. Refuses a checkpoint of other data, recipe or model."""
    saved = load_checkpoint(ckpt_path)
    check_compatible(saved.run, run.layout, run.data.persons, str(data))
    if saved.run.data.fingerprint != run.data.fingerprint:  # two runs under one provenance
        raise SkelgenError(f"{ckpt_path} was trained on other data than {data}; resume with the data it "
                           f"started with, or choose another --out")
    changed = saved.run.recipe_changes(run.recipe)  # e.g. epochs: another schedule
    if changed:
        raise SkelgenError(f"{ckpt_path} was started with another recipe ({changed}); "
                           f"resume with the recipe it started with, or choose another --out")
    if saved.run.model != run.model:  # load_state_dict would fail on mismatched weights
        raise SkelgenError(f"{ckpt_path} was trained with another model (recipe or data shape); resume "
                           f"with the recipe and data it started with, or choose another --out")
    if saved.optimizer is None:
        raise SkelgenError(f"{ckpt_path} holds no optimizer state to resume from; choose another --out")
    model.load_state_dict(saved.weights)
    opt.load_state_dict(saved.optimizer)
    return saved.epoch


@dataclass
class Training:
    """What the epochs of one pretraining run share, built by ``pretrain``'s stages."""
    run: RunInfo
    x: torch.Tensor           # (N, T, M, V, C), the prepared training data
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    objective: torch.nn.Module  # the model's loss, wrapped in DistributedDataParallel under torchrun
    device: torch.device
    bf16: bool
    world: int
    rank: int
    show_progress: bool


def train_epoch(t: Training, epoch: int) -> dict:
    """One pass over the data; returns its log row."""
    tc, n, world, rank = t.run.recipe.train, len(t.x), t.world, t.rank
    steps = steps_per_epoch(n, tc.batch_size)  # global batches: every step sees batch_size (or all n)
    per_rank = max(tc.batch_size // world, 1)
    gen = epoch_generator(tc.seed, epoch)
    torch.manual_seed(tc.seed + epoch)  # dropout
    order = torch.randperm(n, generator=gen)[: steps * tc.batch_size]
    aug_gen = epoch_generator(tc.seed, epoch, rank + 1)
    t.objective.train()
    total, t0 = 0.0, time.perf_counter()
    with Progress(steps * tc.batch_size, f"epoch {epoch + 1}/{tc.epochs}", "samples",
                  enabled=t.show_progress and rank == 0) as bar:
        for s in range(steps):
            lr = lr_at(epoch * steps + s, steps, tc)
            for group in t.opt.param_groups:
                group["lr"] = lr
            batch = order[s * tc.batch_size: (s + 1) * tc.batch_size][rank::world][:per_rank]
            loss = train_step(t.objective, t.x[batch], aug_gen, t.run.recipe.augment, t.bf16, t.device,
                              views=2 if t.run.recipe.train.vicreg > 0 else 1)
            if not torch.isfinite(loss):
                raise SkelgenError(f"loss became {loss.item()} at epoch {epoch + 1}; "
                                   f"lower train.lr or use train.precision=fp32")
            t.opt.zero_grad(set_to_none=True)
            loss.backward()
            t.opt.step()
            total += loss.item()
            bar.update(tc.batch_size, loss=total / (s + 1), lr=lr)
    return {"epoch": epoch + 1, "loss": total / steps, "lr": lr,
            "samples_per_s": steps * tc.batch_size / (time.perf_counter() - t0), "bf16": t.bf16}


def train_epochs(t: Training, start_epoch: int, last: int, ckpt_path: Path, log_path: Path):
    """Epochs ``start_epoch`` to ``last``, with checkpoints (by time, ``train.save_every``, the
    last epoch) and their log rows; an interrupt saves the last completed epoch, then re-raises."""
    tc = t.run.recipe.train

    def write(state: dict, rows: list[dict]):
        if t.rank == 0:  # the rows first: a run killed between the two resumes from the checkpoint
            with open(log_path, "a") as f:  # before, and trims the rows beyond it (trim_log)
                f.write("".join(json.dumps(r) + "\n" for r in rows))
            save_checkpoint(Checkpoint(t.run, **state), ckpt_path)

    rows = []  # log rows of the epochs since the last checkpoint
    unsaved = None  # (state, rows) of the last completed epoch when it is not on disk yet
    saved_at = clock()
    with stoppable():  # SIGTERM too raises KeyboardInterrupt, here as under the CLI
        try:
            for epoch in range(start_epoch, last):
                rows.append(train_epoch(t, epoch))
                state = {"weights": t.model.state_dict(), "optimizer": t.opt.state_dict(), "epoch": epoch + 1}
                if (epoch + 1 == last or (tc.save_every and (epoch + 1) % tc.save_every == 0)
                        or clock() - saved_at >= 60 * tc.save_minutes):
                    write(state, rows)
                    rows, unsaved, saved_at = [], None, clock()
                elif t.rank == 0:  # state_dict() holds the live tensors: copy them
                    unsaved = copy.deepcopy(state), list(rows)
        except KeyboardInterrupt:
            if unsaved is not None:
                write(*unsaved)
                if t.show_progress:
                    print(f"saved epoch {unsaved[0]['epoch']} to {ckpt_path}", file=sys.stderr)
            raise


def trim_log(path: Path, epochs: int):
    """Keep the log rows of the first ``epochs`` epochs, those its checkpoint holds: a run killed
    after writing a row but before its checkpoint, or in the middle of a row, left more."""
    kept = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError, AttributeError, TypeError):
            if json.loads(line).get("epoch", epochs + 1) <= epochs:
                kept.append(line + "\n")
    with AtomicPath(path, overwrite=True, updates_input=True) as tmp:
        tmp.write_text("".join(kept))


def read_log(run: str | Path) -> list[dict]:
    """The per-epoch rows of a run folder's log.jsonl."""
    path = note_input(Path(run) / "log.jsonl" if Path(run).is_dir() else Path(run))
    if not path.is_file():
        raise SkelgenError(f"no training log at {path}; give a run folder written by `skelgen pretrain`")
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), (int, float)) for k in ("epoch", "loss", "lr")):
            raise SkelgenError(f"{path}, line {number}: not a training log row (JSON with epoch, loss, lr); "
                               f"the log is damaged, delete the line or the file")
        rows.append(row)
    return rows
