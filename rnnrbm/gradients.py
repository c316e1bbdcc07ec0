"""CD-k gradients of the RNN-RBM, with exact RTRL or BPTT through the recurrence.

A chunk holds B streams of L frames ``v`` (B, L, V). ``first[b, t]`` marks the
first frame of a piece (there ``u_{t-1}`` is reset to ``u0``) and ``valid[b, t]``
is False on padding. For each frame the negative sample ``v*_t`` comes from k
block Gibbs steps of the step's RBM started at ``v_t``; the gradient is that of
the surrogate cost ``C = sum_t [F_t(v_t) - F_t(v*_t)]`` with ``v*`` held fixed.

With ``gbv_t = dC/dbv_t = v*_t - v_t`` and ``gbh_t = dC/dbh_t = h*_t - h_t``
(``h = sigmoid(bh_t + v W)``), the RBM-side gradients follow directly (the count
bias gets ``dC/dbn[c] = [n(v*_t) = c] - [n(v_t) = c]``), and the
cost reaches ``u_{t-1}`` through ``d_t = gbv_t Wuv^T + gbh_t Wuh^T``. The
recurrent parameters theta = (Wvu, Wuu, bu, u0) then get ``sum_t d_t S_{t-1}``:

* RTRL carries ``S_t = du_t/dtheta = diag(1 - u_t^2) (Wuu^T S_{t-1} + J_t)``
  forward, across chunk boundaries within a piece (untruncated online learning).
  One batched GEMM per step computes both ``S_t`` and ``d_t S_{t-1}``: the left
  factor is ``[diag(1 - u_t^2) Wuu^T ; d_t]``, (R + 1) x R per stream.
  Streams are split over one thread per core, each running single-threaded
  BLAS: OpenBLAS's own threads spin-wait and slow small products by orders of
  magnitude when the machine is busy (see :func:`rnnrbm.train.train`).
* BPTT back-propagates ``d_t`` through the chunk and truncates at its start.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rnnrbm.config import CD_STARTS
from rnnrbm.kernels import rtrl_immediate, rtrl_reset
from rnnrbm.model import PARAM_NAMES
from rnnrbm.parallel import row_groups, run_groups
from rnnrbm.rbm import free_energy, gibbs_chain, sigmoid


@dataclass
class StreamState:
    """What a stream carries from one chunk to the next within a piece.

    u : (B, R) last recurrent state ``u_L``.
    S : (B, R + 1, P) RTRL sensitivities ``du_L/dtheta`` (row R is scratch), or None for BPTT.
    v : (B, V) last frame ``v_L``, where the next chunk's first CD chain may start
        (see :func:`chain_starts`); None before a stream's first chunk.
    v_neg : (B, V) last negative sample ``v*_L``, where a persistent chain goes on; None likewise.
    """

    u: np.ndarray
    S: np.ndarray | None = None
    v: np.ndarray | None = None
    v_neg: np.ndarray | None = None


def n_recurrent_params(n_visible: int, n_recurrent: int) -> int:
    """Length P of the flattened (Wvu, Wuu, bu, u0) vector."""
    return n_visible * n_recurrent + n_recurrent * n_recurrent + 2 * n_recurrent


def init_state(params: dict[str, np.ndarray], n_streams: int, rtrl: bool) -> StreamState:
    """A fresh state; every stream must start its first chunk with ``first[:, 0] = True``."""
    V, R = params["Wvu"].shape
    dtype = params["Wuu"].dtype
    u = np.tile(params["u0"], (n_streams, 1))
    S = np.zeros((n_streams, R + 1, n_recurrent_params(V, R)), dtype=dtype) if rtrl else None
    return StreamState(u, S)


def forward(params: dict[str, np.ndarray], v: np.ndarray, first: np.ndarray,
            u_carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced recurrence over a chunk.

    v (B, L, V), first (B, L) bool, u_carry (B, R)  ->  U_prev, U, both (B, L, R):
    ``U_prev[:, t] = u_{t-1}`` (``u0`` where ``first``) and ``U[:, t] = u_t``.
    """
    B, L, _ = v.shape
    R = params["Wuu"].shape[0]
    a_in = v @ params["Wvu"] + params["bu"]
    U_prev = np.empty((B, L, R), dtype=params["Wuu"].dtype)
    U = np.empty_like(U_prev)
    u = u_carry
    for t in range(L):
        u = np.where(first[:, t, None], params["u0"], u)
        U_prev[:, t] = u
        u = np.tanh(a_in[:, t] + u @ params["Wuu"])
        U[:, t] = u
    return U_prev, U


def rtrl_recurrent(params: dict[str, np.ndarray], v: np.ndarray, first: np.ndarray, U_prev: np.ndarray,
                   U: np.ndarray, d: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact RTRL over a chunk: returns the flat gradient ``sum_t d_t S_{t-1}`` (P,) and the new S.

    ``S`` (B, R + 1, P) holds ``du/dtheta`` at the chunk start; it is overwritten
    (the returned array is one of two ping-pong buffers).
    """
    B, L, V = v.shape
    R = U.shape[2]
    WuuT = params["Wuu"].T
    A = np.empty((B, R + 1, R), dtype=S.dtype)
    other = np.empty_like(S)
    g = np.zeros(S.shape[2], dtype=np.float64)
    groups = row_groups(B)

    def advance(sl: slice, S_prev: np.ndarray, S_next: np.ndarray, D: np.ndarray, t: int) -> None:
        np.matmul(A[sl], S_prev[sl, :R, :], out=S_next[sl])  # the one large product: S_t and d_t S_{t-1}
        rtrl_immediate(S_next[sl], D[sl], np.ascontiguousarray(v[sl, t]), np.ascontiguousarray(U_prev[sl, t]))

    for t in range(L):
        if first[:, t].any():
            rtrl_reset(S, np.ascontiguousarray(first[:, t]), V)
        D = 1.0 - U[:, t] ** 2
        A[:, :R, :] = D[:, :, None] * WuuT
        A[:, R, :] = d[:, t]
        run_groups(functools.partial(advance, S_prev=S, S_next=other, D=D, t=t), groups)
        g += other[:, R, :].sum(axis=0)
        S, other = other, S
    return g, S


def bptt_recurrent(params: dict[str, np.ndarray], v: np.ndarray, first: np.ndarray, U_prev: np.ndarray,
                   U: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Back-propagation through the chunk, truncated at its start.

    Returns gWvu (V, R), gWuu (R, R), gbu (R,), gu0 (R,).
    """
    B, L, V = v.shape
    R = U.shape[2]
    WuuT = params["Wuu"].T
    dA = np.empty_like(U)
    du = np.zeros((B, R), dtype=U.dtype)
    gu0 = np.zeros(R, dtype=np.float64)
    for t in range(L - 1, -1, -1):
        da = du * (1.0 - U[:, t] ** 2)
        dA[:, t] = da
        du = d[:, t] + da @ WuuT
        f = first[:, t]
        if f.any():  # u_{t-1} was u0: the gradient ends there
            gu0 += du[f].sum(axis=0)
            du[f] = 0.0
    dA2 = dA.reshape(-1, R)
    return v.reshape(-1, V).T @ dA2, U_prev.reshape(-1, R).T @ dA2, dA2.sum(axis=0), gu0


def chain_starts(v: np.ndarray, first: np.ndarray, before: np.ndarray | None, cd_start: str,
                 rng: np.random.Generator | None) -> np.ndarray:
    """Where each frame's CD chain starts, (B, L, V).

    v (B, L, V) frames, first (B, L) bool, before (B, V) the frame preceding the chunk
    (None: zeros). ``"data"``: at v_t itself (standard CD). ``"previous"``: at v_{t-1},
    where generation starts its chain, so the negative phase visits the states the
    sampler passes through (at v_t on a piece's first frame). ``"mixed"``: at either,
    each with probability 1/2 drawn from ``rng``, for the expected gradient of both.
    (``"persistent"`` chains depend on the samples drawn; see :func:`persistent_chains`.)
    """
    if cd_start not in CD_STARTS or cd_start == "persistent":
        raise ValueError(f"unknown cd_start {cd_start!r}: use one of {', '.join(CD_STARTS)}")
    if cd_start == "data":
        return v
    previous = np.concatenate([(np.zeros_like(v[:, 0]) if before is None else before)[:, None], v[:, :-1]], axis=1)
    use = ~first if cd_start == "previous" else ~first & (rng.random(first.shape) < 0.5)
    return np.where(use[:, :, None], previous, v)


def persistent_chains(v: np.ndarray, first: np.ndarray, before: np.ndarray | None, W: np.ndarray,
                      bv_t: np.ndarray, bh_t: np.ndarray, cd_k: int, rng: np.random.Generator,
                      bn: np.ndarray | None = None) -> np.ndarray:
    """Negative samples (B, L, V) of chains that go on from one frame to the next.

    Frame t's chain starts at ``v*_{t-1}``, the previous frame's negative sample (``before``
    for the chunk's first frame), and at ``v_t`` on a piece's first frame. This is how the
    sampler runs, with the recurrent net still fed the data, so the chains, like persistent
    CD's, wander beyond k steps from the data and find the low-energy states that k-step
    chains never reach (and so never push up). One batch of B chains per frame, in order.
    """
    B, L, V = v.shape
    out = np.empty_like(v)
    last = np.zeros_like(v[:, 0]) if before is None else before
    for t in range(L):
        start = np.where(first[:, t, None], v[:, t], last)
        last = out[:, t] = gibbs_chain(start, W, bv_t[:, t], bh_t[:, t], cd_k, rng, bn)
    return out


def count_gradient(v: np.ndarray, v_neg: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """``sum_t [n(v*_t) = c] - [n(v_t) = c]`` over valid frames, for c < ``size`` (0: no count bias)."""
    if size == 0:
        return np.zeros(0)
    count = lambda x: np.rint(x[valid].sum(axis=-1)).astype(np.int64)  # noqa: E731
    return (np.bincount(count(v_neg), minlength=size) - np.bincount(count(v), minlength=size)).astype(np.float64)


def chunk_gradient(params: dict[str, np.ndarray], v: np.ndarray, first: np.ndarray, valid: np.ndarray,
                   state: StreamState, cd_k: int, rng: np.random.Generator, method: str = "rtrl",
                   v_neg: np.ndarray | None = None, cd_start: str = "data"
                   ) -> tuple[dict[str, np.ndarray], StreamState, dict]:
    """Gradient of the chunk's surrogate CD-k cost with respect to every parameter.

    Parameters
    ----------
    v : (B, L, V) binary frames in the parameters' dtype.
    first, valid : (B, L) bool.
    state : the streams' carried state (``state.S`` required for RTRL).
    cd_k : Gibbs steps for the negative samples.
    rng : source of all randomness.
    method : ``"rtrl"`` or ``"bptt"``.
    v_neg : (B, L, V), optional. Use these negative samples instead of drawing
        them (gradient checks compare methods on identical samples).
    cd_start : where each frame's CD chain starts, see :func:`chain_starts`.

    Returns
    -------
    grads : dict of float64 arrays keyed by parameter name (sums over frames).
    state : the state after the chunk.
    stats : ``{"cost": sum of F(v) - F(v*), "frames": number of valid frames}``.
    """
    B, L, V = v.shape
    W, bn = params["W"], params.get("bn", np.zeros(0))
    U_prev, U = forward(params, v, first, state.u)
    bv_t = params["bv"] + U_prev @ params["Wuv"]
    bh_t = params["bh"] + U_prev @ params["Wuh"]
    flat_v = v.reshape(-1, V)
    if v_neg is None and cd_start == "persistent":
        v_neg = persistent_chains(v, first, state.v_neg, W, bv_t, bh_t, cd_k, rng, bn)
    elif v_neg is None:
        start = chain_starts(v, first, state.v, cd_start, rng).reshape(-1, V)
        v_neg = gibbs_chain(start, W, bv_t.reshape(-1, V), bh_t.reshape(B * L, -1), cd_k, rng, bn).reshape(v.shape)
    mask = valid[:, :, None].astype(W.dtype)
    h_pos = sigmoid(bh_t + v @ W) * mask
    h_neg = sigmoid(bh_t + v_neg @ W) * mask
    gbv_t = (v_neg - v) * mask
    gbh_t = h_neg - h_pos
    F = free_energy(v, W, bv_t, bh_t, bn) - free_energy(v_neg, W, bv_t, bh_t, bn)

    H = W.shape[1]
    R = U.shape[2]
    up = U_prev.reshape(-1, R)
    grads = {
        "W": v_neg.reshape(-1, V).T @ h_neg.reshape(-1, H) - flat_v.T @ h_pos.reshape(-1, H),
        "bv": gbv_t.sum(axis=(0, 1)),
        "bh": gbh_t.sum(axis=(0, 1)),
        "bn": count_gradient(v, v_neg, valid, bn.size),
        "Wuv": up.T @ gbv_t.reshape(-1, V),
        "Wuh": up.T @ gbh_t.reshape(-1, H),
    }
    d = gbv_t @ params["Wuv"].T + gbh_t @ params["Wuh"].T
    if method == "rtrl":
        if state.S is None:
            raise ValueError("RTRL needs a state with sensitivities (init_state(..., rtrl=True))")
        g, S = rtrl_recurrent(params, v, first, U_prev, U, d, state.S)
        n_wvu, n_wuu = V * R, R * R
        grads["Wvu"] = g[:n_wvu].reshape(V, R)
        grads["Wuu"] = g[n_wvu:n_wvu + n_wuu].reshape(R, R)
        grads["bu"] = g[n_wvu + n_wuu:n_wvu + n_wuu + R]
        grads["u0"] = g[n_wvu + n_wuu + R:]
    elif method == "bptt":
        S = None
        grads["Wvu"], grads["Wuu"], grads["bu"], grads["u0"] = bptt_recurrent(params, v, first, U_prev, U, d)
    else:
        raise ValueError(f"unknown gradient method {method!r}: use 'rtrl' or 'bptt'")
    grads = {name: np.asarray(grads[name], dtype=np.float64) for name in PARAM_NAMES}
    stats = {"cost": float(np.sum(F * valid)), "frames": int(valid.sum())}
    return grads, StreamState(U[:, -1].copy(), S, v[:, -1].copy(), v_neg[:, -1].copy()), stats
