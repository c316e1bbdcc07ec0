"""The AIS and reverse AIS kernels against plain NumPy references that replay the same splitmix64 stream."""

import numpy as np
import pytest

from rnnrbm.kernels import AIS_SERIES_MAX, ais_log_weights, reverse_ais_log_weights
from streams import Stream

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def replay(chain, S, runs, seed, first):
    """(S, runs) log weights, ``chain(s, stream)`` run on each chain's own stream."""
    return np.array([[chain(s, Stream(seed, first + s * runs + r)) for r in range(runs)] for s in range(S)])


def reference_log_weights(W, bv, bh, betas, runs, seed, first=0):
    """AIS written out: exact softplus differences, one Bernoulli draw ``U < p`` per unit."""
    W = np.asarray(W, np.float64)
    (S, V), H = bv.shape, W.shape[1]

    def chain(s, stream):
        v = (stream.uniforms(V) < sigmoid(bv[s])).astype(np.float64)
        lw = 0.0
        for k in range(1, len(betas)):
            x = v @ W
            lw += np.sum(softplus(bh[s] + betas[k] * x) - softplus(bh[s] + betas[k - 1] * x))
            if k == len(betas) - 1:
                break
            h = (stream.uniforms(H) < sigmoid(bh[s] + betas[k] * x)).astype(np.float64)
            v = (stream.uniforms(V) < sigmoid(bv[s] + betas[k] * (h @ W.T))).astype(np.float64)
        return lw

    return replay(chain, S, runs, seed, first)


def reference_reverse_log_weights(W, v, bv, bh, betas, runs, seed, first=0):
    """Reverse AIS written out: from the data down through the betas, the increment at each new v."""
    W = np.asarray(W, np.float64)
    (S, V), H = bv.shape, W.shape[1]

    def chain(s, stream):
        x, L = (v[s] != 0).astype(np.float64), 0.0
        for k in range(len(betas) - 1, 0, -1):
            h = (stream.uniforms(H) < sigmoid(bh[s] + betas[k] * (x @ W))).astype(np.float64)
            x = (stream.uniforms(V) < sigmoid(bv[s] + betas[k] * (h @ W.T))).astype(np.float64)
            L += np.sum(softplus(bh[s] + betas[k] * (x @ W)) - softplus(bh[s] + betas[k - 1] * (x @ W)))
        return L

    return replay(chain, S, runs, seed, first)


def model(V, H, S, scale, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, scale, (V, H)).astype(dtype)
    return W, rng.normal(-0.5, 1.0, (S, V)), rng.normal(0.0, 1.0, (S, H))


@pytest.mark.parametrize("V, H, scale, K", [
    (7, 5, 0.3, 12),    # small increments: the Taylor series
    (6, 9, 1.5, 4),     # large increments: the exact softplus branch
    (5, 4, 0.8, 2),     # K = 2: importance sampling from the base, no transition
    (9, 6, 0.8, 30),
])
def test_kernel_matches_numpy_reference(V, H, scale, K):
    W, bv, bh = model(V, H, 3, scale)
    betas = np.linspace(0.0, 1.0, K)
    got = ais_log_weights(W, bv, bh, betas, 4, seed=123, first=8)
    want = reference_log_weights(W, bv, bh, betas, 4, seed=123, first=8)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    assert np.ptp(got) > 0  # the chains really differ


@pytest.mark.parametrize("V, H, scale, K, dtype", [
    (7, 5, 0.3, 12, np.float64),    # the Taylor series
    (6, 9, 1.5, 4, np.float64),     # the exact softplus branch
    (5, 4, 0.8, 2, np.float64),     # K = 2: one transition at beta = 1
    (9, 6, 0.8, 30, np.float32),
])
def test_reverse_kernel_matches_numpy_reference(V, H, scale, K, dtype):
    W, bv, bh = model(V, H, 3, scale, dtype=dtype)
    v = (np.random.default_rng(K).random((3, V)) < 0.4).astype(np.uint8)
    betas = np.linspace(0.0, 1.0, K)
    got = reverse_ais_log_weights(W, v, bv, bh, betas, 4, seed=123, first=8)
    want = reference_reverse_log_weights(W, v, bv, bh, betas, 4, seed=123, first=8)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-8)
    assert np.ptp(got) > 0
    assert not np.allclose(got, ais_log_weights(W, bv, bh, betas, 4, seed=123, first=8))


def test_reverse_blocks_and_threads_do_not_change_results(monkeypatch):
    W, bv, bh = model(10, 8, 6, 0.5)
    v = (np.random.default_rng(0).random((6, 10)) < 0.4).astype(np.float64)
    betas = np.linspace(0.0, 1.0, 25)
    whole = reverse_ais_log_weights(W, v, bv, bh, betas, 3, seed=5)
    monkeypatch.setattr("rnnrbm.kernels.ais.AIS_PARALLEL_MIN_WORK", 0)
    np.testing.assert_array_equal(reverse_ais_log_weights(W, v, bv, bh, betas, 3, seed=5), whole)
    parts = [reverse_ais_log_weights(W, v[i:i + 3], bv[i:i + 3].copy(), bh[i:i + 3].copy(), betas, 3, seed=5,
                                     first=i * 3) for i in (0, 3)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


def test_reverse_wrapper_rejects_data_of_the_wrong_shape():
    with pytest.raises(ValueError, match="v"):
        reverse_ais_log_weights(np.zeros((5, 4)), np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((2, 4)),
                                np.linspace(0, 1, 3), 2, seed=0)


def test_both_increment_branches_are_exercised_and_agree():
    # A mixed schedule: the first step is large (exact branch), the rest small (series).
    W, bv, bh = model(8, 6, 2, 1.0, seed=3)
    betas = np.concatenate([[0.0], np.linspace(0.3, 1.0, 15)])
    x_max = np.abs(W).sum(axis=0).max()
    assert 0.3 * x_max > AIS_SERIES_MAX  # the first step can leave the series range
    np.testing.assert_allclose(ais_log_weights(W, bv, bh, betas, 5, seed=9),
                               reference_log_weights(W, bv, bh, betas, 5, seed=9), rtol=0, atol=1e-8)


def test_float32_weights_agree_to_rounding():
    W, bv, bh = model(8, 7, 2, 0.5, dtype=np.float32)
    betas = np.linspace(0.0, 1.0, 20)
    np.testing.assert_allclose(ais_log_weights(W, bv, bh, betas, 3, seed=1),
                               reference_log_weights(W, bv, bh, betas, 3, seed=1), rtol=0, atol=1e-5)


def test_blocks_and_threads_do_not_change_results(monkeypatch):
    W, bv, bh = model(10, 8, 6, 0.5)
    betas = np.linspace(0.0, 1.0, 25)
    whole = ais_log_weights(W, bv, bh, betas, 3, seed=5)
    monkeypatch.setattr("rnnrbm.kernels.ais.AIS_PARALLEL_MIN_WORK", 0)  # the prange kernel
    np.testing.assert_array_equal(ais_log_weights(W, bv, bh, betas, 3, seed=5), whole)
    monkeypatch.undo()
    parts = [ais_log_weights(W, bv[i:i + 2].copy(), bh[i:i + 2].copy(), betas, 3, seed=5, first=i * 3)
             for i in range(0, 6, 2)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    assert not np.array_equal(whole, ais_log_weights(W, bv, bh, betas, 3, seed=6))


def test_zero_weights_give_zero_log_weights():
    W, bv, bh = model(6, 4, 3, 0.0)
    assert np.all(ais_log_weights(W, bv, bh, np.linspace(0, 1, 10), 4, seed=0) == 0.0)


@pytest.mark.parametrize("change, error", [
    (dict(betas=np.array([0.0, 0.5])), ValueError),
    (dict(betas=np.array([0.0, 0.7, 0.5, 1.0])), ValueError),
    (dict(betas=np.array([1.0])), ValueError),
    (dict(bv=np.zeros((2, 3))), ValueError),
    (dict(bh=np.zeros((2, 4), np.float32)), TypeError),
    (dict(W=np.zeros((5, 4), np.int64)), TypeError),
    (dict(runs=0), ValueError),
    (dict(seed=-1), ValueError),
])
def test_wrapper_rejects_bad_arguments(change, error):
    args = dict(W=np.zeros((5, 4)), bv=np.zeros((2, 5)), bh=np.zeros((2, 4)), betas=np.linspace(0, 1, 3),
                runs=2, seed=0)
    args.update(change)
    with pytest.raises(error):
        ais_log_weights(**args)
