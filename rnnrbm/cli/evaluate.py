"""``rnnrbm evaluate``: log-likelihood, expected accuracy and sample statistics of a checkpoint.

Only typer, rich and pathlib are imported here; NumPy and Numba load inside the
command, so ``rnnrbm --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from rnnrbm.cli import app, console, domain_errors, err_console

JSON_KEYS_HELP = (
    "--json prints one JSON object with the keys: model, data (list), split, skipped ({reason: count} of "
    "unusable input files), pieces, steps, n_visible, temperature, "
    "ll (mean log p(v_t | v_<t), nats per step), ll_stderr (over steps), ais_stderr (AIS Monte Carlo error of ll), "
    "ll_impossible (steps whose estimate is above 0, proof that AIS needs more --ais-betas), "
    "these four null with --log-z none, log_z ('ais', 'raise', 'both', 'exact' or 'none'), ll_reverse, ll_reverse_ais_stderr, ll_gap (ll - ll_reverse) and "
    "ll_agree (|ll_gap| <= 0.05 nats), null unless --log-z both, ais_runs, ais_betas, acc_step (expected accuracy, mean over steps: the paper's ACC), acc_step_stderr, acc (expected accuracy from counts pooled over steps), acc_gibbs, acc_samples, baseline_ll "
    "(n_visible * log 1/2), seed, seconds, data_stats, samples (null unless --samples; else pieces, "
    "steps_per_piece, gibbs_steps, seeds, stats). data_stats and samples.stats hold: pieces, steps, "
    "notes_per_step_mean/_std/_dist/_js, polyphony_p99, above_p99_threshold, above_p99_rate, silence_rate, "
    "pitch_class_dist, pitch_class_js, pitch_class_entropy (bits), scale_consistency. Undefined values are null."
)


@app.command(
    epilog="Examples:\n\n"
           "rnnrbm evaluate -m models/jsb.npz jsb-chorales-quarter.json\n\n"
           "rnnrbm evaluate -m models/bach.npz corpus.npz --split all --samples 20 --json > eval.json",
    help="Evaluate a checkpoint on data: log-likelihood per time step (nats; log Z by annealed importance "
         "sampling), expected frame-level accuracy, and music statistics of the data and of sampled pieces. "
         "The data (benchmark .json, MIDI files or folders) is read in the checkpoint's own pitch range and "
         "grid; a corpus .npz must already be in them.\n\n"
         "AIS: for every time step, --ais-runs chains anneal the step's RBM from W = 0 (its biases kept; "
         "exact log Z) to the model through --ais-betas temperatures spaced linearly from 0 to 1, one block "
         "Gibbs transition each. Its cost grows as steps x runs x betas: at the defaults the JSB test set (4,725 "
         "steps, 88 keys, 150 hidden units) takes about 25 minutes on one core, half that on two. Tiny models (min(visible, hidden) <= 20) get an exact "
         "log Z by enumeration when that is cheaper (--log-z auto). Set NUMBA_NUM_THREADS to limit threads.\n\n"
         "AIS errs high: too few temperatures for a sharp model leave log Z too low and the LL too high. "
         "--log-z raise (reverse AIS, same cost) starts the chains at the data and errs low on data the model "
         "fits. --log-z both runs the two (twice the time) and warns where they disagree: trust the LL only "
         "where they agree.\n\n"
         "Accuracy: for every time step, --acc-samples chains run --acc-gibbs block Gibbs steps from the "
         "previous frame; 1000 steps let them forget that start (fewer bias the ACC low on sharp models). At "
         "the defaults the JSB test set takes about 4 minutes on two cores; --log-z none computes only this "
         "and the statistics.\n\n"
         "--temperature T evaluates the model whose RBM energy at every step is divided by T (the distribution "
         "'rnnrbm generate --temperature T' samples): every figure, the LL included, is that model's. A "
         "sharper model mixes more slowly: below 1, check the accuracy's chain length with "
         "scripts/acc_convergence.py --temperature T (the JSB model needs 2000 steps at 0.8).\n\n"
         + JSON_KEYS_HELP,
)
@domain_errors
def evaluate(
    data: List[Path] = typer.Argument(..., help="A corpus .npz, a benchmark .json, or MIDI files or folders."),
    model: Path = typer.Option(..., "-m", "--model", help="Checkpoint .npz written by 'rnnrbm train'."),
    split: str = typer.Option("test", "--split", help="train, valid, test, or all (every piece)."),
    ais_runs: int = typer.Option(100, "--ais-runs", help="AIS runs per time step (the paper's 100)."),
    ais_betas: int = typer.Option(1000, "--ais-betas", help="AIS temperatures, 0 and 1 included (>= 2)."),
    log_z: str = typer.Option("auto", "--log-z", help="auto, ais, raise (reverse AIS: errs low where "
                                                      "AIS errs high), both (AIS and reverse AIS, to check that "
                                                      "they agree), exact (enumeration; <= 20 visible or "
                                                      "hidden units), or none (skip the log-likelihood: "
                                                      "accuracy and statistics only, in minutes)."),
    acc_gibbs: int = typer.Option(1000, "--acc-gibbs", help="Block Gibbs steps per predicted frame, from the "
                                                            "previous frame (fewer leave the chains near "
                                                            "their start and bias the ACC)."),
    acc_samples: int = typer.Option(20, "--acc-samples", help="Predictions averaged per frame for the accuracy "
                                                              "(the paper's authors advise 20-50)."),
    samples: int = typer.Option(0, "--samples", "-n", help="Pieces to sample for statistics (0 = none)."),
    sample_steps: int = typer.Option(256, "--sample-steps", help="Time steps per sampled piece."),
    sample_gibbs: int = typer.Option(25, "--sample-gibbs", help="Block Gibbs steps per sampled frame."),
    temperature: float = typer.Option(1.0, "--temperature", "-t",
                                      help="Evaluate the model at this temperature: its RBM energy divided by "
                                           "it (below 1 sharper, above 1 flatter; 1 = as trained)."),
    seed: int = typer.Option(0, "--seed", help="Seed of all sampling (AIS, accuracy, pieces: piece i uses "
                                               "seed + i, like 'rnnrbm generate')."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Parallel processes for parsing MIDI data."),
) -> None:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from rnnrbm.evaluate import EvaluateOptions
    from rnnrbm.evaluate import evaluate as run
    from rnnrbm.ingest import skip_summary

    options = EvaluateOptions(split=split, ais_runs=ais_runs, ais_betas=ais_betas, log_z=log_z, acc_gibbs=acc_gibbs,
                              acc_samples=acc_samples, samples=samples, sample_steps=sample_steps,
                              sample_gibbs=sample_gibbs, seed=seed, jobs=jobs, same_range=True,
                              temperature=temperature)
    bars = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, disable=quiet, transient=True)
    labels = {"load": "reading data (files)", "ll": "log-likelihood (steps)",
              "ll_reverse": "reverse AIS (steps)", "acc": "accuracy (steps)",
              "samples": "sampling (pieces)"}
    tasks: dict = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(labels.get(stage, stage), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    try:
        with bars:
            result = run(model, data, options, progress=on_progress)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing evaluated", highlight=False)
        raise typer.Exit(130)
    if summary := skip_summary(result["skipped"]):
        err_console.print(f"warning: {escape(summary)}", highlight=False, soft_wrap=True)
    if result["ll_impossible"]:
        err_console.print(f"warning: AIS put the log-likelihood of {result['ll_impossible']} of {result['steps']} "
                          "steps above 0, a probability above 1: its log Z is too low for this model, so the "
                          "log-likelihood is too high; raise --ais-betas until no step is above 0 (even then "
                          "it may be too high)", highlight=False, soft_wrap=True)
    if result["ll_agree"] is False:
        err_console.print(f"warning: AIS ({result['ll']:.3f}) and reverse AIS ({result['ll_reverse']:.3f}) "
                          f"disagree by {abs(result['ll_gap']):.3f} nats per step: neither has converged for "
                          "this model, so neither log-likelihood can be quoted; raise --ais-betas until they "
                          "agree", highlight=False, soft_wrap=True)
    if json_out:
        import json

        typer.echo(json.dumps(result, indent=2))
    else:
        _report(result)


def _fmt(value, spec: str = ".4f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _report(r: dict) -> None:
    """Print the results with rich: a summary table, then the statistics side by side."""
    from rich.markup import escape
    from rich.table import Table

    console.print(f"model [bold]{escape(r['model'])}[/]", highlight=False, soft_wrap=True)
    console.print(f"data  {escape(', '.join(r['data']))}, split [bold]{r['split']}[/]: {r['pieces']} pieces, "
                  f"{r['steps']} steps, {r['n_visible']} pitches", highlight=False, soft_wrap=True)
    if r["temperature"] != 1:
        console.print(f"at temperature [bold]{r['temperature']:g}[/]: every figure is that of the tempered model",
                      highlight=False)
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    name = {"ais": "AIS", "raise": "reverse AIS", "both": "AIS"}.get(r["log_z"])
    how = f"{name}, {r['ais_runs']} runs x {r['ais_betas']} temperatures" if name else "exact log Z by enumeration"
    errors = f"± {_fmt(r['ll_stderr'], '.3f')} over steps"
    if name:
        errors += f", ± {_fmt(r['ais_stderr'], '.3f')} {name}"
    if r["ll"] is None:
        table.add_row("log-likelihood / step", "-", "not computed (--log-z none)")
    else:
        table.add_row("log-likelihood / step", f"{r['ll']:.3f} nats", f"{errors}; {how}")
    if r["ll_reverse"] is not None:
        from rnnrbm.evaluate import LL_AGREE_TOL

        verdict = "agrees with AIS" if r["ll_agree"] else "DISAGREES with AIS: not converged"
        table.add_row("  by reverse AIS", f"{r['ll_reverse']:.3f} nats",
                      f"± {_fmt(r['ll_reverse_ais_stderr'], '.3f')} reverse AIS; {verdict} "
                      f"(gap {r['ll_gap']:+.3f}, tolerance {LL_AGREE_TOL:g})")
    table.add_row("expected accuracy, per step", _fmt(r["acc_step"]),
                  f"± {_fmt(r['acc_step_stderr'], '.4f')}; mean over steps (the paper's ACC); "
                  f"{r['acc_samples']} predictions x {r['acc_gibbs']} Gibbs steps per frame")
    table.add_row("expected accuracy, pooled", _fmt(r["acc"]), "TP / (TP + FP + FN) over all steps")
    table.add_row("random baseline", f"{r['baseline_ll']:.2f} nats",
                  f"all notes p = 0.5: {r['n_visible']} x log(1/2)")
    console.print(table)
    if r["ll"] is not None and r["ll"] < r["baseline_ll"]:
        console.print("[yellow]note:[/] the log-likelihood is below the random baseline", highlight=False)

    data, samples = r["data_stats"], (r["samples"] or {}).get("stats")
    stats = Table(header_style="bold", box=None, pad_edge=False)
    stats.add_column("statistic")
    stats.add_column("data", justify="right")
    if samples:
        stats.add_column(f"samples ({r['samples']['pieces']} x {r['samples']['steps_per_piece']} steps)",
                         justify="right")
    rows = [
        ("notes per step, mean", "notes_per_step_mean", ".2f"),
        ("notes per step, std", "notes_per_step_std", ".2f"),
        ("notes per step, JS distance", "notes_per_step_js", ".3f"),
        (f"steps above {data['above_p99_threshold']:g} notes (data p99)", "above_p99_rate", ".2%"),
        ("silent steps", "silence_rate", ".2%"),
        ("pitch-class JS distance", "pitch_class_js", ".3f"),
        ("pitch-class entropy (bits)", "pitch_class_entropy", ".3f"),
        ("scale consistency", "scale_consistency", ".2%"),
    ]
    for label, key, spec in rows:
        if key.endswith("_js") and not samples:
            continue
        cells = [_fmt(data[key], spec)] + ([_fmt(samples[key], spec)] if samples else [])
        stats.add_row(label, *cells)
    width = max(len(data["notes_per_step_dist"]), len(samples["notes_per_step_dist"]) if samples else 0)
    for n in range(min(width, 9)):
        last = n == 8  # one row for 8 or more notes

        def share(s: dict) -> str:
            dist = s["notes_per_step_dist"]
            return f"{(sum(dist[8:]) if last else dist[n] if n < len(dist) else 0.0):.1%}"

        stats.add_row(f"  steps with {n}{'+' if last else ''} notes", share(data),
                      *([share(samples)] if samples else []))
    console.print(stats)
