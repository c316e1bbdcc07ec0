"""Turn MIDI files, folders and benchmark JSON files into a :class:`~rnnrbm.corpus.Corpus`.

:func:`ingest` is the driver behind ``rnnrbm ingest``; :func:`load_pieces` is
what training, evaluation and generation call to get data in a given
configuration, whatever form the user hands it in. Inputs are found by
:mod:`rnnrbm.paths` and parsed by :mod:`rnnrbm.workers` in sorted path order
(in worker processes with ``jobs > 1``, with a time limit per file either way);
a file that yields nothing usable is skipped with a short reason and the run
goes on.
"""

from __future__ import annotations

import os
import statistics
from contextlib import closing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from rnnrbm.corpus import Corpus, assign_split, concat, read_benchmark_json, steps_to_roll
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.notes import OUT_OF_RANGE, check_range
from rnnrbm.paths import MIDI_SUFFIXES, Source, collect_inputs, safe_name  # noqa: F401 (re-exported)
from rnnrbm.workers import FileResult, parse_all, parse_midi  # noqa: F401 (re-exported)

DEFAULT_STEPS_PER_BEAT = {"midi": 4, "json": 1}  # the JSON format is already one step per step

#: ``progress(name, status, done, total)``; status is "ok", "recovered" or "skipped: <reason>".
Progress = Callable[[str, str, int, int], None]


@dataclass(frozen=True)
class IngestConfig:
    """How files become piano rolls. Every field has the CLI's default.

    ``steps_per_beat=None`` means: 4 for MIDI, 1 for benchmark JSON, and a
    corpus file's own grid in :func:`load_pieces`.
    """

    low: int = 60
    high: int = 95
    steps_per_beat: Optional[int] = None
    out_of_range: str = "fold"
    pedal: bool = True
    transpose_to_c: bool = False
    min_steps: int = 2
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    max_steps: int = 200_000
    timeout: float = 60.0

    def __post_init__(self):
        check_range(self.low, self.high)
        if self.out_of_range not in OUT_OF_RANGE:
            raise UsageError(f"--out-of-range must be fold or drop, not {self.out_of_range!r}")
        if self.steps_per_beat is not None and not 1 <= self.steps_per_beat <= 96:
            raise UsageError(f"--steps-per-beat must be 1-96, not {self.steps_per_beat}")
        if not (0 <= self.valid_fraction <= 1 and 0 <= self.test_fraction <= 1
                and self.valid_fraction + self.test_fraction <= 1):
            raise UsageError("--valid-fraction and --test-fraction must be in 0-1 and sum to at most 1")
        if self.min_steps < 1 or self.max_steps < self.min_steps or self.timeout <= 0:
            raise UsageError("need 1 <= --min-steps <= --max-steps and a positive --timeout")

    @property
    def n_visible(self) -> int:
        return self.high - self.low + 1


def config_from_meta(meta: dict) -> IngestConfig:
    """The :class:`~rnnrbm.ingest.IngestConfig` that reads data as the checkpoint's training data was read.

    Range, grid and out-of-range rule come from the checkpoint (``low``, ``high``,
    ``steps_per_beat``, ``out_of_range``); pedal, key transposition, minimum length
    and the valid/test fractions (so a MIDI folder splits as in training) come from
    ``meta["ingest"]`` when present.
    """
    known = {f.name for f in fields(IngestConfig)}
    ingest = meta.get("ingest") or {}
    options = {k: ingest[k] for k in ("pedal", "transpose_to_c", "min_steps", "valid_fraction", "test_fraction",
                                      "max_steps", "timeout") if k in ingest and k in known}
    options.update(low=int(meta["low"]), high=int(meta["high"]),
                   out_of_range=meta.get("out_of_range") or ingest.get("out_of_range") or "fold")
    if meta.get("steps_per_beat") is not None:
        options["steps_per_beat"] = int(meta["steps_per_beat"])
    try:
        return IngestConfig(**options)
    except UsageError as exc:
        raise RnnrbmError(f"checkpoint metadata gives an invalid data configuration: {exc}") from None


@dataclass
class IngestReport:
    """Summary of a run: what was read, skipped (by reason) and kept."""

    files: int = 0
    used: int = 0  # files that gave at least one piece
    pieces: int = 0
    steps: int = 0
    kept: int = 0
    folded: int = 0
    dropped: int = 0
    recovered: list[tuple[str, str]] = field(default_factory=list)
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)

    def skip(self, name: str, reason: str, detail: str = "") -> None:
        self.skipped.setdefault(reason, []).append((name, detail))

    @property
    def n_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    @property
    def skip_counts(self) -> dict[str, int]:
        """Skipped inputs per reason, reasons sorted."""
        return {reason: len(names) for reason, names in sorted(self.skipped.items())}


class NothingUsable(RnnrbmError):
    """No input gave a usable piece; carries the report so the CLI can show why."""

    def __init__(self, report: IngestReport):
        reasons = ", ".join(f"{reason} ({len(names)})" for reason, names in report.skipped.items())
        super().__init__(f"no usable music in {report.files} file(s)"
                         + (f": {reasons}" if reasons else "") + "; check the inputs and options")
        self.report = report


def check_jobs(jobs: int) -> int:
    """Validate ``--jobs`` and resolve 0 to one process per CPU."""
    if jobs < 0:
        raise UsageError(f"--jobs must be 0 (one per CPU) or more, not {jobs}")
    return jobs or os.cpu_count() or 1


def ingest(paths: Iterable[Path], config: IngestConfig = IngestConfig(), jobs: int = 1,
           progress: Optional[Progress] = None) -> tuple[Corpus, IngestReport]:
    """Read MIDI files/folders and benchmark JSON files into a corpus.

    Raises :class:`UsageError` for bad paths and :class:`NothingUsable` when no
    piece survives; otherwise returns the corpus and a report of what was skipped.
    """
    paths = list(paths)
    check_jobs(jobs)  # arguments before any file access
    sources = collect_inputs(paths)
    inputs = [safe_name(str(p)) for p in paths]
    if not sources:
        raise UsageError(f"no MIDI (.mid, .midi, .kar) or .json files in {', '.join(inputs)}")
    return ingest_sources(sources, config, jobs, progress, inputs=inputs)


def ingest_sources(sources: list[Source], config: IngestConfig, jobs: int = 1,
                   progress: Optional[Progress] = None, inputs: Optional[list[str]] = None
                   ) -> tuple[Corpus, IngestReport]:
    """:func:`ingest` for already collected MIDI/JSON (and skip) sources (``jobs=0``: one per CPU)."""
    jobs = check_jobs(jobs)
    kinds = {s.kind for s in sources} - {"skip"}
    if config.steps_per_beat is None:
        if kinds == {"midi", "json"}:
            raise UsageError("mixing MIDI and benchmark JSON inputs needs an explicit --steps-per-beat")
        config = replace(config, steps_per_beat=DEFAULT_STEPS_PER_BEAT[kinds.pop() if kinds else "midi"])
    report = IngestReport(files=len(sources))
    results: list[list[tuple[str, str, np.ndarray]]] = [[] for _ in sources]  # (name, split, roll)
    qpms: list[float] = []

    def accept(index: int, name: str, split: str, roll: np.ndarray, counts) -> bool:
        if len(roll) < config.min_steps:
            report.skip(name, "too short", f"{len(roll)} < {config.min_steps} steps")
            return False
        report.kept, report.folded, report.dropped = (
            a + b for a, b in zip((report.kept, report.folded, report.dropped), counts))
        results[index].append((name, split, roll))
        return True

    done = 0
    midi_tasks = []
    for index, source in enumerate(sources):
        if source.kind == "midi":
            midi_tasks.append((index, source))
            continue
        status, benchmark = "ok", []
        if source.kind == "skip":  # found but not readable: a broken link, say
            report.skip(source.name, source.reason, source.detail)
            status = f"skipped: {source.reason}"
        else:
            try:
                benchmark = read_benchmark_json(source.path)
            except RnnrbmError as exc:
                report.skip(source.name, "not a benchmark JSON file", str(exc))
                status = "skipped: not a benchmark JSON file"
        for split, i, steps in benchmark:
            roll, *counts = steps_to_roll(steps, config.low, config.high, config.out_of_range,
                                          config.transpose_to_c)
            accept(index, f"{source.name}#{split}/{i}", split, roll, counts)
        done += 1
        if progress:
            progress(source.name, status, done, len(sources))

    options = {k: getattr(config, k) for k in ("low", "high", "steps_per_beat", "out_of_range",
                                               "pedal", "transpose_to_c", "max_steps")}
    tasks = [(index, str(source.path)) for index, source in midi_tasks]
    # closing(): an interrupt stops the worker pool here, not whenever the generator is collected.
    with closing(parse_all(tasks, options, config.timeout, jobs)) as parsed:
        for index, result in parsed:
            name = sources[index].name
            status = "ok"
            if result.roll is None:
                report.skip(name, result.reason, result.detail)
                status = f"skipped: {result.reason}"
            else:
                split = assign_split(name, config.valid_fraction, config.test_fraction)
                if accept(index, name, split, result.roll, result.counts):
                    qpms.append(result.qpm)
                    if result.recovered:
                        report.recovered.append((name, result.recovered))
                        status = "recovered"
                else:
                    status = "skipped: too short"
            done += 1
            if progress:
                progress(name, status, done, len(sources))

    pieces = [piece for per_file in results for piece in per_file]
    report.pieces = len(pieces)
    report.used = sum(1 for per_file in results if per_file)
    if not pieces:
        raise NothingUsable(report)
    names, splits, rolls = zip(*pieces)
    report.steps = sum(len(r) for r in rolls)
    report.splits = {s: splits.count(s) for s in ("train", "valid", "test")}
    meta = {key: value for key, value in asdict(config).items()
            if key in ("low", "high", "steps_per_beat", "out_of_range", "pedal", "transpose_to_c", "min_steps")}
    meta["qpm"] = round(statistics.median(qpms), 3) if qpms else 100.0
    meta["ingest"] = {**asdict(config), "inputs": inputs or [s.name for s in sources]}
    meta["notes"] = {"kept": report.kept, "folded": report.folded, "dropped": report.dropped}
    return Corpus.from_pieces(list(rolls), list(names), list(splits), meta), report


def load_pieces(paths: list[Path], config: IngestConfig = IngestConfig(), jobs: int = 1,
                progress: Optional[Progress] = None) -> tuple[Corpus, IngestReport]:
    """Data for train/evaluate/generate in ``config``'s range and grid, from any input form.

    ``paths`` may name corpus ``.npz`` files (range converted by fold/drop if it
    differs; a different grid is an error), benchmark ``.json`` files, and MIDI
    files or folders (ingested on the fly). The corpora come first, then the rest.
    The report covers the files ingested on the fly, so callers can say what was skipped.
    """
    sources = collect_inputs(paths, allow_corpus=True)
    if not sources:
        raise UsageError(f"no corpus, MIDI or .json files in {', '.join(safe_name(str(p)) for p in paths)}")
    corpora = [Corpus.load(s.path) for s in sources if s.kind == "corpus"]
    steps_per_beat = config.steps_per_beat or (corpora[0].steps_per_beat if corpora else None)
    config = replace(config, steps_per_beat=steps_per_beat)
    corpora = [conform(corpus, config, s.path)
               for corpus, s in zip(corpora, [s for s in sources if s.kind == "corpus"])]
    others = [s for s in sources if s.kind != "corpus"]
    report = IngestReport(files=len(others))
    if any(s.kind != "skip" for s in others) or not corpora:
        corpus, report = ingest_sources(others, config, jobs, progress)
        corpora.append(corpus)
    else:  # only unreadable entries beside the corpora
        for s in others:
            report.skip(s.name, s.reason, s.detail)
    return (corpora[0] if len(corpora) == 1 else concat(corpora)), report


def skip_summary(counts: dict[str, int]) -> Optional[str]:
    """One line from :attr:`IngestReport.skip_counts`: how many inputs (files, or pieces of a
    JSON file) were skipped and why; None if none were."""
    if not counts:
        return None
    reasons = ", ".join(f"{reason}: {n}" for reason, n in counts.items())
    return f"skipped {sum(counts.values())} input(s) ({reasons}); `rnnrbm ingest` on the same inputs lists them"


def conform(corpus: Corpus, config: IngestConfig, where: Path) -> Corpus:
    """``corpus`` in ``config``'s pitch range (fold/drop); its grid must already match."""
    if config.steps_per_beat not in (None, corpus.steps_per_beat):
        raise RnnrbmError(f"{where} has {corpus.steps_per_beat} steps per beat but {config.steps_per_beat} "
                          f"are wanted; re-ingest it with --steps-per-beat {config.steps_per_beat}")
    return corpus.with_range(config.low, config.high, config.out_of_range)
