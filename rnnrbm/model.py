"""RNN-RBM parameters and the deterministic recurrence (Boulanger-Lewandowski et al., 2012).

Row-vector convention, names used everywhere (kernels, checkpoints, docs):

==========  =========================  ===========================================
name        shape                      role
==========  =========================  ===========================================
W           (n_visible, n_hidden)      RBM weights
bv          (n_visible,)               static visible bias
bh          (n_hidden,)                static hidden bias
bn          (n_visible + 1,) or (0,)   count bias: energy -bn[n(v)], n(v) notes on (optional)
Wuv         (n_recurrent, n_visible)   u_{t-1} -> visible bias
Wuh         (n_recurrent, n_hidden)    u_{t-1} -> hidden bias
Wvu         (n_visible, n_recurrent)   v_t -> recurrent input
Wuu         (n_recurrent, n_recurrent) recurrent weights
bu          (n_recurrent,)             recurrent bias
u0          (n_recurrent,)             initial recurrent state
==========  =========================  ===========================================

For t = 1..T with u_0 = u0::

    bv_t = bv + u_{t-1} Wuv
    bh_t = bh + u_{t-1} Wuh
    u_t  = tanh(bu + v_t Wvu + u_{t-1} Wuu)
"""

from __future__ import annotations

import numpy as np

from rnnrbm.config import ModelConfig

from rnnrbm.config import PARAM_NAMES, RNN_PARAM_NAMES  # noqa: E402,F401  (re-exported)


def init_params(config: ModelConfig, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """Small random weights, zero biases (the Theano tutorial's scheme, scaled by fan-in); a count
    bias starts at ``bn[n] = -n``.

    Returns a dict with one C-contiguous array of ``dtype`` per name in :data:`PARAM_NAMES`.
    """
    shapes = config.shapes()
    params = {}
    for name in PARAM_NAMES:
        shape = shapes[name]
        if len(shape) == 2:
            # 1/sqrt(fan_in) keeps pre-activations O(1) whatever the sizes.
            value = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), size=shape)
        elif name == "bn":
            # -n(v), one nat per note: counts the CD chains never reach keep a penalty that grows with
            # the count (from zero, frames with half the keys on stayed as likely as chords and trapped
            # the sampler)
            value = -np.arange(shape[0], dtype=np.float64)
        else:
            value = np.zeros(shape)
        params[name] = np.ascontiguousarray(value, dtype=dtype)
    return params


def recurrence(params: dict[str, np.ndarray], v: np.ndarray, u_init: np.ndarray | None = None) -> np.ndarray:
    """Run the RNN over visible frames (teacher forcing).

    Parameters
    ----------
    params : dict of arrays named as in :data:`PARAM_NAMES`.
    v : (T, n_visible) or (B, T, n_visible) binary frames v_1..v_T.
    u_init : (n_recurrent,) or (B, n_recurrent), optional
        u_0; defaults to the parameter ``u0``.

    Returns
    -------
    u : (T + 1, n_recurrent) or (B, T + 1, n_recurrent)
        u_0..u_T, where u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu).
    """
    batched = v.ndim == 3
    vb = v if batched else v[None]
    B, T, _ = vb.shape
    dtype = params["Wuu"].dtype
    u = np.empty((B, T + 1, params["Wuu"].shape[0]), dtype=dtype)
    u[:, 0] = params["u0"] if u_init is None else u_init
    a = vb.astype(dtype) @ params["Wvu"] + params["bu"]  # input part of all steps at once
    for t in range(T):
        u[:, t + 1] = np.tanh(a[:, t] + u[:, t] @ params["Wuu"])
    return u if batched else u[0]


def dynamic_biases(params: dict[str, np.ndarray], u_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RBM biases conditioned on the past: ``bv_t = bv + u_{t-1} Wuv``, ``bh_t = bh + u_{t-1} Wuh``.

    ``u_prev`` has shape (..., n_recurrent); the results have shapes (..., n_visible)
    and (..., n_hidden).
    """
    return params["bv"] + u_prev @ params["Wuv"], params["bh"] + u_prev @ params["Wuh"]


def tempered(params: dict[str, np.ndarray], temperature: float) -> dict[str, np.ndarray]:
    """The RNN-RBM whose RBM at every step is this one's at temperature ``T``.

    ``p_T(v_t, h_t | v_<t) ∝ exp(-E_t(v_t, h_t) / T)`` with
    ``E_t(v, h) = -v.bv_t - h.bh_t - v W h - bn[n(v)]``. The energy is linear in
    (W, bv, bh, bn, Wuv, Wuh), so dividing those by ``T`` gives the tempered model
    exactly, as an ordinary RNN-RBM; the recurrent net (Wvu, Wuu, bu, u0) is unchanged.
    ``T < 1`` sharpens every step's distribution, ``T > 1`` flattens it. This is the
    distribution ``rnnrbm generate --temperature T`` samples.

    Returns a new dict of new arrays with the same dtypes.
    """
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, not {temperature!r}")
    energy = set(PARAM_NAMES) - set(RNN_PARAM_NAMES)
    return {k: (a / np.asarray(temperature, a.dtype) if k in energy else a.copy()) for k, a in params.items()}
