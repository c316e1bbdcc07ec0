"""``rnnrbm train``: fit an RNN-RBM to MIDI files, a corpus .npz or benchmark JSON."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from rnnrbm.cli import app, console, domain_errors, err_console, fail
from rnnrbm.cli import options as opt
from rnnrbm.config import ModelConfig as M
from rnnrbm.config import TrainConfig as T


@app.command(epilog="Examples:\n\n"
                    "rnnrbm train data/bach-chorales/ -o models/bach.npz --epochs 50\n\n"
                    "rnnrbm train corpus.npz -o run/model.npz --epochs 80 --resume")
@domain_errors
def train(
    ctx: typer.Context,
    paths: List[Path] = typer.Argument(..., help="MIDI files or folders, a corpus .npz, or benchmark JSON."),
    out: Path = typer.Option(Path("models/model.npz"), "-o", "--out", help="Checkpoint (best valid epoch); "
                             "'<name>.last.npz' and '<name>.log.jsonl' are written beside it."),
    epochs: int = typer.Option(T.epochs, help="Maximum number of epochs."),
    hidden: int = typer.Option(M.n_hidden, "--hidden", help="Hidden units of the RBM."),
    recurrent: int = typer.Option(M.n_recurrent, "--recurrent", help="Units of the recurrent net."),
    count_bias: bool = typer.Option(M.count_bias, "--count-bias/--no-count-bias",
                                    help="Give the RBM a learned bias for each number of notes sounding at once, "
                                         "so samples keep the music's polyphony (not in the 2012 paper)."),
    gradient: str = typer.Option(T.gradient, help="rtrl (exact, untruncated) or bptt (truncated at chunks, faster)."),
    cd_k: int = typer.Option(T.cd_k, "--cd-k", help="Gibbs steps of contrastive divergence."),
    cd_start: str = typer.Option(T.cd_start, "--cd-start",
                                 help="Where CD chains start: data (the frame itself), previous (the frame "
                                      "before, where generation starts), mixed (either, at random) or "
                                      "persistent (the frame before's negative sample, as generation runs)."),
    batch: int = typer.Option(T.batch, help="Sequences processed in parallel."),
    chunk: int = typer.Option(T.chunk, help="Time steps per parameter update."),
    dtype: str = typer.Option(T.dtype, help="float32 or float64."),
    lr: float = typer.Option(T.lr, "--lr", help="Adam learning rate of the RBM part."),
    lr_rnn: float = typer.Option(T.lr_rnn, "--lr-rnn", help="Adam learning rate of the recurrent part."),
    lr_decay: float = typer.Option(T.lr_decay, "--lr-decay", help="Multiply the learning rates by this after an epoch without a better valid accuracy (1 = constant)."),
    lr_decay_from: int = typer.Option(T.lr_decay_from, "--lr-decay-from", help="From this epoch on, apply --lr-decay after every epoch instead (0 = only on validation plateaus)."),
    clip: float = typer.Option(T.clip, help="Clip the gradient's global norm (0 = off)."),
    negative_batch: int = typer.Option(T.negative_batch, "--negative-batch", help="Random dense songs per update."),
    negative_p: float = typer.Option(T.negative_p, "--negative-p", help="Note-on probability of the random songs (> 0.5)."),
    negative_weight: float = typer.Option(T.negative_weight, "--negative-weight", help="Weight of the negative-gradient regularizer (0 = off)."),
    pretrain_epochs: int = typer.Option(T.pretrain_epochs, "--pretrain-epochs", help="RBM pretraining epochs on single frames."),
    pretrain_rnn_epochs: int = typer.Option(T.pretrain_rnn_epochs, "--pretrain-rnn-epochs", help="Epochs pretraining the recurrent net as a logistic RNN that predicts each frame (before the RBM's)."),
    patience: int = typer.Option(T.patience, help="Stop after this many epochs without a better valid accuracy."),
    max_minutes: float = typer.Option(T.max_minutes, help="Stop after the epoch that reaches this wall-clock budget (0: no limit)."),
    seed: int = typer.Option(T.seed, help="Seed of initialisation and all sampling."),
    resume: bool = typer.Option(False, "--resume", help="Continue from '<out>.last.npz' with its settings; its "
                                "sizes, range and grid are used unless given."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    low: Optional[str] = opt.LOW, high: Optional[str] = opt.HIGH, range_: Optional[str] = opt.RANGE,
    steps_per_beat: Optional[int] = opt.STEPS_PER_BEAT, out_of_range: str = opt.OUT_OF_RANGE,
    pedal: bool = opt.PEDAL, transpose_to_c: bool = opt.TRANSPOSE, min_steps: int = opt.MIN_STEPS,
    valid_fraction: float = opt.VALID_FRACTION, test_fraction: float = opt.TEST_FRACTION, jobs: int = opt.JOBS,
) -> None:
    """Train an RNN-RBM (CD-k, exact RTRL, negative-gradient regularizer)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from rnnrbm.train import load_resume, sibling_paths, train_on_files

    if resume:
        # Continue with the checkpoint's own sizes, range and grid unless the user gave them.
        meta = load_resume(sibling_paths(out)[0]).meta
        default = {name for name in ("hidden", "recurrent", "count_bias", "out_of_range")  # not given by the user
                   if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") in ("DEFAULT", "DEFAULT_MAP")}
        hidden = meta["model"]["n_hidden"] if "hidden" in default else hidden
        recurrent = meta["model"]["n_recurrent"] if "recurrent" in default else recurrent
        count_bias = meta["model"].get("count_bias", False) if "count_bias" in default else count_bias
        corpora_only = all(p.suffix.lower() == ".npz" for p in paths)  # a corpus keeps its own range
        if low is None and high is None and range_ is None and not corpora_only and "low" in meta:
            low, high = str(meta["low"]), str(meta["high"])
            steps_per_beat = steps_per_beat or meta.get("steps_per_beat")
            if "out_of_range" in default:
                out_of_range = meta.get("out_of_range") or out_of_range

    config = T(epochs=epochs, gradient=gradient, cd_k=cd_k, cd_start=cd_start, batch=batch, chunk=chunk,
                         dtype=dtype, lr=lr, lr_rnn=lr_rnn, lr_decay=lr_decay, lr_decay_from=lr_decay_from, clip=clip, negative_batch=negative_batch, negative_p=negative_p,
                         negative_weight=negative_weight, pretrain_epochs=pretrain_epochs,
                         pretrain_rnn_epochs=pretrain_rnn_epochs, patience=patience,
                         max_minutes=max_minutes, seed=seed)
    ingest = opt.ingest_config(low, high, range_, steps_per_beat, out_of_range, pedal, transpose_to_c, min_steps,
                               valid_fraction, test_fraction, paths)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                        TimeRemainingColumn(), console=console, disable=quiet, transient=False)
    task = {}

    def on_event(kind: str, info: dict) -> None:
        if kind == "skipped":  # shown even with --quiet: the model will not have seen these files
            err_console.print(f"warning: {escape(info['summary'])}", highlight=False, soft_wrap=True)
        elif kind == "pretrain_rnn":
            console.print(f"RNN pretrain epoch {info['epoch']}/{info['epochs']}: {info['nll']:.3f} nats per step") \
                if not quiet else None
        elif kind == "pretrain":
            console.print(f"pretrain epoch {info['epoch']}/{info['epochs']} done") if not quiet else None
        elif kind == "epoch_start":
            task["id"] = progress.add_task(f"epoch {info['epoch']}/{info['epochs']}", total=info["frames"], info="")
        elif kind == "update":
            progress.update(task["id"], advance=info["frames"], info=f"cost {info['cost']:+.3f}")
        elif kind == "epoch_end":
            acc = "-" if info["valid_acc"] is None else f"{info['valid_acc']:.4f}"
            progress.update(task["id"], info=f"{info['steps_per_s']:.0f} steps/s  cost {info['train_cost']:+.3f}  "
                                             f"valid acc {acc}{'  *best*' if info['best'] else ''}")

    try:
        with progress:
            result = train_on_files(paths, ingest, M(n_hidden=hidden, n_recurrent=recurrent, count_bias=count_bias), config, out,
                                    resume=resume, jobs=jobs, on_event=on_event)
    except KeyboardInterrupt:  # while reading the data, or a second Ctrl-C while saving
        fail("interrupted: nothing new was saved; checkpoints written earlier are intact", 130)
    if result.interrupted:
        err_console.print(escape(f"interrupted: saved {result.last_path} (resume with --resume) and kept "
                                 f"{result.best_path}"), highlight=False, soft_wrap=True)
        raise typer.Exit(130)
    why = ("early stop: no better valid accuracy" if result.stopped_early
           else "time budget reached" if result.out_of_time else "done")
    best = max((h for h in result.history if h["valid_acc"] is not None), key=lambda h: h["valid_acc"], default=None)
    summary = f" (best valid acc {best['valid_acc']:.4f} at epoch {best['epoch']})" if best else ""
    console.print(f"{why}: {len(result.history)} epoch(s); model saved to [bold]{result.best_path}[/]{summary}")
