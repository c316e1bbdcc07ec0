"""Generation: T frames of the RNN-RBM, k block Gibbs steps each, in one kernel."""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnrbm.kernels.streams import _draw_counted, _logistic, _sum_rows, count_weights


@njit(cache=True)
def _generate(W, bv, bh, Wuv, Wuh, Wvu, Wuu, bu, inv_t, cw, u, v, noise, restarts, out):
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
    # the counted visible draw (count weights cw non-empty): probabilities, uniforms, table
    P = np.empty(V, np.float64)
    Uv = np.empty(V, np.float64)
    G = np.empty((cw.shape[0], cw.shape[0]), np.float64)
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
        # (pre-activation) / T > logistic noise, i.e. with probability sigmoid(./T). Under a
        # count bias (cw non-empty) the visibles depend on each other: the wrapper leaves their
        # uniforms in noise, and _draw_counted compares them with the conditional probabilities.
        for g in range(K):
            L = noise[t, g]
            _sum_rows(W, vidx, nv, xh)
            nh = 0
            for j in range(H):
                hidx[nh] = j  # branch-free compaction
                nh += (xh[j] + bht[j]) * inv_t > L[j]
            _sum_rows(WT, hidx, nh, xv)
            if cw.shape[0] == 0:
                nv = 0
                for i in range(V):
                    vidx[nv] = i
                    nv += (xv[i] + bvt[i]) * inv_t > L[H + i]
            else:
                for i in range(V):
                    P[i] = _logistic(np.float64((xv[i] + bvt[i]) * inv_t))
                    Uv[i] = L[H + i]
                nv = _draw_counted(P, Uv, cw, G, vidx)
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
    ``uniforms[t, g, j]`` for hidden ``j`` and ``uniforms[t, g, H + i]`` for visible ``i``
    (rounded to the parameters' dtype). The kernel compares ``x / T_temp > log(U / (1 - U))``
    (the same event), with the logistic noise computed here in vectorised NumPy so that no
    exponential is evaluated per unit.

    With a count bias (``params["bn"]`` of shape (V + 1,); the RBM energy gains ``-bn[n(v)]``,
    ``n(v)`` the number of visibles on, and is divided by T_temp like the rest), the
    visibles are drawn exactly from ``p(v | h) ∝ prod_i p_i^v_i (1 - p_i)^(1 - v_i)
    exp(bn[n(v)] / T_temp)``, ``p_i = sigmoid((bv_t + h W^T)_i / T_temp)``, in unit order:
    visible ``i`` is on iff its uniform ``uniforms[t, g, H + i]`` is below its probability
    given the visibles before it (O(V^2) per draw). The hiddens are drawn as without it.

    Parameters
    ----------
    params : the arrays named in :data:`rnnrbm.model.PARAM_NAMES`, one float dtype, C-contiguous;
        an optional "bn" of that dtype, shape (V + 1,) and finite, or empty for no count bias.
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
    bn = params.get("bn")
    if bn is not None and bn.size == 0:
        bn = None
    if bn is not None and bn.dtype != dtype:
        raise TypeError(f"generate_frames: parameter bn must be {dtype}, not {bn.dtype}")
    cw = count_weights(bn, V, "generate_frames", temperature)
    T = uniforms.shape[0]
    if restarts.shape != (T, V) or restarts.dtype != np.uint8:
        raise ValueError(f"generate_frames: restarts must be a ({T}, {V}) uint8 array, got {restarts.shape} "
                         f"{restarts.dtype}")
    if out is None:
        out = np.empty((T, V), np.uint8)
    if out.shape != (T, V) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"generate_frames: out must be a C-contiguous ({T}, {V}) uint8 array")
    noise = uniforms.astype(dtype, copy=True)
    # Without a count bias every unit compares logistic noise; with one, the visibles keep
    # their uniforms for the kernel's sequential draw.
    U = noise if cw.size == 0 else noise[:, :, :H]
    with np.errstate(divide="ignore"):  # U = 0 gives -inf: always on, as U < sigmoid(x) is
        np.log(np.divide(U, 1.0 - U, out=U), out=U)
    _generate(W, params["bv"], params["bh"], params["Wuv"], params["Wuh"], params["Wvu"], params["Wuu"],
              params["bu"], dtype.type(1.0 / temperature), cw, u, v, noise, np.ascontiguousarray(restarts), out)
    return out
