"""Sampling and ``generate_files``: reproducibility, valid MIDI in range, primers, options."""

import wave
from dataclasses import asdict

import mido
import numpy as np
import pretty_midi
import pytest

from rnnrbm import checkpoint
from rnnrbm.checkpoint import Checkpoint, save_checkpoint
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.midi import midi_to_roll, write_midi
from rnnrbm.model import ModelConfig, init_params
from rnnrbm.sample import DEFAULT_STEPS, GenerateOptions, default_model_path, generate_files, resolve_steps, sample_roll
from rnnrbm.sample_io import numbered, primer_config

LOW, HIGH = 60, 95
CFG = ModelConfig(36, 20, 12)
META = {"low": LOW, "high": HIGH, "steps_per_beat": 4, "out_of_range": "fold", "qpm": 100, "model": asdict(CFG)}


def make_params(seed=0, bv=-1.5):
    params = init_params(CFG, np.random.default_rng(seed))
    params["bv"][:] = bv  # a few notes per step, like music
    return params


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.npz"
    save_checkpoint(path, Checkpoint(make_params(), dict(META)))
    return path


def read_roll(path, n_steps=None):
    roll = midi_to_roll(path, low=LOW, high=HIGH, steps_per_beat=4).roll
    if n_steps is not None:  # a MIDI file ends with its last note: pad trailing silence
        roll = np.pad(roll, ((0, n_steps - len(roll)), (0, 0)))
    return roll


# ---------------------------------------------------------------- sample_roll


def test_same_seed_same_roll_and_different_seeds_differ():
    params = make_params()
    a = sample_roll(params, 64, gibbs_steps=5, seed=1)
    assert a.shape == (64, 36) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, sample_roll(params, 64, gibbs_steps=5, seed=1))
    np.testing.assert_array_equal(a, sample_roll(params, 64, gibbs_steps=5, seed=np.random.default_rng(1)))
    assert not np.array_equal(a, sample_roll(params, 64, gibbs_steps=5, seed=2))
    assert 0 < a.mean() < 0.5


@pytest.mark.parametrize("change", [dict(temperature=0.5), dict(temperature=2.0), dict(gibbs_steps=6)])
def test_temperature_and_gibbs_steps_change_the_output_deterministically(change):
    params = make_params()
    base = sample_roll(params, 64, gibbs_steps=5, seed=3)
    options = {"gibbs_steps": 5, **change}
    changed = sample_roll(params, 64, seed=3, **options)
    assert not np.array_equal(base, changed)
    np.testing.assert_array_equal(changed, sample_roll(params, 64, seed=3, **options))


def test_generation_escapes_the_silence_trap():
    # One hidden unit that switches a 4-note chord on: F(chord) = 12 - softplus(25) ~ -13
    # against F(silence) ~ 0, so nearly every frame of the model is the chord. Silence is a
    # trap all the same: with no note on the hidden unit stays off, and a single note
    # (p = 0.05) is not enough to turn it on. A chain started from silence stays there, so
    # chains after a silent frame (or at the start) start from a random frame.
    cfg = ModelConfig(4, 1, 2)
    params = {k: np.zeros(s, np.float32) for k, s in cfg.shapes().items()}
    params["W"][:] = 10.0
    params["bh"][:] = -15.0
    params["bv"][:] = -3.0
    chord = np.ones(4, np.uint8)
    first = np.array([sample_roll(params, 1, gibbs_steps=3, seed=s)[0] for s in range(200)])
    chord_rate = np.mean((first == chord).all(axis=1))
    assert chord_rate > 0.5  # from a random start: P(>= 2 of 4 notes on) = 11/16
    rolls = np.array([sample_roll(params, 20, gibbs_steps=3, seed=s) for s in range(20)])
    assert np.mean((rolls == chord).all(axis=2)) > 0.6
    silent_primer = np.zeros((3, 4), np.uint8)
    after = np.array([sample_roll(params, 1, gibbs_steps=3, seed=s, primer=silent_primer)[0] for s in range(200)])
    assert np.mean((after == chord).all(axis=1)) > 0.5


def test_temperature_moves_towards_or_away_from_the_mode():
    # With negative visible biases, a low temperature sharpens towards silence
    # and a high one flattens towards p = 1/2.
    params = make_params(bv=-3.0)
    cold, warm, hot = (sample_roll(params, 200, gibbs_steps=10, temperature=t, seed=0).mean() for t in (0.3, 1, 5))
    assert cold < warm < hot < 0.5


def test_a_strongly_favoured_pitch_dominates():
    params = init_params(CFG, np.random.default_rng(0))
    params["W"] *= 0.1
    params["bv"][:] = -8.0
    params["bv"][7] = 8.0  # G4
    roll = sample_roll(params, 300, gibbs_steps=5, seed=0)
    assert roll[:, 7].mean() > 0.95
    assert np.delete(roll, 7, axis=1).mean() < 0.01


def test_float64_checkpoints_sample_like_their_float32_copy():
    params = make_params()
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    np.testing.assert_array_equal(sample_roll(params, 50, gibbs_steps=3, seed=9),
                                  sample_roll(p64, 50, gibbs_steps=3, seed=9))


# ---------------------------------------------------------------- generate_files


def test_same_seed_gives_identical_bytes_and_valid_midi_in_range(tmp_path, model):
    options = GenerateOptions(steps=64, seed=5, gibbs_steps=5)
    first = generate_files(tmp_path / "a.mid", options, model=model)
    generate_files(tmp_path / "b.mid", options, model=model)
    generate_files(tmp_path / "c.mid", GenerateOptions(steps=64, seed=6, gibbs_steps=5), model=model)
    a, b, c = ((tmp_path / f"{n}.mid").read_bytes() for n in "abc")
    assert a == b and a != c

    piece = first.pieces[0]
    assert first.seed == 5 and not first.seed_chosen and piece.seed == 5
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "a.mid"))
    notes = [n for inst in pm.instruments for n in inst.notes]
    assert len(notes) == piece.n_notes > 0
    assert all(LOW <= n.pitch <= HIGH and n.velocity == 80 for n in notes)
    assert pm.get_tempo_changes()[1][0] == pytest.approx(100)
    mid = mido.MidiFile(tmp_path / "a.mid")
    pitches = [m.note for track in mid.tracks for m in track if m.type == "note_on"]
    assert pitches and min(pitches) >= LOW and max(pitches) <= HIGH
    np.testing.assert_array_equal(read_roll(tmp_path / "a.mid", 64), piece.roll)  # file = reported roll
    assert piece.duration == pytest.approx(64 * 60 / 100 / 4)
    lo, hi = piece.pitch_span
    assert LOW <= lo <= hi <= HIGH and piece.mean_notes == pytest.approx(piece.roll.sum() / 64)


def test_without_a_seed_one_is_chosen_and_reproduces(tmp_path, model):
    result = generate_files(tmp_path / "r.mid", GenerateOptions(steps=32, gibbs_steps=3), model=model)
    assert result.seed_chosen and 0 <= result.seed < 2**31
    generate_files(tmp_path / "s.mid", GenerateOptions(steps=32, gibbs_steps=3, seed=result.seed), model=model)
    assert (tmp_path / "r.mid").read_bytes() == (tmp_path / "s.mid").read_bytes()


def test_num_outputs_are_numbered_with_consecutive_seeds(tmp_path, model):
    result = generate_files(tmp_path / "take.midi", GenerateOptions(steps=32, gibbs_steps=3, seed=10, num_outputs=3),
                            model=model, wav=tmp_path / "take.wav")
    names = [p.path.name for p in result.pieces]
    assert names == ["take-1.midi", "take-2.midi", "take-3.midi"] and [p.seed for p in result.pieces] == [10, 11, 12]
    assert all((tmp_path / f"take-{i}.wav").is_file() for i in (1, 2, 3))
    assert not (tmp_path / "take.midi").exists()
    generate_files(tmp_path / "single.mid", GenerateOptions(steps=32, gibbs_steps=3, seed=11), model=model)
    assert (tmp_path / "single.mid").read_bytes() == (tmp_path / "take-2.midi").read_bytes()
    assert numbered(tmp_path / "x.mid", 1) == [tmp_path / "x.mid"]


def test_wav_is_16_bit_mono_and_as_long_as_the_roll(tmp_path, model):
    result = generate_files(tmp_path / "o.mid", GenerateOptions(steps=40, gibbs_steps=3, seed=1, qpm=150),
                            model=model, wav=tmp_path / "o.wav")
    with wave.open(str(tmp_path / "o.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert len(frames) >= result.pieces[0].duration * 22050 and 0 < np.abs(frames).max() <= 32767
    assert result.pieces[0].duration == pytest.approx(40 * 60 / 150 / 4)


def test_primer_is_kept_and_generation_continues_from_it(tmp_path, model):
    primer = np.zeros((12, 36), np.uint8)
    for t, chord in enumerate([[0, 4, 7], [5, 9, 12], [7, 11, 14]]):
        primer[4 * t:4 * t + 4, chord] = 1
    # One note outside the range (C3) is folded into it (C4), as in training.
    write_midi(np.pad(primer, ((0, 0), (12, 0))), tmp_path / "primer.mid", low=48, steps_per_beat=4)
    options = GenerateOptions(steps=20, gibbs_steps=4, seed=3, keep_primer=True)
    result = generate_files(tmp_path / "kept.mid", options, model=model, primer=tmp_path / "primer.mid")
    piece = result.pieces[0]
    assert piece.primer_steps == 12 and len(piece.roll) == 32
    np.testing.assert_array_equal(piece.roll[:12], primer)
    np.testing.assert_array_equal(read_roll(tmp_path / "kept.mid", 32)[:12], primer)  # the file starts with it
    from rnnrbm.checkpoint import load_checkpoint
    expected = sample_roll(load_checkpoint(model).params, 20, gibbs_steps=4, seed=3, primer=primer)
    np.testing.assert_array_equal(piece.roll[12:], expected)

    alone = generate_files(tmp_path / "cont.mid", GenerateOptions(steps=20, gibbs_steps=4, seed=3),
                           model=model, primer=tmp_path / "primer.mid")
    np.testing.assert_array_equal(alone.pieces[0].roll, expected)  # the continuation only
    free = sample_roll(load_checkpoint(model).params, 20, gibbs_steps=4, seed=3)
    assert not np.array_equal(free, expected)  # the primer matters


def test_primer_out_of_range_notes_are_folded(tmp_path, model):
    roll = np.zeros((8, 128), np.uint8)
    roll[:, 40] = 1  # E2, far below C4
    write_midi(roll, tmp_path / "low.mid", low=0)
    result = generate_files(tmp_path / "o.mid", GenerateOptions(steps=4, gibbs_steps=2, seed=0, keep_primer=True),
                            model=model, primer=tmp_path / "low.mid")
    assert result.pieces[0].roll[:8, 64 - LOW].all()  # folded to E4


def test_bad_primers_are_rejected_clearly(tmp_path, model):
    (tmp_path / "junk.mid").write_bytes(b"not midi at all")
    with pytest.raises(UsageError, match="cannot use primer .*junk.mid"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4), model=model, primer=tmp_path / "junk.mid")
    with pytest.raises(UsageError, match="does not exist"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4), model=model, primer=tmp_path / "none.mid")
    (tmp_path / "p.txt").write_text("x")
    with pytest.raises(UsageError, match="MIDI file"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4), model=model, primer=tmp_path / "p.txt")
    with pytest.raises(UsageError, match="--keep-primer needs --primer"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4, keep_primer=True), model=model)
    assert not (tmp_path / "o.mid").exists()


def test_primer_config_follows_the_checkpoint():
    meta = dict(META, low=48, high=59, steps_per_beat=3, out_of_range="drop",
                ingest={"pedal": False, "transpose_to_c": True, "min_steps": 8, "inputs": ["x"]})
    config = primer_config(meta)
    assert (config.low, config.high, config.steps_per_beat, config.out_of_range) == (48, 59, 3, "drop")
    assert config.pedal is False and config.transpose_to_c is True and config.min_steps == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(steps=0), "--steps"),
    (dict(steps=-5), "--steps"),
    (dict(bars=0), "--bars"),
    (dict(seconds=-1.0), "--seconds"),
    (dict(steps=10, bars=2), "only one of"),
    (dict(temperature=0.0), "--temperature"),
    (dict(temperature=-1.0), "--temperature"),
    (dict(temperature=float("nan")), "--temperature"),
    (dict(gibbs_steps=0), "--gibbs-steps"),
    (dict(num_outputs=0), "--num-outputs"),
    (dict(seed=-1), "--seed"),
    (dict(qpm=0.0), "--qpm"),
    (dict(program=128), "--program"),
    (dict(velocity=0), "--velocity"),
])
def test_bad_options_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        GenerateOptions(**kwargs)


def test_length_from_bars_and_seconds():
    assert resolve_steps(GenerateOptions(), 4, 100) == DEFAULT_STEPS
    assert resolve_steps(GenerateOptions(bars=2), 4, 100) == 32
    assert resolve_steps(GenerateOptions(bars=1.5), 3, 100) == 18
    assert resolve_steps(GenerateOptions(seconds=6), 4, 100) == 40  # 10 beats
    with pytest.raises(UsageError, match="--seconds"):
        resolve_steps(GenerateOptions(seconds=0.01), 4, 100)


def test_bad_paths_fail_before_sampling(tmp_path, model, monkeypatch):
    import rnnrbm.sample as sample

    def boom(*args, **kwargs):
        raise AssertionError("sampling started")

    monkeypatch.setattr(sample, "sample_roll", boom)
    options = GenerateOptions(steps=8)
    with pytest.raises(UsageError, match="does not exist"):
        generate_files(tmp_path / "o.mid", options, model=tmp_path / "missing.npz")
    with pytest.raises(UsageError, match=r"must end in \.mid or \.midi"):
        generate_files(tmp_path / "o.txt", options, model=model)
    with pytest.raises(UsageError, match="folder .* does not exist"):
        generate_files(tmp_path / "no" / "o.mid", options, model=model)
    (tmp_path / "dir.mid").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        generate_files(tmp_path / "dir.mid", options, model=model)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write"):
        generate_files(blocker / "o.mid", options, model=model)
    with pytest.raises(UsageError, match=r"\.wav"):
        generate_files(tmp_path / "o.mid", options, model=model, wav=tmp_path / "o.mp3")
    with pytest.raises(UsageError, match="cannot write"):
        generate_files(tmp_path / "o.mid", options, model=model, wav=tmp_path / "no" / "o.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.mid", "file", "model.npz"]


def test_corrupt_and_rangeless_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(RnnrbmError, match="not a readable rnnrbm checkpoint"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4), model=tmp_path / "bad.npz")
    meta = {k: v for k, v in META.items() if k not in ("low", "high")}
    save_checkpoint(tmp_path / "norange.npz", Checkpoint(make_params(), meta))
    with pytest.raises(RnnrbmError, match="no pitch range"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4), model=tmp_path / "norange.npz")


def test_missing_shipped_model_says_how_to_get_one(tmp_path, monkeypatch):

    monkeypatch.setattr(checkpoint, "default_model_path", lambda: tmp_path / "default.npz")
    with pytest.raises(UsageError, match="shipped model .* is missing; train one"):
        generate_files(tmp_path / "o.mid", GenerateOptions(steps=4))


def test_default_model_path_is_in_the_installed_package():
    path = default_model_path()
    assert path.name == "default.npz" and path.parent.joinpath("__init__.py").is_file()


def test_a_count_bias_sets_the_notes_per_frame_and_silence_restarts_from_silence(monkeypatch):
    import rnnrbm.kernels

    params = init_params(ModelConfig(36, 20, 12, count_bias=True), np.random.default_rng(0))
    np.testing.assert_array_equal(params["bn"], -np.arange(37))  # one nat per note to start with
    params["bn"][:] = -60.0
    params["bn"][3] = 0.0  # only three-note frames are likely
    roll = sample_roll(params, 64, gibbs_steps=3, seed=5)
    assert (roll.sum(axis=1) == 3).all()
    restarts = []
    real = rnnrbm.kernels.generate_frames
    monkeypatch.setattr(rnnrbm.kernels, "generate_frames",
                        lambda p, u, v, uniforms, r, *a, **k: restarts.append(r.copy()) or real(p, u, v, uniforms, r,
                                                                                                *a, **k))
    sample_roll(params, 8, gibbs_steps=1, seed=5)
    sample_roll(make_params(), 8, gibbs_steps=1, seed=5)
    assert not restarts[0].any() and restarts[1].any()  # a random dense restart could trap a count-bias chain
