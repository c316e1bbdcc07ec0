"""Evaluation library: accuracy on hand-built models, data loading in the checkpoint's grid, results."""

import json

import numpy as np

from rnnrbm.ingest import config_from_meta
import pytest

from rnnrbm import evaluate as ev
from rnnrbm.checkpoint import Checkpoint, save_checkpoint
from rnnrbm.corpus import Corpus
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.metrics import accuracy_counts, accuracy_from_counts, frame_accuracy, step_accuracy
from rnnrbm.model import ModelConfig, init_params

LOW, V = 60, 12


def zero_params(V=V, H=6, R=4):
    params = init_params(ModelConfig(V, H, R), np.random.default_rng(0), np.float64)
    return {k: np.zeros_like(a) for k, a in params.items()}


def copy_model(V=V, large=40.0):
    """Hidden j copies visible j and back: Gibbs chains started at v_{t-1} stay there."""
    params = zero_params(V, V, 4)
    params["W"] = large * np.eye(V)
    params["bv"][:] = params["bh"][:] = -large / 2
    return params


def roll_of(steps):
    roll = np.zeros((len(steps), V), np.uint8)
    for t, pitches in enumerate(steps):
        roll[t, np.array(pitches, int) - LOW] = 1
    return roll


def test_copy_model_accuracy_is_near_one_on_repeating_music():
    chords = [[60, 64, 67], [62, 65, 69], [64, 67, 71]]
    pieces = [roll_of([chords[i]] * 300) for i in range(3)]  # each piece holds one chord
    result = ev.expected_accuracy(copy_model(), pieces, gibbs_steps=5, samples=2, rng=np.random.default_rng(0))
    assert result["acc"] > 0.99
    # only the first frame of each piece is missed (predicted from silence)
    assert result["fn"] == pytest.approx(9, abs=1e-3) and result["fp"] == pytest.approx(0, abs=1e-3)


def test_copy_model_accuracy_matches_hand_count():
    # A, A, B with A = {C, E}, B = {E, G}: t1 predicts silence (FN 2), t2 predicts A (TP 2),
    # t3 predicts A (TP 1, FP 1, FN 1): ACC = 3 / (3 + 1 + 3)
    piece = roll_of([[60, 64], [60, 64], [64, 67]])
    result = ev.expected_accuracy(copy_model(), [piece], gibbs_steps=3, samples=4, rng=np.random.default_rng(1))
    assert result["acc"] == pytest.approx(3 / 7, abs=1e-6)
    assert (result["tp"], result["fp"], result["fn"]) == pytest.approx((3, 1, 3), abs=1e-6)
    # per step: 0 / 2, 2 / 2, 1 / 3, so the paper's mean over steps is (0 + 1 + 1/3) / 3
    assert result["acc_step"] == pytest.approx(4 / 9, abs=1e-6)


def test_step_accuracy_is_the_mean_of_each_draws_accuracy():
    truth = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    draws = np.array([[[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]],    # 1/2, 1 (silence both), 1/3
                      [[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]]])   # 2/4, 0, 0
    assert step_accuracy(truth, draws) == pytest.approx([1 / 2, 1 / 2, 1 / 6])
    # not the ratio of the mean prediction's counts: 2 draws of one step, 1/1 and 1/3
    one = np.array([[1, 0, 0]])
    assert step_accuracy(one, np.array([[[1, 0, 0]], [[1, 1, 1]]])) == pytest.approx([2 / 3])
    assert accuracy_from_counts(*accuracy_counts(one, np.array([[1.0, 0.5, 0.5]]))) == pytest.approx(1 / 2)


def test_accuracy_counts_by_hand():
    truth = np.array([[1, 0, 1], [0, 1, 0]])
    prediction = np.array([[1.0, 1.0, 0.0], [0.5, 1.0, 0.0]])
    tp, fp, fn = accuracy_counts(truth, prediction)
    assert (tp, fp, fn) == (2.0, 1.5, 1.0)
    assert accuracy_from_counts(tp, fp, fn) == pytest.approx(2 / 4.5)


def test_batched_accuracy_equals_frame_accuracy_on_one_piece():
    params = init_params(ModelConfig(V, 8, 5), np.random.default_rng(2))
    piece = (np.random.default_rng(3).random((40, V)) < 0.3).astype(np.uint8)
    want = frame_accuracy(params, [piece], 4, 3, np.random.default_rng(7))
    got = ev.expected_accuracy(params, [piece], 4, 3, np.random.default_rng(7))["acc"]
    assert got == pytest.approx(want, abs=1e-12)


def test_accuracy_batches_do_not_lose_pieces():
    pieces = [roll_of([[60, 64]] * n) for n in (5, 50, 7, 1)]
    small = ev.expected_accuracy(copy_model(), pieces, 2, 3, np.random.default_rng(0), max_rows=20)
    assert small["tp"] + small["fn"] == pytest.approx(2 * 63, abs=1e-6)
    assert small["fn"] == pytest.approx(2 * 4, abs=1e-4)


def meta(low=LOW, high=LOW + V - 1, steps_per_beat=1, **ingest):
    return {"low": low, "high": high, "steps_per_beat": steps_per_beat, "out_of_range": "fold", "qpm": 100.0,
            "ingest": ingest}


def write_checkpoint(path, params, **meta_changes):
    V_, H = params["W"].shape
    m = dict(meta(high=LOW + V_ - 1), **meta_changes)
    m["model"] = {"n_visible": V_, "n_hidden": H, "n_recurrent": params["bu"].shape[0]}
    save_checkpoint(path, Checkpoint(params, m))
    return path


def write_corpus(path, splits, low=LOW, high=LOW + V - 1, steps_per_beat=1, seed=0):
    rng = np.random.default_rng(seed)
    pieces = [(rng.random((10 + 3 * i, high - low + 1)) < 0.25).astype(np.uint8) for i in range(len(splits))]
    corpus = Corpus.from_pieces(pieces, [f"p{i}" for i in range(len(splits))], splits,
                                {"low": low, "high": high, "steps_per_beat": steps_per_beat})
    corpus.save(path)
    return path


def test_all_half_model_on_a_corpus(tmp_path):
    model = write_checkpoint(tmp_path / "m.npz", zero_params())
    data = write_corpus(tmp_path / "c.npz", ["train", "test", "test", "valid"])
    options = ev.EvaluateOptions(log_z="ais", ais_runs=5, ais_betas=10, acc_gibbs=2, acc_samples=2)
    result = ev.evaluate(model, [data], options)
    assert result["split"] == "test" and result["pieces"] == 2 and result["steps"] == 13 + 16
    assert result["ll"] == pytest.approx(V * np.log(0.5), abs=1e-9) == result["baseline_ll"]
    assert result["log_z"] == "ais" and result["samples"] is None
    assert 0.0 <= result["acc"] <= 1.0
    json.dumps(result, allow_nan=False)
    everything = ev.evaluate(model, [data], ev.EvaluateOptions(split="all", acc_gibbs=1, acc_samples=1))
    assert everything["pieces"] == 4 and everything["log_z"] == "exact"


def test_empty_split_lists_the_splits_present(tmp_path):
    model = write_checkpoint(tmp_path / "m.npz", zero_params())
    data = write_corpus(tmp_path / "c.npz", ["train", "train", "valid"])
    with pytest.raises(UsageError, match=r"no pieces in split 'test'.*train \(2\), valid \(1\)"):
        ev.evaluate(model, [data])


def test_corpus_on_another_grid_is_a_clear_error(tmp_path):
    model = write_checkpoint(tmp_path / "m.npz", zero_params())
    data = write_corpus(tmp_path / "c.npz", ["test"], steps_per_beat=4)
    with pytest.raises(RnnrbmError, match="steps per beat"):
        ev.evaluate(model, [data])


def test_corpus_in_another_range_is_folded_into_the_model_range(tmp_path):
    model = write_checkpoint(tmp_path / "m.npz", zero_params())
    data = write_corpus(tmp_path / "c.npz", ["test"], low=48, high=83)
    pieces, skipped = ev.load_split([data], meta(), "test")
    assert pieces[0].shape[1] == V and pieces[0].any() and skipped == {}
    assert ev.evaluate(model, [data], ev.EvaluateOptions(acc_gibbs=1, acc_samples=1))["steps"] == 10


def test_missing_files_are_usage_errors(tmp_path):
    model = write_checkpoint(tmp_path / "m.npz", zero_params())
    with pytest.raises(UsageError, match="does not exist"):
        ev.evaluate(tmp_path / "nope.npz", [model])
    with pytest.raises(UsageError, match="does not exist"):
        ev.evaluate(model, [tmp_path / "nope.json"])


def test_data_config_follows_the_checkpoint():
    config = config_from_meta(meta(low=21, high=108, steps_per_beat=4, pedal=False, transpose_to_c=True,
                                 valid_fraction=0.2, test_fraction=0.05, inputs=["x"]))
    assert (config.low, config.high, config.steps_per_beat) == (21, 108, 4)
    assert (config.pedal, config.transpose_to_c, config.valid_fraction, config.test_fraction) == (False, True, 0.2, 0.05)


@pytest.mark.parametrize("field, value", [("ais_runs", 0), ("ais_betas", 1), ("acc_gibbs", 0), ("samples", -1),
                                          ("temperature", 0.0), ("temperature", float("nan")),
                                          ("split", "dev"), ("log_z", "guess")])
def test_bad_options_are_usage_errors(field, value):
    with pytest.raises(UsageError):
        ev.EvaluateOptions(**{field: value})


def test_sample_statistics_use_the_generation_library():
    from rnnrbm.sample import sample_roll

    params = init_params(ModelConfig(V, 8, 5), np.random.default_rng(4))
    pieces = [roll_of([[60, 64, 67]] * 20)]
    options = ev.EvaluateOptions(acc_gibbs=1, acc_samples=1, samples=2, sample_steps=16, sample_gibbs=3, seed=5)
    result = ev.evaluate_pieces(params, pieces, LOW, options)
    s = result["samples"]
    assert (s["pieces"], s["steps_per_piece"], s["gibbs_steps"], s["seeds"]) == (2, 16, 3, [5, 6])
    rolls = [sample_roll(params, 16, gibbs_steps=3, seed=5 + i) for i in range(2)]
    mean = np.mean([r.sum(axis=1).mean() for r in rolls])
    assert s["stats"]["notes_per_step_mean"] == pytest.approx(mean)
    assert s["stats"]["steps"] == 32 and set(s["stats"]) == set(result["data_stats"])
    assert result["data_stats"]["notes_per_step_mean"] == 3.0


def test_tempered_model_divides_the_energy_and_keeps_the_recurrent_net():
    from rnnrbm.model import RNN_PARAM_NAMES, tempered

    rng = np.random.default_rng(2)
    params = init_params(ModelConfig(V, 7, 5, count_bias=True), rng, np.float64)
    params = {k: a + rng.normal(0, 0.3, a.shape) for k, a in params.items()}
    cold = tempered(params, 0.5)
    u = np.tanh(rng.normal(size=5))
    v, h = (rng.random(V) < 0.4).astype(float), (rng.random(7) < 0.5).astype(float)

    def energy(p):
        bv_t, bh_t = p["bv"] + u @ p["Wuv"], p["bh"] + u @ p["Wuh"]
        return -v @ bv_t - h @ bh_t - v @ p["W"] @ h - p["bn"][int(v.sum())]

    assert energy(cold) == pytest.approx(energy(params) / 0.5)
    for name in RNN_PARAM_NAMES:
        np.testing.assert_array_equal(cold[name], params[name])
        assert cold[name] is not params[name]
    with pytest.raises(ValueError, match="temperature"):
        tempered(params, 0.0)


def test_log_likelihood_at_a_temperature_is_the_tempered_models():
    # W = 0: each note is independent with logit a_t = bv_t, so at temperature T it has logit a_t / T,
    # and the exact log-likelihood has a closed form.
    from rnnrbm.model import dynamic_biases, recurrence

    rng = np.random.default_rng(6)
    params = zero_params()
    params.update(bv=rng.normal(0, 1.5, V), Wuv=rng.normal(0, 1.0, (4, V)), Wvu=rng.normal(0, 1.0, (V, 4)))
    piece = (rng.random((30, V)) < 0.3).astype(np.uint8)
    options = ev.EvaluateOptions(acc_gibbs=1, acc_samples=2, log_z="exact", temperature=0.7)
    result = ev.evaluate_pieces(params, [piece], LOW, options)
    a = dynamic_biases(params, recurrence(params, piece.astype(float))[:-1])[0] / 0.7
    expected = -np.logaddexp(0.0, np.where(piece > 0, -a, a)).sum(axis=1).mean()
    assert result["temperature"] == 0.7
    assert result["ll"] == pytest.approx(expected, abs=1e-9)
    plain = ev.evaluate_pieces(params, [piece], LOW, ev.EvaluateOptions(acc_gibbs=1, acc_samples=2, log_z="exact"))
    assert abs(plain["ll"] - result["ll"]) > 0.1
