"""Parsing MIDI files into rolls with a time limit per file, in this process or in worker processes.

:func:`parse_midi` never raises for a bad file: it returns a :class:`FileResult`
with a roll or a skip reason. The time limit is a SIGALRM timer, so it works in
the main thread of the ingesting process (``--jobs 1``) and of each worker
(``--jobs 2`` and more); elsewhere files run without a limit.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from rnnrbm.midi import UnreadableMidi, midi_to_roll
from rnnrbm.paths import safe_name


@dataclass
class FileResult:
    """What one MIDI file gave: a roll, or a skip reason. Small, so it pickles cheaply."""

    roll: Optional[np.ndarray] = None
    qpm: float = 0.0
    counts: tuple[int, int, int] = (0, 0, 0)  # notes kept, folded, dropped
    recovered: str = ""
    reason: str = ""
    detail: str = ""


def parse_all(tasks: list[tuple[int, str]], options: dict, timeout: float, jobs: int
              ) -> Iterator[tuple[int, FileResult]]:
    """Yield (index, FileResult) for (index, path) tasks: in order when serial, as they finish when parallel.

    ``options`` and ``timeout`` are :func:`parse_midi`'s. Only rolls come back:
    no parsed MIDI object outlives :func:`parse_midi`, so memory grows with the
    rolls kept, not with the files read. Close the generator (``contextlib.closing``)
    to stop the worker pool at once when the caller is interrupted.
    """
    if jobs == 1 or len(tasks) < 2:
        for index, path in tasks:
            yield index, parse_midi(path, options, timeout)
        return
    # Largest files first (queue.pop() takes from the end): the slowest parses never start
    # last while the other workers sit idle.
    queue = sorted(tasks, key=lambda task: _size(task[1]))
    while queue:
        # Spawned workers start clean (no inherited threads or Numba state).
        pool = ProcessPoolExecutor(min(jobs, len(queue)), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        pending: dict = {}
        broken = False
        try:
            while queue or pending:
                # Bounded submission: at most 4 files per worker in flight.
                while queue and not broken and len(pending) < 4 * jobs:
                    try:
                        with _no_sigint():  # submit() may start a worker, which inherits the mask
                            future = pool.submit(parse_midi, queue[-1][1], options, timeout)
                    except BrokenProcessPool:
                        broken = True
                        break
                    pending[future] = queue.pop()[0]
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        # A worker died (killed, out of memory): its in-flight files are
                        # lost; the rest of the queue goes to a fresh pool.
                        broken = True
                        result = FileResult(reason="worker process crashed")
                    yield index, result
        finally:
            # On Ctrl-C (or the consumer stopping) drop the queued files; each file
            # still running ends within its timeout.
            pool.shutdown(wait=True, cancel_futures=True)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # unreadable or gone: parse_midi reports it
        return 0


@contextmanager
def _no_sigint():
    """Block SIGINT in this thread while starting workers.

    A worker process starts with its parent's signal mask, so a Ctrl-C that
    arrives while it is still importing stays pending until :func:`_worker_init`
    ignores it, instead of printing a traceback from every worker. The parent
    receives its own pending Ctrl-C as soon as the mask is restored.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _worker_init() -> None:
    """Workers ignore Ctrl-C: the parent handles it and shuts the pool down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class _Timeout(BaseException):
    """BaseException so no ``except Exception`` inside the parsers swallows it."""


def _alarm(signum, frame):
    raise _Timeout()


@contextmanager
def _time_limit(seconds: Optional[float]):
    """Raise :class:`_Timeout` in the block after ``seconds`` (SIGALRM; main thread only, else no limit)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # even if the alarm fires right here
            signal.signal(signal.SIGALRM, previous)


def parse_midi(path: str, options: dict, timeout: Optional[float] = None) -> FileResult:
    """Parse one MIDI file into a :class:`FileResult`; never raises for a bad file.

    ``options`` are :func:`~rnnrbm.midi.midi_to_roll`'s keywords. A file that
    takes more than ``timeout`` seconds is skipped (when called in the main
    thread, as the serial path and the worker processes do).
    """
    try:
        with _time_limit(timeout):
            roll = midi_to_roll(Path(path), **options)
            return FileResult(roll.roll, roll.qpm, (roll.kept, roll.folded, roll.dropped), roll.recovered)
    except UnreadableMidi as exc:
        return FileResult(reason=exc.reason, detail=str(exc))
    except _Timeout:  # outside the with: an alarm inside its cleanup lands here too
        return FileResult(reason=f"took longer than the {timeout:g} s --timeout", detail=safe_name(path))
    except MemoryError:
        return FileResult(reason="out of memory")
    except Exception as exc:  # a malformed file can trip pretty_midi anywhere
        return FileResult(reason="cannot parse", detail=f"{type(exc).__name__}: {exc}")
