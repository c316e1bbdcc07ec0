"""Annealed importance sampling: log importance weights for many RBMs sharing ``W``."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from rnnrbm.kernels.streams import (_SM_MUL2, _chain_state, _draw, _logistic, _splitmix64, _sum_rows, _uniforms,
                                    count_weights)

# The AIS kernel runs one chain per (time step, run) pair through all betas,
# chains spread over threads with prange (large calls only), each with its own
# splitmix64 stream (see ais_log_weights for the exact stream, which
# tests/test_kernels_ais.py replays in NumPy).

#: largest |delta_beta * (v W)_j| for which the weight increment uses its Taylor series
AIS_SERIES_MAX = 0.2


@njit(cache=True, error_model="numpy")
def _ais_hidden_pass(x, bh, beta, delta, p_out, inc_out):
    # p_out[j] = sigmoid(a_j), a_j = bh_j + beta x_j; inc_out[j] = softplus(a_j) - softplus(a_j - d_j),
    # d_j = delta x_j, by its Taylor series around a_j to 6th order: with p = sigmoid(a), q = p (1 - p),
    # softplus^(n) is p, q, q (1-2p), q (1-6q), q (1-2p)(1-12q), q (1-30q+120q^2) for n = 1..6.
    # The error is below 2e-9 for |d_j| <= AIS_SERIES_MAX.
    for j in range(x.shape[0]):
        xj = np.float64(x[j])
        a = bh[j] + beta * xj
        d = delta * xj
        p = _logistic(a)
        q = p * (1.0 - p)
        r = 1.0 - 2.0 * p
        inc_out[j] = d * (p - d * (q * 0.5 - d * (q * r * (1.0 / 6.0) - d * (
            q * (1.0 - 6.0 * q) * (1.0 / 24.0) - d * (q * r * (1.0 - 12.0 * q) * (1.0 / 120.0)
                                                       - d * q * (1.0 - q * (30.0 - 120.0 * q)) * (1.0 / 720.0))))))
        p_out[j] = p


@njit(cache=True, error_model="numpy")
def _ais_logistic_pass(y, b, beta, p_out):
    # p_out[i] = sigmoid(b_i + beta y_i): p(v | h) from y = h W^T, or p(h | v) from y = v W
    for i in range(y.shape[0]):
        p_out[i] = _logistic(b[i] + beta * np.float64(y[i]))


@njit(cache=True, error_model="numpy")
def _ais_softplus(a):
    return max(a, 0.0) + np.log1p(np.exp(-abs(a)))


@njit(cache=True, error_model="numpy")
def _ais_sum(buf, n):
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += buf[j]
        s1 += buf[j + 1]
        s2 += buf[j + 2]
        s3 += buf[j + 3]
        j += 4
    while j < n:
        s0 += buf[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, inline="always", error_model="numpy")
def _ais_increment(x, bhs, beta, delta, series_ok, P, inc):
    # log f_k(v) - log f_{k-1}(v) = sum_j softplus(bh_j + beta_k x_j) - softplus(bh_j + beta_{k-1} x_j),
    # x = v W (the count bias term bn[n(v)] is the same in every f_k and cancels); leaves
    # p(h | v) at beta_k in P.
    H = x.shape[0]
    _ais_hidden_pass(x, bhs, beta, delta, P, inc)
    if not series_ok:
        xmax = 0.0
        for j in range(H):
            xmax = max(xmax, abs(np.float64(x[j])))
        if delta * xmax > AIS_SERIES_MAX:
            for j in range(H):
                xj = np.float64(x[j])
                a = bhs[j] + beta * xj
                inc[j] = _ais_softplus(a) - _ais_softplus(a - delta * xj)
    return _ais_sum(inc, H)


@njit(cache=True, inline="always", error_model="numpy")
def _ais_transition(W, WT, bvs, beta, cw, state, P, U, G, hidx, vidx, y, x):
    # One block Gibbs transition v -> h -> v at beta, P holding p(h | v) at beta on entry; the new
    # v goes to vidx (its count is returned with the stream state) and x = v W.
    V, H = W.shape
    state = _uniforms(state, U, H)
    nh = 0
    for j in range(H):
        hidx[nh] = j
        nh += U[j] < P[j]
    _sum_rows(WT, hidx, nh, y)
    _ais_logistic_pass(y, bvs, beta, P)
    state = _uniforms(state, U, V)
    nv = _draw(P, U, cw, G, vidx)
    _sum_rows(W, vidx, nv, x)
    return nv, state


@njit(cache=True, error_model="numpy")
def _ais_chain(W, WT, vs, bvs, bhs, cw, betas, state, series_ok):
    # One run for the RBM with biases bvs, bhs (and count weights cw, empty for none); returns
    # its log weight. Forward AIS (vs empty): v from the base, then up through the betas.
    # Reverse AIS (vs = the data v): from vs down through the betas to the base.
    V, H = W.shape
    K = betas.shape[0]
    x = np.empty(H, W.dtype)
    y = np.empty(V, W.dtype)
    U = np.empty(max(H, V), np.float64)
    P = np.empty(max(H, V), np.float64)
    inc = np.empty(H, np.float64)
    vidx = np.empty(V, np.int64)  # indices of on visibles (the first nv entries)
    hidx = np.empty(H, np.int64)  # indices of on hiddens (the first nh entries)
    G = np.empty((cw.shape[0], cw.shape[0]), np.float64)  # _draw_counted's table; (0, 0) without a count bias
    lw = 0.0
    if vs.shape[0] == 0:
        # exact sample of the base model (beta = 0): visibles with p = sigmoid(bv), tilted by cw
        _ais_logistic_pass(bvs, bvs, 0.0, P)
        state = _uniforms(state, U, V)
        nv = _draw(P, U, cw, G, vidx)
        _sum_rows(W, vidx, nv, x)
        for k in range(1, K):
            lw += _ais_increment(x, bhs, betas[k], betas[k] - betas[k - 1], series_ok[k], P, inc)
            if k < K - 1:
                nv, state = _ais_transition(W, WT, bvs, betas[k], cw, state, P, U, G, hidx, vidx, y, x)
        return lw
    nv = 0
    for i in range(V):
        vidx[nv] = i
        nv += vs[i] != 0.0
    _sum_rows(W, vidx, nv, x)
    _ais_logistic_pass(x, bhs, betas[K - 1], P)
    for k in range(K - 1, 0, -1):
        nv, state = _ais_transition(W, WT, bvs, betas[k], cw, state, P, U, G, hidx, vidx, y, x)
        lw += _ais_increment(x, bhs, betas[k], betas[k] - betas[k - 1], series_ok[k], P, inc)
        if k > 1:
            _ais_logistic_pass(x, bhs, betas[k - 1], P)  # p(h | v) at the next beta down
    return lw


@njit(cache=True, error_model="numpy")
def _ais_serial(W, WT, v, bv, bh, cw, betas, runs, seed, first, series_ok, logw):
    key = _splitmix64(np.uint64(seed) + _SM_MUL2)
    for c in range(bv.shape[0] * runs):
        s = c // runs
        logw[s, c - s * runs] = _ais_chain(W, WT, v[s], bv[s], bh[s], cw, betas,
                                           _chain_state(key, first + c), series_ok)


@njit(cache=True, parallel=True, error_model="numpy")
def _ais_parallel(W, WT, v, bv, bh, cw, betas, runs, seed, first, series_ok, logw):
    key = _splitmix64(np.uint64(seed) + _SM_MUL2)
    for c in prange(bv.shape[0] * runs):
        s = c // runs
        logw[s, c - s * runs] = _ais_chain(W, WT, v[s], bv[s], bh[s], cw, betas,
                                           _chain_state(key, first + c), series_ok)


#: below this many chain-steps (chains x temperatures) a call runs on one thread: starting
#: the thread pool would cost more than it saves
AIS_PARALLEL_MIN_WORK = 1 << 20


def ais_log_weights(W: np.ndarray, bv: np.ndarray, bh: np.ndarray, betas: np.ndarray, runs: int, seed: int,
                    first: int = 0, out: np.ndarray | None = None, bn: np.ndarray | None = None) -> np.ndarray:
    """Log importance weights of annealed importance sampling for S independent RBMs sharing ``W``.

    RBM ``s`` has energy ``E(v, h) = -v.bv[s] - h.bh[s] - v W h - bn[n(v)]``, where the count
    bias ``bn`` (shared by all S RBMs; the term is absent when ``bn`` is None) is indexed by
    ``n(v)``, the number of visibles on. Intermediate model ``k`` scales W by ``betas[k]``
    (``f_k(v) = exp(-F_k(v))``, ``F_k(v) = -v.bv - bn[n(v)] - sum_j softplus(bh_j + betas[k]
    (v W)_j)``); model 0 (W scaled by 0) is the exactly solvable base, ``p_0(v) ∝ exp(v.bv +
    bn[n(v)])``. Each of the ``runs`` chains per RBM draws ``v`` from the base exactly, then
    for k = 1..K-1 adds ``log f_k(v) - log f_{k-1}(v)`` to its log weight (the count term
    cancels) and, while k < K-1, makes one block Gibbs transition ``v -> h -> v`` at
    ``betas[k]``. Then ``log Z[s] = log Z_0[s] + logmeanexp(logw[s])`` estimates the log
    partition function (see :mod:`rnnrbm.ais`); ``log Z_0[s] = sum_j softplus(bh[s, j]) +
    log sum_v exp(v.bv[s] + bn[n(v)])`` is the caller's to compute.

    Increments with ``|(betas[k] - betas[k-1]) (v W)_j| <= AIS_SERIES_MAX`` use a 6th-order
    Taylor series (error < 2e-9 each), larger ones the exact softplus difference.

    Random stream (splitmix64, uint64 arithmetic modulo 2**64): ``key = mix(seed + M2)``;
    chain ``c = first + s * runs + r`` starts at ``state = key ^ mix(c * G + M1)``; each draw
    does ``state += G`` and yields ``z = mix(state)``, i.e. uniforms ``(z >> 32) / 2**32`` then
    ``(z & 0xFFFFFFFF) / 2**32``. A chain takes V uniforms for the base sample, then H
    (hiddens) and V (visibles) per transition; each batch of n uses ceil(n / 2) draws. Unit
    ``i`` is on iff its uniform is < its probability. With a count bias, the visibles (base
    sample and transitions) are drawn in unit order from the same V uniforms: visible ``i``
    is on iff its uniform is < ``q_i = p_i B[i+1, c+1] / B[i, c]``, ``c`` the number of
    visibles before ``i`` that are on, ``p_i`` its probability without the bias, and
    ``B[V, c] = exp(bn[c] - max(bn))``, ``B[i, c] = (1 - p_i) B[i+1, c] + p_i B[i+1, c+1]``
    (``q_i = p_i`` where ``B[i, c] = 0``). Here ``G = 0x9E3779B97F4A7C15``,
    ``M1 = 0xBF58476D1CE4E5B9``, ``M2 = 0x94D049BB133111EB``, and ``mix(z)`` is
    ``z ^= z >> 30; z *= M1; z ^= z >> 27; z *= M2; z ^= z >> 31``.

    Parameters
    ----------
    W : (V, H) float32 or float64, C-contiguous; sums of its rows are taken in this dtype.
    bv, bh : (S, V) and (S, H) float64, C-contiguous: the biases of each RBM.
    betas : (K,) float64, K >= 2, non-decreasing from 0.0 to 1.0.
    runs : chains per RBM, >= 1.
    seed : integer in [0, 2**64).
    first : global index of this block's first chain (``s0 * runs`` for a block starting at
        RBM ``s0``), so that a split into blocks gives the same numbers as one call.
    out : optional (S, runs) float64 output.
    bn : optional (V + 1,) finite float array, the count bias; None for none.

    Returns
    -------
    (S, runs) float64 log weights.
    """
    return _run(W, None, bv, bh, betas, runs, seed, first, out, bn, "ais_log_weights")


def reverse_ais_log_weights(W: np.ndarray, v: np.ndarray, bv: np.ndarray, bh: np.ndarray, betas: np.ndarray,
                            runs: int, seed: int, first: int = 0, out: np.ndarray | None = None,
                            bn: np.ndarray | None = None) -> np.ndarray:
    """Log weights of reverse AIS (RAISE, Burda, Grosse & Salakhutdinov 2015) for S RBMs and their data ``v``.

    The RBMs, intermediate models ``f_k``, arguments and random stream are those of
    :func:`ais_log_weights`, plus ``v`` (S, V), one binary visible vector per RBM (nonzero =
    on). Each chain starts at ``v[s]`` and for k = K-1 down to 1 makes one block Gibbs
    transition ``v -> h -> v`` at ``betas[k]``, then adds ``log f_k(v) - log f_{k-1}(v)`` at
    the new ``v`` to its log weight ``L``; its stream takes H then V uniforms per transition
    (no base sample). Then ``exp(-F(v[s])) / Z_0[s] * mean exp(-L[s])`` is an unbiased
    estimate of ``q(v[s])``, where ``q`` is the law of the forward chain (a base draw, then
    one transition at each of betas[1..K-1]); see :mod:`rnnrbm.ais`.

    Returns
    -------
    (S, runs) float64 log weights ``L``.
    """
    if not isinstance(v, np.ndarray) or v.ndim != 2 or v.shape != bv.shape:
        raise ValueError(f"reverse_ais_log_weights: v {getattr(v, 'shape', None)} must have bv's shape {bv.shape}")
    v = np.ascontiguousarray(v, np.float64)
    return _run(W, v, bv, bh, betas, runs, seed, first, out, bn, "reverse_ais_log_weights")


def _run(W, v, bv, bh, betas, runs, seed, first, out, bn, caller):
    if W.ndim != 2 or W.dtype not in (np.float32, np.float64) or not W.flags.c_contiguous:
        raise TypeError(f"{caller}: W must be a C-contiguous 2-D float32 or float64 array")
    V, H = W.shape
    if bv.ndim != 2 or bv.shape[1] != V or bh.shape != (bv.shape[0], H):
        raise ValueError(f"{caller}: bv {bv.shape} and bh {bh.shape} must be (S, {V}) and (S, {H})")
    for name, arr in (("bv", bv), ("bh", bh), ("betas", betas)):
        if arr.dtype != np.float64 or not arr.flags.c_contiguous:
            raise TypeError(f"{caller}: {name} must be a C-contiguous float64 array")
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) < 0):
        raise ValueError(f"{caller}: betas must be a non-decreasing array from 0.0 to 1.0 of length >= 2")
    if runs < 1 or first < 0 or not 0 <= seed < 2**64:
        raise ValueError(f"{caller}: need runs >= 1, first >= 0 and 0 <= seed < 2**64 "
                         f"(got {runs}, {first}, {seed})")
    S = bv.shape[0]
    if out is None:
        out = np.empty((S, runs), np.float64)
    if out.shape != (S, runs) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"{caller}: out must be a C-contiguous ({S}, {runs}) float64 array")
    # Where even the largest possible |v W| keeps every increment in the series' range, the
    # kernel skips its per-step check.
    bound = float(np.abs(W).sum(axis=0, dtype=np.float64).max(initial=0.0))
    cw = count_weights(bn, V, caller)
    series_ok = np.empty(len(betas), np.bool_)
    series_ok[0] = True
    series_ok[1:] = np.diff(betas) * bound <= AIS_SERIES_MAX
    if S:
        kernel = _ais_parallel if S * runs * len(betas) >= AIS_PARALLEL_MIN_WORK else _ais_serial
        v = np.empty((S, 0)) if v is None else v  # no data: forward AIS
        kernel(W, np.ascontiguousarray(W.T), v, bv, bh, cw, betas, int(runs), np.uint64(seed), int(first),
               series_ok, out)
    return out
