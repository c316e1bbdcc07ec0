"""Adam with global gradient-norm clipping and separate learning rates for the RBM and RNN parts,
and the divergence checks every update runs.

The state (moments and step count) round-trips through a checkpoint's ``opt/``
entries, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import numpy as np

from rnnrbm.errors import RnnrbmError
from rnnrbm.model import PARAM_NAMES, RNN_PARAM_NAMES

# Trained models stay below ~10 (the shipped one: 9). Adam moves a weight by about
# lr per update, so only a far too high learning rate gets a weight past this.
MAX_ABS_PARAM = 1e4


class Diverged(RnnrbmError):
    """Non-finite values or runaway weights; :func:`train` adds the likely cause and what was kept."""


def check_finite(grads: dict[str, np.ndarray], cost: float, where: str) -> None:
    """Raise :class:`Diverged` if a gradient or the cost holds NaN or Inf; ``where`` names the phase."""
    bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
    if bad or not np.isfinite(cost):
        raise Diverged(f"training diverged in {where}: non-finite {'gradient of ' + ', '.join(bad) if bad else 'cost'}")


def check_params(params: dict[str, np.ndarray], where: str) -> None:
    """Raise :class:`Diverged` if a weight is NaN or beyond :data:`MAX_ABS_PARAM`."""
    for name in PARAM_NAMES:
        peak = float(np.max(np.abs(params[name]), initial=0.0))
        if not peak <= MAX_ABS_PARAM:  # also catches NaN
            raise Diverged(f"training diverged in {where}: weights {name} reached {peak:.3g} "
                           f"(trained models stay below {MAX_ABS_PARAM:g})")


class Adam:
    """Adam (Kingma & Ba, 2015) on a dict of parameter arrays.

    Parameters
    ----------
    lr : learning rate of the RBM part (W, bv, bh, Wuv, Wuh).
    lr_rnn : learning rate of the recurrent part (Wvu, Wuu, bu, u0).
    clip : rescale the whole gradient when its global L2 norm exceeds this (0 = off).
    """

    def __init__(self, params: dict[str, np.ndarray], lr: float, lr_rnn: float, clip: float,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.lr_rnn, self.clip = lr, lr_rnn, clip
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = {k: np.zeros(p.shape, np.float64) for k, p in params.items()}
        self.v = {k: np.zeros(p.shape, np.float64) for k, p in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> float:
        """Update ``params`` in place from ``grads`` (of a cost to minimise); returns the gradient norm."""
        norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
        scale = self.clip / norm if self.clip > 0 and norm > self.clip else 1.0
        self.t += 1
        c1 = 1.0 - self.beta1 ** self.t
        c2 = 1.0 - self.beta2 ** self.t
        for name in PARAM_NAMES:
            g = grads[name] * scale
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            lr = self.lr_rnn if name in RNN_PARAM_NAMES else self.lr
            params[name] -= (lr * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(params[name].dtype)
        return norm

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays to store under a checkpoint's ``opt/`` prefix."""
        state = {"t": np.array(self.t), "lr": np.array(self.lr), "lr_rnn": np.array(self.lr_rnn)}
        state.update({f"m/{k}": v for k, v in self.m.items()})
        state.update({f"v/{k}": v for k, v in self.v.items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.t = int(state["t"])
        self.lr, self.lr_rnn = float(state["lr"]), float(state["lr_rnn"])
        for name in PARAM_NAMES:
            self.m[name] = np.array(state[f"m/{name}"], np.float64)
            self.v[name] = np.array(state[f"v/{name}"], np.float64)
