"""``rnnrbm ingest`` (MIDI/JSON -> corpus.npz) and ``rnnrbm info`` (corpus or file statistics).

Only Typer and rich load at import time; the library is imported in the
command bodies so ``rnnrbm --help`` stays fast.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rnnrbm.cli import app, console, domain_errors, err_console, fail
from rnnrbm.cli import options as opt

SHOWN = 5  # file names listed per skip reason


@app.command("ingest", epilog="Examples:\n\n"
                               "rnnrbm ingest songs/ more.mid -o corpus.npz\n\n"
                               "rnnrbm ingest jsb-chorales-quarter.json -o jsb.npz --range piano")
@domain_errors
def ingest_command(
    paths: List[Path] = typer.Argument(..., show_default=False, help=(
        "MIDI files (.mid, .midi, .kar), folders (searched recursively for MIDI files) "
        "or ICML 2012 benchmark .json piano rolls (their train/valid/test splits are kept).")),
    output: Path = typer.Option(..., "--output", "-o", show_default=False, help="Corpus file to write (.npz)."),
    low: Optional[str] = opt.LOW, high: Optional[str] = opt.HIGH, range_: Optional[str] = opt.RANGE,
    steps_per_beat: Optional[int] = opt.STEPS_PER_BEAT, out_of_range: str = opt.OUT_OF_RANGE,
    pedal: bool = opt.PEDAL, transpose_to_c: bool = opt.TRANSPOSE, min_steps: int = opt.MIN_STEPS,
    valid_fraction: float = opt.VALID_FRACTION, test_fraction: float = opt.TEST_FRACTION, jobs: int = opt.JOBS,
    max_steps: int = typer.Option(200_000, "--max-steps", help="Skip pieces longer than this many steps."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds allowed per file; a slower file is skipped."),
) -> None:
    """Read MIDI files and folders into a piano-roll corpus (.npz) for training.

    A beat is what pretty_midi counts as one (a dotted quarter in 6/8: use
    --steps-per-beat 3 or 6 there). Files that cannot be used are skipped with
    a reason; the command fails only when nothing usable is found.
    """
    from rnnrbm.paths import safe_name

    shown, written = safe_name(str(output)), False
    try:  # Ctrl-C anywhere: one line, exit 130, and no partial output (saving is atomic)
        from dataclasses import replace

        from rnnrbm.corpus import check_output
        from rnnrbm.ingest import NothingUsable, ingest

        config = opt.ingest_config(low, high, range_, steps_per_beat, out_of_range, pedal, transpose_to_c,
                                   min_steps, valid_fraction, test_fraction)
        config = replace(config, max_steps=max_steps, timeout=timeout)
        check_output(output)  # before any parsing, so a typo costs nothing
        with _progress_bar("Reading") as progress:
            try:
                corpus, report = ingest(paths, config, jobs, progress)
            except NothingUsable as exc:
                _print_report(exc.report)
                raise
        corpus.save(output)
        written = True
        _print_report(report)
        console.print(f"Wrote [bold]{escape(shown)}[/]: {report.pieces} pieces, {report.steps} steps, "
                      f"{corpus.n_visible} pitches ({_range_text(corpus.low, corpus.high)}), "
                      f"{corpus.steps_per_beat} steps per beat, median tempo {corpus.meta['qpm']:g} qpm.",
                      highlight=False)
    except KeyboardInterrupt:
        fail(f"interrupted: {shown} was {'written' if written else 'not written'}", 130)


@app.command("info", epilog="Examples:\n\n"
                             "rnnrbm info corpus.npz\n\n"
                             "rnnrbm info song.mid --range piano --top 5")
@domain_errors
def info_command(
    path: Path = typer.Argument(..., show_default=False,
                                help="A corpus (.npz), a MIDI file or folder, or a benchmark .json file."),
    low: Optional[str] = typer.Option(None, "--low", help="Lowest pitch, as a name or MIDI number "
                                      "\\[default: C4, or the corpus's]"),
    high: Optional[str] = typer.Option(None, "--high", help="Highest pitch, as a name or MIDI number "
                                       "\\[default: B6, or the corpus's]"),
    range_: Optional[str] = opt.RANGE, steps_per_beat: Optional[int] = opt.STEPS_PER_BEAT,
    out_of_range: str = opt.OUT_OF_RANGE, pedal: bool = opt.PEDAL,
    top: int = typer.Option(10, "--top", help="How many of the most used pitches to list."),
) -> None:
    """Show statistics of a corpus or of MIDI input: pieces, steps, polyphony, pitch usage."""
    from rnnrbm.corpus import Corpus
    from rnnrbm.ingest import IngestConfig, conform, load_pieces
    from rnnrbm.notes import parse_range

    corpus = Corpus.load(path) if path.suffix.lower() == ".npz" else None
    if corpus is not None and low is None and high is None and range_ is None:
        lo, hi = corpus.low, corpus.high
    else:
        lo, hi = parse_range(low, high, range_)
    config = IngestConfig(lo, hi, steps_per_beat, out_of_range, pedal, min_steps=1)
    if corpus is not None:
        corpus = conform(corpus, config, path)
    else:
        with _progress_bar("Reading") as progress:
            corpus, _ = load_pieces([path], config, progress=progress)
    _print_stats(path, corpus, top)


@contextmanager
def _progress_bar(label: str):
    """A rich progress bar on stderr; yields the library's ``progress(name, status, done, total)``."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def update(name: str, status: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total,
                            description=escape(name if status == "ok" else f"{name} ({status})"))

        yield update


def _range_text(low: int, high: int) -> str:
    from rnnrbm.notes import note_name

    return f"{note_name(low)}-{note_name(high)}, MIDI {low}-{high}"


def _print_report(report) -> None:
    """The ingest summary: files, skips grouped by reason, recovered files, notes, steps."""
    table = Table(title="Ingest summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("files read", f"{report.files} ({report.used} used, {len(report.recovered)} recovered)")
    table.add_row("files skipped", str(report.n_skipped))
    table.add_row("pieces", f"{report.pieces}  " + ", ".join(f"{k} {v}" for k, v in report.splits.items()))
    table.add_row("notes kept / folded / dropped", f"{report.kept} / {report.folded} / {report.dropped}")
    table.add_row("total steps", str(report.steps))
    console.print(table)
    for reason, names in sorted(report.skipped.items()):
        listed = ", ".join(escape(n) for n, _ in names[:SHOWN]) + (f", ... ({len(names) - SHOWN} more)"
                                                          if len(names) > SHOWN else "")
        console.print(f"  skipped, {reason}: {len(names)}  [dim]{listed}[/]", highlight=False)
    for name, detail in report.recovered[:SHOWN]:
        console.print(f"  {escape(name)}: {escape(detail)}", highlight=False)


def _print_stats(path: Path, corpus, top: int) -> None:
    """Rich tables for ``info``: overview, splits, notes per step, pitch usage."""
    s = corpus.stats(top)
    overview = Table(title=escape(str(path)), show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("pieces", str(s["pieces"]))
    overview.add_row("steps", f"{s['steps']} (per piece min {s['length']['min']}, "
                              f"median {s['length']['median']:g}, max {s['length']['max']})")
    overview.add_row("pitch range", f"{_range_text(s['low'], s['high'])} ({corpus.n_visible} pitches)")
    overview.add_row("steps per beat", str(s["steps_per_beat"]))
    if "qpm" in corpus.meta:
        overview.add_row("tempo", f"{corpus.meta['qpm']:g} beats per minute (median of the pieces; 100 if unknown)")
    overview.add_row("notes per step", f"{s['notes_per_step']:.2f} (mean)")
    console.print(overview)

    splits = Table("split", "pieces", "steps", title_justify="left")
    for name, row in s["splits"].items():
        splits.add_row(name, str(row["pieces"]), str(row["steps"]))
    console.print(splits)

    steps = max(s["steps"], 1)
    poly = Table("notes per step", "steps", "share", "", title_justify="left")
    for k, count in s["polyphony"].items():
        poly.add_row(k, str(count), f"{count / steps:.1%}", "█" * round(30 * count / steps))
    console.print(poly)

    pitches = Table("pitch", "steps on", "share", "", title=f"Most used pitches (top {top})", title_justify="left")
    for name, count, share in s["pitches"]:
        pitches.add_row(name, str(count), f"{share:.1%}", "█" * round(60 * share))
    console.print(pitches)
