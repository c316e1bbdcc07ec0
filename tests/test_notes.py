import numpy as np
import pytest

from rnnrbm.errors import UsageError
from rnnrbm.notes import key_shift, map_pitches, note_name, note_number, parse_range


@pytest.mark.parametrize("text, number", [
    ("C4", 60), ("c4", 60), ("C#4", 61), ("Db4", 61), ("db4", 61), ("Bb3", 58), ("bb3", 58),
    ("B#3", 60), ("Cb4", 59), ("A0", 21), ("C8", 108), ("C-1", 0), ("G9", 127), ("60", 60), (60, 60),
])
def test_note_number_accepts_names_and_numbers(text, number):
    assert note_number(text) == number


@pytest.mark.parametrize("text", ["H4", "C", "C##", "60.5", "", "middle C", "-3", "G#9", "128"])
def test_note_number_rejects_unknown_notes(text):
    with pytest.raises(UsageError):
        note_number(text)


def test_note_name_round_trips_with_sharps():
    assert [note_name(n) for n in (0, 21, 60, 61, 95, 108, 127)] == ["C-1", "A0", "C4", "C#4", "B6", "C8", "G9"]
    assert all(note_number(note_name(n)) == n for n in range(128))


def test_parse_range_defaults_and_piano():
    assert parse_range() == (60, 95)
    assert parse_range("A0", "108") == (21, 108)
    assert parse_range(preset="piano") == (21, 108)
    assert parse_range(preset="Piano") == (21, 108)
    assert parse_range(high="C5") == (60, 72)


def test_parse_range_errors():
    with pytest.raises(UsageError, match="above"):
        parse_range("C5", "C4")
    with pytest.raises(UsageError, match="either --range"):
        parse_range("C4", None, "piano")
    with pytest.raises(UsageError, match="unknown range"):
        parse_range(preset="organ")


def test_fold_moves_by_fewest_octaves_keeping_pitch_class():
    pitches = np.array([48, 59, 60, 95, 96, 100, 127, 0])
    mapped, kept = map_pitches(pitches, 60, 95, "fold")
    assert kept.all()
    assert mapped.tolist() == [60, 71, 60, 95, 84, 88, 91, 60]
    assert (mapped % 12 == pitches % 12).all()


def test_drop_removes_out_of_range():
    pitches = np.array([48, 60, 95, 96])
    mapped, kept = map_pitches(pitches, 60, 95, "drop")
    assert kept.tolist() == [False, True, True, False]
    assert mapped[kept].tolist() == [60, 95]


def test_fold_into_range_narrower_than_octave_drops_missing_pitch_classes():
    # 60..65 holds C..F; A#/B have no copy in it.
    mapped, kept = map_pitches(np.array([48, 53, 70, 71, 77]), 60, 65, "fold")
    assert kept.tolist() == [True, True, False, False, True]
    assert mapped[kept].tolist() == [60, 65, 65]


def test_map_pitches_rejects_unknown_mode():
    with pytest.raises(UsageError):
        map_pitches(np.array([60]), 60, 95, "wrap")


@pytest.mark.parametrize("key_number, shift", [
    (0, 0), (2, -2), (7, 5), (6, -6), (5, -5), (11, 1),  # majors -> C
    (21, 0), (16, 5), (12, -3), (14, -5),                 # minors -> A
])
def test_key_shift_from_key_signature(key_number, shift):
    assert key_shift(np.zeros(12), key_number) == shift


def test_key_shift_estimates_key_from_histogram():
    c_major = np.array([4, 0, 2, 0, 3, 2, 0, 4, 0, 2, 0, 1], dtype=float)
    assert key_shift(c_major) == 0
    assert key_shift(np.roll(c_major, 2)) == -2   # D major
    assert key_shift(np.roll(c_major, 7)) == 5    # G major
    assert key_shift(np.zeros(12)) == 0
