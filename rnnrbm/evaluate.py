"""Evaluate a checkpoint on data: log-likelihood, expected frame accuracy and sample statistics.

:func:`evaluate` is the library behind ``rnnrbm evaluate``. It reads the data in
the checkpoint's own pitch range and grid, then computes

* ``ll``: the average log-likelihood per time step in nats, ``log p(v_t | v_<t)``
  with ``log Z_t`` by annealed importance sampling (:mod:`rnnrbm.ais`);
* ``acc_step`` and ``acc``: the expected frame-level accuracy (Bay et al., 2009) of
  predicting each frame by block Gibbs sampling started at the previous one, as a
  mean over steps (the paper's protocol) and from pooled counts (:mod:`rnnrbm.metrics`);
* statistics of the data (:mod:`rnnrbm.stats`) and, when asked, of pieces sampled
  from the model with :func:`rnnrbm.sample.sample_roll`.

The result is a JSON-ready dict (``None`` where a value is undefined):

================  ==============================================================
key               value
================  ==============================================================
model             checkpoint path
data              list of data paths
split             "train", "valid", "test" or "all"
skipped           {reason: count} of inputs skipped while reading MIDI/JSON data
pieces, steps     pieces and time steps evaluated
n_visible         visible units (the checkpoint's range high - low + 1)
temperature       every measure is of the model at this temperature (1 = as trained;
                  :func:`rnnrbm.model.tempered`)
ll                mean log p(v_t | v_<t) over all steps (nats); this and the next three are
                  null with log_z "none" (accuracy and statistics only)
ll_stderr         standard error of ``ll`` from the spread over steps
ais_stderr        Monte Carlo error of ``ll`` due to AIS or RAISE (0 when log Z is exact)
ll_impossible     steps whose estimated log p(v_t | v_<t) is above 0, a probability above 1: each
                  proves that AIS underestimated log Z_t, so ``ll`` is too high (more --ais-betas)
log_z             "ais", "raise" (reverse AIS, errs low where AIS errs high), "both" (``ll`` by
                  AIS, ``ll_reverse`` by reverse AIS), "exact" (enumeration, tiny models only)
                  or "none" (no log-likelihood)
ll_reverse        with log_z "both": the reverse-AIS LL, same runs, temperatures and seed
ll_reverse_ais_stderr  its Monte Carlo error, as ``ais_stderr``
ll_gap            ``ll - ll_reverse``; near 0 where both estimates have converged
ll_agree          ``|ll_gap| <= LL_AGREE_TOL``: the evidence that ``ll`` can be quoted
                  (these four are null unless log_z is "both")
ais_runs          AIS runs per step
ais_betas         AIS temperatures (linear from 0 to 1, both ends included)
acc_step          mean over steps of each step's expected accuracy TP_t / (TP_t + FP_t + FN_t):
                  the paper's ACC (its authors' published evaluation protocol)
acc_step_stderr   standard error of ``acc_step`` from the spread over steps
acc               expected accuracy from counts pooled over all steps, TP / (TP + FP + FN)
acc_gibbs         block Gibbs steps per prediction
acc_samples       predictions averaged per step
baseline_ll       LL of the all-0.5 model: n_visible * log(1/2)
seed              seed of all sampling
seconds           {"load", "ll", "ll_reverse", "acc", "samples", "total"} wall-clock seconds
data_stats        :func:`rnnrbm.stats.roll_statistics` of the evaluated pieces
samples           null, or {"pieces", "steps_per_piece", "gibbs_steps", "seeds",
                  "stats": roll_statistics of the samples against the data}
================  ==============================================================

Nothing here prints; progress goes to an optional ``progress(stage, done, total)``
callback with stages "load" (files), "ll", "ll_reverse" and "acc" (time steps) and "samples" (pieces).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from rnnrbm.ais import DEFAULT_BETAS, DEFAULT_RUNS, METHODS
from rnnrbm.checkpoint import open_model
from rnnrbm.errors import RnnrbmError, UsageError

SPLITS = ("train", "valid", "test", "all")
# Long enough for each step's chains to forget their start: on the shipped JSB model the
# ACC moves by -1.5 points from 25 to 2000 steps and by under its 0.1-point error from
# 1000 on, from the previous frame or from silence (scripts/acc_convergence.py).
DEFAULT_ACC_GIBBS = 1000
DEFAULT_ACC_SAMPLES = 20  # the paper's authors advise 20-50 draws per step
DEFAULT_SAMPLE_STEPS = 256
DEFAULT_SAMPLE_GIBBS = 25
ACC_BATCH_ROWS = 1 << 15  # Gibbs chains per batch of the accuracy (bounds memory)
LOG_Z = (*METHODS, "both", "none")
# Nats per step. On the shipped JSB model the two estimates differ by 0.003 at 1000
# temperatures; where they were unconverged (docs/benchmarks.md) they differed by 0.3 to 19.
LL_AGREE_TOL = 0.05

#: ``progress(stage, done, total)``
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvaluateOptions:
    """What :func:`evaluate` computes; every field has the CLI's default."""

    split: str = "test"
    ais_runs: int = DEFAULT_RUNS
    ais_betas: int = DEFAULT_BETAS
    log_z: str = "auto"              # "auto", "ais", "raise", "both" or "exact"
    acc_gibbs: int = DEFAULT_ACC_GIBBS
    acc_samples: int = DEFAULT_ACC_SAMPLES
    samples: int = 0                 # pieces to generate for the statistics (0 = none)
    sample_steps: int = DEFAULT_SAMPLE_STEPS
    sample_gibbs: int = DEFAULT_SAMPLE_GIBBS
    seed: int = 0
    jobs: int = 1                    # processes for parsing MIDI data
    same_range: bool = False         # corpora must be in the model's range and grid (the CLI's rule), not folded
    temperature: float = 1.0         # evaluate the model at this temperature (rnnrbm.model.tempered)

    def __post_init__(self):
        if self.split not in SPLITS:
            raise UsageError(f"--split must be one of {', '.join(SPLITS)} (got {self.split!r})")
        if self.log_z not in LOG_Z:
            raise UsageError(f"--log-z must be one of {', '.join(LOG_Z)} (got {self.log_z!r})")
        at_least = {"ais_runs": 1, "ais_betas": 2, "acc_gibbs": 1, "acc_samples": 1, "samples": 0,
                    "sample_steps": 1, "sample_gibbs": 1, "seed": 0, "jobs": 0}
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise UsageError(f"--{name.replace('_', '-')} must be at least {low} (got {getattr(self, name)})")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise UsageError(f"--temperature must be a positive number (got {self.temperature:g})")
        if self.seed >= 2**63:
            raise UsageError(f"--seed must be below 2**63 (got {self.seed})")


def load_split(paths: Sequence[Path], meta: dict, split: str, jobs: int = 1,
               progress: Optional[Progress] = None) -> tuple[list[np.ndarray], dict[str, int]]:
    """Pieces of ``split`` ("all" for every piece) of the data, in the checkpoint's range and grid,
    and the number of skipped inputs by reason."""
    from rnnrbm.corpus import SPLITS as CORPUS_SPLITS
    from rnnrbm.ingest import config_from_meta, load_pieces

    config = config_from_meta(meta)
    on_file = (lambda name, status, done, total: progress("load", done, total)) if progress else None
    try:
        corpus, report = load_pieces([Path(p) for p in paths], config, jobs=jobs, progress=on_file)
    except UsageError:
        raise
    except RnnrbmError as exc:
        raise RnnrbmError(f"cannot read the data as the model's {config.low}..{config.high} range at "
                          f"{config.steps_per_beat or 'its own'} step(s) per beat: {exc}") from None
    if corpus.n_visible != config.n_visible:
        raise RnnrbmError(f"the data has {corpus.n_visible} pitches but the model {config.n_visible}")
    pieces = corpus.pieces(None if split == "all" else split)
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        present = ", ".join(f"{s} ({n})" for s in CORPUS_SPLITS if (n := int(np.sum(corpus.splits == s))))
        raise UsageError(f"no pieces in split {split!r}; the data has: {present or 'no pieces'}"
                         + ("; choose one with --split, or --split all" if present else ""))
    return pieces, report.skip_counts


def check_corpora_match(paths: Sequence[Path], meta: dict) -> None:
    """Raise :class:`UsageError` if a corpus ``.npz`` among ``paths`` has another range or grid than the model.

    MIDI and benchmark JSON data have no range of their own and are read in the
    model's; a corpus was already cut to one, and folding it again would evaluate
    the model on different music than the corpus holds.
    """
    from rnnrbm.corpus import Corpus
    from rnnrbm.notes import note_name

    def describe(low: int, high: int, steps_per_beat) -> str:
        return f"{note_name(low)}-{note_name(high)} ({high - low + 1} keys) at {steps_per_beat} steps per beat"

    model = (int(meta["low"]), int(meta["high"]), meta.get("steps_per_beat"))
    for path in map(Path, paths):
        if path.suffix.lower() == ".npz" and path.is_file():
            corpus = Corpus.load(path)
            if (corpus.low, corpus.high, corpus.steps_per_beat) != model:
                raise UsageError(
                    f"corpus {path} is {describe(corpus.low, corpus.high, corpus.steps_per_beat)} but the model is "
                    f"{describe(*model)}; evaluate on MIDI files or benchmark .json (read in the model's range), or "
                    f"re-ingest with --low {note_name(model[0])} --high {note_name(model[1])} "
                    f"--steps-per-beat {model[2]}")


def expected_accuracy(params: dict[str, np.ndarray], pieces: list[np.ndarray], gibbs_steps: int, samples: int,
                      rng: np.random.Generator, progress: Optional[Callable[[int, int], None]] = None,
                      max_rows: int = ACC_BATCH_ROWS) -> dict:
    """Expected frame-level accuracy, pooled and per step (see :mod:`rnnrbm.metrics`).

    Pieces are predicted in batches of at most ``max_rows`` Gibbs chains (``samples`` per
    step) with :func:`rnnrbm.metrics.predict_pieces`. Returns {"acc", "tp", "fp", "fn"}
    (pooled expected counts) and {"acc_step", "acc_step_stderr"} (mean over steps).
    """
    from rnnrbm.metrics import accuracy_counts, accuracy_from_counts, predict_pieces, step_accuracy

    pieces = [p for p in pieces if len(p)]
    total = int(sum(len(p) for p in pieces))
    tp = fp = fn = 0.0
    done = 0
    batch: list[np.ndarray] = []
    steps: list[np.ndarray] = []

    def flush() -> None:
        nonlocal tp, fp, fn, done
        for piece, draws in zip(batch, predict_pieces(params, batch, gibbs_steps, samples, rng)):
            c = accuracy_counts(piece, draws.mean(axis=0))
            tp, fp, fn = tp + c[0], fp + c[1], fn + c[2]
            steps.append(step_accuracy(piece, draws))
            done += len(piece)
        batch.clear()
        if progress:
            progress(done, total)

    rows = 0
    for piece in pieces:
        if batch and rows + len(piece) * samples > max_rows:
            flush()
            rows = 0
        batch.append(piece)
        rows += len(piece) * samples
    if batch:
        flush()
    per_step = np.concatenate(steps) if steps else np.zeros(0)
    stderr = float(per_step.std(ddof=1) / math.sqrt(len(per_step))) if len(per_step) > 1 else float("nan")
    return {"acc": accuracy_from_counts(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn,
            "acc_step": float(per_step.mean()) if len(per_step) else float("nan"), "acc_step_stderr": stderr}


def sample_pieces(params: dict[str, np.ndarray], n: int, steps: int, gibbs_steps: int, seed: int,
                  progress: Optional[Callable[[int, int], None]] = None) -> list[np.ndarray]:
    """``n`` pieces of ``steps`` frames from the model; piece i uses seed ``seed + i``.

    These are the rolls ``rnnrbm generate --seed SEED -n N --steps STEPS -k GIBBS`` writes.
    """
    from rnnrbm.sample import sample_roll

    rolls = []
    for i in range(n):
        rolls.append(sample_roll(params, steps, gibbs_steps=gibbs_steps, seed=seed + i))
        if progress:
            progress(i + 1, n)
    return rolls


def baseline_ll(n_visible: int) -> float:
    """LL per step of the all-0.5 model (every note independently on with p = 1/2): ``V log(1/2)``."""
    return n_visible * math.log(0.5)


def evaluate_pieces(params: dict[str, np.ndarray], pieces: list[np.ndarray], low: int,
                    options: EvaluateOptions = EvaluateOptions(), progress: Optional[Progress] = None) -> dict:
    """The measures of :func:`evaluate` for already loaded pieces (no file or split keys)."""
    from rnnrbm.ais import log_likelihood
    from rnnrbm.model import tempered
    from rnnrbm.stats import roll_statistics

    pieces = [p for p in pieces if len(p)]
    if not pieces:
        raise RnnrbmError("nothing to evaluate: no piece has a time step")
    n_visible = params["W"].shape[0]
    if any(np.ndim(p) != 2 or np.shape(p)[1] != n_visible for p in pieces):
        raise RnnrbmError(f"every piece must be a (T, {n_visible}) roll for this model")
    stage = (lambda name: (lambda done, total: progress(name, done, total))) if progress else (lambda name: None)
    seconds = {}
    if options.temperature != 1.0:
        params = tempered(params, options.temperature)

    both = options.log_z == "both"
    ll = None
    if options.log_z != "none":
        t0 = time.perf_counter()
        ll = log_likelihood(params, pieces, options.ais_runs, options.ais_betas, options.seed,
                            "ais" if both else options.log_z, stage("ll"))
        seconds["ll"] = time.perf_counter() - t0
    check = dict.fromkeys(("ll_reverse", "ll_reverse_ais_stderr", "ll_gap", "ll_agree"))
    if both:
        t0 = time.perf_counter()
        reverse = log_likelihood(params, pieces, options.ais_runs, options.ais_betas, options.seed, "raise",
                                 stage("ll_reverse"))
        seconds["ll_reverse"] = time.perf_counter() - t0
        gap = ll.mean - reverse.mean
        check = {"ll_reverse": reverse.mean, "ll_reverse_ais_stderr": reverse.ais_stderr, "ll_gap": gap,
                 "ll_agree": bool(abs(gap) <= LL_AGREE_TOL)}

    t0 = time.perf_counter()
    acc = expected_accuracy(params, pieces, options.acc_gibbs, options.acc_samples,
                            np.random.default_rng([options.seed, 1]), stage("acc"))
    seconds["acc"] = time.perf_counter() - t0

    data_stats = roll_statistics(pieces, low)
    samples = None
    if options.samples:
        t0 = time.perf_counter()
        rolls = sample_pieces(params, options.samples, options.sample_steps, options.sample_gibbs, options.seed,
                              stage("samples"))
        samples = {"pieces": options.samples, "steps_per_piece": options.sample_steps,
                   "gibbs_steps": options.sample_gibbs,
                   "seeds": [options.seed, options.seed + options.samples - 1],
                   "stats": roll_statistics(rolls, low, reference=data_stats)}
        seconds["samples"] = time.perf_counter() - t0

    result = {
        "pieces": len(pieces),
        "steps": int(sum(len(p) for p in pieces)),
        "n_visible": n_visible,
        "temperature": options.temperature,
        "ll": ll.mean if ll else None,
        "ll_stderr": ll.stderr if ll else None,
        "ais_stderr": ll.ais_stderr if ll else None,
        "ll_impossible": ll.impossible_steps if ll else None,
        "log_z": "both" if both else ll.method if ll else "none",
        **check,
        "ais_runs": options.ais_runs,
        "ais_betas": options.ais_betas,
        "acc_step": acc["acc_step"],
        "acc_step_stderr": acc["acc_step_stderr"],
        "acc": acc["acc"],
        "acc_gibbs": options.acc_gibbs,
        "acc_samples": options.acc_samples,
        "baseline_ll": baseline_ll(n_visible),
        "seed": options.seed,
        "seconds": seconds,
        "data_stats": data_stats,
        "samples": samples,
    }
    return json_ready(result)


def evaluate(model: Path, data: Sequence[Path], options: EvaluateOptions = EvaluateOptions(),
             progress: Optional[Progress] = None) -> dict:
    """Evaluate checkpoint ``model`` on ``data`` (corpus .npz, benchmark .json, MIDI files or folders).

    The data are read with the checkpoint's range and grid (:func:`rnnrbm.ingest.config_from_meta`) and
    ``options.split`` is taken ("all" for every piece). Returns the dict described in
    the module docstring.

    Raises
    ------
    UsageError for bad options, missing files or an empty split (the message lists the
    splits present); RnnrbmError for an unreadable checkpoint or data that cannot be
    put on the checkpoint's grid (e.g. a corpus with another steps-per-beat).
    """
    start = time.perf_counter()
    data = [Path(p) for p in (data if isinstance(data, (list, tuple)) else [data])]
    if not data:
        raise UsageError("give the data to evaluate on: a corpus .npz, benchmark .json, or MIDI files/folders")
    _, ckpt = open_model(Path(model))
    if options.same_range:
        check_corpora_match(data, ckpt.meta)
    pieces, skipped = load_split(data, ckpt.meta, options.split, options.jobs, progress)
    load_seconds = time.perf_counter() - start
    result = evaluate_pieces(ckpt.params, pieces, int(ckpt.meta["low"]), options, progress)
    result["seconds"] = {"load": load_seconds, **result["seconds"], "total": time.perf_counter() - start}
    head = {"model": str(model), "data": [str(p) for p in data], "split": options.split, "skipped": skipped}
    return {**head, **result}


def json_ready(value):
    """``value`` with NaN/inf floats as None and NumPy scalars as Python numbers, recursively."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
