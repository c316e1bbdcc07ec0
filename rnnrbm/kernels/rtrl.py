"""RTRL kernels: reset and immediate-Jacobian update of the sensitivities of the RNN state.

Sensitivity layout
------------------
The recurrent parameters are flattened into one vector of length
``P = V*R + R*R + 2*R`` in the order Wvu (V, R), Wuu (R, R), bu (R,), u0 (R,),
each row-major. ``S[b, i, p] = d u_t[b, i] / d theta[p]`` for stream ``b``.
Buffers carry one extra row (``S.shape[1] == R + 1``) that the batched GEMM
uses to emit the gradient contribution of the step (see :mod:`rnnrbm.gradients`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _rtrl_reset(S, reset, n_visible):
    B, R1, P = S.shape
    R = R1 - 1
    u0_start = n_visible * R + R * R + R
    for b in range(B):
        if reset[b]:
            S[b, :, :] = 0.0
            for i in range(R):
                S[b, i, u0_start + i] = 1.0


def rtrl_reset(S: np.ndarray, reset: np.ndarray, n_visible: int) -> None:
    """Set ``S[b] = d u_0 / d theta`` (zeros, identity in the u0 block) where ``reset[b]``.

    ``S`` is (B, R + 1, P) float; ``reset`` is (B,) bool.
    """
    B, R1, P = S.shape
    R = R1 - 1
    if P != n_visible * R + R * R + 2 * R or reset.shape != (B,) or reset.dtype != np.bool_:
        raise ValueError(f"rtrl_reset: bad shapes S{S.shape}, reset{reset.shape}/{reset.dtype}")
    _rtrl_reset(S, reset, n_visible)


@njit(cache=True, nogil=True)
def _rtrl_immediate(S, D, v, u_prev):
    B, R1, P = S.shape
    R = R1 - 1
    V = v.shape[1]
    wuu_start = V * R
    bu_start = wuu_start + R * R
    for b in range(B):
        for m in range(V):
            vm = v[b, m]
            if vm != 0.0:  # v is binary and sparse: skip silent notes
                row = m * R
                for i in range(R):
                    S[b, i, row + i] += D[b, i] * vm
        for k in range(R):
            uk = u_prev[b, k]
            row = wuu_start + k * R
            for i in range(R):
                S[b, i, row + i] += D[b, i] * uk
        for i in range(R):
            S[b, i, bu_start + i] += D[b, i]


def rtrl_immediate(S: np.ndarray, D: np.ndarray, v: np.ndarray, u_prev: np.ndarray) -> None:
    """Add the scaled immediate Jacobian ``diag(D) d a_t / d theta`` to ``S`` in place.

    With ``a_t = bu + v_t Wvu + u_{t-1} Wuu``, the only non-zero immediate entries of
    ``d a_t[i] / d theta`` are ``v_t[m]`` at Wvu[m, i], ``u_{t-1}[k]`` at Wuu[k, i] and
    ``1`` at bu[i]; ``D = 1 - u_t**2`` is the tanh derivative.

    Shapes: S (B, R + 1, P); D (B, R); v (B, V); u_prev (B, R); one float dtype.
    """
    B, R1, P = S.shape
    R = R1 - 1
    V = v.shape[1]
    if D.shape != (B, R) or u_prev.shape != (B, R) or v.shape[0] != B or P != V * R + R * R + 2 * R:
        raise ValueError(f"rtrl_immediate: bad shapes S{S.shape} D{D.shape} v{v.shape} u_prev{u_prev.shape}")
    if not (S.dtype == D.dtype == v.dtype == u_prev.dtype):
        raise TypeError("rtrl_immediate: all arrays must share a float dtype")
    _rtrl_immediate(S, D, v, u_prev)
