"""Hostile MIDI bytes: every file is ingested or skipped with a reason, in bounded time and memory.

The property test runs a bounded number of examples; ``scripts/fuzz_ingest.py``
runs the same strategy (``tests/fuzzing.py``) for many more.
"""

import math
import time
import tracemalloc
from datetime import timedelta

import numpy as np
import pytest
from fuzzing import hostile_midi, mutated, smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnrbm import midi
from rnnrbm.workers import parse_midi

OPTIONS = dict(low=60, high=95, steps_per_beat=4, out_of_range="fold", pedal=True, transpose_to_c=True,
               max_steps=200_000)
TIMEOUT = 5.0  # seconds per file; the slowest of 20,000 fuzzed files took well under one
MEMORY = 400 * 2**20  # pretty_midi's tick table at the 10 M tick limit needs about 240 MB for a moment

NOTE = b"\x90\x3c\x40"  # note-on C4; the note-off below
OFF = b"\x80\x3c\x00"


def check(path, options=OPTIONS):
    """parse_midi's result for ``path`` after asserting the contract: a sane roll or a reason, in bounds."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = parse_midi(str(path), options, timeout=TIMEOUT)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < TIMEOUT + 1 and peak < MEMORY, (elapsed, peak)
    if result.roll is None:
        assert result.reason and isinstance(result.reason, str)
        assert result.reason != "out of memory" and not result.reason.startswith("took longer"), result
    else:
        roll = result.roll
        assert roll.dtype == np.uint8 and roll.ndim == 2 and roll.shape[1] == options["high"] - options["low"] + 1
        assert 1 <= len(roll) <= options["max_steps"] and roll.max() <= 1 and roll.any()
        assert math.isfinite(result.qpm) and result.qpm > 0, result.qpm
        assert all(isinstance(c, int) and c >= 0 for c in result.counts) and sum(result.counts) > 0
    return result


@settings(max_examples=200, deadline=timedelta(seconds=TIMEOUT + 5), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_midi())
def test_hostile_files_are_ingested_or_skipped(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz.mid"
    path.write_bytes(data)
    check(path)


@settings(max_examples=40, deadline=timedelta(seconds=TIMEOUT + 5), database=None)
@given(data=st.data())
def test_mutated_real_file_is_ingested_or_skipped(tmp_path_factory, scale_bytes, data):
    """Byte-level damage to a file written by mido (a valid, ordinary file)."""
    path = tmp_path_factory.getbasetemp() / "mutated.mid"
    path.write_bytes(data.draw(mutated(scale_bytes)))
    check(path)


@pytest.fixture(scope="module")
def scale_bytes(tmp_path_factory):
    import mido

    from conftest import build_midi, note_events, pedal_events, tempo_events

    meta = [(0, mido.MetaMessage("time_signature", numerator=3, denominator=4)),
            (0, mido.MetaMessage("key_signature", key="D"))]
    path = build_midi(tmp_path_factory.mktemp("seed") / "seed.mid", [
        tempo_events([(0, 100), (3, 140)]) + meta,
        note_events([(60 + i, i / 2, i / 2 + 1) for i in range(12)]) + pedal_events([(1, 127), (4, 0)]),
        note_events([(36, 0, 1), (38, 1, 2)], channel=9)])
    return path.read_bytes()


def write(tmp_path, name, tracks, division=96):
    path = tmp_path / name
    path.write_bytes(smf(tracks, division))
    return path


def test_hostile_values_each_get_their_outcome(tmp_path):
    """The values the fuzzer aims at, one at a time, with the outcome each must have."""
    notes = [(0, NOTE), (96, OFF)]
    tempo = lambda value: (0, b"\xff\x51\x03" + value.to_bytes(3, "big"))  # noqa: E731
    cases = {
        # A note ending 94,000 quarters in: refused before any grid is built.
        "hours.mid": ([[(0, NOTE), (9_000_000, OFF)]], "too long"),
        "ticks.mid": ([[(0, NOTE), (0x0FFFFFFF, OFF)]], "absurd tick values"),
        "slowest.mid": ([[tempo(0xFFFFFF), *notes]], None),  # 16.7 s per quarter is legal
        "fastest.mid": ([[tempo(1), *notes]], None),
        "zero.mid": ([[tempo(0), *notes]], None),  # an infinite tempo: ignored
        "numerator.mid": ([[(0, b"\xff\x58\x04\x00\x02\x18\x08"), *notes]], "invalid time signature"),  # 0/4
        "signature.mid": ([[(0, b"\xff\x58\x04\xff\xff\x18\x08"), *notes]], "invalid time signature"),  # 255/2**255
        "key.mid": ([[(0, b"\xff\x59\x02\x40\x07"), *notes]], None),  # 64 sharps, mode 7: ignored
        "velocity.mid": ([[(0, b"\x90\x3c\xc8"), (96, OFF)]], None),  # data byte 200: clipped
    }
    for name, (tracks, reason) in cases.items():
        result = check(write(tmp_path, name, tracks))
        assert result.reason == (reason or ""), (name, result)
    assert "key signature" in parse_midi(str(tmp_path / "key.mid"), OPTIONS).recovered
    assert "tempo events of 0" in parse_midi(str(tmp_path / "zero.mid"), OPTIONS).recovered
    assert "clipping data bytes" in parse_midi(str(tmp_path / "velocity.mid"), OPTIONS).recovered
    assert check(tmp_path / "slowest.mid").qpm == pytest.approx(60 / 16.777215)


def test_empty_track_chunk_is_ignored(tmp_path):
    """An MTrk chunk of length 0 (pretty_midi fails on it) beside a normal track."""
    data = smf([[(0, NOTE), (96, OFF)]])
    path = tmp_path / "empty_track.mid"
    path.write_bytes(data[:11] + b"\x02" + data[12:14] + b"MTrk\x00\x00\x00\x00" + data[14:])  # 2 tracks
    assert check(path).roll.shape == (4, 36)
    (tmp_path / "no_events.mid").write_bytes(data[:14] + b"MTrk\x00\x00\x00\x00")
    assert check(tmp_path / "no_events.mid").reason == "no pitched notes"


def test_zero_time_division_and_smpte_are_refused(tmp_path):
    for division in (0, 0xE728):  # 0 ticks per beat; 25 fps SMPTE
        result = check(write(tmp_path, f"d{division}.mid", [[(0, NOTE), (96, OFF)]], division))
        assert result.reason == "unsupported time division"


def test_size_limit(tmp_path, monkeypatch):
    path = write(tmp_path, "big.mid", [[(i, NOTE if i % 2 == 0 else OFF) for i in range(400)]])
    monkeypatch.setattr(midi, "MAX_BYTES", path.stat().st_size - 1)
    result = parse_midi(str(path), OPTIONS)
    assert result.reason.startswith("larger than the ") and result.reason.endswith(" MB limit")
    monkeypatch.setattr(midi, "MAX_BYTES", path.stat().st_size)
    assert parse_midi(str(path), OPTIONS).roll is not None
