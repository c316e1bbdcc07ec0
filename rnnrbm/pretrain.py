"""Initialisation by pretraining, as in Boulanger-Lewandowski et al. (2012): the RBM on single
frames, and the recurrent net as a logistic RNN that predicts each frame.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnnrbm.batches import epoch_chunks
from rnnrbm.config import TrainConfig
from rnnrbm.gradients import chunk_gradient, forward, init_state
from rnnrbm.model import PARAM_NAMES
from rnnrbm.optim import Adam, check_finite, check_params
from rnnrbm.rbm import sigmoid

RBM_PART = ("W", "bv", "bh", "bn")
RNN_PRETRAIN_PART = ("bv", "Wuv", "Wvu", "Wuu", "bu", "u0")  # a logistic RNN's parameters


def pretrain_rbm(params: dict[str, np.ndarray], frames: list[np.ndarray], config: TrainConfig,
                 rng: np.random.Generator, on_event: Callable | None = None) -> None:
    """RBM pretraining on single frames (W, bv, bh and a count bias bn), as in the 2012 paper.

    Each frame is treated as a one-step piece, so the same CD-k gradient applies.
    """
    data = np.concatenate([f for f in frames if len(f)]).astype(params["W"].dtype)
    opt = Adam(params, config.lr, config.lr_rnn, config.clip)
    size = 100
    for epoch in range(1, config.pretrain_epochs + 1):
        order = rng.permutation(len(data))
        for start in range(0, len(data), size):
            v = data[order[start:start + size]][:, None, :]
            ones = np.ones(v.shape[:2], dtype=bool)
            g, _, stats = chunk_gradient(params, v, ones, ones, init_state(params, len(v), False),
                                         config.cd_k, rng, "bptt")
            grads = {k: (g[k] / stats["frames"] if k in RBM_PART else np.zeros_like(g[k])) for k in PARAM_NAMES}
            check_finite(grads, stats["cost"], "RBM pretraining")
            opt.step(params, grads)
            check_params(params, "RBM pretraining")
        if on_event:
            on_event("pretrain", {"epoch": epoch, "epochs": config.pretrain_epochs})


def pretrain_rnn(params: dict[str, np.ndarray], pieces: list[np.ndarray], config: TrainConfig,
                 rng: np.random.Generator, on_event: Callable | None = None) -> None:
    """Pretrain the recurrent net as a logistic RNN that predicts each frame, as in the 2012 paper.

    With ``W = 0`` the step's RBM is independent notes, ``p(v_t | v_<t) = prod_i
    p_ti^v_ti (1 - p_ti)^(1 - v_ti)`` with ``p_t = sigmoid(bv + u_{t-1} Wuv)``, and the
    exact gradient of its negative log-likelihood is ``dC/dbv_t = p_t - v_t``: CD's
    ``v*_t - v_t`` with the expectation in place of the sample. So :func:`chunk_gradient`
    on ``W = 0`` with ``v* = p`` back-propagates it (by ``config.gradient``) into
    (bv, Wuv, Wvu, Wuu, bu, u0), the only parameters updated; W, bh, Wuh and bn stay.
    Emits ``("pretrain_rnn", {"epoch", "epochs", "nll"})``, nll in nats per frame.
    """
    independent = dict(params, W=np.zeros_like(params["W"]))  # shares the arrays Adam updates in place
    opt = Adam(params, config.lr, config.lr_rnn, config.clip)
    used = [p for p in pieces if len(p)]
    for epoch in range(1, config.pretrain_rnn_epochs + 1):
        state = init_state(params, config.batch, config.gradient == "rtrl")
        nll = frames = 0.0
        for chunk in epoch_chunks(used, config.batch, config.chunk, rng, np.dtype(config.dtype)):
            # p needs u_{t-1}; chunk_gradient repeats this cheap forward pass, a small part of the step
            U_prev, _ = forward(params, chunk.v, chunk.first, state.u)
            p = sigmoid(params["bv"] + U_prev @ params["Wuv"])
            g, state, stats = chunk_gradient(independent, chunk.v, chunk.first, chunk.valid, state, 1, rng,
                                             config.gradient, v_neg=p)
            if stats["frames"] == 0:
                continue
            q = np.clip(np.where(chunk.v > 0, p, 1.0 - p), 1e-12, 1.0)
            nll -= float(np.sum(np.log(q) * chunk.valid[:, :, None]))
            frames += stats["frames"]
            grads = {k: (g[k] / stats["frames"] if k in RNN_PRETRAIN_PART else np.zeros_like(g[k]))
                     for k in PARAM_NAMES}
            check_finite(grads, nll, "RNN pretraining")
            opt.step(params, grads)
            check_params(params, "RNN pretraining")
        if on_event:
            on_event("pretrain_rnn", {"epoch": epoch, "epochs": config.pretrain_rnn_epochs,
                                      "nll": nll / max(frames, 1)})
