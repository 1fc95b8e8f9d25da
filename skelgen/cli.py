"""The `skelgen` command: click parses, the library does the work, this prints.

Every SkelgenError becomes one line on stderr and exit code 1 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import click

from .errors import SkelgenError
from .generation_config import LENGTHS, STRATEGIES, GenerationConfig
from .precision import PRECISIONS

DEMO_DATA = Path("runs") / "demo.h5"


class Main(click.Group):
    """Turns library errors and interruptions into one clear line and a non-zero exit."""

    def invoke(self, ctx):
        from .io.atomic import disk_full, inputs_guarded, no_space
        from .stopping import exit_code, stoppable
        try:
            with stoppable(), inputs_guarded():  # inputs guarded: no output may replace them
                return super().invoke(ctx)
        except SkelgenError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            fail(str(e))
        except click.UsageError as e:  # click prints these in four lines; keep the one-line rule
            hint = f"; see `{e.ctx.command_path} --help`" if e.ctx else ""
            fail(f"{e.format_message().rstrip('.')}{hint}", e.exit_code)
        except KeyboardInterrupt:
            click.echo("skelgen: interrupted; no partial output was kept", err=True)
            leave(exit_code())
        except OSError as e:  # a full disk outside any atomic write (a log, a folder)
            if not disk_full(e, e.filename or "."):
                raise
            fail(str(no_space(Path(e.filename or "x"), 0)))


def fail(message: str, code: int = 1):
    """One line on stderr, whatever the message held, and a non-zero exit."""
    click.echo(f"skelgen: error: {' '.join(message.splitlines())}", err=True)
    leave(code)


def leave(code: int):
    """sys.exit, or os._exit where HDF5 would crash collecting a file whose write failed."""
    dataset = sys.modules.get("skelgen.io.dataset")
    if dataset is not None and dataset.ABANDONED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


class Input(click.Path):
    """A path the command reads: recorded so that no output of the command may replace it."""

    def convert(self, value, param, ctx):
        from .io.atomic import note_input
        value = super().convert(value, param, ctx)
        note_input(value)
        return value


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx, debug):
    """skelgen: learn skeleton action sequences without labels (TAHAR), then generate
    class-conditioned sequences to enlarge or rebalance datasets."""
    from .runtime import thread_waits
    thread_waits()  # before any command imports torch: see skelgen/runtime.py
    ctx.obj = {"debug": debug}


def emit(data: dict, as_json: bool, text: str):
    click.echo(json.dumps(data, indent=2) if as_json else text)


def demo_path() -> Path:
    """The built-in demo dataset, made on first use."""
    if not DEMO_DATA.is_file():
        from .demo import write_demo
        DEMO_DATA.parent.mkdir(parents=True, exist_ok=True)
        click.echo(f"building the demo dataset at {DEMO_DATA} (procedural, a few seconds)", err=True)
        write_demo(DEMO_DATA)
    return DEMO_DATA


# -- data -------------------------------------------------------------------------------------
@main.command()
@click.argument("fmt", type=click.Choice(["nw-ucla", "ntu60", "ntu120", "pyskl", "npz"]))
@click.argument("source", type=Input())
@click.option("--out", required=True, type=click.Path(), help="Dataset file to write (.h5).")
@click.option("--layout", default=None, help="Layout of pyskl/npz data (name or .toml/.json file).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def convert(fmt, source, out, layout, overwrite):
    """Import a dataset in its own format into a skelgen dataset file."""
    from .progress import track
    if fmt == "nw-ucla":
        from .io.nwucla import convert_nwucla
        counts = convert_nwucla(source, out, overwrite, progress=lambda it: track(it, "reading", "files"))
    elif fmt in ("ntu60", "ntu120"):
        from .io.ntu import convert_ntu
        counts = convert_ntu(source, out, benchmark=fmt, overwrite=overwrite,
                             progress=lambda it: track(it, "reading", "files"))
    elif fmt == "pyskl":
        from .io.pyskl import convert_pyskl
        counts = convert_pyskl(source, out, layout=layout, overwrite=overwrite)
    else:
        from .io.npz import convert_npz
        counts = convert_npz(source, out, layout=layout, overwrite=overwrite)
    click.echo(f"wrote {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    from .plausibility import check_file
    check_file(out, log=lambda line: click.echo(line, err=True))  # a joint order that is not the layout's
    from .repeats import check_repeats
    check_repeats(out, log=lambda line: click.echo(line, err=True))  # one recording under two ids


@main.command()
@click.argument("data", type=Input())
@click.argument("fmt", type=click.Choice(["pyskl", "npz"]))
@click.option("--out", required=True, type=click.Path())
@click.option("--overwrite", is_flag=True)
def export(data, fmt, out, overwrite):
    """Write a dataset file as a pyskl pickle or .npz for other trainers."""
    if fmt == "pyskl":
        from .io.pyskl import export_pyskl as export_fn
    else:
        from .io.npz import export_npz as export_fn
    export_fn(data, out, overwrite=overwrite)
    click.echo(f"wrote {out}")


@main.command()
@click.argument("data", type=Input(), required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(data, as_json):
    """Classes, counts per split and class, lengths and layout of a dataset file."""
    from .io.dataset import SkeletonFile
    with SkeletonFile(data or demo_path()) as sf:
        s = sf.summary()
    lines = [f"{s['path']}: {s['samples']} samples ({s['synthetic']} synthetic), layout {s['layout']} "
             f"({s['joints']} joints), shape {tuple(s['shape'])} (N, M, T, V, C), frame {s['frame']}, "
             f"units {s['units']}",
             f"lengths: min {s['lengths'].get('min')}, median {s['lengths'].get('median')}, "
             f"max {s['lengths'].get('max')} frames"]
    splits = sorted(s["splits"])
    lines.append(f"{'class':<8}{'name':<34}{'all':>6}" + "".join(f"{n:>12}" for n in splits))
    for c in s["classes"]:
        lines.append(f"{c['code']:<8}{c['name'][:33]:<34}{s['per_class'][c['code']]:>6}"
                     + "".join(f"{s['splits'][n]['per_class'][c['code']]:>12}" for n in splits))
    lines.append(f"{'total':<42}{s['samples']:>6}" + "".join(f"{s['splits'][n]['samples']:>12}" for n in splits))
    emit(s, as_json, "\n".join(lines))


@main.command("demo-data")
@click.option("--out", default=str(DEMO_DATA), show_default=True, type=click.Path())
@click.option("--n-per-class", default=60, show_default=True, type=click.IntRange(min=4))
@click.option("--imbalance", default=None, type=click.FloatRange(min=1), help="Long-tailed train split: largest/smallest class.")
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True)
def demo_data(out, n_per_class, imbalance, seed, overwrite):
    """Write the built-in procedural demo dataset (NTU25 layout, 8 NTU actions)."""
    from .demo import write_demo
    write_demo(out, n_per_class=n_per_class, imbalance=imbalance, seed=seed, overwrite=overwrite)
    click.echo(f"wrote {out}")


# -- model ------------------------------------------------------------------------------------
@main.command()
@click.option("--data", type=Input(), default=None, help="Dataset file (default: the demo data).")
@click.option("--recipe", default=None, help="Recipe name in recipes/ or a .toml path (default: demo).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key, e.g. train.epochs=5.")
@click.option("--out", type=click.Path(), default=None, help="Run folder (default: runs/<recipe>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
def pretrain(data, recipe, overrides, out, resume):
    """Pretrain the TAHAR autoencoder without labels (model.arch=mae: the paper's MAE baseline)."""
    from .recipe import load_recipe
    from .train import pretrain as run
    r = load_recipe(recipe or "demo", overrides)
    data = data or r.data.path or demo_path()
    out = out or Path("runs") / r.name
    ckpt = run(r, str(data), out, resume=resume)
    click.echo(f"wrote {ckpt}")


@main.command()
@click.option("--checkpoint", type=Input(), default=None, help="Default: the last pretrain run.")
@click.option("--data", type=Input(), default=None, help="Default: the checkpoint's data.")
@click.option("--split", default=None, help="Only this split (default: all samples).")
@click.option("--out", required=True, type=click.Path(), help=".npz or .h5 file.")
@click.option("--overwrite", is_flag=True)
def embed(checkpoint, data, split, out, overwrite):
    """Write the [CLS] embeddings of a dataset, with labels and ids."""
    from .evaluate import write_embeddings
    checkpoint, data = resolve_run(checkpoint, data)
    n = write_embeddings(checkpoint, data, out, split=split, overwrite=overwrite)
    click.echo(f"wrote {n} embeddings to {out}")


@main.command()
@click.option("--checkpoint", type=Input(), default=None, help="Default: the last pretrain run.")
@click.option("--data", type=Input(), default=None, help="Default: the checkpoint's data.")
@click.option("--protocol", type=click.Choice(["knn", "linear", "both"]), default="both", show_default=True)
@click.option("-k", "k", default=1, show_default=True, type=click.IntRange(min=1), help="Neighbours for k-NN.")
@click.option("--train-split", default="train", show_default=True)
@click.option("--test-split", default="test", show_default=True)
@click.option("--dropout", default=0.0, show_default=True, help="Linear probe: dropout on the embedding.")
@click.option("--noise", default=0.0, show_default=True, help="Linear probe: Gaussian noise std on the embedding.")
@click.option("--epochs", default=30, show_default=True, help="Linear probe epochs.")
@click.option("--lr", type=float, default=None,
              help="Linear probe learning rate, fixed (default: chosen on val_train -> val_test where the "
                   "data has them, else the paper's 1e-4).")
@click.option("--choose-lr-on", nargs=2, default=None, metavar="FIT_SPLIT SCORE_SPLIT",
              help="Choose the linear probe's learning rate (1e-4 to 1e-1) on this validation pair of "
                   "splits (default: val_train val_test where the data has them).")
@click.option("--out", type=click.Path(), default=None, help="Folder for the JSON, confusion and t-SNE PNGs.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def evaluate(checkpoint, data, protocol, k, train_split, test_split, dropout, noise, epochs, lr, choose_lr_on, out,
             seed, as_json):
    """1-NN and linear evaluation of the frozen encoder (the paper's protocols)."""
    from .evaluate import report
    checkpoint, data = resolve_run(checkpoint, data)
    probe = {"dropout": dropout, "noise": noise, "epochs": epochs, "seed": seed, **({} if lr is None else {"lr": lr})}
    choose = choose_lr_on or ("auto" if lr is None else None)  # a fixed --lr is used as given
    result = report(checkpoint, data, protocol, k=k, train_split=train_split, test_split=test_split,
                    probe=probe, choose_lr_on=choose, out_dir=out)
    repeats = result["test"]["repeats_of_train"]
    lines = [f"{name:<16} top-1 {r['top1'] * 100:5.1f} %   class-balanced {r['balanced'] * 100:5.1f} %"
             + (f"   top-1 {r['top1_new'] * 100:.1f} % without the {repeats} test samples that repeat a "
                f"training one" if "top1_new" in r else "")
             for name, r in result.items() if isinstance(r, dict) and "top1" in r]
    if "lr_choice" in result.get("linear", {}):
        c = result["linear"]["lr_choice"]
        lines.append(f"linear probe lr {c['chosen']:g}, chosen on {' -> '.join(c['splits'])}: " +
                     ", ".join(f"{lr} {v * 100:.1f} %" for lr, v in c["top1"].items()))
    if out:
        lines.append(f"wrote {out}/evaluation.json, confusion.png, tsne.png")
    emit(result, as_json, "\n".join(lines))


def generation_options(f):
    """The options shared by synth and rebalance; defaults from GenerationConfig."""
    G = GenerationConfig
    for option in reversed([
        click.option("--checkpoint", type=Input(), default=None, help="Default: the last pretrain run."),
        click.option("--strategy", type=click.Choice(STRATEGIES), default=G.strategy, show_default=True,
                     help="How the class [CLS] embedding is chosen (skelgen.generate)."),
        click.option("--novelty", type=float, default=G.novelty, show_default=True,
                     help="borrow and shift: how far from the real source sequence (0: a copy)."),
        click.option("--calibrate/--no-calibrate", default=G.calibrate, show_default=True,
                     help="borrow and shift: novelty 1 = as far as real sequences lie from each other."),
        click.option("--noise-scale", type=float, default=G.noise_scale, show_default=True,
                     help="Std of the decoder's noise input."),
        click.option("--temperature", type=float, default=G.temperature, show_default=True,
                     help="Covariance scale (gaussian)."),
        click.option("--augment/--no-augment", default=G.augment, show_default=True,
                     help="Then give each generated sequence classic augmentation (rotation, scale, noise, "
                          "temporal crop), as the benchmark's skelgen-borrow>classic."),
        click.option("--length", type=click.Choice(LENGTHS), default=G.length, show_default=True,
                     help="Output length: the source's, a random length of the class, or the model's T."),
        click.option("--precision", type=click.Choice(PRECISIONS), default=G.precision, show_default=True,
                     help="The decoder's number format: fp32 gives the same sequences on every machine; bf16 "
                          "(auto: where measured faster) is faster on CPUs with native bf16."),
        click.option("--split", default="train", show_default=True, help="Split to condition on."),
        click.option("--seed", default=0, show_default=True),
        click.option("--overwrite", is_flag=True, help="Replace --out if it exists."),
    ]):
        f = option(f)
    return f


def generation_notes(result: dict) -> str:
    """", novelty N = S in [CLS] units" where calibration scaled the knob N to S, and ", then
    augmented" where --augment was given; else ""."""
    scale = f", novelty {result['novelty']:g} = {result['novelty'] * result['reach']:.2f} in [CLS] units" \
        if result["reach"] != 1.0 else ""
    return scale + (", then augmented" if result["augment"] else "")


def generation_config(strategy, novelty, calibrate, noise_scale, temperature, augment, length, precision):
    return GenerationConfig(strategy=strategy, novelty=novelty, calibrate=calibrate, noise_scale=noise_scale,
                            temperature=temperature, augment=augment, length=length, precision=precision)


@main.command("synth")
@click.option("--class", "class_key", required=True, help="Class code (A024), name or index.")
@click.option("--n", "n", required=True, type=int, help="How many sequences.")
@click.option("--out", required=True, type=click.Path(), help="Dataset file to write (.h5).")
@click.option("--data", type=Input(), default=None, help="Default: the checkpoint's data.")
@generation_options
def synth_cmd(class_key, n, out, data, checkpoint, strategy, novelty, calibrate, noise_scale, temperature, augment,
              length, precision, split, seed, overwrite):
    """Generate sequences of one class from the pretrained decoder."""
    from .synth import synth
    checkpoint, data = resolve_run(checkpoint, data)
    cfg = generation_config(strategy, novelty, calibrate, noise_scale, temperature, augment, length, precision)
    r = synth(checkpoint, data, class_key, n, out, cfg, seed=seed, split=split, overwrite=overwrite)
    click.echo(f"wrote {r['written']} synthetic {r['class']} sequences ({r['strategy']}{generation_notes(r)}) "
               f"to {out}")


@main.command("rebalance")
@click.argument("data", type=Input())
@click.option("--out", type=click.Path(), default=None, help="Default: DATA.rebalanced.h5.")
@click.option("--sampling-strategy", "sampling", default="auto", show_default=True,
              help="imbalanced-learn meaning: auto, 'not majority', minority, all, a ratio like 0.5, "
                   "or counts like A024=100,A023=80.")
@click.option("--recipe", default="demo", show_default=True, help="Recipe to pretrain with if no checkpoint fits.")
@generation_options
def rebalance_cmd(data, out, sampling, recipe, checkpoint, strategy, novelty, calibrate, noise_scale, temperature,
                  augment, length, precision, split, seed, overwrite):
    """Fill the classes of the training split with synthetic samples (input never modified)."""
    from .synth import checkpoint_for, parse_sampling, rebalance
    if checkpoint is None:
        checkpoint = checkpoint_for(data, recipe, split, log=lambda m: click.echo(m, err=True))
    cfg = generation_config(strategy, novelty, calibrate, noise_scale, temperature, augment, length, precision)
    r = rebalance(data, out, checkpoint, parse_sampling(sampling, data), split, cfg, seed=seed, overwrite=overwrite)
    added = ", ".join(f"{k} +{v}" for k, v in r["added"].items()) or "nothing (no class is short of the target)"
    click.echo(f"wrote {r['out']}{generation_notes(r)}: added {added}"
               + "\ntrain counts now: " + ", ".join(f"{k} {v}" for k, v in r["train_counts"].items()))


@main.command("reconstruct")
@click.option("--checkpoint", type=Input(), default=None, help="Default: the last pretrain run.")
@click.option("--data", type=Input(), default=None, help="Default: the checkpoint's data.")
@click.option("--index", type=int, default=None, help="Sample index in --data (default: 0).")
@click.option("--id", "sample_id", default=None, help="Sample id, instead of --index.")
@click.option("--out", "prefix", required=True, type=click.Path(), help="Writes PREFIX.npz and PREFIX.png.")
@click.option("--seed", default=0, show_default=True, help="Seed of the decoder input's augmentation and masking.")
@click.option("--overwrite", is_flag=True, help="Replace the outputs if they exist.")
def reconstruct_cmd(checkpoint, data, index, sample_id, prefix, seed, overwrite):
    """Rebuild one sample from its masked, noised copy (the paper's Figure 4)."""
    from .reconstruct import reconstruct
    checkpoint, data = resolve_run(checkpoint, data)
    r = reconstruct(checkpoint, data, index, sample_id, out_prefix=prefix, seed=seed, overwrite=overwrite)
    click.echo(f"sample {r['index']} ({r['id']}, {r['label']}): wrote {r['npz']} and {r['png']}")


@main.command("show")
@click.argument("data", type=Input())
@click.option("--index", "indices", type=int, multiple=True, help="Sample index (repeatable).")
@click.option("--id", "sample_ids", multiple=True, help="Sample id (repeatable).")
@click.option("--class", "class_key", default=None, help="Class code (A024), name or index: --n random samples of it.")
@click.option("--n", "n", default=8, show_default=True, type=int, help="Random samples to draw (of --class, else of the file).")
@click.option("--out", required=True, type=click.Path(), help="Montage PNG to write.")
@click.option("--gif", type=click.Path(), default=None, help="Also write an animated GIF of the samples.")
@click.option("--compare", type=Input(), default=None,
              help="A file with synthetic samples (synth/rebalance output): each sample beside one of its class.")
@click.option("--nearest", type=Input(), default=None,
              help="The real data a synthetic DATA was generated from: each sample beside its nearest real one.")
@click.option("--frames", "frames_across", type=click.IntRange(min=1), default=None,
              help="Frames shown per sample (default 8; 4 with --compare or --nearest).")
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace --out and --gif if they exist.")
def show_cmd(data, indices, sample_ids, class_key, n, out, gif, compare, nearest, frames_across, seed, overwrite):
    """Draw samples of a dataset file as a montage PNG (and GIF); synthetic ones are tinted."""
    from .show import show
    r = show(data, out, index=list(indices) or None, sample_id=list(sample_ids) or None, class_key=class_key,
             n=n, gif=gif, compare=compare, seed=seed, frames_across=frames_across, overwrite=overwrite,
             nearest=nearest)
    click.echo(f"wrote {r['png']}" + (f" and {r['gif']}" if r["gif"] else "")
               + f": {', '.join(r['ids'])}" + (f" beside {', '.join(r['compare_ids'])}" if r["compare_ids"] else ""))


@main.command("plot-log")
@click.argument("run", type=Input())
@click.option("--out", type=click.Path(), default=None, help="PNG to write (default: RUN/training_curve.png).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def plot_log(run, out, overwrite):
    """Plot a run's loss and learning rate per epoch from its log.jsonl."""
    from .plots.charts import training_curve
    from .train import read_log
    rows = read_log(run)
    if out is None:
        out = (Path(run) if Path(run).is_dir() else Path(run).parent) / "training_curve.png"
    click.echo(f"wrote {training_curve(rows, out, overwrite=overwrite)}")


# -- benchmark ----------------------------------------------------------------------------------
@main.command()
@click.option("--recipe", default=None,
              help="Benchmark recipe: a name in recipes/ or a .toml path (default: bench-demo; with "
                   "--data, bench-data, the settings measured on real data).")
@click.option("--data", type=Input(), default=None,
              help="Dataset file (default: the recipe's; the demo data where it names none).")
@click.option("--out", type=click.Path(), default=None, help="Results folder (default: runs/<recipe>).")
@click.option("--jobs", type=click.IntRange(min=0), default=None,
              help="Generators and classifier runs trained at once, one process each; 0: one per "
                   "core, at most 8 (default: the recipe's benchmark.jobs).")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of the table.")
def benchmark(recipe, data, out, jobs, as_json):
    """Does synthetic data help a classifier? Every scenario x method x seed, scored on the real
    test split; writes results.json, results.md and plots."""
    from .bench.report import change_markdown
    from .bench.run import load_bench_recipe, run_benchmark
    r = load_bench_recipe(recipe or ("bench-data" if data else "bench-demo"),
                          [] if jobs is None else [f"benchmark.jobs={jobs}"])
    out = Path(out or Path("runs") / r.name)
    result = run_benchmark(r, out, data=data)
    emit(result, as_json, change_markdown(result) + f"\nwrote {out}/results.json, results.md (every score) and plots")


@main.command()
@click.option("--checkpoint", type=Input(), default=None, help="Default: the last pretrain run.")
@click.option("--data", type=Input(), default=None, help="Default: the checkpoint's data.")
@click.option("--n", "n", default=1000, show_default=True, type=click.IntRange(min=2),
              help="Generated sequences per run (classes in equal shares).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds, one run each.")
@click.option("--noise-scale", default=GenerationConfig.noise_scale, show_default=True,
              help="Std of the decoder's noise input.")
@click.option("--novelty", default=GenerationConfig.novelty, show_default=True,
              help="borrow and shift: how far from the real source (0: a copy).")
@click.option("--calibrate/--no-calibrate", default=GenerationConfig.calibrate, show_default=True,
              help="borrow and shift: novelty 1 = as far as real sequences lie from each other.")
@click.option("--train-split", default="train", show_default=True,
              help="Conditions generation and trains the evaluator.")
@click.option("--test-split", default="test", show_default=True, help="The real reference for FID.")
@click.option("--out", type=click.Path(), default=None, help="Folder for quality.json and quality.md.")
@click.option("--json", "as_json", is_flag=True)
def quality(checkpoint, data, n, seeds, noise_scale, novelty, calibrate, train_split, test_split, out, as_json):
    """Generation quality, the ACTOR/MDM protocol: FID, recognition accuracy, diversity and
    multimodality of generated sequences, beside two rows of real sequences: the test split and the
    training sequences themselves (what random oversampling adds)."""
    from .bench.quality import least_recognized, markdown, quality_report
    checkpoint, data = resolve_run(checkpoint, data)
    try:
        seed_list = tuple(int(s) for s in seeds.split(","))
    except ValueError:
        raise SkelgenError(f"--seeds takes comma-separated integers, got {seeds!r}") from None
    r = quality_report(checkpoint, data, n=n, seeds=seed_list, out=out, train_split=train_split,
                       test_split=test_split, noise_scale=noise_scale, novelty=novelty, calibrate=calibrate)
    emit(r, as_json, markdown({Path(checkpoint).parent.name: r["rows"]}) + least_recognized(r["rows"], r["classes"])
         + (f"wrote {out}/quality.json and quality.md (with every class's recognition)" if out else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--quick", is_flag=True, help="A tiny configuration that runs in seconds (checks the command only).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Training batch (default 128).")
@click.option("--frames", type=click.IntRange(min=2), default=None, help="Frames T (default 64).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Timed training steps per variant at the paper's size (default 2; 5x at the generator's).")
@click.option("--synth-n", type=click.IntRange(min=1), default=None, help="Sequences for the synth memory figure (default 100000).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch threads (default: one per CPU).")
def speed(as_json, quick, batch, frames, steps, synth_n, threads):
    """Training, generation and import throughput, against a plain reference and this machine's
    measured matrix-product peak, with the speed targets (about 3 minutes on 2 cores)."""
    from .speed import SpeedConfig, report, run_speed
    given = {k: v for k, v in dict(batch=batch, frames=frames, steps=steps, synth_n=synth_n,
                                   threads=threads).items() if v is not None}
    cfg = SpeedConfig.quick(**given) if quick else SpeedConfig(**given)
    result = run_speed(cfg)
    emit(result, as_json, report(result))


def resolve_run(checkpoint, data):
    """Fill in the last pretrain run's checkpoint and data where not given."""
    if checkpoint is None or data is None:
        from .checkpoint import latest, load_checkpoint
        if checkpoint is None:
            checkpoint = latest()["checkpoint"]
        if data is None:
            data = load_checkpoint(checkpoint).run.data.path
    from .io.atomic import note_input
    note_input(checkpoint), note_input(data)
    return checkpoint, data


if __name__ == "__main__":
    main()
