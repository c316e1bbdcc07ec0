"""Helpers shared by the sampling kernels: per-chain random streams, the logistic, sparse row sums,
the visible draw under a count bias.

:mod:`rnnrbm.kernels.gibbs`, :mod:`rnnrbm.kernels.generate` and :mod:`rnnrbm.kernels.ais` use
them; each lives here once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Kernels that sample many independent chains (Gibbs chains, AIS runs) give each
# chain its own splitmix64 stream derived from an explicit integer key and the
# chain's global index, so results depend on neither block sizes nor the number
# of threads, and tests can replay the stream in NumPy. error_model="numpy" lets
# LLVM vectorise the elementwise passes (no ZeroDivisionError checks).

_SM_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SM_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_MUL2 = np.uint64(0x94D049BB133111EB)
_TWO_TO_MINUS_32 = 2.0 ** -32


@njit(cache=True, error_model="numpy")
def _splitmix64(z):
    z = (z ^ (z >> np.uint64(30))) * _SM_MUL1
    z = (z ^ (z >> np.uint64(27))) * _SM_MUL2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, error_model="numpy")
def _uniforms(state, out, n):
    # n uniforms in [0, 1) from the splitmix64 stream at state: two per 64-bit draw, high half
    # first; an odd n drops the last low half.
    i = 0
    while i < n:
        state += _SM_GAMMA
        z = _splitmix64(state)
        out[i] = np.float64(np.int64(z >> np.uint64(32))) * _TWO_TO_MINUS_32
        if i + 1 < n:
            out[i + 1] = np.float64(np.int64(z & np.uint64(0xFFFFFFFF))) * _TWO_TO_MINUS_32
        i += 2
    return state


@njit(cache=True, inline="always", error_model="numpy")
def _logistic(a):
    # Branch-free logistic that LLVM vectorises: exp(-|a|) = (e^{-|a|/256})^256 with a degree-10
    # Taylor polynomial (relative error < 1e-13); |a| is clamped at 45, where sigmoid is 0 or 1
    # to within 3e-20.
    w = -min(abs(a), 45.0) * 0.00390625
    e = 1.0 + w * (1.0 + w * (0.5 + w * (1.0 / 6 + w * (1.0 / 24 + w * (1.0 / 120 + w * (1.0 / 720 + w * (
        1.0 / 5040 + w * (1.0 / 40320 + w * (1.0 / 362880 + w * (1.0 / 3628800))))))))))
    for _ in range(8):
        e = e * e
    r = 1.0 / (1.0 + e)
    return r if a >= 0.0 else e * r


@njit(cache=True, error_model="numpy")
def _chain_state(key, chain):
    return key ^ _splitmix64(np.uint64(chain) * _SM_GAMMA + _SM_MUL1)


@njit(cache=True, nogil=True)
def _sum_rows(M, idx, n, acc):
    # acc = sum of rows M[idx[q]], q < n; four rows per pass keeps acc in registers longer.
    acc[:] = 0.0
    q = 0
    while q + 4 <= n:
        r0 = M[idx[q]]
        r1 = M[idx[q + 1]]
        r2 = M[idx[q + 2]]
        r3 = M[idx[q + 3]]
        for j in range(acc.shape[0]):
            acc[j] += (r0[j] + r1[j]) + (r2[j] + r3[j])
        q += 4
    while q < n:
        r0 = M[idx[q]]
        for j in range(acc.shape[0]):
            acc[j] += r0[j]
        q += 1


# A count bias bn (length V + 1) adds -bn[n(v)] to the RBM energy, n(v) = number of units on,
# so p(v | h) ∝ prod_i p_i^v_i (1 - p_i)^(1 - v_i) cw[n(v)] with cw = exp(bn - max(bn)): the
# visibles are no longer independent given h. _draw_counted samples that distribution exactly,
# unit by unit in index order, with one uniform per unit (the same V uniforms as the
# independent draw, so the streams keep their layout). The kernels receive cw, not bn, as
# float64 (count_weights); an empty cw means no count bias and the independent draw.


@njit(cache=True, error_model="numpy")
def _draw_counted(P, U, cw, G, idx_out):
    # V = idx_out.shape[0] units with probabilities P[:V] tilted by the count weights cw (V + 1,).
    # Backward table: G[i, c] = sum over v_i..v_{V-1} of prod p^v (1-p)^(1-v) cw[c + their count],
    # the weight of finishing from unit i with c units already on. It is an average of cw values,
    # so it neither overflows nor (with max(cw) = 1 reachable) underflows.
    V = idx_out.shape[0]
    for c in range(V + 1):
        G[V, c] = cw[c]
    for i in range(V - 1, -1, -1):
        p = P[i]
        for c in range(i + 1):
            G[i, c] = (1.0 - p) * G[i + 1, c] + p * G[i + 1, c + 1]
    # Forward: unit i is on with q_i = p_i G[i+1, c+1] / G[i, c] given c units on so far; iff
    # U[i] < q_i, as in the independent draw. G[i, c] = 0 (every completion has zero weight,
    # e.g. cw underflowed) leaves nothing to condition on: fall back to p_i.
    nv = 0
    for i in range(V):
        g = G[i, nv]
        q = P[i] * G[i + 1, nv + 1] / g if g > 0.0 else P[i]
        idx_out[nv] = i  # branch-free compaction
        nv += U[i] < q
    return nv


@njit(cache=True, inline="always", error_model="numpy")
def _draw(P, U, cw, G, idx_out):
    # The indices of the on units among idx_out.shape[0] into idx_out, how many are on: unit i is
    # on iff U[i] < P[i] without a count bias (empty cw), else by _draw_counted.
    if cw.shape[0] == 0:
        n = 0
        for j in range(idx_out.shape[0]):
            idx_out[n] = j  # branch-free compaction
            n += U[j] < P[j]
        return n
    return _draw_counted(P, U, cw, G, idx_out)


def count_weights(bn: np.ndarray | None, V: int, caller: str, temperature: float = 1.0) -> np.ndarray:
    """The kernels' count weights ``exp((bn - max(bn)) / temperature)`` as float64, or an empty array for no bias.

    Subtracting the maximum keeps the largest weight at 1 (nothing overflows); the shift is
    a constant factor of p(v | h) and cancels.
    """
    if bn is None:
        return np.empty(0, np.float64)
    if bn.shape != (V + 1,) or not np.issubdtype(bn.dtype, np.floating):
        raise ValueError(f"{caller}: bn must be a ({V + 1},) float array, got {bn.shape} {bn.dtype}")
    bn = bn.astype(np.float64)
    if not np.all(np.isfinite(bn)):
        raise ValueError(f"{caller}: bn must be finite")
    return np.exp((bn - bn.max()) / temperature)
