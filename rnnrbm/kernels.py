"""All Numba kernels, each behind a thin wrapper that checks shapes and dtypes.

Kernels take arrays and scalars only and are compiled with ``cache=True`` so a
second process does not compile again. Randomness never comes from global
state: callers pass uniforms drawn from a ``numpy.random.Generator``, or an
explicit integer seed for the generation loop. Large matrix products stay in
NumPy (BLAS); the kernels fuse the elementwise and sparse work around them.

Sensitivity layout (RTRL)
-------------------------
The recurrent parameters are flattened into one vector of length
``P = V*R + R*R + 2*R`` in the order Wvu (V, R), Wuu (R, R), bu (R,), u0 (R,),
each row-major. ``S[b, i, p] = d u_t[b, i] / d theta[p]`` for stream ``b``.
Buffers carry one extra row (``S.shape[1] == R + 1``) that the batched GEMM
uses to emit the gradient contribution of the step (see :mod:`rnnrbm.gradients`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---------------------------------------------------------------- sampling


@njit(cache=True, fastmath=False)
def _sample_sigmoid(x, bias, uniforms, out):
    n, d = x.shape
    for i in range(n):
        for j in range(d):
            p = 1.0 / (1.0 + np.exp(-(x[i, j] + bias[i, j])))
            out[i, j] = 1.0 if uniforms[i, j] < p else 0.0


def sample_sigmoid(x: np.ndarray, bias: np.ndarray, uniforms: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli sample ``out = 1[uniforms < sigmoid(x + bias)]``, all (N, D), fused.

    ``x``, ``bias`` and ``out`` share a float dtype; ``uniforms`` is float32 or float64.
    """
    _check_2d_same(x, bias, uniforms)
    if out is None:
        out = np.empty_like(x)
    _check_2d_same(x, out)
    if bias.dtype != x.dtype or out.dtype != x.dtype:
        raise TypeError("sample_sigmoid: x, bias and out must share a dtype")
    _sample_sigmoid(x, bias, uniforms, out)
    return out


# ---------------------------------------------------------------- RTRL


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


@njit(cache=True)
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


# ---------------------------------------------------------------- helpers


def _check_2d_same(*arrays: np.ndarray) -> None:
    shape = arrays[0].shape
    for a in arrays:
        if a.ndim != 2 or a.shape != shape:
            raise ValueError(f"expected 2-D arrays of one shape {shape}, got {a.shape}")
        if not a.flags.c_contiguous:
            raise ValueError("expected C-contiguous arrays")


# ---------------------------------------------------------------- generation


@njit(cache=True)
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


@njit(cache=True)
def _generate(W, bv, bh, Wuv, Wuh, Wvu, Wuu, bu, inv_t, u, v, noise, out):
    T, K, HV = noise.shape
    V, H = W.shape
    R = bu.shape[0]
    dtype = W.dtype
    WT = np.ascontiguousarray(W.T)  # rows of W^T: h W^T sums rows of on hiddens
    bvt = np.empty(V, dtype)
    bht = np.empty(H, dtype)
    xv = np.empty(V, dtype)
    xh = np.empty(H, dtype)
    a = np.empty(R, dtype)
    vidx = np.empty(V, np.int64)  # indices of on visibles (the first nv entries)
    hidx = np.empty(H, np.int64)  # indices of on hiddens (the first nh entries)
    nv = 0
    for i in range(V):
        vidx[nv] = i
        nv += v[i] != 0
    for t in range(T):
        # bv_t = bv + u_{t-1} Wuv,  bh_t = bh + u_{t-1} Wuh
        bvt[:] = bv
        bht[:] = bh
        for r in range(R):
            ur = u[r]
            row_v = Wuv[r]
            for i in range(V):
                bvt[i] += ur * row_v[i]
            row_h = Wuh[r]
            for j in range(H):
                bht[j] += ur * row_h[j]
        # k block Gibbs steps from the previous frame; a unit is on iff
        # (pre-activation) / T > logistic noise, i.e. with probability sigmoid(./T).
        for g in range(K):
            L = noise[t, g]
            _sum_rows(W, vidx, nv, xh)
            nh = 0
            for j in range(H):
                hidx[nh] = j  # branch-free compaction
                nh += (xh[j] + bht[j]) * inv_t > L[j]
            _sum_rows(WT, hidx, nh, xv)
            nv = 0
            for i in range(V):
                vidx[nv] = i
                nv += (xv[i] + bvt[i]) * inv_t > L[H + i]
        v[:] = 0
        for q in range(nv):
            v[vidx[q]] = 1
        out[t, :] = v
        # u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu)
        _sum_rows(Wvu, vidx, nv, a)
        for r in range(R):
            a[r] += bu[r]
        for s in range(R):
            us = u[s]
            row_u = Wuu[s]
            for r in range(R):
                a[r] += us * row_u[r]
        for r in range(R):
            u[r] = np.tanh(a[r])


def generate_frames(params: dict[str, np.ndarray], u: np.ndarray, v: np.ndarray, uniforms: np.ndarray,
                    temperature: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Sample ``T`` frames of the RNN-RBM, ``k`` block Gibbs steps each, in one kernel.

    For t = 1..T, with the state ``u = u_{t-1}`` and ``v = v_{t-1}`` on entry::

        bv_t = bv + u_{t-1} Wuv,   bh_t = bh + u_{t-1} Wuh
        v^(0) = v_{t-1};  for g = 1..k:
            h^(g) ~ Bernoulli(sigmoid((bh_t + v^(g-1) W) / T_temp))
            v^(g) ~ Bernoulli(sigmoid((bv_t + h^(g) W^T) / T_temp))
        v_t = v^(k),   u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu)

    Unit ``j`` of draw ``(t, g)`` is on iff ``U < sigmoid(x / T_temp)``, with ``U`` taken from
    ``uniforms[t, g, j]`` for hidden ``j`` and ``uniforms[t, g, H + i]`` for visible ``i``.
    The kernel compares ``x / T_temp > log(U / (1 - U))`` (the same event), with the
    logistic noise computed here in vectorised NumPy so that no exponential is evaluated
    per unit.

    Parameters
    ----------
    params : the arrays named in :data:`rnnrbm.model.PARAM_NAMES`, one float dtype, C-contiguous.
    u : (R,) array of that dtype, u_{t-1}; overwritten with the last state u_T.
    v : (V,) uint8, the previous frame (start of the first Gibbs chain); overwritten with v_T.
    uniforms : (T, k, H + V) float32/float64 in [0, 1).
    temperature : T_temp > 0; the RBM energy is divided by it (1 = the model's distribution).
    out : optional (T, V) uint8 output buffer.

    Returns
    -------
    (T, V) uint8 array of frames v_1..v_T.
    """
    W = params["W"]
    V, H = W.shape
    R = params["bu"].shape[0]
    dtype = W.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"generate_frames: parameters must be float32 or float64, not {dtype}")
    for name in ("W", "bv", "bh", "Wuv", "Wuh", "Wvu", "Wuu", "bu"):
        arr = params[name]
        if arr.dtype != dtype or not arr.flags.c_contiguous:
            raise TypeError(f"generate_frames: parameter {name} must be C-contiguous {dtype}")
    expected = {"bv": (V,), "bh": (H,), "Wuv": (R, V), "Wuh": (R, H), "Wvu": (V, R), "Wuu": (R, R)}
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise ValueError(f"generate_frames: {name} has shape {params[name].shape}, expected {shape}")
    if u.shape != (R,) or u.dtype != dtype or not u.flags.c_contiguous:
        raise ValueError(f"generate_frames: u must be a ({R},) {dtype} array, got {u.shape} {u.dtype}")
    if v.shape != (V,) or v.dtype != np.uint8:
        raise ValueError(f"generate_frames: v must be a ({V},) uint8 array, got {v.shape} {v.dtype}")
    if uniforms.ndim != 3 or uniforms.shape[2] != H + V or uniforms.shape[1] < 1:
        raise ValueError(f"generate_frames: uniforms must be (T, k >= 1, {H + V}), got {uniforms.shape}")
    if uniforms.dtype not in (np.float32, np.float64):
        raise TypeError(f"generate_frames: uniforms must be float32 or float64, not {uniforms.dtype}")
    if not temperature > 0:
        raise ValueError(f"generate_frames: temperature must be > 0, got {temperature}")
    T = uniforms.shape[0]
    if out is None:
        out = np.empty((T, V), np.uint8)
    if out.shape != (T, V) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"generate_frames: out must be a C-contiguous ({T}, {V}) uint8 array")
    U = uniforms.astype(dtype, copy=True)
    with np.errstate(divide="ignore"):  # U = 0 gives -inf: always on, as U < sigmoid(x) is
        noise = np.log(np.divide(U, 1.0 - U, out=U), out=U)
    _generate(W, params["bv"], params["bh"], params["Wuv"], params["Wuh"], params["Wvu"], params["Wuu"],
              params["bu"], dtype.type(1.0 / temperature), u, v, noise, out)
    return out
