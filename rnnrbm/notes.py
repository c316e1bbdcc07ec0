"""Note names, pitch ranges and the fold/drop rule for pitches outside the range.

Naming follows pretty_midi (scientific pitch notation with C4 = 60), so
``"C#4"``, ``"Db4"`` and ``"c#4"`` are all 61 and A0..C8 is the 88-key piano.
This module imports only NumPy, so the CLI can validate options cheaply.
"""

from __future__ import annotations

import re

import numpy as np

from rnnrbm.errors import UsageError

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"#": 1, "♯": 1, "b": -1, "♭": -1}
_NAME = re.compile(r"^([A-Ga-g])([#b♯♭]*)(-?\d+)$")

#: Named ranges accepted by ``--range``: (low, high), inclusive MIDI numbers.
RANGES = {"piano": (21, 108)}
DEFAULT_LOW, DEFAULT_HIGH = 60, 95  # C4..B6, 36 visible units
OUT_OF_RANGE = ("fold", "drop")

# Krumhansl-Kessler key profiles (C major and C minor), used to estimate a key.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def note_number(text: str | int) -> int:
    """MIDI number of a note name (``"C#4"``, ``"Db4"``, ``"c4"``) or a number (``"60"``).

    Raises :class:`UsageError` for anything else or a result outside 0..127.
    """
    value = str(text).strip()
    if re.fullmatch(r"\d+", value):
        number = int(value)
    else:
        match = _NAME.match(value)
        if match is None:
            raise UsageError(
                f"unknown note {text!r}: use a name like C4, F#3, Bb5 (C4 = 60) or a MIDI number 0-127"
            )
        letter, accidentals, octave = match.groups()
        shift = sum(_ACCIDENTAL[a] for a in accidentals)
        number = 12 * (int(octave) + 1) + _LETTER[letter.upper()] + shift
    if not 0 <= number <= 127:
        raise UsageError(f"note {text!r} is MIDI number {number}, outside 0-127")
    return number


def note_name(number: int) -> str:
    """Name of a MIDI number with sharps, e.g. ``61 -> "C#4"``."""
    return f"{PITCH_CLASSES[number % 12]}{number // 12 - 1}"


def parse_range(low: str | int | None = None, high: str | int | None = None,
                preset: str | None = None) -> tuple[int, int]:
    """Resolve ``--low``/``--high``/``--range`` into an inclusive (low, high) MIDI range.

    ``preset`` (e.g. ``"piano"``) excludes explicit bounds; missing bounds default to C4..B6.
    """
    if preset is not None:
        if low is not None or high is not None:
            raise UsageError("give either --range or --low/--high, not both")
        key = preset.strip().lower()
        if key not in RANGES:
            raise UsageError(f"unknown range {preset!r}; known ranges: {', '.join(RANGES)}")
        return RANGES[key]
    lo = DEFAULT_LOW if low is None else note_number(low)
    hi = DEFAULT_HIGH if high is None else note_number(high)
    check_range(lo, hi)
    return lo, hi


def check_range(low: int, high: int) -> None:
    """Raise :class:`UsageError` unless ``0 <= low <= high <= 127``."""
    if not (0 <= low <= 127 and 0 <= high <= 127):
        raise UsageError(f"pitch range {low}..{high} must lie within MIDI 0-127")
    if low > high:
        raise UsageError(
            f"low note {note_name(low)} ({low}) is above high note {note_name(high)} ({high}); swap them"
        )


def map_pitches(pitches: np.ndarray, low: int, high: int, out_of_range: str = "fold"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Bring pitches into ``[low, high]`` by octave folding, or mark them dropped.

    Parameters
    ----------
    pitches : (n,) int array of MIDI numbers.
    low, high : inclusive range.
    out_of_range : ``"fold"`` moves a pitch by whole octaves into the range
        (keeping its pitch class); ``"drop"`` removes it. A fold is impossible
        when the range is narrower than an octave and lacks the pitch class;
        such pitches are dropped too.

    Returns
    -------
    mapped : (n,) int64 array, the new pitches (meaningless where not kept).
    kept : (n,) bool array, False for dropped pitches.
    """
    if out_of_range not in OUT_OF_RANGE:
        raise UsageError(f"--out-of-range must be one of {', '.join(OUT_OF_RANGE)}, not {out_of_range!r}")
    p = np.asarray(pitches, dtype=np.int64)
    if out_of_range == "drop":
        return p.copy(), (p >= low) & (p <= high)
    # Move by the fewest octaves: low notes up to the first copy >= low, high
    # notes down to the first copy <= high; the copy must also fit the other end.
    up = low + (p - low) % 12
    down = high - (high - p) % 12
    mapped = np.where(p < low, up, np.where(p > high, down, p))
    return mapped, (mapped >= low) & (mapped <= high)


def key_shift(histogram: np.ndarray, key_number: int | None = None) -> int:
    """Semitone shift (-6..+5) that moves a piece to C major / A minor.

    Parameters
    ----------
    histogram : (12,) duration-weighted pitch-class histogram (C first); used
        for a Krumhansl-Schmuckler estimate when ``key_number`` is None.
    key_number : pretty_midi key number (0-11 major tonic, 12-23 minor tonic).
    """
    if key_number is None:
        h = np.asarray(histogram, dtype=float)
        if not h.any():
            return 0
        scores = [np.corrcoef(h, np.roll(profile, tonic))[0, 1]
                  for profile in (_MAJOR, _MINOR) for tonic in range(12)]
        key_number = int(np.nanargmax(scores))
    tonic, minor = key_number % 12, key_number >= 12
    target = 9 if minor else 0
    return (target - tonic + 6) % 12 - 6
