"""Training learns, resumes exactly, applies the regularizer, and never saves non-finite values."""

import json

import numpy as np
import pytest

from rnnrbm.batches import epoch_chunks, random_songs
from rnnrbm.checkpoint import load_checkpoint
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.model import PARAM_NAMES, ModelConfig
from rnnrbm.train import TrainConfig, train

V = 12
CHORDS = [[0, 4, 7], [5, 9, 0], [7, 11, 2], [9, 0, 4]]  # I IV V vi, as pitch classes
META = {"low": 60, "high": 71, "steps_per_beat": 1, "out_of_range": "fold", "qpm": 100.0}


def loop_piece(T, offset=0):
    roll = np.zeros((T, V), np.uint8)
    for t in range(T):
        roll[t, CHORDS[(t + offset) % 4]] = 1
    return roll


def small_config(**kw):
    base = dict(epochs=2, cd_k=3, batch=3, chunk=8, lr=0.01, lr_rnn=0.01, patience=100,
                negative_batch=2, negative_weight=0.05)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("gradient", ["rtrl", "bptt"])
def test_learns_a_four_chord_loop(tmp_path, gradient):
    pieces = [loop_piece(32, i % 4) for i in range(8)]
    res = train(pieces, [loop_piece(32, 1)], ModelConfig(V, 16, 16),
                small_config(epochs=40, gradient=gradient, cd_k=5, batch=4, chunk=16, negative_weight=0.0),
                tmp_path / "m.npz", META)
    assert max(h["valid_acc"] for h in res.history) > 0.9
    assert res.history[0]["valid_acc"] < 0.5  # it really learned it
    best = load_checkpoint(tmp_path / "m.npz")
    assert best.meta["best_valid_acc"] == max(h["valid_acc"] for h in res.history)


def test_resume_is_exact(tmp_path):
    pieces = [loop_piece(20, i) for i in range(5)]
    valid = [loop_piece(12)]
    cfg = small_config(epochs=3)
    train(pieces, valid, ModelConfig(V, 8, 6), cfg, tmp_path / "a.npz", META)
    train(pieces, valid, ModelConfig(V, 8, 6), small_config(epochs=1), tmp_path / "b.npz", META)
    res = train(pieces, valid, ModelConfig(V, 8, 6), cfg, tmp_path / "b.npz", META, resume=True)
    a = load_checkpoint(tmp_path / "a.last.npz")
    b = load_checkpoint(tmp_path / "b.last.npz")
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    log = [json.loads(line) for line in (tmp_path / "b.log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]


def test_negative_regularizer_changes_the_updates(tmp_path):
    pieces = [loop_piece(16, i) for i in range(4)]
    runs = {}
    for lam in (0.0, 0.5):
        train(pieces, [], ModelConfig(V, 8, 6), small_config(epochs=1, negative_weight=lam), tmp_path / f"{lam}.npz", META)
        runs[lam] = load_checkpoint(tmp_path / f"{lam}.last.npz").params
    # The regularizer reaches the recurrent weights too (it goes through the RNN).
    for name in ("W", "bv", "Wuu", "Wvu"):
        assert not np.allclose(runs[0.0][name], runs[0.5][name])


def test_random_songs_are_fresh_and_dense():
    rng = np.random.default_rng(0)
    a = random_songs(3, 50, 20, 0.8, rng)
    b = random_songs(3, 50, 20, 0.8, rng)
    assert not np.array_equal(a.v, b.v)
    assert 0.75 < a.v.mean() < 0.85
    assert a.first[:, 0].all() and not a.first[:, 1:].any() and a.valid.all()


def test_epoch_chunks_cover_every_frame_once():
    rng = np.random.default_rng(1)
    pieces = [np.full((T, 3), i + 1, np.uint8) for i, T in enumerate([5, 9, 0, 3, 12, 7])]
    chunks = list(epoch_chunks(pieces, 2, 4, rng))
    v = np.concatenate([c.v for c in chunks], axis=1)
    first = np.concatenate([c.first for c in chunks], axis=1)
    valid = np.concatenate([c.valid for c in chunks], axis=1)
    assert valid.sum() == 36 and first.sum() == 5
    ids = v[..., 0][valid]
    assert sorted(np.bincount(ids.astype(int))[1:].tolist()) == sorted([5, 9, 0, 3, 12, 7])
    for b in range(2):  # every piece starts at a 'first' flag and is contiguous
        starts = np.flatnonzero(first[b])
        assert all(v[b, s, 0] != v[b, s - 1, 0] or not valid[b, s - 1] for s in starts if s > 0)


def test_divergence_stops_with_a_clear_error_and_keeps_a_finite_checkpoint(tmp_path):
    pieces = [loop_piece(16, i) for i in range(4)]
    train(pieces, [], ModelConfig(V, 8, 6), small_config(epochs=1), tmp_path / "m.npz", META)
    before = load_checkpoint(tmp_path / "m.last.npz")
    with pytest.raises(RnnrbmError, match="diverged"):
        train(pieces, [], ModelConfig(V, 8, 6), small_config(epochs=5, lr=1e38, lr_rnn=1e38, clip=0),
              tmp_path / "m.npz", META, resume=False)
    after = load_checkpoint(tmp_path / "m.last.npz")  # loads: finite by validation
    assert after.meta["epoch"] <= 5 and all(np.all(np.isfinite(p)) for p in after.params.values())
    assert before.meta["epoch"] == 1


def test_pretraining_moves_only_the_rbm(tmp_path):
    pieces = [loop_piece(16, i) for i in range(4)]
    from rnnrbm.model import init_params
    from rnnrbm.pretrain import pretrain_rbm
    params = init_params(ModelConfig(V, 8, 6), np.random.default_rng(0))
    start = {k: v.copy() for k, v in params.items()}
    pretrain_rbm(params, pieces, small_config(pretrain_epochs=2), np.random.default_rng(1))
    assert not np.allclose(params["W"], start["W"])
    for name in ("Wuu", "Wvu", "Wuv", "Wuh", "bu", "u0"):
        np.testing.assert_array_equal(params[name], start[name])


def logistic_rnn_nll(params, piece):
    """Plain NumPy reference: -sum_t log p(v_t | v_<t) of the logistic RNN, p_t = sigmoid(bv + u_{t-1} Wuv)."""
    u, nll = params["u0"], 0.0
    for v in piece:
        p = 1.0 / (1.0 + np.exp(-(params["bv"] + u @ params["Wuv"])))
        nll -= np.sum(v * np.log(p) + (1 - v) * np.log(1 - p))
        u = np.tanh(params["bu"] + v @ params["Wvu"] + u @ params["Wuu"])
    return nll


@pytest.mark.parametrize("gradient", ["rtrl", "bptt"])
def test_rnn_pretraining_gradient_is_the_logistic_rnn_gradient(gradient):
    from rnnrbm.gradients import chunk_gradient, forward, init_state
    from rnnrbm.model import init_params
    from rnnrbm.rbm import sigmoid
    rng = np.random.default_rng(3)
    params = init_params(ModelConfig(V, 5, 4), rng, dtype=np.float64)
    for name in ("bv", "bu", "u0"):
        params[name] = rng.normal(0, 0.5, params[name].shape)
    piece = (rng.random((7, V)) < 0.3).astype(np.float64)
    v, first, valid = piece[None], np.eye(1, 7, dtype=bool), np.ones((1, 7), bool)
    independent = dict(params, W=np.zeros_like(params["W"]))
    U_prev, _ = forward(params, v, first, params["u0"][None])
    p = sigmoid(params["bv"] + U_prev @ params["Wuv"])
    g, _, _ = chunk_gradient(independent, v, first, valid, init_state(params, 1, gradient == "rtrl"), 1, rng,
                             gradient, v_neg=p)
    for name in ("bv", "Wuv", "Wvu", "Wuu", "bu", "u0"):
        numeric = np.zeros_like(params[name])
        for i in np.ndindex(numeric.shape):
            old = params[name][i]
            params[name][i] = old + 1e-6
            up = logistic_rnn_nll(params, piece)
            params[name][i] = old - 1e-6
            down = logistic_rnn_nll(params, piece)
            params[name][i] = old
            numeric[i] = (up - down) / 2e-6
        np.testing.assert_allclose(g[name], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def test_rnn_pretraining_learns_the_loop_and_moves_only_the_rnn():
    from rnnrbm.model import init_params
    from rnnrbm.pretrain import pretrain_rnn
    pieces = [loop_piece(32, i % 4) for i in range(8)]
    params = init_params(ModelConfig(V, 8, 16), np.random.default_rng(0), dtype=np.float64)
    start = {k: v.copy() for k, v in params.items()}
    events = []
    pretrain_rnn(params, pieces, small_config(pretrain_rnn_epochs=30, batch=4, chunk=16, lr=0.03, lr_rnn=0.03, dtype="float64"),
                 np.random.default_rng(1), lambda kind, info: events.append((kind, info)))
    nll = [info["nll"] for kind, info in events if kind == "pretrain_rnn"]
    assert len(nll) == 30
    assert nll[0] > 5.0 and nll[-1] < 1.0  # from about V log 2 = 8.3 nats to a near-certain next chord
    np.testing.assert_allclose(sum(logistic_rnn_nll(params, p) for p in pieces) / 256, nll[-1], rtol=0.2)
    for name in ("W", "bh", "Wuh", "bn"):
        np.testing.assert_array_equal(params[name], start[name])


@pytest.mark.parametrize("bad", [dict(cd_k=0), dict(pretrain_rnn_epochs=-1), dict(lr_decay_from=-1, lr_decay=0.5), dict(negative_p=0.4), dict(gradient="sgd"), dict(dtype="int8")])
def test_bad_config_is_a_usage_error(tmp_path, bad):
    with pytest.raises(UsageError):
        train([loop_piece(8)], [], ModelConfig(V, 4, 4), small_config(**bad), tmp_path / "m.npz", META)


def test_lr_decays_only_after_epochs_without_improvement(tmp_path):
    pieces = [loop_piece(16, i) for i in range(4)]
    res = train(pieces, [loop_piece(12)], ModelConfig(V, 8, 6), small_config(epochs=4, lr_decay=0.5),
                tmp_path / "m.npz", META)
    lrs = [h["lr"] for h in res.history]
    for prev, h, lr in zip([0.01] + lrs, res.history, lrs):
        assert lr == pytest.approx(prev if h["best"] else prev * 0.5)
    assert load_checkpoint(tmp_path / "m.last.npz").opt["lr"] == pytest.approx(lrs[-1])


def test_lr_decay_from_decays_every_epoch_from_then_on_and_survives_resume(tmp_path):
    pieces = [loop_piece(16, i) for i in range(4)]
    model = ModelConfig(V, 8, 6)
    train(pieces, [loop_piece(12)], model, small_config(epochs=2, lr_decay=0.5, lr_decay_from=2), tmp_path / "m.npz",
          META)
    # Resumed with none of the schedule's flags: the checkpoint's own settings go on.
    res = train(pieces, [loop_piece(12)], model, small_config(epochs=5), tmp_path / "m.npz", META, resume=True)
    assert [h["lr"] for h in res.history] == pytest.approx([0.01, 0.005, 0.0025, 0.00125, 0.000625])
    assert load_checkpoint(tmp_path / "m.last.npz").meta["train"]["lr_decay_from"] == 2


def test_lr_decay_from_without_a_decay_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--lr-decay below 1"):
        train([loop_piece(8)], [], ModelConfig(V, 4, 4), small_config(lr_decay_from=3), tmp_path / "m.npz", META)
