"""Many files: memory grows with the rolls kept, progress is reported per file as it is parsed,
and Ctrl-C stops ``rnnrbm ingest`` cleanly (exit 130, one line, no output file) with --jobs 1 and 2."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest
from conftest import build_midi, note_events

from rnnrbm import workers
from rnnrbm.ingest import ingest
from rnnrbm.midi import read_midi


@pytest.fixture(scope="module")
def tune_bytes(tmp_path_factory):
    """Eight quarter notes at 480 ticks per quarter, a common resolution."""
    path = tmp_path_factory.mktemp("tune") / "tune.mid"
    return build_midi(path, [note_events([(60 + i, i, i + 1) for i in range(8)], tpb=480)], tpb=480).read_bytes()


def folder_of(path, n, data):
    path.mkdir()
    for i in range(n):
        (path / f"t{i:05d}.mid").write_bytes(data)
    return path


def traced(call, peak=True):
    """Bytes allocated by ``call()``: at the peak, or still held at the end (``peak=False``)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1 if peak else 0]
    finally:
        tracemalloc.stop()


def test_memory_grows_with_rolls_not_with_parsed_files(tmp_path, tune_bytes):
    """Ingesting 800 files instead of 100 adds far less per file than one parsed file weighs."""
    small = folder_of(tmp_path / "small", 100, tune_bytes)
    large = folder_of(tmp_path / "large", 800, tune_bytes)
    ingest([small])  # warm-up: lazy imports and caches are not per-file costs
    per_file = (traced(lambda: ingest([large])) - traced(lambda: ingest([small]))) / 700
    held = []  # what keeping each parsed file would cost (about 35 kB, mostly pretty_midi's tick table)
    parsed = traced(lambda: held.extend(read_midi(large / f"t{i:05d}.mid")[0] for i in range(50)), peak=False) / 50
    roll = 32 * 36  # bytes of one roll: 32 steps of 36 pitches
    assert per_file < parsed / 4, (per_file, parsed)
    assert per_file < 4 * roll, (per_file, roll)  # the roll, its copy in the corpus, a name and a split


def test_progress_is_reported_as_each_file_is_parsed(tmp_path, tune_bytes, monkeypatch):
    folder = folder_of(tmp_path / "in", 30, tune_bytes)
    events = []
    real = workers.midi_to_roll

    def parse(path, **options):
        events.append(("parse", path.name))
        return real(path, **options)

    monkeypatch.setattr(workers, "midi_to_roll", parse)
    ingest([folder], progress=lambda name, status, done, total: events.append(("progress", name, done, total)))
    names = [f"t{i:05d}.mid" for i in range(30)]
    assert events == [e for i, name in enumerate(names) for e in (("parse", name), ("progress", name, i + 1, 30))]


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_exits_130_without_output(tmp_path, tune_bytes, jobs):
    """Ctrl-C in a terminal reaches the whole process group: the command and its workers."""
    folder = folder_of(tmp_path / "in", 3000, tune_bytes)
    out = tmp_path / "out" / "corpus.npz"
    # TTY_COMPATIBLE: rich draws its live progress bar into the pipe as into a terminal.
    process = subprocess.Popen([sys.executable, "-m", "rnnrbm", "ingest", str(folder), "-o", str(out),
                                "--jobs", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env={**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "120"})
    stderr = bytearray()
    reader = threading.Thread(target=lambda: [stderr.extend(chunk) for chunk in iter(
        lambda: process.stderr.read1(4096), b"")], daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    counts = set()
    while len(counts) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the bar has moved twice: files are being read
        counts = {int(c) for c in re.findall(rb"(\d+)/3000", bytes(stderr)) if int(c) > 0}
    assert len(counts) >= 3, bytes(stderr)[-2000:]
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:  # a failed test leaves no workers behind
            os.killpg(process.pid, signal.SIGKILL)
    reader.join(timeout=10)
    text = bytes(stderr).decode("utf-8", "replace")
    assert process.returncode == 130, text[-2000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    errors = [line for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).splitlines() if "error:" in line]
    assert errors == [f"error: interrupted: {out} was not written"]
    assert min(counts) < 3000 and list(out.parent.iterdir()) == []  # no output, no temp file
