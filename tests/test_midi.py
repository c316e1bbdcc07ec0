"""MIDI -> roll on the beat grid, and roll -> MIDI -> roll round trips, with hand-built files."""

import io

import mido
import numpy as np
import pretty_midi
import pytest
from conftest import TPB, build_midi, expected_roll, note_events, pedal_events, tempo_events
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnrbm.errors import RnnrbmError
from rnnrbm.midi import UnreadableMidi, midi_to_roll, roll_to_midi, sustained_notes, write_midi

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
SCALE_ROLL = expected_roll(32, [(p, 4 * i, 4 * i + 4) for i, p in enumerate(SCALE)])


def time_signature(beat, numerator, denominator):
    return (round(beat * TPB), mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator))


def test_scale_on_the_beat(scale_file):
    result = midi_to_roll(scale_file)
    np.testing.assert_array_equal(result.roll, SCALE_ROLL)
    assert result.roll.dtype == np.uint8
    assert result.qpm == pytest.approx(120.0)
    assert (result.kept, result.folded, result.dropped, result.recovered) == (8, 0, 0, "")


def test_steps_per_beat_and_range_change_the_grid(scale_file):
    roll = midi_to_roll(scale_file, steps_per_beat=2, low=60, high=72).roll
    np.testing.assert_array_equal(roll, expected_roll(16, [(p, 2 * i, 2 * i + 2) for i, p in enumerate(SCALE)],
                                                      n_visible=13))


def test_chord_and_leading_rest(make_midi):
    path = make_midi("chord.mid", [(60, 1, 5), (64, 1, 5), (67, 1, 3)])
    np.testing.assert_array_equal(midi_to_roll(path).roll,
                                  expected_roll(20, [(60, 4, 20), (64, 4, 20), (67, 4, 12)]))


def test_tempo_change_keeps_notes_on_the_beat_grid(make_midi):
    notes = [(p, i, i + 1) for i, p in enumerate(SCALE)]
    path = make_midi("tempo.mid", notes, meta=tempo_events([(2, 60), (5, 200)]))
    result = midi_to_roll(path)
    np.testing.assert_array_equal(result.roll, SCALE_ROLL)
    # 8 beats in 2/120 + 3/60 + 3/200 minutes
    assert result.qpm == pytest.approx(8 / (2 / 120 + 3 / 60 + 3 / 200))


def test_600_tempo_changes_land_on_the_beat_grid(make_midi):
    rng = np.random.default_rng(0)
    beats = 100
    # Six tempo changes per beat, most of them between grid lines.
    changes = [(tick / TPB, float(rng.uniform(40, 240))) for tick in range(7, beats * TPB, 16)]
    assert len(changes) == 600
    pitches = rng.integers(61, 96, beats)  # 60 is for the off-beat notes
    notes = [(int(p), i, i + 1) for i, p in enumerate(pitches)] + [(60, i + 0.5, i + 0.75) for i in range(beats)]
    path = make_midi("tempi.mid", notes, meta=tempo_events(changes))
    assert len(pretty_midi.PrettyMIDI(str(path)).get_tempo_changes()[0]) == 601
    want = expected_roll(4 * beats, [(int(p), 4 * i, 4 * i + 4) for i, p in enumerate(pitches)]
                         + [(60, 4 * i + 2, 4 * i + 3) for i in range(beats)])
    np.testing.assert_array_equal(midi_to_roll(path).roll, want)


def test_three_four_counts_quarter_beats(make_midi):
    path = make_midi("waltz.mid", [(60, 0, 1), (64, 1, 2), (67, 2, 3), (72, 3, 6)], meta=[time_signature(0, 3, 4)])
    np.testing.assert_array_equal(midi_to_roll(path).roll,
                                  expected_roll(24, [(60, 0, 4), (64, 4, 8), (67, 8, 12), (72, 12, 24)]))


def test_six_eight_beat_is_a_dotted_quarter(make_midi):
    # Six eighth notes (half a quarter each) then a dotted half: two bars of 6/8.
    notes = [(60 + 2 * i, i / 2, (i + 1) / 2) for i in range(6)] + [(72, 3, 6)]
    path = make_midi("jig.mid", notes, meta=[time_signature(0, 6, 8)])
    roll3 = midi_to_roll(path, steps_per_beat=3).roll  # one step per eighth
    np.testing.assert_array_equal(roll3, expected_roll(12, [(60 + 2 * i, i, i + 1) for i in range(6)] + [(72, 6, 12)]))
    roll6 = midi_to_roll(path, steps_per_beat=6).roll
    np.testing.assert_array_equal(roll6, np.repeat(roll3, 2, axis=0))


def test_out_of_range_notes_fold_or_drop(make_midi):
    path = make_midi("wide.mid", [(48, 0, 1), (60, 1, 2), (100, 2, 3), (127, 3, 4)])
    folded = midi_to_roll(path, out_of_range="fold")
    np.testing.assert_array_equal(folded.roll, expected_roll(16, [(60, 0, 8), (88, 8, 12), (91, 12, 16)]))
    assert (folded.kept, folded.folded, folded.dropped) == (1, 3, 0)
    dropped = midi_to_roll(path, out_of_range="drop")
    # The roll ends with the last kept note; the grid still starts at time 0.
    np.testing.assert_array_equal(dropped.roll, expected_roll(8, [(60, 4, 8)]))
    assert (dropped.kept, dropped.folded, dropped.dropped) == (1, 0, 3)
    with pytest.raises(UnreadableMidi, match="no notes in range"):
        midi_to_roll(path, low=61, high=70, out_of_range="drop")


def test_fold_into_narrow_range_drops_absent_pitch_classes(make_midi):
    path = make_midi("narrow.mid", [(48, 0, 1), (70, 1, 2)])
    result = midi_to_roll(path, low=60, high=65)
    np.testing.assert_array_equal(result.roll, expected_roll(4, [(60, 0, 4)], n_visible=6))
    assert (result.kept, result.folded, result.dropped) == (0, 1, 1)


def test_drum_track_beside_piano_is_ignored(make_midi):
    drums = note_events([(36, 0, 0.5), (38, 1, 1.5), (42, 6, 7)], channel=9)
    path = make_midi("band.mid", [(60, 0, 2)], extra=[drums])
    np.testing.assert_array_equal(midi_to_roll(path).roll, expected_roll(8, [(60, 0, 8)]))


def test_drums_only_is_unreadable(make_midi):
    path = make_midi("drums.mid", extra=[note_events([(36, 0, 1)], channel=9)])
    with pytest.raises(UnreadableMidi) as info:
        midi_to_roll(path)
    assert info.value.reason == "drums only"


def test_overlapping_same_pitch_notes(make_midi):
    # on@0, on@1, off@2, off@3: the first note-off closes both; the second is spurious.
    events = [(0, mido.Message("note_on", note=60, velocity=90)), (TPB, mido.Message("note_on", note=60, velocity=90)),
              (2 * TPB, mido.Message("note_off", note=60)), (3 * TPB, mido.Message("note_off", note=60))]
    events += note_events([(64, 0, 3)])
    path = make_midi("overlap.mid", extra=[events])
    np.testing.assert_array_equal(midi_to_roll(path).roll, expected_roll(12, [(60, 0, 8), (64, 0, 12)]))


def test_short_notes_and_tick_rounding(make_midi):
    step = TPB // 4  # 24 ticks
    notes = [
        (60, 30 / TPB, 42 / TPB),                      # a 32nd note inside step 1
        (62, (2 * step - 1) / TPB, 3 * step / TPB),    # starts 1 tick before step 2: snapped onto it
        (64, 3 * step / TPB, (4 * step + 1) / TPB),    # ends 1 tick after step 4 starts: no bleed
        (65, 5 * step / TPB, (5 * step + 3) / TPB),    # 3 ticks long on a grid line
        (67, 6 * step / TPB, (7 * step + 6) / TPB),    # ends a quarter step into step 7: on there
    ]
    path = make_midi("short.mid", notes)
    want = expected_roll(8, [(60, 1, 2), (62, 2, 3), (64, 3, 4), (65, 5, 6), (67, 6, 8)])
    np.testing.assert_array_equal(midi_to_roll(path).roll, want)


def test_sustain_pedal_extends_notes_until_release(make_midi):
    # The pedal belongs to the instrument (track and channel) of the notes.
    pedal = pedal_events([(0.5, 127), (2.5, 90), (3, 0), (4, 64), (5, 10)])
    notes = note_events([(60, 0, 1), (64, 3.5, 4.5), (67, 6, 7)])
    path = make_midi("pedal.mid", extra=[notes + pedal])
    on = midi_to_roll(path).roll
    np.testing.assert_array_equal(on, expected_roll(28, [(60, 0, 12), (64, 14, 20), (67, 24, 28)]))
    off = midi_to_roll(path, pedal=False).roll
    np.testing.assert_array_equal(off, expected_roll(28, [(60, 0, 4), (64, 14, 18), (67, 24, 28)]))


def test_pedal_on_another_channel_does_not_sustain(make_midi):
    notes = note_events([(60, 0, 1), (62, 3, 4)])
    path = make_midi("pedal2.mid", extra=[notes + pedal_events([(0.5, 127), (3, 0)], channel=1)])
    np.testing.assert_array_equal(midi_to_roll(path).roll, expected_roll(16, [(60, 0, 4), (62, 12, 16)]))


def test_restrike_cuts_a_pedalled_note():
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, 60, 0.0, 0.5), pretty_midi.Note(80, 60, 1.0, 1.2),
                   pretty_midi.Note(80, 62, 0.0, 0.1)]
    piano.control_changes = [pretty_midi.ControlChange(64, 127, 0.2), pretty_midi.ControlChange(64, 0, 2.0)]
    starts, ends, pitches = sustained_notes(piano)
    got = sorted(zip(pitches.tolist(), starts.tolist(), ends.tolist()))
    assert got == [(60, 0.0, 1.0), (60, 1.0, 2.0), (62, 0.0, 0.1)]
    assert sorted(sustained_notes(piano, pedal=False)[1].tolist()) == [0.1, 0.5, 1.2]


def test_format_0_and_format_1_give_the_same_roll(tmp_path):
    tracks = [tempo_events([(0, 90), (4, 150)]), note_events([(60, 0, 2), (67, 2, 6)]),
              note_events([(48, 0, 6)], channel=1)]
    one = midi_to_roll(build_midi(tmp_path / "one.mid", tracks, type=1)).roll
    zero = midi_to_roll(build_midi(tmp_path / "zero.mid", tracks, type=0)).roll
    assert mido.MidiFile(tmp_path / "zero.mid").type == 0
    np.testing.assert_array_equal(one, zero)
    np.testing.assert_array_equal(one, expected_roll(24, [(60, 0, 24), (67, 8, 24)]))


def test_transpose_to_c_uses_the_key_signature(make_midi):
    key = [(0, mido.MetaMessage("key_signature", key="D"))]
    path = make_midi("d.mid", [(62, 0, 1), (66, 1, 2), (69, 2, 3)], meta=key)
    roll = midi_to_roll(path, transpose_to_c=True).roll
    np.testing.assert_array_equal(roll, expected_roll(12, [(60, 0, 4), (64, 4, 8), (67, 8, 12)]))


def test_too_long_is_refused(scale_file):
    with pytest.raises(UnreadableMidi) as info:
        midi_to_roll(scale_file, max_steps=31)
    assert info.value.reason == "too long"
    assert len(midi_to_roll(scale_file, max_steps=32).roll) == 32


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"RIFF\x00\x00\x00\x04abcd", "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01", "truncated"),
])
def test_unreadable_bytes(data, reason):
    with pytest.raises(UnreadableMidi) as info:
        midi_to_roll(data)
    assert info.value.reason == reason


def test_roll_to_midi_writes_tempo_program_velocity():
    roll = expected_roll(8, [(60, 0, 4), (60, 4, 8), (67, 2, 3)])
    midi = roll_to_midi(roll, 60, qpm=90, program=40, velocity=100)
    (inst,) = midi.instruments
    assert inst.program == 40 and not inst.is_drum
    notes = sorted((n.pitch, n.start, n.end, n.velocity) for n in inst.notes)
    step = 60 / 90 / 4
    # Consecutive on-steps of one pitch are one held note.
    assert notes == [(60, 0.0, pytest.approx(8 * step), 100), (67, pytest.approx(2 * step), pytest.approx(3 * step), 100)]
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90)


@pytest.mark.parametrize("kwargs", [dict(velocity=0), dict(program=128), dict(qpm=0.0)])
def test_roll_to_midi_rejects_bad_options(kwargs):
    with pytest.raises(RnnrbmError):
        roll_to_midi(np.ones((2, 3), np.uint8), 60, **kwargs)
    with pytest.raises(RnnrbmError):
        roll_to_midi(np.ones((2, 3), np.uint8), 126)


def _round_trip(roll, low, steps_per_beat, qpm, tmp_path):
    path = write_midi(roll, tmp_path / "out.mid", low, qpm=qpm, steps_per_beat=steps_per_beat)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mid"]  # no temp file left behind
    high = low + roll.shape[1] - 1
    back = midi_to_roll(path, low=low, high=high, steps_per_beat=steps_per_beat).roll
    # mido reads the file too, with one note-on per held note.
    on = sum(m.type == "note_on" and m.velocity > 0 for m in mido.MidiFile(path))
    assert on == int((np.diff(np.pad(roll, ((1, 0), (0, 0))).astype(int), axis=0) == 1).sum())
    return back


def test_round_trip_keeps_last_column_and_leading_rest(tmp_path):
    roll = expected_roll(10, [(60, 2, 5), (95, 9, 10), (70, 3, 10)])
    np.testing.assert_array_equal(_round_trip(roll, 60, 4, 100.0, tmp_path), roll)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.sampled_from([1, 2, 3, 4, 6]),
       st.floats(30, 300), st.integers(0, 2**32 - 1))
def test_round_trip_property(tmp_path_factory, steps, width, steps_per_beat, qpm, seed):
    rng = np.random.default_rng(seed)
    roll = (rng.random((steps, width)) < 0.4).astype(np.uint8)
    roll[-1, rng.integers(width)] = 1  # MIDI ends with its last note: keep the last step sounding
    low = int(rng.integers(0, 128 - width))
    back = _round_trip(roll, low, steps_per_beat, qpm, tmp_path_factory.mktemp("rt"))
    np.testing.assert_array_equal(back, roll)


def test_write_midi_to_missing_folder_is_a_clean_error(tmp_path):
    with pytest.raises(RnnrbmError, match="cannot write"):
        write_midi(np.ones((2, 3), np.uint8), tmp_path / "nope" / "x.mid", 60)


def test_midi_bytes_input(scale_file):
    np.testing.assert_array_equal(midi_to_roll(scale_file.read_bytes()).roll, SCALE_ROLL)
    buffer = io.BytesIO()
    roll_to_midi(SCALE_ROLL, 60).write(buffer)
    np.testing.assert_array_equal(midi_to_roll(buffer.getvalue()).roll, SCALE_ROLL)
