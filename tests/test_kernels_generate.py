"""The generation kernel against a slow, plain NumPy reference that uses the same uniforms."""

import numpy as np
import pytest

from rnnrbm import kernels, sample
from rnnrbm.model import ModelConfig, init_params


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_generate(params, u, v, uniforms, restarts, temperature=1.0):
    """The RNN-RBM sampling loop written out in float64 NumPy, one Bernoulli draw ``U < p`` per unit.

    A chain whose previous frame is silent starts from ``restarts[t]``.
    """
    p = {k: np.asarray(a, dtype=np.float64) for k, a in params.items()}
    W = p["W"]
    H = W.shape[1]
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    frames = []
    for t in range(uniforms.shape[0]):
        bv_t = p["bv"] + u @ p["Wuv"]
        bh_t = p["bh"] + u @ p["Wuh"]
        x = v if v.any() else restarts[t].astype(np.float64)
        for g in range(uniforms.shape[1]):
            U = uniforms[t, g].astype(np.float64)
            h = (U[:H] < sigmoid((bh_t + x @ W) / temperature)).astype(np.float64)
            x = (U[H:] < sigmoid((bv_t + h @ W.T) / temperature)).astype(np.float64)
        v = x
        frames.append(v)
        u = np.tanh(p["bu"] + v @ p["Wvu"] + u @ p["Wuu"])
    return np.array(frames, dtype=np.uint8), u, v.astype(np.uint8)


def _params(V, H, R, dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(ModelConfig(V, H, R), rng, dtype)
    for name in ("bv", "bh", "bu", "u0"):  # non-zero biases so every term matters
        params[name] = rng.normal(0, 0.5, params[name].shape).astype(dtype)
    params["W"] *= 2  # strong couplings: frames depend on the chain, not just the biases
    return params


@pytest.mark.parametrize("dtype, temperature, sizes, on", [
    (np.float32, 1.0, (10, 8, 6, 15, 3), 0.3),   # the dtype the sampler runs in
    (np.float64, 0.7, (13, 9, 7, 30, 4), 0.0),   # starts silent: the first chain restarts
])
def test_generate_frames_matches_numpy_reference(dtype, temperature, sizes, on):
    V, H, R, T, K = sizes
    params = _params(V, H, R, dtype)
    rng = np.random.default_rng(3)
    u0 = np.tanh(rng.normal(size=R)).astype(dtype)
    v0 = (rng.random(V) < on).astype(np.uint8)
    uniforms = rng.random((T, K, H + V), dtype=np.float32)
    restarts = (rng.random((T, V)) < 0.5).astype(np.uint8)
    expected, u_ref, v_ref = reference_generate(params, u0, v0, uniforms, restarts, temperature)

    u, v = u0.copy(), v0.copy()
    out = kernels.generate_frames(params, u, v, uniforms, restarts, temperature)
    assert out.dtype == np.uint8 and out.shape == (T, V)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(v, v_ref)  # state left for the next call
    np.testing.assert_allclose(u, u_ref, rtol=1e-5, atol=1e-5)
    assert 0.05 < out.mean() < 0.95  # a non-trivial test


def test_sample_roll_is_the_reference_with_the_seeds_uniforms(monkeypatch):
    """The production path (sample_roll: float32, chunked kernel calls) equals the reference."""
    V, H, R, T, K = 9, 7, 5, 23, 2
    params = _params(V, H, R, np.float64, seed=4)  # sampled in float32 whatever the checkpoint's dtype
    monkeypatch.setattr(sample, "CHUNK_DRAWS", 5 * K * (H + V))  # five steps per kernel call
    roll = sample.sample_roll(params, T, gibbs_steps=K, temperature=1.3, seed=11)
    rng = np.random.default_rng(11)
    uniforms, restarts = [], []
    for start in range(0, T, 5):  # each kernel call's draws: its uniforms, then its restart frames
        n = min(5, T - start)
        uniforms.append(rng.random((n, K, H + V), dtype=np.float32))
        restarts.append((rng.random((n, V), dtype=np.float32) < 0.5).astype(np.uint8))
    p32 = sample.sampling_params(params)
    expected, _, _ = reference_generate(p32, p32["u0"], np.zeros(V, np.uint8), np.concatenate(uniforms),
                                        np.concatenate(restarts), 1.3)
    np.testing.assert_array_equal(roll, expected)


def test_primed_sampling_continues_from_the_primer_state():
    V, H, R, T, K = 8, 6, 5, 12, 3
    params = _params(V, H, R, np.float32, seed=5)
    primer = (np.random.default_rng(6).random((7, V)) < 0.4).astype(np.uint8)
    roll = sample.sample_roll(params, T, gibbs_steps=K, seed=2, primer=primer)
    # Reference: the RNN over the primer from u0, then generation from its last frame.
    u = params["u0"].astype(np.float64)
    for frame in primer:
        u = np.tanh(params["bu"] + frame @ params["Wvu"].astype(np.float64) + u @ params["Wuu"])
    rng = np.random.default_rng(2)
    uniforms = rng.random((T, K, H + V), dtype=np.float32)
    restarts = (rng.random((T, V), dtype=np.float32) < 0.5).astype(np.uint8)
    expected, _, _ = reference_generate(params, u, primer[-1], uniforms, restarts)
    np.testing.assert_array_equal(roll, expected)


def test_zero_uniform_means_on_and_state_is_updated_in_place():
    params = _params(4, 3, 2, np.float32)
    u, v = params["u0"].copy(), np.zeros(4, np.uint8)
    out = kernels.generate_frames(params, u, v, np.zeros((2, 1, 7), np.float32), np.zeros((2, 4), np.uint8))
    assert out.all() and v.all() and not np.array_equal(u, params["u0"])


@pytest.mark.parametrize("change, error", [
    (dict(uniforms=np.zeros((3, 2, 6), np.float32)), ValueError),        # H + V = 7
    (dict(uniforms=np.zeros((3, 0, 7), np.float32)), ValueError),        # k = 0
    (dict(uniforms=np.zeros((3, 2, 7), np.int32)), TypeError),
    (dict(v=np.zeros(4, np.float32)), ValueError),
    (dict(u=np.zeros(2, np.float64)), ValueError),
    (dict(temperature=0.0), ValueError),
    (dict(temperature=-1.0), ValueError),
    (dict(restarts=np.zeros((2, 4), np.uint8)), ValueError),             # T = 3
    (dict(restarts=np.zeros((3, 4), np.float32)), ValueError),
])
def test_generate_frames_rejects_bad_arguments(change, error):
    params = _params(4, 3, 2, np.float32)
    args = dict(u=params["u0"].copy(), v=np.zeros(4, np.uint8), uniforms=np.zeros((3, 2, 7), np.float32),
                restarts=np.zeros((3, 4), np.uint8), temperature=1.0)
    args.update(change)
    with pytest.raises(error):
        kernels.generate_frames(params, **args)


def test_generate_frames_rejects_mixed_dtypes():
    params = _params(4, 3, 2, np.float32)
    params["Wuu"] = params["Wuu"].astype(np.float64)
    with pytest.raises(TypeError, match="Wuu"):
        kernels.generate_frames(params, params["u0"].copy(), np.zeros(4, np.uint8), np.zeros((1, 1, 7), np.float32),
                                np.zeros((1, 4), np.uint8))


def test_generation_at_temperature_samples_the_tempered_model():
    # rnnrbm.model.tempered(params, T) is, as an ordinary RNN-RBM, the model generate --temperature T samples.
    from rnnrbm.model import tempered

    V, H, R, T, K = 11, 9, 6, 25, 4
    params = _params(V, H, R, np.float64)
    rng = np.random.default_rng(5)
    u0 = np.tanh(rng.normal(size=R))
    v0 = (rng.random(V) < 0.3).astype(np.uint8)
    uniforms = rng.random((T, K, H + V), dtype=np.float32)
    restarts = (rng.random((T, V)) < 0.5).astype(np.uint8)
    hot = kernels.generate_frames(params, u0.copy(), v0.copy(), uniforms, restarts, 0.6)
    cold = kernels.generate_frames(tempered(params, 0.6), u0.copy(), v0.copy(), uniforms, restarts, 1.0)
    np.testing.assert_array_equal(cold, hot)
    plain = kernels.generate_frames(params, u0.copy(), v0.copy(), uniforms, restarts, 1.0)
    assert (plain != hot).any()  # the temperature does change the frames
