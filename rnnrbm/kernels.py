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
from numba import njit, prange

# ---------------------------------------------------------------- random streams
#
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


# ---------------------------------------------------------------- sampling


@njit(cache=True, inline="always", error_model="numpy")
def _sample_layer(M, idx_in, n_in, bias, acc, P, U, idx_out, state):
    # Half a block Gibbs step: acc = sum of the rows M[idx_in[:n_in]]; unit j is on iff its
    # uniform is below sigmoid(acc_j + bias_j). The on units' indices go to idx_out (branch-free
    # compaction); returns the stream state and how many units are on.
    _sum_rows(M, idx_in, n_in, acc)
    for j in range(acc.shape[0]):
        P[j] = _logistic(np.float64(acc[j] + bias[j]))
    state = _uniforms(state, U, acc.shape[0])
    n = 0
    for j in range(acc.shape[0]):
        idx_out[n] = j
        n += U[j] < P[j]
    return state, n


@njit(cache=True, nogil=True, error_model="numpy")
def _gibbs_chains(v, W, WT, bv, bh, k, seed, first, out):
    N, V = v.shape
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
            state, nh = _sample_layer(W, vidx, nv, bh[n], x, P, U, hidx, state)
            state, nv = _sample_layer(WT, hidx, nh, bv[n], y, P, U, vidx, state)
        out[n, :] = 0.0
        for q in range(nv):
            out[n, vidx[q]] = 1.0


def gibbs_chains(v: np.ndarray, W: np.ndarray, bv: np.ndarray, bh: np.ndarray, k: int, seed: int,
                 first: int = 0, out: np.ndarray | None = None) -> np.ndarray:
    """``k`` block Gibbs steps of ``N`` independent RBM chains sharing ``W``; the final visibles.

    Chain ``n`` starts at ``v[n]`` and has biases ``bv[n]``, ``bh[n]``; each step draws
    ``h ~ Bernoulli(sigmoid(bh[n] + v W))``, then ``v ~ Bernoulli(sigmoid(bv[n] + h W^T))``.
    A unit is on iff its uniform is below its probability. Chain ``n`` takes its uniforms
    from its own splitmix64 stream, the one of AIS chain ``first + n`` for ``seed`` (see
    :func:`ais_log_weights`; H uniforms for h, then V for v, each step), so splitting the
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
    _gibbs_chains(v, W, np.ascontiguousarray(W.T), bv, bh, k, seed, first, out)
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


# ---------------------------------------------------------------- generation


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


@njit(cache=True)
def _generate(W, bv, bh, Wuv, Wuh, Wvu, Wuu, bu, inv_t, u, v, noise, restarts, out):
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
        if nv == 0:  # silence traps the chain: start from the random frame instead
            for i in range(V):
                vidx[nv] = i
                nv += restarts[t, i] != 0
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
                    restarts: np.ndarray, temperature: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Sample ``T`` frames of the RNN-RBM, ``k`` block Gibbs steps each, in one kernel.

    For t = 1..T, with the state ``u = u_{t-1}`` and ``v = v_{t-1}`` on entry::

        bv_t = bv + u_{t-1} Wuv,   bh_t = bh + u_{t-1} Wuh
        v^(0) = v_{t-1}, or restarts[t] if v_{t-1} is silent;  for g = 1..k:
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
    restarts : (T, V) uint8 random frames. A chain whose previous frame is silent starts
        from ``restarts[t]``: in a sharp model no hidden unit turns on from silence, so
        a chain started there stays silent, and so does every frame after it.
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
    if restarts.shape != (T, V) or restarts.dtype != np.uint8:
        raise ValueError(f"generate_frames: restarts must be a ({T}, {V}) uint8 array, got {restarts.shape} "
                         f"{restarts.dtype}")
    if out is None:
        out = np.empty((T, V), np.uint8)
    if out.shape != (T, V) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"generate_frames: out must be a C-contiguous ({T}, {V}) uint8 array")
    U = uniforms.astype(dtype, copy=True)
    with np.errstate(divide="ignore"):  # U = 0 gives -inf: always on, as U < sigmoid(x) is
        noise = np.log(np.divide(U, 1.0 - U, out=U), out=U)
    _generate(W, params["bv"], params["bh"], params["Wuv"], params["Wuh"], params["Wvu"], params["Wuu"],
              params["bu"], dtype.type(1.0 / temperature), u, v, noise, np.ascontiguousarray(restarts), out)
    return out


# ---------------------------------------------------------------- annealed importance sampling
#
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
def _ais_visible_pass(y, bv, beta, p_out):
    for i in range(y.shape[0]):
        p_out[i] = _logistic(bv[i] + beta * np.float64(y[i]))


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


@njit(cache=True, error_model="numpy")
def _ais_chain(W, WT, bvs, bhs, betas, state, series_ok):
    # One AIS run for the RBM with biases bvs, bhs; returns its log weight.
    V, H = W.shape
    K = betas.shape[0]
    x = np.empty(H, W.dtype)
    y = np.empty(V, W.dtype)
    U = np.empty(max(H, V), np.float64)
    P = np.empty(max(H, V), np.float64)
    inc = np.empty(H, np.float64)
    vidx = np.empty(V, np.int64)  # indices of on visibles (the first nv entries)
    hidx = np.empty(H, np.int64)  # indices of on hiddens (the first nh entries)
    # exact sample of the base model (beta = 0): independent visibles with p = sigmoid(bv)
    _ais_visible_pass(bvs, bvs, 0.0, P)
    state = _uniforms(state, U, V)
    nv = 0
    for i in range(V):
        vidx[nv] = i
        nv += U[i] < P[i]
    lw = 0.0
    for k in range(1, K):
        beta = betas[k]
        delta = beta - betas[k - 1]
        # log f_k(v) - log f_{k-1}(v) = sum_j softplus(bh_j + beta_k x_j) - softplus(bh_j + beta_{k-1} x_j)
        _sum_rows(W, vidx, nv, x)
        _ais_hidden_pass(x, bhs, beta, delta, P, inc)
        if not series_ok[k]:
            xmax = 0.0
            for j in range(H):
                xmax = max(xmax, abs(np.float64(x[j])))
            if delta * xmax > AIS_SERIES_MAX:
                for j in range(H):
                    xj = np.float64(x[j])
                    a = bhs[j] + beta * xj
                    inc[j] = _ais_softplus(a) - _ais_softplus(a - delta * xj)
        lw += _ais_sum(inc, H)
        if k == K - 1:
            break
        # one block Gibbs transition v -> h -> v at beta_k (P holds p(h | v) at beta_k)
        state = _uniforms(state, U, H)
        nh = 0
        for j in range(H):
            hidx[nh] = j
            nh += U[j] < P[j]
        _sum_rows(WT, hidx, nh, y)
        _ais_visible_pass(y, bvs, beta, P)
        state = _uniforms(state, U, V)
        nv = 0
        for i in range(V):
            vidx[nv] = i
            nv += U[i] < P[i]
    return lw


@njit(cache=True, error_model="numpy")
def _ais_serial(W, WT, bv, bh, betas, runs, seed, first, series_ok, logw):
    key = _splitmix64(np.uint64(seed) + _SM_MUL2)
    for c in range(bv.shape[0] * runs):
        s = c // runs
        logw[s, c - s * runs] = _ais_chain(W, WT, bv[s], bh[s], betas, _chain_state(key, first + c), series_ok)


@njit(cache=True, parallel=True, error_model="numpy")
def _ais_parallel(W, WT, bv, bh, betas, runs, seed, first, series_ok, logw):
    key = _splitmix64(np.uint64(seed) + _SM_MUL2)
    for c in prange(bv.shape[0] * runs):
        s = c // runs
        logw[s, c - s * runs] = _ais_chain(W, WT, bv[s], bh[s], betas, _chain_state(key, first + c), series_ok)


#: below this many chain-steps (chains x temperatures) a call runs on one thread: starting
#: the thread pool would cost more than it saves
AIS_PARALLEL_MIN_WORK = 1 << 20


def ais_log_weights(W: np.ndarray, bv: np.ndarray, bh: np.ndarray, betas: np.ndarray, runs: int, seed: int,
                    first: int = 0, out: np.ndarray | None = None) -> np.ndarray:
    """Log importance weights of annealed importance sampling for S independent RBMs sharing ``W``.

    RBM ``s`` has energy ``E(v, h) = -v.bv[s] - h.bh[s] - v W h``. Intermediate model ``k``
    scales W by ``betas[k]`` (``f_k(v) = exp(-F_k(v))``, ``F_k(v) = -v.bv - sum_j softplus(bh_j +
    betas[k] (v W)_j)``); model 0 (W scaled by 0) is the exactly solvable base. Each of the
    ``runs`` chains per RBM draws ``v`` from the base exactly, then for k = 1..K-1 adds
    ``log f_k(v) - log f_{k-1}(v)`` to its log weight and, while k < K-1, makes one block
    Gibbs transition ``v -> h -> v`` at ``betas[k]``. Then ``log Z[s] = log Z_0[s] +
    logmeanexp(logw[s])`` estimates the log partition function (see :mod:`rnnrbm.ais`).

    Increments with ``|(betas[k] - betas[k-1]) (v W)_j| <= AIS_SERIES_MAX`` use a 6th-order
    Taylor series (error < 2e-9 each), larger ones the exact softplus difference.

    Random stream (splitmix64, uint64 arithmetic modulo 2**64): ``key = mix(seed + M2)``;
    chain ``c = first + s * runs + r`` starts at ``state = key ^ mix(c * G + M1)``; each draw
    does ``state += G`` and yields ``z = mix(state)``, i.e. uniforms ``(z >> 32) / 2**32`` then
    ``(z & 0xFFFFFFFF) / 2**32``. A chain takes V uniforms for the base sample, then H
    (hiddens) and V (visibles) per transition; each batch of n uses ceil(n / 2) draws. Unit
    ``i`` is on iff its uniform is < its probability. Here ``G = 0x9E3779B97F4A7C15``,
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

    Returns
    -------
    (S, runs) float64 log weights.
    """
    if W.ndim != 2 or W.dtype not in (np.float32, np.float64) or not W.flags.c_contiguous:
        raise TypeError("ais_log_weights: W must be a C-contiguous 2-D float32 or float64 array")
    V, H = W.shape
    if bv.ndim != 2 or bv.shape[1] != V or bh.shape != (bv.shape[0], H):
        raise ValueError(f"ais_log_weights: bv {bv.shape} and bh {bh.shape} must be (S, {V}) and (S, {H})")
    for name, arr in (("bv", bv), ("bh", bh), ("betas", betas)):
        if arr.dtype != np.float64 or not arr.flags.c_contiguous:
            raise TypeError(f"ais_log_weights: {name} must be a C-contiguous float64 array")
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) < 0):
        raise ValueError("ais_log_weights: betas must be a non-decreasing array from 0.0 to 1.0 of length >= 2")
    if runs < 1 or first < 0 or not 0 <= seed < 2**64:
        raise ValueError(f"ais_log_weights: need runs >= 1, first >= 0 and 0 <= seed < 2**64 "
                         f"(got {runs}, {first}, {seed})")
    S = bv.shape[0]
    if out is None:
        out = np.empty((S, runs), np.float64)
    if out.shape != (S, runs) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"ais_log_weights: out must be a C-contiguous ({S}, {runs}) float64 array")
    # Where even the largest possible |v W| keeps every increment in the series' range, the
    # kernel skips its per-step check.
    bound = float(np.abs(W).sum(axis=0, dtype=np.float64).max(initial=0.0))
    series_ok = np.empty(len(betas), np.bool_)
    series_ok[0] = True
    series_ok[1:] = np.diff(betas) * bound <= AIS_SERIES_MAX
    if S:
        kernel = _ais_parallel if S * runs * len(betas) >= AIS_PARALLEL_MIN_WORK else _ais_serial
        kernel(W, np.ascontiguousarray(W.T), bv, bh, betas, int(runs), np.uint64(seed), int(first), series_ok, out)
    return out
