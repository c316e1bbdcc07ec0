"""Every Numba kernel against a slow, plain NumPy reference."""

import numpy as np
import pytest

from rnnrbm import kernels
from streams import Stream


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_gibbs_chains(v, W, bv, bh, k, seed, first=0):
    """Block Gibbs written out: one Bernoulli draw ``U < sigmoid(x)`` per unit, in float64."""
    W = np.asarray(W, np.float64)
    out = np.empty(v.shape)
    for n in range(len(v)):
        stream = Stream(seed, first + n)
        x = np.asarray(v[n], np.float64)
        for _ in range(k):
            h = (stream.uniforms(W.shape[1]) < sigmoid(bh[n] + x @ W)).astype(np.float64)
            x = (stream.uniforms(W.shape[0]) < sigmoid(bv[n] + h @ W.T)).astype(np.float64)
        out[n] = x
    return out


def chains(N, V, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 1, (V, H)).astype(dtype)
    v = (rng.random((N, V)) < 0.3).astype(dtype)
    return v, W, rng.normal(0, 1, (N, V)).astype(dtype), rng.normal(0, 1, (N, H)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("V, H, k", [(5, 7, 1), (9, 4, 3), (12, 13, 6)])
def test_gibbs_chains_match_numpy(dtype, V, H, k):
    v, W, bv, bh = chains(6, V, H, dtype)
    out = kernels.gibbs_chains(v, W, bv, bh, k, seed=42, first=3)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, reference_gibbs_chains(v, W, bv, bh, k, 42, first=3))
    assert 0 < out.sum() < out.size


def test_gibbs_chains_blocks_are_independent_of_splitting():
    v, W, bv, bh = chains(10, 8, 6, np.float32)
    whole = kernels.gibbs_chains(v, W, bv, bh, 4, seed=7)
    parts = [kernels.gibbs_chains(v[a:b], W, bv[a:b], bh[a:b], 4, seed=7, first=a) for a, b in [(0, 3), (3, 10)]]
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    assert not np.array_equal(whole, kernels.gibbs_chains(v, W, bv, bh, 4, seed=8))


@pytest.mark.parametrize("change", [dict(k=0), dict(bv="shape"), dict(v="dtype")])
def test_gibbs_chains_reject_bad_arguments(change):
    v, W, bv, bh = chains(3, 4, 5, np.float32)
    k = change.get("k", 2)
    if "bv" in change:
        bv = bv[:, :-1]
    if "v" in change:
        v = v.astype(np.float64)
    with pytest.raises(ValueError):
        kernels.gibbs_chains(v, W, bv, bh, k, seed=0)


def _flat_index(V, R):
    """Reference layout: dict name -> function of indices giving the flat column."""
    return {
        "Wvu": lambda m, n: m * R + n,
        "Wuu": lambda k, n: V * R + k * R + n,
        "bu": lambda n: V * R + R * R + n,
        "u0": lambda n: V * R + R * R + R + n,
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rtrl_immediate_matches_dense_jacobian(dtype):
    rng = np.random.default_rng(1)
    B, V, R = 3, 4, 5
    P = V * R + R * R + 2 * R
    S = rng.normal(size=(B, R + 1, P)).astype(dtype)
    D = rng.random((B, R)).astype(dtype)
    v = (rng.random((B, V)) < 0.5).astype(dtype)
    u_prev = rng.normal(size=(B, R)).astype(dtype)
    idx = _flat_index(V, R)
    expected = S.astype(np.float64).copy()
    for b in range(B):
        J = np.zeros((R, P))  # d a_t / d theta, with a_t = bu + v Wvu + u_prev Wuu
        for i in range(R):
            for m in range(V):
                J[i, idx["Wvu"](m, i)] = v[b, m]
            for k in range(R):
                J[i, idx["Wuu"](k, i)] = u_prev[b, k]
            J[i, idx["bu"](i)] = 1.0
        expected[b, :R] += D[b][:, None] * J
    kernels.rtrl_immediate(S, D, v, u_prev)
    np.testing.assert_allclose(S, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_rtrl_reset_sets_u0_identity_only_where_asked():
    B, V, R = 3, 2, 3
    P = V * R + R * R + 2 * R
    S = np.ones((B, R + 1, P))
    kernels.rtrl_reset(S, np.array([True, False, True]), V)
    expected = np.zeros((R + 1, P))
    expected[np.arange(R), V * R + R * R + R + np.arange(R)] = 1.0
    np.testing.assert_array_equal(S[0], expected)
    np.testing.assert_array_equal(S[2], expected)
    assert np.all(S[1] == 1.0)
