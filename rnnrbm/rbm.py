"""The conditional RBM at one time step: energies, conditionals and block Gibbs sampling.

At step t the RBM has energy ``E(v, h) = -v.bv_t - h.bh_t - v W h - bn[n(v)]`` with
binary ``v`` (n_visible) and ``h`` (n_hidden); ``n(v) = sum_i v_i`` is the number of notes
and the count bias ``bn`` is optional (None or size 0: no such term). With it the visibles
are no longer independent given h, and the kernels draw them in sequence. Every function works on a batch of N
frames at once, each frame with its own biases, because the RNN gives every
time step different biases.
"""

from __future__ import annotations

import numpy as np

from rnnrbm.kernels import gibbs_chains
from rnnrbm.parallel import row_groups, run_groups


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, elementwise, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))``, elementwise, stable for large ``|x|``."""
    return np.logaddexp(0.0, x)


def mean_hiddens(v: np.ndarray, W: np.ndarray, bh: np.ndarray) -> np.ndarray:
    """``p(h_j = 1 | v) = sigmoid(bh_j + (v W)_j)``.

    v (N, V), W (V, H), bh (N, H) or (H,)  ->  (N, H).
    """
    return sigmoid(v @ W + bh)


def mean_visibles(h: np.ndarray, W: np.ndarray, bv: np.ndarray) -> np.ndarray:
    """``p(v_i = 1 | h) = sigmoid(bv_i + (h W^T)_i)``.

    h (N, H), W (V, H), bv (N, V) or (V,)  ->  (N, V).
    """
    return sigmoid(h @ W.T + bv)


def count_energy(v: np.ndarray, bn: np.ndarray | None) -> np.ndarray | float:
    """``bn[n(v)]``, the count bias of each frame's number of notes; 0 without a count bias.

    v (..., V) binary, bn (V + 1,), (0,) or None  ->  (...,).
    """
    if bn is None or bn.size == 0:
        return 0.0
    return bn[np.rint(np.sum(v, axis=-1)).astype(np.int64)]


def free_energy(v: np.ndarray, W: np.ndarray, bv: np.ndarray, bh: np.ndarray,
                bn: np.ndarray | None = None) -> np.ndarray:
    """``F(v) = -v.bv - bn[n(v)] - sum_j softplus(bh_j + (v W)_j)``, so that ``p(v) = exp(-F(v)) / Z``.

    v (N, V), W (V, H), bv (N, V) or (V,), bh (N, H) or (H,), bn (V + 1,) or None  ->  (N,).
    """
    return -np.sum(v * bv, axis=-1) - count_energy(v, bn) - np.sum(softplus(v @ W + bh), axis=-1)


def gibbs_step(v: np.ndarray, W: np.ndarray, bv: np.ndarray, bh: np.ndarray, rng: np.random.Generator,
               bn: np.ndarray | None = None) -> np.ndarray:
    """One block Gibbs step ``v -> h ~ p(h | v) -> v' ~ p(v | h)``.

    v (N, V) binary float, W (V, H), bv (N, V), bh (N, H), bn (V + 1,) or None  ->  v' (N, V).
    """
    return gibbs_chain(v, W, bv, bh, 1, rng, bn)


def gibbs_chain(v: np.ndarray, W: np.ndarray, bv: np.ndarray, bh: np.ndarray, k: int,
                rng: np.random.Generator, bn: np.ndarray | None = None) -> np.ndarray:
    """``k`` block Gibbs steps started at ``v``; returns the final visible sample.

    v (N, V) binary, W (V, H), bv (N, V), bh (N, H), all of W's dtype; bn (V + 1,) or None. One seed
    drawn from ``rng`` keys every chain's own stream (see
    :func:`rnnrbm.kernels.gibbs_chains`), so the result is reproducible from the
    generator's state and the chains can run on all cores.
    """
    N, V = v.shape
    H = W.shape[1]
    dtype = W.dtype
    W = np.ascontiguousarray(W)
    bv = np.ascontiguousarray(np.broadcast_to(bv, (N, V)), dtype=dtype)
    bh = np.ascontiguousarray(np.broadcast_to(bh, (N, H)), dtype=dtype)
    vs = np.ascontiguousarray(v, dtype=dtype)
    seed = int(rng.integers(0, 2 ** 63))
    out = np.empty_like(vs)
    bn = bn if bn is not None and bn.size else None
    run_groups(lambda g: gibbs_chains(vs[g], W, bv[g], bh[g], k, seed, g.start, out[g], bn=bn), row_groups(N))
    return out
