"""Kill training runs with SIGKILL at random moments and check that no work is ever lost.

Each trial starts ``rnnrbm train`` on a tiny MIDI folder in a subprocess (with
``--resume`` when a checkpoint exists), waits a random time, kills it with
SIGKILL, and checks what the killed run left:

* ``m.last.npz`` loads with :func:`rnnrbm.checkpoint.load_checkpoint`, and its
  epoch never goes back from one trial to the next;
* the log ``m.log.jsonl`` parses line by line, lists epochs 1..k, and k is that
  epoch or one less (killed between the checkpoint and the log);
* ``m.npz`` (best model) loads and is at most one epoch ahead of ``m.last.npz``.

Before every resume a stale temporary file is planted, as a kill in the middle
of a save leaves one. When a run finishes by itself it is checked against an
uninterrupted run of the same command: all epochs, no temporary files left, and
bit-identical parameters. Then a new run starts.

Usage::

    python scripts/kill_resume_trials.py --trials 50

prints one line per trial and ends with ``survived N/M``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TINY = ["--hidden", "8", "--recurrent", "4", "--cd-k", "1", "--batch", "2", "--chunk", "8", "--gradient", "bptt",
        "--patience", "100000", "--seed", "3", "--quiet"]
STARTUP_KILL = 0.2  # share of kills at a random moment after the start, maybe before any epoch


@dataclass
class Report:
    trials: int = 0
    survived: int = 0
    runs_finished: int = 0
    kills_mid_run: int = 0  # kills after the process had completed at least one epoch
    failures: list[str] = field(default_factory=list)


def make_songs(folder: Path) -> Path:
    """Four short 36-key songs, 32 steps each, written as MIDI."""
    from rnnrbm.midi import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    chords = [[60, 64, 67], [65, 69, 72], [67, 71, 74], [57, 60, 64]]
    for i in range(4):
        roll = np.zeros((32, 36), np.uint8)
        for t in range(32):
            roll[t, np.array(chords[(t // 4 + i) % 4]) - 60] = 1
        write_midi(roll, folder / f"song{i}.mid", low=60, steps_per_beat=4)
    return folder


def command(songs: Path, out: Path, epochs: int, resume: bool) -> list[str]:
    return [sys.executable, "-m", "rnnrbm", "train", str(songs), "-o", str(out), "--epochs", str(epochs),
            *TINY, *(["--resume"] if resume else [])]


def read_log(path: Path) -> list[dict]:
    """The log's records; raises ValueError on a line that is not complete JSON."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_killed_run(out: Path, previous: int) -> int:
    """Check the files a killed run left (see the module docstring); returns the epoch of m.last.npz."""
    from rnnrbm.checkpoint import load_checkpoint

    last, log = out.with_name("m.last.npz"), out.with_name("m.log.jsonl")
    if not last.exists():
        assert previous == 0, f"m.last.npz vanished after epoch {previous}"
        assert not out.exists(), "m.npz exists without m.last.npz"
        return 0
    ckpt = load_checkpoint(last)
    epoch = ckpt.meta["epoch"]
    assert epoch >= previous, f"m.last.npz went back from epoch {previous} to {epoch}"
    assert [h["epoch"] for h in ckpt.meta["history"]] == list(range(1, epoch + 1)), "history is not epochs 1..n"
    records = read_log(log)
    assert [r["epoch"] for r in records] == list(range(1, len(records) + 1)), "log is not epochs 1..k"
    assert len(records) in (epoch - 1, epoch), f"log has {len(records)} epochs, checkpoint {epoch}"
    assert records == ckpt.meta["history"][:len(records)], "log and checkpoint history differ"
    if epoch:
        best = load_checkpoint(out)
        assert best.meta["epoch"] <= epoch + 1, f"m.npz is epoch {best.meta['epoch']}, m.last.npz {epoch}"
    return epoch


def check_finished_run(out: Path, reference: Path, epochs: int) -> None:
    """A run that completed after kills equals the uninterrupted reference, with no leftovers."""
    from rnnrbm.checkpoint import load_checkpoint

    for name in ("m.npz", "m.last.npz"):
        a, b = load_checkpoint(out.with_name(name)), load_checkpoint(reference.with_name(name))
        assert a.meta["epoch"] == b.meta["epoch"], f"{name}: epoch {a.meta['epoch']} != {b.meta['epoch']}"
        for key, value in a.params.items():
            assert np.array_equal(value, b.params[key]), f"{name}: parameter {key} differs from the reference"
    assert load_checkpoint(out.with_name("m.last.npz")).meta["epoch"] == epochs
    assert [r["epoch"] for r in read_log(out.with_name("m.log.jsonl"))] == list(range(1, epochs + 1))
    leftovers = [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers, f"temporary files left: {leftovers}"


def plant_stale_temp(out: Path, rng: random.Random) -> None:
    """What a kill in the middle of a save leaves: a half-written temporary file beside the target."""
    target = rng.choice(["m.npz", "m.last.npz", "m.log.jsonl"])
    name = f".{target}.{''.join(rng.choice('abcdefgh0123456789') for _ in range(8))}.tmp"
    (out.parent / name).write_bytes(b"PK\x03\x04 half a checkpoint")


def wait_and_kill(proc: subprocess.Popen, last: Path, rng: random.Random, timeout: float) -> bool:
    """SIGKILL ``proc`` at a random moment; True if it had completed an epoch first, None if it ended itself."""
    start = time.monotonic()
    if rng.random() < STARTUP_KILL:
        deadline, progressed = start + rng.uniform(0.0, 2.5), False
    else:  # after this process's first completed epoch, then a random part of an epoch or a few
        before = last.stat().st_mtime_ns if last.exists() else None
        while proc.poll() is None and time.monotonic() - start < timeout:
            if last.exists() and last.stat().st_mtime_ns != before:
                break
            time.sleep(0.002)
        deadline, progressed = time.monotonic() + rng.uniform(0.0, 0.3), True
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    if proc.poll() is not None:
        return None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return progressed


def run_trials(workdir: Path, trials: int, epochs: int = 120, seed: int = 0, timeout: float = 120.0,
               log=print) -> Report:
    """Run ``trials`` kill-and-check trials in ``workdir`` (see the module docstring)."""
    rng = random.Random(seed)
    songs = make_songs(workdir / "songs")
    reference = workdir / "reference" / "m.npz"
    done = subprocess.run(command(songs, reference, epochs, False), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the reference run failed: {done.stderr.strip()}")
    report, run, epoch = Report(), 0, 0
    out = workdir / f"run{run}" / "m.npz"
    while report.trials < trials:
        report.trials += 1
        resume = out.with_name("m.last.npz").exists()
        if resume:
            plant_stale_temp(out, rng)
        proc = subprocess.Popen(command(songs, out, epochs, resume), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        killed = wait_and_kill(proc, out.with_name("m.last.npz"), rng, timeout)
        try:
            if killed is None:  # the run finished before the kill
                err = proc.stderr.read().decode()
                assert proc.returncode == 0, f"run ended with {proc.returncode}: {err.strip()}"
                check_finished_run(out, reference, epochs)
                report.runs_finished += 1
                outcome = f"finished all {epochs} epochs, identical to the uninterrupted run"
                run, epoch = run + 1, 0
                out = workdir / f"run{run}" / "m.npz"
            else:
                report.kills_mid_run += bool(killed)
                epoch = check_killed_run(out, epoch)
                outcome = f"killed {'mid-run' if killed else 'at a random moment'}; m.last.npz holds epoch {epoch}"
            report.survived += 1
        except Exception as exc:  # a failed check: record it and go on with a fresh run
            report.failures.append(f"trial {report.trials}: {type(exc).__name__}: {exc}")
            outcome = f"FAILED: {exc}"
            run, epoch = run + 1, 0
            out = workdir / f"run{run}" / "m.npz"
        finally:
            proc.stderr.close()
        log(f"trial {report.trials:3d}: {outcome}")
    return report


def finish(workdir: Path, report: Report, epochs: int, timeout: float = 120.0) -> None:
    """Resume the current run to its end and check it against the reference (the last trial's run)."""
    runs = sorted((p for p in workdir.glob("run*") if (p / "m.last.npz").exists()), key=lambda p: int(p.name[3:]))
    if not runs:
        return
    out = runs[-1] / "m.npz"
    songs = workdir / "songs"
    plant_stale_temp(out, random.Random(0))
    done = subprocess.run(command(songs, out, epochs, True), capture_output=True, text=True, timeout=timeout)
    try:
        assert done.returncode == 0, f"final resume failed: {done.stderr.strip()}"
        check_finished_run(out, workdir / "reference" / "m.npz", epochs)
        report.runs_finished += 1
    except AssertionError as exc:
        report.failures.append(f"final resume: {exc}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="kills to make (default 50)")
    parser.add_argument("--epochs", type=int, default=120, help="epochs per run (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--workdir", type=Path, help="keep the runs here (default: a temporary folder, removed)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kill-resume-"))
    try:
        report = run_trials(workdir, args.trials, args.epochs, args.seed)
        finish(workdir, report, args.epochs)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for failure in report.failures:
        print(failure)
    print(f"survived {report.survived}/{report.trials} (kills after a completed epoch: {report.kills_mid_run}; "
          f"runs finished and identical to an uninterrupted run: {report.runs_finished}; failures: "
          f"{len(report.failures)})")
    return 0 if not report.failures else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
