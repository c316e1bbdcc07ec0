"""MIDI files <-> binary piano rolls on a beat-synchronous grid.

Reading: mido parses the bytes (retrying with ``clip=True`` to recover data
bytes > 127), pretty_midi finds the notes, and :func:`beat_grid` splits every
beat of ``PrettyMIDI.get_beats()`` into ``steps_per_beat`` steps of equal
length in ticks, so tempo changes (even inside a beat) keep notes on the grid.
A beat follows the time signature the way pretty_midi defines it: a quarter in
4/4 and 3/4, an eighth in 3/8, a dotted quarter in 6/8 (use 3 or 6 steps per
beat to put 6/8 eighths on the grid). The grid starts at time 0 and the roll
ends with the last kept note.

Grid rule, with positions measured in steps (fractional inside a step):
a note ``[start, end)`` occupies steps ``floor(pos(start) + SNAP)`` up to
``ceil(pos(end) - SNAP)`` (exclusive), and always at least its start step.
``SNAP`` = 1/8 step absorbs tick rounding: a note starting a hair before a
grid line starts on it, and a note ending a hair after one does not bleed into
the next step, while a 32nd note inside a 16th step still shows up.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import pretty_midi
from mido.midifiles.meta import KeySignatureError

from rnnrbm.corpus import atomic_write
from rnnrbm.errors import RnnrbmError
from rnnrbm.notes import key_shift, map_pitches
from rnnrbm.paths import cannot_read

SNAP = 0.125  # tolerance in steps, see the module docstring
MAX_TICK = 10_000_000  # pretty_midi allocates one float per tick up to the last event
MAX_BYTES = 16 * 2**20  # over a million notes: gigabytes as mido and pretty_midi objects, minutes to parse
PEDAL_CC = 64


class UnreadableMidi(RnnrbmError):
    """A MIDI file that yields no usable music; ``reason`` is short, for grouping."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass
class MidiRoll:
    """One file as a piano roll plus what happened on the way.

    ``roll`` is (T, high - low + 1) uint8; ``qpm`` is grid beats per minute
    (the tempo that plays the roll back at the piece's own speed).
    """

    roll: np.ndarray
    qpm: float
    kept: int
    folded: int
    dropped: int
    recovered: str = ""


def read_midi(source: Path | bytes) -> tuple[pretty_midi.PrettyMIDI, str]:
    """Parse a MIDI file, recovering what mido can; return it and a recovery note ("" if clean).

    Raises :class:`UnreadableMidi` when nothing sensible can be read.
    """
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else _read_file(Path(source))
    if not data:
        raise UnreadableMidi("empty file")
    if len(data) > MAX_BYTES:
        raise _too_large(len(data))
    midi, recovered = _parse(data)
    if not 1 <= midi.ticks_per_beat < 0x8000:
        raise UnreadableMidi("unsupported time division", f"ticks_per_beat={midi.ticks_per_beat}")
    midi.tracks = [track for track in midi.tracks if track]  # pretty_midi fails on an empty track chunk
    if not midi.tracks:
        raise UnreadableMidi("no pitched notes", "no events at all")
    last_tick = max(sum(msg.time for msg in track) for track in midi.tracks)
    if last_tick > MAX_TICK:
        raise UnreadableMidi("absurd tick values", f"last event at tick {last_tick}")
    for msg in (m for track in midi.tracks for m in track if m.type == "time_signature"):
        # A beat of a 2**-255 note would put absurdly many steps in a bar.
        if msg.numerator < 1 or not 1 <= msg.denominator <= 128:
            raise UnreadableMidi("invalid time signature", f"{msg.numerator}/{msg.denominator}")
    if _drop_zero_tempos(midi):
        recovered = "; ".join(filter(None, [recovered, "recovered by ignoring tempo events of 0 µs per beat"]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. tempo events outside track 0
            parsed = pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception as exc:  # pretty_midi fails in many ways on odd files
        raise UnreadableMidi("cannot parse", f"{type(exc).__name__}: {exc}") from None
    return parsed, recovered


def _drop_zero_tempos(midi: mido.MidiFile) -> bool:
    """Remove set_tempo events of 0 (an infinite tempo pretty_midi divides by); True if any were found."""
    found = False
    for track in midi.tracks:
        if not any(m.type == "set_tempo" and m.tempo == 0 for m in track):
            continue
        found, kept, carry = True, [], 0
        for msg in track:
            if msg.type == "set_tempo" and msg.tempo == 0:
                carry += msg.time  # keep the following events at their ticks
                continue
            kept.append(msg.copy(time=msg.time + carry) if carry else msg)
            carry = 0
        track[:] = kept
    return found


def _too_large(size: int) -> UnreadableMidi:
    return UnreadableMidi(f"larger than the {MAX_BYTES / 2**20:g} MB limit", f"{size / 2**20:.1f} MB")


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_BYTES`.

    O_NONBLOCK: opening a FIFO named like a MIDI file must not wait for a writer.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UnreadableMidi("not a regular file", "a folder" if stat.S_ISDIR(info.st_mode)
                                     else "a FIFO, socket or device")
            if info.st_size > MAX_BYTES:
                raise _too_large(info.st_size)
            return handle.read(MAX_BYTES + 1)  # + 1: a file that grew since fstat still fails
    except OSError as exc:
        raise UnreadableMidi(*cannot_read("file", exc)) from None


def _parse(data: bytes) -> tuple[mido.MidiFile, str]:
    """mido's parse of ``data``, retried with fixes for the damage found in files in the wild.

    Data bytes > 127 are clipped into range (``clip=True``); key signatures that
    mido cannot name (more than 7 sharps or flats, or a mode other than 0/1) are
    blanked, as only ``--transpose-to-c`` would read them.
    """
    clip, fixes = False, []
    while True:
        try:
            return mido.MidiFile(file=io.BytesIO(data), clip=clip), "; ".join(fixes)
        except EOFError:
            raise UnreadableMidi("truncated") from None
        except KeySignatureError as exc:
            blanked = _BAD_KEY.sub(_blank_key, data)
            if blanked == data:
                raise UnreadableMidi("cannot parse", f"KeySignatureError: {exc}") from None
            data = blanked
            fixes.append(f"recovered by ignoring an invalid key signature ({exc})")
        except Exception as exc:
            if "MThd" in str(exc):
                raise UnreadableMidi("not a MIDI file") from None
            if clip:
                raise UnreadableMidi("cannot parse", f"{type(exc).__name__}: {exc}") from None
            clip = True
            fixes.append(f"recovered by clipping data bytes ({exc})")


_BAD_KEY = re.compile(rb"\xff\x59\x02(..)", re.DOTALL)  # key signature meta event: sharps/flats, mode


def _blank_key(match: re.Match) -> bytes:
    sharps, mode = match.group(1)
    if -7 <= (sharps ^ 0x80) - 0x80 <= 7 and mode in (0, 1):
        return match.group(0)
    return b"\xff\x7f\x02" + match.group(1)  # the same bytes as a sequencer-specific event: ignored


def sustained_notes(instrument: pretty_midi.Instrument, pedal: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Note starts, ends (seconds) and pitches, with the sustain pedal applied.

    While CC64 >= 64, a note released during the pedal rings until the pedal
    goes up or the same pitch is struck again, whichever comes first.

    Returns
    -------
    starts, ends : (n,) float arrays.  pitches : (n,) int64 array.
    """
    notes = sorted(instrument.notes, key=lambda n: (n.pitch, n.start))
    starts = np.array([n.start for n in notes], dtype=float)
    ends = np.array([n.end for n in notes], dtype=float)
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    downs, ups = _pedal_intervals(instrument.control_changes if pedal else [], ends.max(initial=0.0))
    if len(downs) and len(notes):
        k = np.searchsorted(downs, ends, side="right") - 1
        up = ups[np.maximum(k, 0)]
        held = np.where((k >= 0) & (ends < up), up, ends)
        # The next strike of the same pitch cuts the ringing note short.
        same = np.append(pitches[1:] == pitches[:-1], False)
        next_start = np.where(same, np.append(starts[1:], np.inf), np.inf)
        ends = np.maximum(ends, np.minimum(held, next_start))
    return starts, ends, pitches


def _pedal_intervals(changes, piece_end: float) -> tuple[np.ndarray, np.ndarray]:
    """(downs, ups): (k,) float arrays of CC64 press and release times.

    A pedal never lifted lasts to ``piece_end``.
    """
    downs, ups, down = [], [], None
    for cc in sorted((c for c in changes if c.number == PEDAL_CC), key=lambda c: c.time):
        if cc.value >= 64 and down is None:
            down = cc.time
        elif cc.value < 64 and down is not None:
            downs.append(down)
            ups.append(cc.time)
            down = None
    if down is not None and down < piece_end:
        downs.append(down)
        ups.append(piece_end)
    return np.array(downs, dtype=float), np.array(ups, dtype=float)


def tempo_map(midi: pretty_midi.PrettyMIDI) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-linear seconds <-> ticks map: segment start times, their ticks, ticks per second.

    Returns three (k,) float arrays, one entry per tempo change.
    """
    times, qpm = midi.get_tempo_changes()
    rates = qpm * midi.resolution / 60.0
    ticks = np.concatenate([[0.0], np.cumsum(np.diff(times) * rates[:-1])])
    return times, ticks, rates


def to_ticks(seconds: np.ndarray, tmap) -> np.ndarray:
    """Fractional tick of each time in seconds, through :func:`tempo_map` ``tmap``."""
    times, ticks, rates = tmap
    i = np.maximum(np.searchsorted(times, seconds, side="right") - 1, 0)
    return ticks[i] + (seconds - times[i]) * rates[i]


def to_seconds(tick: np.ndarray, tmap) -> np.ndarray:
    """Inverse of :func:`to_ticks`."""
    times, ticks, rates = tmap
    i = np.maximum(np.searchsorted(ticks, tick, side="right") - 1, 0)
    return times[i] + (tick - ticks[i]) / rates[i]


def beat_grid(midi: pretty_midi.PrettyMIDI, steps_per_beat: int, end: float) -> np.ndarray:
    """Step boundaries in (fractional) ticks, from 0 to at least one beat past ``end`` seconds.

    Beats come from ``get_beats()``; each beat is split into equal steps in
    ticks (musical time), so a tempo change inside a beat moves no sub-beat
    note off the grid. Returns an increasing (n + 1,) array: step i is ``[g[i], g[i + 1])``.
    """
    # get_beats() walks beats up to get_end_time(); bound it by the last note so
    # stray late events (lyrics, controllers, drums) don't stretch the walk.
    midi.get_end_time = lambda: end
    tmap = tempo_map(midi)
    beats = np.unique(to_ticks(midi.get_beats(), tmap))
    sig = midi.time_signature_changes[-1] if midi.time_signature_changes else None
    per_quarter = pretty_midi.qpm_to_bpm(60.0, sig.numerator, sig.denominator) / 60.0 if sig else 1.0
    period = midi.resolution / per_quarter
    extra = int(np.ceil((to_ticks(end, tmap) - beats[-1]) / period)) + 1
    beats = np.concatenate([beats, beats[-1] + period * np.arange(1, extra + 1)])
    frac = np.arange(steps_per_beat) / steps_per_beat
    steps = beats[:-1, None] + np.diff(beats)[:, None] * frac
    return np.append(steps.ravel(), beats[-1])


def grid_position(grid: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Fractional step index of each tick: ``i + (t - g[i]) / (g[i+1] - g[i])``."""
    i = np.clip(np.searchsorted(grid, ticks, side="right") - 1, 0, len(grid) - 2)
    return i + (ticks - grid[i]) / (grid[i + 1] - grid[i])


def midi_to_roll(source: Path | bytes, *, low: int = 60, high: int = 95, steps_per_beat: int = 4,
                 out_of_range: str = "fold", pedal: bool = True, transpose_to_c: bool = False,
                 max_steps: int = 200_000) -> MidiRoll:
    """Read one MIDI file into a binary piano roll (see the module docstring for the grid).

    Drum tracks are ignored and all other instruments are merged. Raises
    :class:`UnreadableMidi` (with a short ``reason``) when the file yields nothing usable.
    """
    midi, recovered = read_midi(source)
    pitched = [inst for inst in midi.instruments if not inst.is_drum and inst.notes]
    if not pitched:
        drums = any(inst.is_drum and inst.notes for inst in midi.instruments)
        raise UnreadableMidi("drums only" if drums else "no pitched notes")
    parts = [sustained_notes(inst, pedal) for inst in pitched]
    starts, ends, pitches = (np.concatenate(column) for column in zip(*parts))
    if transpose_to_c:
        keys = midi.key_signature_changes
        hist = np.bincount(pitches % 12, weights=ends - starts, minlength=12)
        pitches = pitches + key_shift(hist, keys[0].key_number if keys else None)
    mapped, kept = map_pitches(pitches, low, high, out_of_range)
    if not kept.any():
        raise UnreadableMidi("no notes in range", f"{low}-{high}")

    # The roll ends with the last kept note: check its length before building the grid.
    end = float(ends[kept].max())
    tmap = tempo_map(midi)
    quarters = to_ticks(end, tmap) / midi.resolution
    widest = max([s.denominator / 4 for s in midi.time_signature_changes] + [1.0])
    if quarters * widest * steps_per_beat > max_steps:
        raise UnreadableMidi("too long", f"more than {max_steps} steps")
    grid = beat_grid(midi, steps_per_beat, end)
    first = np.floor(grid_position(grid, to_ticks(starts[kept], tmap)) + SNAP).astype(np.int64)
    last = np.maximum(np.ceil(grid_position(grid, to_ticks(ends[kept], tmap)) - SNAP).astype(np.int64), first + 1)
    n_steps = int(last.max())
    if n_steps > max_steps:
        raise UnreadableMidi("too long", f"more than {max_steps} steps")
    roll = _fill(first, last, mapped[kept] - low, n_steps, high - low + 1)
    qpm = 60.0 * n_steps / steps_per_beat / float(to_seconds(grid[n_steps], tmap))
    return MidiRoll(roll, float(qpm), int((kept & (mapped == pitches)).sum()),
                    int((kept & (mapped != pitches)).sum()), int((~kept).sum()), recovered)


def _fill(first: np.ndarray, last: np.ndarray, columns: np.ndarray, n_steps: int,
          n_visible: int) -> np.ndarray:
    """(n_steps, n_visible) uint8 roll with column c on in steps [first, last) of each note."""
    edges = np.zeros((n_steps + 1, n_visible), dtype=np.int32)
    np.add.at(edges, (first, columns), 1)
    np.add.at(edges, (last, columns), -1)
    return (np.cumsum(edges[:-1], axis=0) > 0).astype(np.uint8)


def roll_to_midi(roll: np.ndarray, low: int, *, qpm: float = 100.0, program: int = 0,
                 velocity: int = 80, steps_per_beat: int = 4) -> pretty_midi.PrettyMIDI:
    """A one-instrument MIDI file playing a (T, n_visible) binary roll.

    Column j is MIDI pitch ``low + j``; a run of on-steps becomes one held note.
    A beat is a quarter note at ``qpm``. Reading the result back with the same
    low/high/steps_per_beat gives the same roll (trailing silent steps aside:
    a MIDI file ends with its last note).
    """
    roll = np.asarray(roll)
    if roll.ndim != 2:
        raise RnnrbmError(f"a piano roll must be 2-D (steps, pitches), got shape {roll.shape}")
    if not 0 <= low <= 127 - roll.shape[1] + 1:
        raise RnnrbmError(f"pitches {low}..{low + roll.shape[1] - 1} do not fit MIDI 0-127")
    if not (1 <= velocity <= 127 and 0 <= program <= 127):
        raise RnnrbmError(f"velocity must be 1-127 and program 0-127 (got {velocity}, {program})")
    if not 4.0 <= qpm <= 1000.0 or not 1 <= steps_per_beat <= 96:
        raise RnnrbmError(f"tempo must be 4-1000 qpm and steps per beat 1-96 (got {qpm}, {steps_per_beat})")
    # 120 ticks per step keeps every step boundary on an exact tick.
    midi = pretty_midi.PrettyMIDI(resolution=120 * steps_per_beat, initial_tempo=qpm)
    instrument = pretty_midi.Instrument(program=program)
    step = 60.0 / qpm / steps_per_beat
    on = np.pad(roll != 0, ((1, 1), (0, 0)))
    change = np.diff(on.astype(np.int8), axis=0)  # +1 where a run starts, -1 after it ends
    for column in range(roll.shape[1]):
        starts, = np.nonzero(change[:, column] == 1)
        stops, = np.nonzero(change[:, column] == -1)
        instrument.notes.extend(pretty_midi.Note(velocity, low + column, s * step, e * step)
                                for s, e in zip(starts, stops))
    instrument.notes.sort(key=lambda n: (n.start, n.pitch))
    midi.instruments.append(instrument)
    return midi


def write_midi(roll: np.ndarray, path: Path, low: int, **options) -> Path:
    """Write :func:`roll_to_midi` output to ``path`` atomically; options as there."""
    midi = roll_to_midi(roll, low, **options)
    return atomic_write(Path(path), midi.write)
