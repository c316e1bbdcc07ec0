"""Helpers shared by the sampling kernels: per-chain random streams, the logistic, sparse row sums.

:mod:`rnnrbm.kernels.gibbs`, :mod:`rnnrbm.kernels.generate` and :mod:`rnnrbm.kernels.ais` use
them; each lives here once.
"""

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
