"""Music statistics on hand-built rolls with known answers."""

import numpy as np
import pytest

from rnnrbm import stats


def roll_of(steps, low=60, width=24):
    """A roll with the MIDI pitches of ``steps`` (a list of lists) on."""
    roll = np.zeros((len(steps), width), np.uint8)
    for t, pitches in enumerate(steps):
        roll[t, np.array(pitches, int) - low] = 1
    return roll


C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def test_js_distance_known_values():
    p = np.array([1.0, 2.0, 3.0, 0.0])
    assert stats.js_distance(p, 2 * p) == 0.0                       # identical after normalising
    assert stats.js_distance([1, 0, 0], [0, 1, 1]) == pytest.approx(1.0)  # disjoint
    a, b = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    # JS divergence of these two is 0.5 bit: sqrt gives the distance
    assert stats.js_distance(a, b) == pytest.approx(np.sqrt(0.5))
    assert stats.js_distance(a, b) == stats.js_distance(b, a)
    assert np.isnan(stats.js_distance([0, 0], [1, 0]))


def test_entropy_known_values():
    assert stats.entropy_bits(np.ones(12)) == pytest.approx(np.log2(12))
    assert stats.entropy_bits([0, 0, 5, 0]) == 0.0
    assert stats.entropy_bits([1, 1, 0, 0]) == pytest.approx(1.0)


def test_scale_consistency_of_scales():
    assert stats.scale_consistency([roll_of([[p] for p in C_MAJOR])], low=60) == 1.0
    f_sharp_major = [66, 68, 70, 71, 73, 75, 77]
    assert stats.scale_consistency([roll_of([[p] for p in f_sharp_major])], low=60) == 1.0
    a_harmonic_minor = [69, 71, 72, 74, 76, 77, 80]  # G# is outside A natural minor / C major
    assert stats.scale_consistency([roll_of([[p] for p in a_harmonic_minor])], low=60) == pytest.approx(6 / 7)
    chromatic = roll_of([[60 + i] for i in range(12)])
    assert stats.scale_consistency([chromatic], low=60) == pytest.approx(7 / 12)


def test_scale_consistency_is_per_piece_then_averaged():
    c_major = roll_of([[p] for p in C_MAJOR])
    d_flat_major = roll_of([[p + 1] for p in C_MAJOR])
    # each piece is perfectly in its own key; pooled they would not be
    assert stats.scale_consistency([c_major, d_flat_major], low=60) == 1.0
    assert stats.scale_consistency([c_major, np.zeros((4, 24))], low=60) == 1.0  # silent pieces skipped
    assert np.isnan(stats.scale_consistency([np.zeros((4, 24))], low=60))


def test_best_key_names_the_key():
    name, rate = stats.best_key(stats.pitch_class_counts([roll_of([[p + 2] for p in C_MAJOR])], low=60))
    assert (name, rate) in (("D major", 1.0), ("B minor", 1.0))


def test_pitch_classes_follow_low():
    # column 0 is A0 (MIDI 21) with low=21: pitch class 9
    roll = np.zeros((3, 88), np.uint8)
    roll[:, 0] = 1
    roll[0, 3] = 1  # C1
    counts = stats.pitch_class_counts([roll], low=21)
    assert counts[9] == 3 and counts[0] == 1 and counts.sum() == 4


def test_polyphony_statistics():
    roll = roll_of([[], [60], [60, 64], [60, 64, 67], [], [60, 64, 67, 72]])
    counts = stats.notes_per_step([roll, roll_of([[62]])])
    assert counts.tolist() == [0, 1, 2, 3, 0, 4, 1]
    assert stats.silence_rate(counts) == pytest.approx(2 / 7)
    assert stats.rate_above(counts, 2.5) == pytest.approx(2 / 7)
    assert stats.polyphony_distribution(counts).tolist() == pytest.approx([2 / 7, 2 / 7, 1 / 7, 1 / 7, 1 / 7])
    assert stats.polyphony_percentile(np.arange(101), 99) == 99.0


def test_roll_statistics_against_a_reference():
    data = [roll_of([[60, 64, 67]] * 99 + [[60, 64, 67, 72]])]
    ref = stats.roll_statistics(data, low=60)
    assert ref["notes_per_step_mean"] == pytest.approx(3.01)
    assert ref["pitch_class_js"] == 0.0 and ref["notes_per_step_js"] == 0.0
    assert ref["above_p99_rate"] <= 0.01
    assert ref["scale_consistency"] == 1.0
    samples = [roll_of([[61, 66, 68, 70, 73]] * 10 + [[]] * 10)]
    got = stats.roll_statistics(samples, low=60, reference=ref)
    assert got["above_p99_threshold"] == ref["polyphony_p99"]
    assert got["above_p99_rate"] == 0.5
    assert got["silence_rate"] == 0.5
    assert got["pitch_class_js"] == pytest.approx(1.0)  # no shared pitch class
    assert 0.0 < got["notes_per_step_js"] <= 1.0
    assert got["pieces"] == 1 and got["steps"] == 20
    assert set(got) == set(ref)
