"""The count bias bn (energy term -bn[n(v)]) in the sampling kernels, against plain NumPy and exact enumeration."""

import itertools

import numpy as np
import pytest

from rnnrbm import kernels
from rnnrbm.kernels.streams import _draw_counted
from streams import Stream


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def backward_table(p, cw):
    """G[i, c]: weight of finishing from unit i with c units on, G[V, c] = cw[c]."""
    V = len(p)
    G = np.zeros((V + 1, V + 1))
    G[V] = cw
    for i in range(V - 1, -1, -1):
        G[i, :i + 1] = (1 - p[i]) * G[i + 1, :i + 1] + p[i] * G[i + 1, 1:i + 2]
    return G


def conditionals(p, cw, v):
    """q_i = P(v_i = 1 | v_<i) of the sequential procedure, along the configuration v."""
    G = backward_table(p, cw)
    q, c = np.empty(len(p)), 0
    for i in range(len(p)):
        q[i] = p[i] * G[i + 1, c + 1] / G[i, c] if G[i, c] > 0 else p[i]
        c += int(v[i])
    return q


def reference_draw(p, U, cw):
    """The sequential draw written out: unit i is on iff U[i] < q_i."""
    G = backward_table(p, cw)
    v, c = np.zeros(len(p)), 0
    for i in range(len(p)):
        q = p[i] * G[i + 1, c + 1] / G[i, c] if G[i, c] > 0 else p[i]
        v[i] = U[i] < q
        c += int(v[i])
    return v


def all_states(V):
    return np.array(list(itertools.product([0.0, 1.0], repeat=V)))


def tilted(p, cw):
    """prod p^v (1-p)^(1-v) cw[n(v)], normalised, for every v of all_states."""
    vs = all_states(len(p))
    w = np.prod(np.where(vs == 1, p, 1 - p), axis=1) * cw[vs.sum(1).astype(int)]
    return w / w.sum()


def weights(bn):
    return np.exp(bn - bn.max())


@pytest.mark.parametrize("V, seed", [(1, 0), (4, 1), (5, 2), (5, 3)])
def test_sequential_procedure_is_exactly_the_tilted_distribution(V, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(V)
    cw = weights(rng.normal(0, 2, V + 1))
    if seed == 3:
        p[1], cw[2] = 1.0, 0.0  # a certain unit and an impossible count
    prob = np.array([np.prod(np.where(v == 1, q, 1 - q)) for v in all_states(V)
                     for q in [conditionals(p, cw, v)]])
    np.testing.assert_allclose(prob, tilted(p, cw), rtol=0, atol=1e-12)


@pytest.mark.parametrize("V", [1, 7, 20])
def test_kernel_helper_draws_what_the_reference_draws(V):
    rng = np.random.default_rng(V)
    cw = weights(rng.normal(0, 3, V + 1))
    G = np.empty((V + 1, V + 1))
    idx = np.empty(V, np.int64)
    counts = []
    for _ in range(200):
        p = sigmoid(rng.normal(0, 2, V + 3))  # only the first V entries are the units'
        U = rng.random(V + 3)
        nv = _draw_counted(p, U, cw, G, idx)
        got = np.zeros(V)
        got[idx[:nv]] = 1
        np.testing.assert_array_equal(got, reference_draw(p[:V], U[:V], cw))
        counts.append(nv)
    assert len(set(counts)) > 1


def tiny_rbm(V, H, seed, bn_scale=1.5):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1, (V, H)), rng.normal(0, 1, V), rng.normal(0, 1, H), rng.normal(0, bn_scale, V + 1))


def exact_log_p(W, bv, bh, bn):
    """log of exp(v.bv + bn[n(v)]) prod_j (1 + exp(bh_j + (v W)_j)) for every v of all_states."""
    vs = all_states(len(bv))
    return vs @ bv + bn[vs.sum(1).astype(int)] + softplus(bh + vs @ W).sum(1)


def chains(N, V, H, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 1, (V, H)).astype(dtype)
    v = (rng.random((N, V)) < 0.3).astype(dtype)
    return v, W, rng.normal(0, 1, (N, V)).astype(dtype), rng.normal(0, 1, (N, H)).astype(dtype)


def reference_gibbs_chains(v, W, bv, bh, k, seed, bn):
    """Block Gibbs with the counted visible draw, replaying the chains' streams."""
    cw = weights(np.asarray(bn, np.float64))
    W = np.asarray(W, np.float64)
    out = np.empty(v.shape)
    for n in range(len(v)):
        stream = Stream(seed, n)
        x = np.asarray(v[n], np.float64)
        for _ in range(k):
            h = (stream.uniforms(W.shape[1]) < sigmoid(bh[n] + x @ W)).astype(np.float64)
            x = reference_draw(sigmoid(bv[n] + h @ W.T), stream.uniforms(W.shape[0]), cw)
        out[n] = x
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gibbs_chains_with_count_bias_match_numpy(dtype):
    v, W, bv, bh = chains(20, 9, 6, dtype=dtype)
    bn = np.random.default_rng(5).normal(0, 2, 10).astype(dtype)
    out = kernels.gibbs_chains(v, W, bv, bh, 3, seed=4, bn=bn)
    np.testing.assert_array_equal(out, reference_gibbs_chains(v, W, bv, bh, 3, 4, bn))
    assert not np.array_equal(out, kernels.gibbs_chains(v, W, bv, bh, 3, seed=4))


def test_gibbs_chains_constant_count_bias_changes_nothing():
    v, W, bv, bh = chains(400, 12, 8)
    plain = kernels.gibbs_chains(v, W, bv, bh, 3, seed=1)
    np.testing.assert_array_equal(kernels.gibbs_chains(v, W, bv, bh, 3, seed=1, bn=np.full(13, 2.5)), plain)
    assert 0 < plain.mean() < 1


def test_gibbs_chains_strong_count_bias_caps_the_notes():
    v, W, bv, bh = chains(300, 12, 8)
    bv += 3.0  # most notes want to be on
    bn = np.zeros(13, np.float32)
    bn[3:] = -60.0
    counts = kernels.gibbs_chains(v, W, bv, bh, 4, seed=2, bn=bn).sum(1)
    assert counts.max() == 2
    assert kernels.gibbs_chains(v, W, bv, bh, 4, seed=2).sum(1).min() > 2  # without the cap


def test_gibbs_chains_reach_the_exact_distribution():
    V, H, N = 4, 3, 40000
    W, bv, bh, bn = tiny_rbm(V, H, seed=7)
    exact = np.exp(exact_log_p(W, bv, bh, bn))
    exact /= exact.sum()
    unbiased = np.exp(exact_log_p(W, bv, bh, np.zeros(V + 1)))
    unbiased /= unbiased.sum()
    assert 0.5 * np.abs(exact - unbiased).sum() > 0.1  # the count bias matters here
    v0 = (np.random.default_rng(8).random((N, V)) < 0.5).astype(np.float64)
    out = kernels.gibbs_chains(v0, W, np.tile(bv, (N, 1)), np.tile(bh, (N, 1)), 30, seed=9, bn=bn)
    states = (out @ (2.0 ** np.arange(V - 1, -1, -1))).astype(int)  # the row of all_states
    empirical = np.bincount(states, minlength=2 ** V) / N
    assert 0.5 * np.abs(empirical - exact).sum() < 0.02


@pytest.mark.parametrize("bn", [np.zeros(4), np.zeros(5, np.int64), np.array([0.0, 1.0, np.inf, 0.0, 0.0])])
def test_gibbs_chains_reject_bad_count_bias(bn):
    v, W, bv, bh = chains(3, 4, 5)
    with pytest.raises(ValueError, match="bn"):
        kernels.gibbs_chains(v, W, bv, bh, 2, seed=0, bn=bn)


def reference_ais(W, bv, bh, bn, betas, runs, seed):
    """AIS with the counted draws for the base sample and the visible transitions (one RBM)."""
    cw = weights(bn)
    out = np.empty(runs)
    for r in range(runs):
        stream = Stream(seed, r)
        v = reference_draw(sigmoid(bv), stream.uniforms(len(bv)), cw)
        lw = 0.0
        for k in range(1, len(betas)):
            x = v @ W
            lw += np.sum(softplus(bh + betas[k] * x) - softplus(bh + betas[k - 1] * x))
            if k == len(betas) - 1:
                break
            h = (stream.uniforms(len(bh)) < sigmoid(bh + betas[k] * x)).astype(np.float64)
            v = reference_draw(sigmoid(bv + betas[k] * (h @ W.T)), stream.uniforms(len(bv)), cw)
        out[r] = lw
    return out


def test_ais_with_count_bias_matches_numpy():
    W, bv, bh, bn = tiny_rbm(7, 5, seed=3)
    betas = np.linspace(0.0, 1.0, 15)
    got = kernels.ais_log_weights(W, bv[None], bh[None], betas, 6, seed=21, bn=bn)
    np.testing.assert_allclose(got[0], reference_ais(W, bv, bh, bn, betas, 6, 21), rtol=0, atol=1e-8)
    assert not np.allclose(got, kernels.ais_log_weights(W, bv[None], bh[None], betas, 6, seed=21))


def test_ais_with_count_bias_estimates_the_exact_log_partition_function():
    V, H, runs = 5, 4, 1000
    W, bv, bh, bn = tiny_rbm(V, H, seed=11)
    vs = all_states(V)
    log_z0 = np.logaddexp.reduce(vs @ bv + bn[vs.sum(1).astype(int)]) + softplus(bh).sum()
    exact = np.logaddexp.reduce(exact_log_p(W, bv, bh, bn))
    assert abs(exact - np.logaddexp.reduce(exact_log_p(W, bv, bh, np.zeros(V + 1)))) > 0.2  # the count bias matters here
    logw = kernels.ais_log_weights(W, bv[None], bh[None], np.linspace(0.0, 1.0, 300), runs, seed=5, bn=bn)[0]
    estimate = log_z0 + np.logaddexp.reduce(logw) - np.log(runs)
    assert abs(estimate - exact) < 0.03


def test_reverse_ais_with_count_bias_matches_numpy():
    W, bv, bh, bn = tiny_rbm(7, 5, seed=4)
    v = np.array([[1, 0, 1, 1, 0, 0, 1]], np.float64)
    betas = np.linspace(0.0, 1.0, 15)
    cw = weights(bn)
    want = np.empty(6)
    for r in range(6):
        stream, x, L = Stream(21, r), v[0], 0.0
        for k in range(len(betas) - 1, 0, -1):
            h = (stream.uniforms(len(bh)) < sigmoid(bh + betas[k] * (x @ W))).astype(np.float64)
            x = reference_draw(sigmoid(bv + betas[k] * (h @ W.T)), stream.uniforms(len(bv)), cw)
            L += np.sum(softplus(bh + betas[k] * (x @ W)) - softplus(bh + betas[k - 1] * (x @ W)))
        want[r] = L
    got = kernels.reverse_ais_log_weights(W, v, bv[None], bh[None], betas, 6, seed=21, bn=bn)
    np.testing.assert_allclose(got[0], want, rtol=0, atol=1e-8)
    assert not np.allclose(got, kernels.reverse_ais_log_weights(W, v, bv[None], bh[None], betas, 6, seed=21))


def test_ais_rejects_bad_count_bias():
    with pytest.raises(ValueError, match="bn"):
        kernels.ais_log_weights(np.zeros((5, 4)), np.zeros((2, 5)), np.zeros((2, 4)), np.linspace(0, 1, 3), 2,
                                seed=0, bn=np.zeros(5))


def generation_params(V, H, R, dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(0, 1.5, (V, H)), "bv": rng.normal(0, 0.5, V), "bh": rng.normal(0, 0.5, H),
              "Wuv": rng.normal(0, 0.5, (R, V)), "Wuh": rng.normal(0, 0.5, (R, H)),
              "Wvu": rng.normal(0, 0.5, (V, R)), "Wuu": rng.normal(0, 0.5, (R, R)), "bu": rng.normal(0, 0.5, R),
              "u0": rng.normal(0, 0.5, R)}
    return {name: a.astype(dtype) for name, a in params.items()}


def reference_generate(params, u, v, uniforms, restarts, temperature):
    """The generation loop in float64 NumPy with the counted visible draw at temperature T."""
    p = {k: np.asarray(a, np.float64) for k, a in params.items()}
    W, H = p["W"], p["W"].shape[1]
    cw = weights(p["bn"] / temperature)
    u, v = p["u0"] if u is None else u, np.asarray(v, np.float64)
    frames = []
    for t in range(uniforms.shape[0]):
        bv_t, bh_t = p["bv"] + u @ p["Wuv"], p["bh"] + u @ p["Wuh"]
        x = v if v.any() else restarts[t].astype(np.float64)
        for g in range(uniforms.shape[1]):
            U = uniforms[t, g].astype(np.float64)
            h = (U[:H] < sigmoid((bh_t + x @ W) / temperature)).astype(np.float64)
            x = reference_draw(sigmoid((bv_t + h @ W.T) / temperature), U[H:], cw)
        v = x
        frames.append(v)
        u = np.tanh(p["bu"] + v @ p["Wvu"] + u @ p["Wuu"])
    return np.array(frames, np.uint8)


def generation_inputs(V, H, T, K, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.random((T, K, H + V), dtype=np.float32), (rng.random((T, V)) < 0.5).astype(np.uint8),
            (rng.random(V) < 0.3).astype(np.uint8))


def generate(params, uniforms, restarts, v0, temperature=1.0):
    return kernels.generate_frames(params, params["u0"].copy(), v0.copy(), uniforms, restarts, temperature)


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
def test_generate_frames_with_count_bias_match_numpy(temperature):
    V, H, R, T, K = 10, 7, 5, 25, 3
    params = generation_params(V, H, R, np.float64)
    params["bn"] = np.random.default_rng(1).normal(0, 2, V + 1)
    uniforms, restarts, v0 = generation_inputs(V, H, T, K)
    out = generate(params, uniforms, restarts, v0, temperature)
    np.testing.assert_array_equal(out, reference_generate(params, None, v0, uniforms, restarts, temperature))
    np.testing.assert_array_equal(out, generate(params, uniforms, restarts, v0, temperature))  # deterministic
    assert not np.array_equal(out, generate({k: a for k, a in params.items() if k != "bn"}, uniforms, restarts, v0,
                                            temperature))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_generate_frames_constant_or_empty_count_bias_changes_nothing(dtype):
    V, H, R, T, K = 12, 8, 5, 40, 3
    params = generation_params(V, H, R, dtype)
    uniforms, restarts, v0 = generation_inputs(V, H, T, K)
    plain = generate(params, uniforms, restarts, v0, 0.8)
    assert 0.05 < plain.mean() < 0.95
    for bn in (np.full(V + 1, -3.0, dtype), np.empty(0, dtype)):
        np.testing.assert_array_equal(generate(dict(params, bn=bn), uniforms, restarts, v0, 0.8), plain)


def test_generate_frames_strong_count_bias_caps_the_notes():
    V, H, R, T, K = 12, 8, 5, 40, 3
    params = generation_params(V, H, R, np.float32)
    params["bv"] += 2.0
    uniforms, restarts, v0 = generation_inputs(V, H, T, K)
    assert generate(params, uniforms, restarts, v0).sum(1).max() > 2
    bn = np.zeros(V + 1, np.float32)
    bn[3:] = -60.0
    for temperature in (1.0, 3.0):
        counts = generate(dict(params, bn=bn), uniforms, restarts, v0, temperature).sum(1)
        assert counts.max() == 2


@pytest.mark.parametrize("bn, error", [(np.zeros(12, np.float32), ValueError), (np.zeros(13, np.float64), TypeError),
                                       (np.full(13, np.nan, np.float32), ValueError)])
def test_generate_frames_reject_bad_count_bias(bn, error):
    params = generation_params(12, 8, 5, np.float32)
    uniforms, restarts, v0 = generation_inputs(12, 8, 2, 1)
    with pytest.raises(error, match="bn"):
        generate(dict(params, bn=bn), uniforms, restarts, v0)
