"""Ingest a folder of many small MIDI files: files/s, progress and peak memory.

Writes N (default 10,000) small, varied MIDI files (16-64 notes, melody and
chords, 480 ticks per quarter, random tempo) into a temporary folder tree of
1,000 files per subfolder, then ingests it with :func:`rnnrbm.ingest.ingest`
once per ``--jobs`` value, each run in a fresh process so that its peak RSS
(``ru_maxrss``; worker processes counted separately) is its own.

    python scripts/bench_ingest_scale.py                 # 10,000 files, --jobs 1 and 2
    python scripts/bench_ingest_scale.py --files 2000 --jobs 1
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mido.midifiles.meta import encode_variable_int

TPB = 480


def small_midi(rng: random.Random) -> bytes:
    """A type-0 file: tempo, then 16-64 notes (a melody over held chords)."""
    events = [(0, b"\xff\x51\x03" + round(60e6 / rng.uniform(60, 180)).to_bytes(3, "big"))]
    beat = 0
    for _ in range(rng.randint(8, 32)):
        length = rng.choice([1, 1, 2]) * TPB // rng.choice([1, 2])
        root = rng.randint(48, 60)
        for pitch in (root, root + 4, root + 7):  # a chord
            events += [(beat, bytes([0x90, pitch, 70])), (beat + length, bytes([0x80, pitch, 0]))]
        pitch = rng.randint(64, 84)  # the melody note
        events += [(beat, bytes([0x90, pitch, 90])), (beat + length, bytes([0x80, pitch, 0]))]
        beat += length
    body, now = b"", 0
    for tick, event in sorted(events, key=lambda e: (e[0], e[1][0] == 0x90)):
        body += bytes(encode_variable_int(tick - now)) + event
        now = tick
    body += b"\x00\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01" + TPB.to_bytes(2, "big")
    return header + b"MTrk" + len(body).to_bytes(4, "big") + body


def write_files(root: Path, n: int) -> int:
    rng = random.Random(0)
    total = 0
    for i in range(n):
        folder = root / f"part{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = small_midi(rng)
        (folder / f"song{i:05d}.mid").write_bytes(data)
        total += len(data)
    return total


def child(root: Path, jobs: int) -> None:
    """One measured run; prints a JSON line."""
    from rnnrbm.ingest import ingest

    calls, gaps, last = 0, [], None

    def progress(name, status, done, total):
        nonlocal calls, last
        now = time.perf_counter()
        if last is not None:
            gaps.append(now - last)
        calls, last = calls + 1, now

    start = time.perf_counter()
    corpus, report = ingest([root], jobs=jobs, progress=progress)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "jobs": jobs, "files": report.files, "ingested": report.used, "skipped": report.n_skipped,
        "steps": report.steps, "seconds": seconds, "progress_calls": calls,
        "longest_gap": max(gaps, default=0.0), "corpus_mb": corpus.rolls.nbytes / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="how many MIDI files (default 10000)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values (default 1,2)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, int(args.jobs))
        return 0

    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        start = time.perf_counter()
        size = write_files(root, args.files)
        print(f"wrote {args.files} files ({size / 2**20:.1f} MB) in {time.perf_counter() - start:.1f} s")
        print(f"{'jobs':>4} {'files':>6} {'ingested':>8} {'skipped':>7} {'seconds':>8} {'files/s':>8} "
              f"{'progress calls':>14} {'longest gap s':>13} {'peak RSS MB':>11} {'worker RSS MB':>13}")
        for jobs in map(int, args.jobs.split(",")):
            out = subprocess.run([sys.executable, __file__, "--child", str(root), "--jobs", str(jobs)],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            workers = f"{r['worker_peak_rss_mb']:.0f}" if jobs > 1 else "-"
            print(f"{jobs:>4} {r['files']:>6} {r['ingested']:>8} {r['skipped']:>7} {r['seconds']:>8.1f} "
                  f"{r['files'] / r['seconds']:>8.0f} {r['progress_calls']:>14} {r['longest_gap']:>13.2f} "
                  f"{r['peak_rss_mb']:>11.0f} {workers:>13}")
        print(f"(corpus: {r['steps']} steps, {r['corpus_mb']:.1f} MB of rolls)")
    finally:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
