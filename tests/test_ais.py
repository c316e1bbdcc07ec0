"""Log-likelihood with AIS and reverse AIS: agreement with exact enumeration, the all-0.5 model, normalisation."""

import itertools

import numpy as np
import pytest

from rnnrbm import ais
from rnnrbm.errors import UsageError
from rnnrbm.model import ModelConfig, init_params


def random_rbms(V, H, S, scale, seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, scale, (V, H)).astype(np.float32), rng.normal(-1.0, 1.0, (S, V)),
            rng.normal(-0.5, 1.0, (S, H)))


def brute_force_log_z(W, bv, bh, bn=None):
    """log Z of one RBM by summing exp(-E(v, h)) over every (v, h); E has -bn[n(v)] if bn is given."""
    V, H = W.shape
    vs = np.array(list(itertools.product([0.0, 1.0], repeat=V)))
    hs = np.array(list(itertools.product([0.0, 1.0], repeat=H)))
    neg_energy = (vs @ bv)[:, None] + (hs @ bh)[None, :] + vs @ np.asarray(W, np.float64) @ hs.T
    if bn is not None:
        neg_energy += bn[vs.sum(axis=1).astype(int)][:, None]
    return np.logaddexp.reduce(neg_energy.ravel())


@pytest.mark.parametrize("V, H", [(6, 4), (4, 7)])  # enumerates hiddens, then visibles
def test_exact_log_z_matches_brute_force(V, H):
    W, bv, bh = random_rbms(V, H, 3, 1.0, seed=V)
    exact = ais.exact_log_z(W, bv, bh)
    for s in range(3):
        assert exact[s] == pytest.approx(brute_force_log_z(W, bv[s], bh[s]), abs=1e-9)


def test_log_count_mean_matches_enumeration():
    rng = np.random.default_rng(7)
    a, bn = rng.normal(0, 2, (3, 6)), rng.normal(0, 3, 7)
    vs = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    for s in range(3):
        direct = np.logaddexp.reduce(vs @ a[s] + bn[vs.sum(axis=1).astype(int)])
        assert ais.softplus(a[s]).sum() + ais.log_count_mean(a[s], bn) == pytest.approx(direct, abs=1e-10)
    assert ais.log_count_mean(a, None) == 0.0


@pytest.mark.parametrize("V, H", [(6, 4), (4, 7)])  # enumerates hiddens, then visibles
def test_exact_log_z_with_a_count_bias_matches_brute_force(V, H):
    W, bv, bh = random_rbms(V, H, 3, 1.0, seed=V + 10)
    bn = np.random.default_rng(V).normal(0, 2, V + 1)
    exact = ais.exact_log_z(W, bv, bh, bn=bn)
    for s in range(3):
        assert exact[s] == pytest.approx(brute_force_log_z(W, bv[s], bh[s], bn), abs=1e-9)
        assert abs(exact[s] - brute_force_log_z(W, bv[s], bh[s])) > 1e-3  # the count bias matters


def test_base_log_z_with_a_count_bias_matches_brute_force():
    W, bv, bh = random_rbms(5, 3, 2, 1.0, seed=9)
    bn = np.random.default_rng(9).normal(0, 2, 6)
    base = ais.base_log_z(bv, bh, bn)
    for s in range(2):
        assert base[s] == pytest.approx(brute_force_log_z(np.zeros_like(W), bv[s], bh[s], bn), abs=1e-10)


@pytest.mark.parametrize("V, H", [(12, 8), (8, 14)])
def test_ais_with_a_count_bias_agrees_with_exact_enumeration(V, H):
    W, bv, bh = random_rbms(V, H, 12, 1.0, seed=H + 1)
    bn = np.random.default_rng(H).normal(0, 2, V + 1)
    exact = ais.exact_log_z(W, bv, bh, bn=bn)
    estimate, _ = ais.ais_log_z(W, bv, bh, runs=100, betas=1000, seed=1, bn=bn)
    assert np.max(np.abs(estimate - exact)) < 0.05
    assert abs(np.mean(estimate - exact)) < 0.015


@pytest.mark.parametrize("V, H, scale", [(12, 8, 1.0), (8, 14, 1.0), (16, 10, 0.5)])
def test_ais_agrees_with_exact_enumeration(V, H, scale):
    W, bv, bh = random_rbms(V, H, 12, scale, seed=H)
    exact = ais.exact_log_z(W, bv, bh)
    estimate, stderr = ais.ais_log_z(W, bv, bh, runs=100, betas=1000, seed=1)
    assert np.max(np.abs(estimate - exact)) < 0.05      # every step within a few hundredths
    assert abs(np.mean(estimate - exact)) < 0.015       # and no visible bias on average
    assert np.all(stderr > 0) and np.all(stderr < 0.05)


def test_ais_with_too_few_temperatures_is_detectably_worse():
    # The comparison above can fail: two temperatures (plain importance sampling) is far off.
    W, bv, bh = random_rbms(12, 8, 12, 1.5, seed=4)
    estimate, _ = ais.ais_log_z(W, bv, bh, runs=5, betas=2, seed=1)
    assert np.max(np.abs(estimate - ais.exact_log_z(W, bv, bh))) > 0.1


def zero_model(V=88, H=20, R=10):
    params = init_params(ModelConfig(V, H, R), np.random.default_rng(0))
    return {k: np.zeros_like(a) for k, a in params.items()}


@pytest.mark.parametrize("method", ["ais", "exact"])
def test_all_half_model_has_ll_n_visible_log_half(method):
    rng = np.random.default_rng(0)
    pieces = [rng.random((30, 88)) < 0.1, rng.random((7, 88)) < 0.5]
    result = ais.log_likelihood(zero_model(88, 10), pieces, runs=7, n_betas=20, method=method)
    assert result.method == method and result.steps == 37
    np.testing.assert_allclose(result.per_step, 88 * np.log(0.5), rtol=1e-12)
    assert result.mean == pytest.approx(-61.0, abs=0.005)
    assert result.ais_stderr == 0.0


def tiny_model(V=5, H=4, R=3, seed=0, count_bias=False):
    rng = np.random.default_rng(seed)
    params = init_params(ModelConfig(V, H, R, count_bias), rng, np.float64)
    for name in ("bv", "bh", "bn", "bu", "u0"):
        params[name] = rng.normal(0, 0.5, params[name].shape)
    return params


@pytest.mark.parametrize("count_bias", [False, True])
def test_exact_conditionals_are_normalised(count_bias):
    # sum over every possible v_t of p(v_t | v_<t) = 1, for a fixed past
    params = tiny_model(count_bias=count_bias)
    rng = np.random.default_rng(1)
    past = (rng.random((3, 5)) < 0.5).astype(np.uint8)
    candidates = np.array(list(itertools.product([0, 1], repeat=5)), np.uint8)
    probs = [np.exp(ais.log_likelihood(params, [np.vstack([past, c])], method="exact").per_step[-1])
             for c in candidates]
    assert sum(probs) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("method", ["ais", "raise"])
def test_log_likelihood_estimate_close_to_exact_and_independent_of_blocks(monkeypatch, method):
    params = tiny_model(V=10, H=6, R=4, seed=2)
    rng = np.random.default_rng(3)
    pieces = [(rng.random((n, 10)) < 0.3).astype(np.uint8) for n in (9, 4, 12)]
    exact = ais.log_likelihood(params, pieces, method="exact")
    estimate = ais.log_likelihood(params, pieces, runs=50, n_betas=300, seed=4, method=method)
    assert estimate.method == method
    assert np.max(np.abs(estimate.per_step - exact.per_step)) < 0.05
    monkeypatch.setattr(ais, "CHAINS_PER_BLOCK", 60)  # blocks of one step, pieces split across them
    again = ais.log_likelihood(params, pieces, runs=50, n_betas=300, seed=4, method=method)
    np.testing.assert_array_equal(again.per_step, estimate.per_step)
    assert estimate.ais_stderr > 0 and estimate.stderr > 0


def sharp_model(V=12, w=20.0):
    """Pairs (v_j, h_j) tied by a weight w behind a barrier of w/2, notes favoured by 1 nat each:
    AIS from everything off, with few temperatures, never finds the likely dense states."""
    params = tiny_model(V=V, H=V, R=3)
    params["W"] = w * np.eye(V)
    params["bv"][:], params["bh"][:] = 1 - w / 2, -w / 2
    params["Wuv"][:] = params["Wuh"][:] = 0
    return params


def test_an_estimate_above_zero_is_counted_as_impossible():
    # log p > 0 cannot be; exact log Z never gives it, a log Z far too low does
    params = sharp_model()
    rng = np.random.default_rng(0)
    pieces = [(rng.random((8, 12)) < 0.3).astype(np.uint8)]
    exact = ais.log_likelihood(params, pieces, method="exact")
    assert exact.impossible_steps == 0 and np.all(exact.per_step < 0)
    rough = ais.log_likelihood(params, pieces, runs=2, n_betas=2, method="ais")
    assert rough.impossible_steps == np.sum(rough.per_step > 0) > 0
    assert rough.mean > exact.mean + 5  # the LL these steps signal is far too high


def gibbs_matrix(W, bv, bh, beta, bn):
    """T[v, v'] of one block Gibbs transition v -> h -> v' at beta, over all 2^V visible states."""
    vs = np.array(list(itertools.product([0.0, 1.0], repeat=W.shape[0])))
    hs = np.array(list(itertools.product([0.0, 1.0], repeat=W.shape[1])))
    act = bh + beta * vs @ W                                        # p(h | v), (2^V, 2^H)
    h_given_v = np.exp(act @ hs.T - ais.softplus(act).sum(axis=1, keepdims=True))
    logits = (bv + beta * hs @ W.T) @ vs.T + bn[vs.sum(1).astype(int)]  # p(v' | h), (2^H, 2^V)
    v_given_h = np.exp(logits - np.logaddexp.reduce(logits, axis=1, keepdims=True))
    return h_given_v @ v_given_h, vs


@pytest.mark.parametrize("count_bias", [False, True])
def test_reverse_ais_is_unbiased_for_the_annealed_model(count_bias):
    # RAISE estimates q(v) = sum over the forward chain (base draw, a transition at each beta > 0):
    # computed exactly here by multiplying the transition matrices. q is not the RBM's p.
    rng = np.random.default_rng(5)
    V, H = 4, 3
    W, bv, bh = rng.normal(0, 1.5, (V, H)), rng.normal(-0.5, 1, V), rng.normal(0, 1, H)
    bn = rng.normal(0, 1.5, V + 1) if count_bias else np.zeros(V + 1)
    betas = np.array([0.0, 0.5, 1.0])
    T1, vs = gibbs_matrix(W, bv, bh, 0.5, bn)
    T2, _ = gibbs_matrix(W, bv, bh, 1.0, bn)
    base = np.exp(vs @ bv + bn[vs.sum(1).astype(int)])
    q = base / base.sum() @ T1 @ T2
    assert q.sum() == pytest.approx(1.0)
    p = -ais.free_energy(vs, W, bv[None], bh[None], bn) - ais.exact_log_z(W, bv[None], bh[None], bn=bn)
    S = len(vs)
    estimate, stderr = ais.raise_log_p(W, vs, np.tile(bv, (S, 1)), np.tile(bh, (S, 1)), runs=40000, betas=betas,
                                       seed=3, bn=bn if count_bias else None)
    assert np.all(np.abs(estimate - np.log(q)) < 4 * stderr + 1e-3)
    assert np.max(np.abs(p - np.log(q))) > 20 * stderr.max()  # so the test can tell q from p


def test_reverse_ais_errs_low_where_ais_errs_high():
    # On data drawn from the model, too few temperatures push AIS's LL up and RAISE's down.
    W, bv, bh = random_rbms(10, 6, 1, 2.0, seed=1)
    W = W.astype(np.float64)
    vs = np.array(list(itertools.product([0.0, 1.0], repeat=10)))
    log_p = -ais.free_energy(vs, W, bv, bh) - ais.exact_log_z(W, bv, bh)
    v = vs[np.random.default_rng(0).choice(len(vs), 60, p=np.exp(log_p))]
    S = len(v)
    bv, bh = np.tile(bv, (S, 1)), np.tile(bh, (S, 1))
    exact = (-ais.free_energy(v, W, bv, bh) - ais.exact_log_z(W, bv, bh)).mean()
    high = (-ais.free_energy(v, W, bv, bh) - ais.ais_log_z(W, bv, bh, runs=20, betas=3, seed=1)[0]).mean()
    low = ais.raise_log_p(W, v, bv, bh, runs=20, betas=3, seed=1)[0].mean()
    assert low + 0.3 < exact < high - 0.1


def test_auto_picks_exact_only_for_tiny_models():
    assert ais.exact_is_cheaper(12, 8, 100, 1000)
    assert not ais.exact_is_cheaper(88, 150, 100, 1000)
    assert not ais.exact_is_cheaper(88, 21, 100, 1000)
    assert ais.log_likelihood(tiny_model(), [np.zeros((3, 5))]).method == "exact"


def test_logmeanexp_and_its_error():
    logw = np.log(np.array([[1.0, 2.0, 3.0, 6.0]]))
    estimate, stderr = ais.logmeanexp(logw + 1000.0)  # no overflow
    assert estimate[0] == pytest.approx(1000.0 + np.log(3.0))
    assert stderr[0] == pytest.approx(np.std([1, 2, 3, 6], ddof=1) / (2 * 3.0))


@pytest.mark.parametrize("kwargs", [dict(runs=0), dict(n_betas=1), dict(method="magic")])
def test_bad_arguments_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        ais.log_likelihood(tiny_model(), [np.zeros((3, 5))], **kwargs)


def test_exact_refuses_large_models():
    with pytest.raises(UsageError, match="at most 20"):
        ais.log_likelihood(zero_model(88, 30), [np.zeros((2, 88))], method="exact")
