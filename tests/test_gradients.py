"""RTRL and BPTT gradients agree with each other and with finite differences (float64)."""

import numpy as np
import pytest

from rnnrbm.gradients import chunk_gradient, init_state
from rnnrbm.model import PARAM_NAMES, ModelConfig, init_params

V, H, R = 5, 4, 3


def _params(seed=0):
    rng = np.random.default_rng(seed)
    p = init_params(ModelConfig(V, H, R, count_bias=True), rng, dtype=np.float64)
    for name in ("bv", "bh", "bn", "bu", "u0"):  # non-zero biases exercise every term
        p[name] = rng.normal(0, 0.5, p[name].shape)
    return p


def reference_cost(p, pieces, negs):
    """Surrogate cost sum_t F_t(v_t) - F_t(v*_t), written as plainly as possible."""
    total = 0.0
    for v, vn in zip(pieces, negs):
        u = p["u0"]
        for t in range(len(v)):
            bv_t = p["bv"] + u @ p["Wuv"]
            bh_t = p["bh"] + u @ p["Wuh"]
            for x, sign in ((v[t], 1.0), (vn[t], -1.0)):
                F = -x @ bv_t - p["bn"][int(x.sum())] - np.sum(np.log1p(np.exp(bh_t + x @ p["W"])))
                total += sign * F
            u = np.tanh(p["bu"] + v[t] @ p["Wvu"] + u @ p["Wuu"])
    return total


def _stream(pieces, negs, L):
    """Lay pieces end to end in one stream, cut into chunks of L (padding the tail)."""
    v = np.concatenate(pieces)
    vn = np.concatenate(negs)
    first = np.zeros(len(v), bool)
    first[np.cumsum([0] + [len(x) for x in pieces[:-1]])] = True
    n = -(-len(v) // L) * L
    pad = n - len(v)
    v = np.pad(v, ((0, pad), (0, 0)))
    vn = np.pad(vn, ((0, pad), (0, 0)))
    valid = np.arange(n) < len(v) - pad
    first = np.pad(first, (0, pad))
    for s in range(0, n, L):
        yield v[None, s:s + L], vn[None, s:s + L], first[None, s:s + L], valid[None, s:s + L]


def _grad(p, pieces, negs, L, method):
    state = init_state(p, 1, rtrl=method == "rtrl")
    total = {k: 0.0 for k in PARAM_NAMES}
    for v, vn, first, valid in _stream(pieces, negs, L):
        g, state, _ = chunk_gradient(p, v, first, valid, state, 1, None, method, v_neg=vn)
        total = {k: total[k] + g[k] for k in PARAM_NAMES}
    return total


def _data(seed=1, lengths=(7, 5)):
    rng = np.random.default_rng(seed)
    pieces = [(rng.random((T, V)) < 0.4).astype(float) for T in lengths]
    negs = [(rng.random((T, V)) < 0.4).astype(float) for T in lengths]
    return pieces, negs


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_rtrl_equals_bptt_on_whole_sequences(name):
    p = _params()
    pieces, negs = _data()
    L = sum(len(x) for x in pieces)  # one chunk: BPTT is untruncated
    g_rtrl = _grad(p, pieces, negs, L, "rtrl")
    g_bptt = _grad(p, pieces, negs, L, "bptt")
    assert np.linalg.norm(g_rtrl[name]) > 1e-6
    assert _rel(g_rtrl[name], g_bptt[name]) < 1e-8


def test_rtrl_carries_sensitivities_across_chunks():
    """Chunked RTRL is untruncated: it equals one-chunk BPTT; chunked BPTT does not."""
    p = _params(3)
    pieces, negs = _data(4, lengths=(11,))
    whole = _grad(p, pieces, negs, 11, "bptt")
    chunked_rtrl = _grad(p, pieces, negs, 3, "rtrl")
    chunked_bptt = _grad(p, pieces, negs, 3, "bptt")
    for name in ("Wvu", "Wuu", "bu", "u0"):
        assert _rel(chunked_rtrl[name], whole[name]) < 1e-8
    assert _rel(chunked_bptt["Wuu"], whole["Wuu"]) > 1e-4


@pytest.mark.parametrize("method", ["rtrl", "bptt"])
def test_gradients_match_central_finite_differences(method):
    p = _params(5)
    pieces, negs = _data(6)
    g = _grad(p, pieces, negs, sum(len(x) for x in pieces), method)
    eps = 1e-6
    for name in PARAM_NAMES:
        num = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            old = p[name][idx]
            p[name][idx] = old + eps
            up = reference_cost(p, pieces, negs)
            p[name][idx] = old - eps
            down = reference_cost(p, pieces, negs)
            p[name][idx] = old
            num[idx] = (up - down) / (2 * eps)
        assert _rel(g[name], num) < 1e-6, name


def test_padding_and_streams_are_independent():
    """Two streams in one batch give the sum of their separate gradients; padding adds nothing."""
    p = _params(7)
    pieces, negs = _data(8, lengths=(6, 4))
    L = 6
    batch_v = np.zeros((2, L, V))
    batch_n = np.zeros((2, L, V))
    valid = np.zeros((2, L), bool)
    for b, (x, xn) in enumerate(zip(pieces, negs)):
        batch_v[b, :len(x)], batch_n[b, :len(x)], valid[b, :len(x)] = x, xn, True
    first = np.zeros((2, L), bool)
    first[:, 0] = True
    for method in ("rtrl", "bptt"):
        g, _, stats = chunk_gradient(p, batch_v, first, valid, init_state(p, 2, method == "rtrl"), 1, None,
                                     method, v_neg=batch_n)
        sep = [_grad(p, [x], [xn], L, method) for x, xn in zip(pieces, negs)]
        assert stats["frames"] == 10
        for name in PARAM_NAMES:
            assert np.allclose(g[name], sep[0][name] + sep[1][name], rtol=1e-10, atol=1e-12)


@pytest.fixture
def starts(monkeypatch):
    """The start of every CD chain drawn; the chains themselves stay where they start."""
    import rnnrbm.gradients as gradients

    seen = []
    monkeypatch.setattr(gradients, "gibbs_chain", lambda start, *args: seen.append(start.copy()) or start)
    return seen


@pytest.mark.parametrize("method", ["rtrl", "bptt"])
@pytest.mark.parametrize("cd_start", ["data", "previous"])
def test_cd_chains_start_where_asked(method, cd_start, starts):
    """'previous' starts each frame's chain at the frame before, across chunk boundaries, and a
    piece's first frame at itself; 'data' starts every chain at its own frame."""
    p = _params(9)
    pieces, _ = _data(11, lengths=(4, 3))
    state = init_state(p, 1, rtrl=method == "rtrl")
    for v, _, first, valid in _stream(pieces, pieces, 3):  # the second piece begins inside the third chunk
        _, state, _ = chunk_gradient(p, v, first, valid, state, 1, None, method, cd_start=cd_start)
    got = np.concatenate(starts)[:7]
    a, b = pieces
    expected = np.concatenate([a[:1], a[:3], b[:1], b[:2]]) if cd_start == "previous" else np.concatenate(pieces)
    assert np.array_equal(got, expected)


def test_mixed_cd_start_picks_either_frame_at_random(starts):
    p = _params(9)
    rng = np.random.default_rng(12)
    v = (rng.random((1, 400, V)) < 0.5).astype(float)
    first = np.zeros((1, 400), bool)
    first[0, 0] = True
    ones = np.ones((1, 400), bool)
    chunk_gradient(p, v, first, ones, init_state(p, 1, False), 1, rng, "bptt", cd_start="mixed")
    start, frames, previous = starts[0], v[0], np.vstack([v[0, :1], v[0, :-1]])
    own = (start == frames).all(axis=1)
    prev = (start == previous).all(axis=1)
    assert own[0] and (own | prev).all()
    assert 0.4 < np.mean(prev[1:] & ~own[1:]) < 0.6  # about half the chains start at the frame before


@pytest.mark.parametrize("method", ["rtrl", "bptt"])
def test_persistent_chains_go_on_from_the_last_negative_sample(method, monkeypatch):
    """Each chain starts at the previous frame's negative sample, across chunk boundaries;
    a piece's first frame starts at itself. A fake chain that flips every unit tells them apart."""
    import rnnrbm.gradients as gradients

    seen = []
    monkeypatch.setattr(gradients, "gibbs_chain", lambda start, *args: seen.append(start.copy()) or 1 - start)
    p = _params(9)
    pieces, _ = _data(11, lengths=(4, 3))
    state = init_state(p, 1, rtrl=method == "rtrl")
    for v, _, first, valid in _stream(pieces, pieces, 3):
        _, state, _ = chunk_gradient(p, v, first, valid, state, 1, None, method, cd_start="persistent")
    got = np.concatenate(seen)[:7]
    a, b = pieces
    expected = np.concatenate([a[:1], 1 - a[:1], a[:1], 1 - a[:1], b[:1], 1 - b[:1], b[:1]])
    assert np.array_equal(got, expected)


def test_count_gradient_is_the_difference_of_count_histograms():
    from rnnrbm.gradients import count_gradient

    v = np.array([[[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]]], float)
    v_neg = np.array([[[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]], float)
    valid = np.array([[True, True, False]])  # the padding frame counts for neither
    np.testing.assert_array_equal(count_gradient(v, v_neg, valid, V + 1), [1, -1, -1, 1, 0, 0])
    assert count_gradient(v, v_neg, valid, 0).shape == (0,)


def test_unknown_cd_start_is_refused():
    p = _params()
    (v, _, first, valid), = _stream(*_data(lengths=(3,)), 3)
    with pytest.raises(ValueError, match="cd_start"):
        chunk_gradient(p, v, first, valid, init_state(p, 1, False), 1, np.random.default_rng(0), "bptt",
                       cd_start="model")
