"""Shared test helpers: hand-built MIDI files and the shared data folder."""

from __future__ import annotations

import signal
from pathlib import Path

import mido
import numpy as np
import pytest

@pytest.fixture(autouse=True, scope="session")
def interruptible_children():
    """Let the Ctrl-C tests' commands be interrupted even when the suite runs in the background.

    A shell starts ``cmd &`` with SIGINT ignored, the commands the tests start inherit that,
    and Python then installs no KeyboardInterrupt handler: SIGINT would do nothing. A Python
    handler here is reset to the default on exec, so the children get theirs.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


#: ../shared/data next to the repository (never copied into it).
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TPB = 96  # ticks per quarter in the hand-built files: 24 ticks per 16th step


def needs_shared(*parts: str):
    """Mark a test as ``shared`` and skip it when ``SHARED / parts`` is absent."""
    path = SHARED.joinpath(*parts)

    def decorate(test):
        return pytest.mark.shared(pytest.mark.skipif(not path.exists(), reason=f"{path} is absent")(test))

    return decorate


def note_events(notes, channel: int = 0, tpb: int = TPB) -> list[tuple[int, mido.Message]]:
    """(absolute tick, message) pairs for ``notes`` = [(pitch, start_beat, end_beat), ...]."""
    events = []
    for pitch, start, end in notes:
        events.append((round(start * tpb), mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
        events.append((round(end * tpb), mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
    return events


def pedal_events(changes, channel: int = 0, tpb: int = TPB) -> list[tuple[int, mido.Message]]:
    """CC64 events for ``changes`` = [(beat, value), ...]."""
    return [(round(beat * tpb), mido.Message("control_change", channel=channel, control=64, value=value))
            for beat, value in changes]


def tempo_events(changes, tpb: int = TPB) -> list[tuple[int, mido.MetaMessage]]:
    """set_tempo events for ``changes`` = [(beat, qpm), ...]."""
    return [(round(beat * tpb), mido.MetaMessage("set_tempo", tempo=round(mido.bpm2tempo(qpm))))
            for beat, qpm in changes]


def build_midi(path: Path, tracks, tpb: int = TPB, type: int = 1) -> Path:
    """Write tracks of (absolute tick, message) pairs as a MIDI file (type 0 merges them)."""
    if type == 0:
        tracks = [[event for track in tracks for event in track]]
    midi = mido.MidiFile(type=type, ticks_per_beat=tpb)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        # Stable sort: at equal ticks, note-offs written first stay first.
        for tick, message in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    midi.save(path)
    return path


CHORDS = [[60, 64, 67], [65, 69, 72], [67, 71, 74], [57, 60, 64]]  # I IV V vi in C


def write_chord_songs(folder: Path, n: int) -> Path:
    """``n`` 32-step songs (4 steps per beat) cycling through :data:`CHORDS`, each from another chord."""
    from rnnrbm.midi import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        roll = np.zeros((32, 36), np.uint8)
        for t in range(32):
            roll[t, np.array(CHORDS[(t // 4 + i) % 4]) - 60] = 1
        write_midi(roll, folder / f"song{i}.mid", low=60, steps_per_beat=4)
    return folder


def expected_roll(steps: int, notes, low: int = 60, n_visible: int = 36) -> np.ndarray:
    """A (steps, n_visible) roll with ``notes`` = [(pitch, first_step, stop_step), ...] on."""
    roll = np.zeros((steps, n_visible), np.uint8)
    for pitch, first, stop in notes:
        roll[first:stop, pitch - low] = 1
    return roll


@pytest.fixture
def make_midi(tmp_path):
    """Factory: ``make_midi(name, notes, tempo=120, meta=(), extra=(), type=1)`` -> path.

    Track 0 holds the tempo (and ``meta`` events), track 1 the piano ``notes``,
    ``extra`` adds more tracks of (tick, message) pairs.
    """
    def make(name, notes=(), tempo=120, meta=(), extra=(), type=1, tpb=TPB):
        conductor = tempo_events([(0, tempo)], tpb) + list(meta)
        return build_midi(tmp_path / name, [conductor, note_events(notes, tpb=tpb), *extra], tpb, type)

    return make


@pytest.fixture
def scale_file(make_midi):
    """C major scale C4..C5, one quarter note each, at 120 qpm."""
    pitches = [60, 62, 64, 65, 67, 69, 71, 72]
    return make_midi("scale.mid", [(p, i, i + 1) for i, p in enumerate(pitches)])
