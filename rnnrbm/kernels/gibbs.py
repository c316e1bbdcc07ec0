"""Block Gibbs sampling of many independent RBM chains sharing ``W`` (the negative phase of CD-k)."""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnrbm.kernels.streams import (_SM_MUL2, _chain_state, _draw, _logistic, _splitmix64, _sum_rows, _uniforms,
                                    count_weights)


@njit(cache=True, inline="always", error_model="numpy")
def _sample_layer(M, idx_in, n_in, bias, acc, P, U, cw, G, idx_out, state):
    # Half a block Gibbs step: acc = sum of the rows M[idx_in[:n_in]]; unit j is on iff its
    # uniform is below sigmoid(acc_j + bias_j), or (count weights cw non-empty) below its
    # conditional probability under the count bias. The on units' indices go to idx_out;
    # returns the stream state and how many units are on.
    _sum_rows(M, idx_in, n_in, acc)
    for j in range(acc.shape[0]):
        P[j] = _logistic(np.float64(acc[j] + bias[j]))
    state = _uniforms(state, U, acc.shape[0])
    return state, _draw(P, U, cw, G, idx_out)


@njit(cache=True, nogil=True, error_model="numpy")
def _gibbs_chains(v, W, WT, bv, bh, cw, k, seed, first, out):
    N, V = v.shape
    G = np.empty((cw.shape[0], cw.shape[0]), np.float64)  # _draw_counted's table; (0, 0) without a count bias
    no_counts = cw[:0]  # the count bias acts on the visibles only
    key = _splitmix64(np.uint64(seed) + _SM_MUL2)
    H = W.shape[1]
    x = np.empty(H, W.dtype)
    y = np.empty(V, W.dtype)
    U = np.empty(max(H, V), np.float64)
    P = np.empty(max(H, V), np.float64)
    vidx = np.empty(V, np.int64)  # indices of on visibles (the first nv entries)
    hidx = np.empty(H, np.int64)  # indices of on hiddens (the first nh entries)
    for n in range(N):
        state = _chain_state(key, first + n)
        nv = 0
        for i in range(V):
            vidx[nv] = i
            nv += v[n, i] != 0
        for _ in range(k):
            # v is sparse (a few notes): v W sums the rows of W of the on notes
            state, nh = _sample_layer(W, vidx, nv, bh[n], x, P, U, no_counts, G, hidx, state)
            state, nv = _sample_layer(WT, hidx, nh, bv[n], y, P, U, cw, G, vidx, state)
        out[n, :] = 0.0
        for q in range(nv):
            out[n, vidx[q]] = 1.0


def gibbs_chains(v: np.ndarray, W: np.ndarray, bv: np.ndarray, bh: np.ndarray, k: int, seed: int,
                 first: int = 0, out: np.ndarray | None = None, bn: np.ndarray | None = None) -> np.ndarray:
    """``k`` block Gibbs steps of ``N`` independent RBM chains sharing ``W``; the final visibles.

    Chain ``n`` starts at ``v[n]`` and has biases ``bv[n]``, ``bh[n]``; each step draws
    ``h ~ Bernoulli(sigmoid(bh[n] + v W))``, then ``v ~ Bernoulli(sigmoid(bv[n] + h W^T))``.
    A unit is on iff its uniform is below its probability. With a count bias ``bn`` (energy
    term ``-bn[n(v)]``, ``n(v)`` the number of visibles on) the visibles are drawn from
    ``p(v | h) ∝ prod_i p_i^v_i (1 - p_i)^(1 - v_i) exp(bn[n(v)])``, ``p = sigmoid(bv[n] + h W^T)``,
    exactly and in unit order: visible ``i`` is on iff its uniform is below its probability
    given the units before it (O(V^2) per draw). Chain ``n`` takes its uniforms
    from its own splitmix64 stream, the one of AIS chain ``first + n`` for ``seed`` (see
    :func:`rnnrbm.kernels.ais_log_weights`; H uniforms for h, then V for v, each step), so splitting the
    chains into blocks or threads does not change the result.

    Parameters
    ----------
    v : (N, V) binary array of W's dtype, the starting visibles.
    W : (V, H) float32 or float64, C-contiguous.
    bv, bh : (N, V) and (N, H) arrays of W's dtype.
    k : number of block Gibbs steps, >= 1.
    seed : integer in [0, 2**63) (draw it from a ``numpy.random.Generator``).
    first : global index of chain 0.
    out : optional (N, V) output array of W's dtype.
    bn : optional (V + 1,) finite float array, the count bias shared by all chains; None for none.
    """
    N, V = v.shape
    H = W.shape[1] if W.ndim == 2 else -1
    if W.dtype not in (np.float32, np.float64) or W.shape != (V, H) or not W.flags.c_contiguous:
        raise TypeError(f"gibbs_chains: W must be a C-contiguous float ({V}, H) array, got {W.shape} {W.dtype}")
    for name, arr, shape in (("v", v, (N, V)), ("bv", bv, (N, V)), ("bh", bh, (N, H))):
        if arr.shape != shape or arr.dtype != W.dtype:
            raise ValueError(f"gibbs_chains: {name} must be {shape} {W.dtype}, got {arr.shape} {arr.dtype}")
    if k < 1:
        raise ValueError(f"gibbs_chains: k must be >= 1, got {k}")
    if out is None:
        out = np.empty_like(v)
    if out.shape != (N, V) or out.dtype != W.dtype:
        raise ValueError(f"gibbs_chains: out must be ({N}, {V}) {W.dtype}")
    cw = count_weights(bn, V, "gibbs_chains")
    _gibbs_chains(v, W, np.ascontiguousarray(W.T), bv, bh, cw, k, seed, first, out)
    return out
