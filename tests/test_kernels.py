"""Every Numba kernel against a slow, plain NumPy reference."""

import numpy as np
import pytest

from rnnrbm import kernels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_sigmoid_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (7, 9)).astype(dtype)
    b = rng.normal(0, 1, (7, 9)).astype(dtype)
    u = rng.random((7, 9), dtype=np.float32)
    expected = (u < 1.0 / (1.0 + np.exp(-(x.astype(np.float64) + b)))).astype(dtype)
    out = kernels.sample_sigmoid(x, b, u)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    assert 0 < out.sum() < out.size


def test_sample_sigmoid_rejects_bad_shapes():
    with pytest.raises(ValueError):
        kernels.sample_sigmoid(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros((2, 3)))


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
