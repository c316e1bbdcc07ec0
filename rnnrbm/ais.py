"""Log-likelihood of an RNN-RBM per time step, with log Z by annealed importance sampling.

Given the past, step t of an RNN-RBM is an RBM with biases ``bv_t``, ``bh_t`` (see
:func:`rnnrbm.model.dynamic_biases`) and the shared weights ``W``, so (the LL of
Boulanger-Lewandowski et al., 2012)::

    log p(v_t | v_<t) = -F_t(v_t) - log Z_t,
    F_t(v) = -v.bv_t - bn[n(v)] - sum_j softplus(bh_t,j + (v W)_j)

(the count bias ``bn`` only when the model has one).

``F_t`` is exact; ``log Z_t`` is estimated with annealed importance sampling
(Salakhutdinov & Murray, 2008), for every step independently:

* Base model: the same RBM with W scaled by beta = 0 (biases kept). Its visibles
  and hiddens are independent, so it is sampled exactly and
  ``log Z_0 = sum_i softplus(bv_t,i) + sum_j softplus(bh_t,j)``. A count bias keeps
  every model's visibles tied by their number n; the base is still exact, since
  ``n`` then follows the Poisson-binomial law of ``sigmoid(bv_t)`` reweighted by
  ``exp(bn[n])`` (:func:`log_count_mean`), and the bias cancels in the weights.
* Intermediate models scale W by ``0 = beta_0 < beta_1 < ... < beta_{K-1} = 1``.
  Each run draws v from the base, then for k = 1..K-1 adds
  ``F_{k-1}(v) - F_k(v)`` to its log weight (free energies with h marginalised)
  and makes one block Gibbs transition v -> h -> v at ``beta_k``.
* ``log Z_t = log Z_0 + log mean_r exp(logw_r)`` over the runs, accumulated in float64.

Schedule: K temperatures spaced linearly, ``beta_k = k / (K - 1)`` (``--ais-betas``
is K, both ends included; K = 2 is plain importance sampling from the base). On
random RBMs of this shape (88 visibles, biases kept in the base) the linear
schedule gave smaller log-weight variance and error than the MNIST schedule of
Salakhutdinov & Murray (steps of 1e-3 / 1e-4 / 1e-5 over [0, .5] / [.5, .9] /
[.9, 1] scaled to K) at every K tried; the bias of the estimate falls roughly as
1 / (runs * K), so runs and temperatures can be traded at equal cost.

All steps of all pieces and all runs are batched: blocks of steps go to one
Numba kernel (:func:`rnnrbm.kernels.ais_log_weights`) that runs every chain
through all temperatures. Its random stream depends only on the seed and the
chain's global index, so results do not depend on the block size or threads.

Reverse AIS (``method="raise"``; RAISE, Burda, Grosse & Salakhutdinov 2015) errs the other
way. AIS's ``Z_t`` is unbiased, so its ``log Z_t`` is too low on average and, when the
temperatures are too few for a sharp model, far too low: the LL comes out too high (a step
with ``log p > 0`` proves it). RAISE starts each run at the data ``v_t`` and anneals down,
K-1 transitions at ``beta_{K-1}, ..., beta_1``, adding ``log f_k(v) - log f_{k-1}(v)`` at
each new state to ``L``; then ``exp(-F_t(v_t)) / Z_0 * mean_r exp(-L_r)`` is unbiased for
``q(v_t)``, where ``q`` is the proper distribution of the forward chain (a base draw, then
the same transitions upwards). Its log errs low for ``q``; and ``q``, the RBM blurred by too
short an annealing, gives data the RBM fits well less probability than the RBM does, so
there the estimate is conservative (on data the RBM fits badly, e.g. random vectors, ``q``
can give more). Both estimates tend to the true LL as K grows: their agreement is the
evidence of convergence that AIS alone cannot give.

For tiny models (``min(V, H) <= 20`` and enumeration cheaper than AIS) log Z is
exact: a log-sum-exp over the 2^min(V, H) states of the smaller layer, the other
layer summed out analytically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from rnnrbm.errors import UsageError

DEFAULT_RUNS = 100
DEFAULT_BETAS = 1000
EXACT_MAX_UNITS = 20
METHODS = ("auto", "ais", "exact", "raise")
CHAINS_PER_BLOCK = 4096  # chains per kernel call: bounds memory, sets progress granularity
EXACT_BLOCK_ELEMENTS = 1 << 21  # (steps x states x units) per NumPy block of the exact path
IMPOSSIBLE_TOL = 1e-6  # nats of rounding allowed above log p = 0; see LogLikelihood.impossible_steps

#: ``progress(done_steps, total_steps)``
StepProgress = Callable[[int, int], None]


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))``, elementwise, stable."""
    return np.logaddexp(0.0, x)


def linear_betas(n: int) -> np.ndarray:
    """The AIS schedule: ``n >= 2`` inverse temperatures from 0.0 to 1.0, evenly spaced (float64)."""
    if n < 2:
        raise UsageError(f"--ais-betas must be at least 2 (got {n})")
    betas = np.linspace(0.0, 1.0, n)
    betas[-1] = 1.0
    return betas


def log_count_mean(a: np.ndarray, bn: np.ndarray | None) -> np.ndarray | float:
    """``log E[exp(bn[n])]`` for the number ``n`` of units on, each on independently with
    probability ``sigmoid(a_i)``: (..., V) -> (...,); 0 without a count bias.

    ``sum_v exp(a.v + bn[n(v)]) = exp(sum_i softplus(a_i) + log_count_mean(a, bn))``.
    The law of n (Poisson-binomial) is built unit by unit, O(V^2).
    """
    if bn is None or bn.size == 0:
        return 0.0
    p = 0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, np.float64)))
    law = np.zeros(p.shape[:-1] + (p.shape[-1] + 1,))
    law[..., 0] = 1.0
    for i in range(p.shape[-1]):
        pi = p[..., i, None]
        law[..., 1:i + 2] = law[..., 1:i + 2] * (1.0 - pi) + law[..., :i + 1] * pi
        law[..., 0] *= 1.0 - p[..., i]
    top = float(np.max(bn))
    return top + np.log(law @ np.exp(np.asarray(bn, np.float64) - top))


def base_log_z(bv: np.ndarray, bh: np.ndarray, bn: np.ndarray | None = None) -> np.ndarray:
    """``log Z`` of the base RBMs (W = 0): ``sum softplus(bv) + sum softplus(bh)``, plus
    :func:`log_count_mean` with a count bias; (S, V), (S, H) -> (S,)."""
    bv = np.asarray(bv, np.float64)
    return softplus(bv).sum(axis=-1) + softplus(np.asarray(bh, np.float64)).sum(axis=-1) + log_count_mean(bv, bn)


def free_energy(v: np.ndarray, W: np.ndarray, bv: np.ndarray, bh: np.ndarray,
                bn: np.ndarray | None = None) -> np.ndarray:
    """``F(v) = -v.bv - bn[n(v)] - sum_j softplus(bh_j + (v W)_j)`` in float64;
    v (S, V), bv (S, V), bh (S, H), bn (V + 1,) or None -> (S,)."""
    from rnnrbm.rbm import count_energy

    v = np.asarray(v, np.float64)
    bn = None if bn is None else np.asarray(bn, np.float64)
    return -np.sum(v * bv, axis=-1) - count_energy(v, bn) - softplus(v @ np.asarray(W, np.float64) + bh).sum(axis=-1)


def logmeanexp(logw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log mean exp`` over the last axis and its delta-method standard error.

    The error is ``sd(w) / (sqrt(R) mean(w))`` for R weights ``w = exp(logw)`` (NaN for R = 1).
    """
    logw = np.asarray(logw, np.float64)
    top = logw.max(axis=-1, keepdims=True)
    w = np.exp(logw - top)
    mean = w.mean(axis=-1)
    estimate = top[..., 0] + np.log(mean)
    runs = logw.shape[-1]
    if runs < 2:
        return estimate, np.full(estimate.shape, np.nan)
    return estimate, w.std(axis=-1, ddof=1) / (np.sqrt(runs) * mean)


def _kernel_arrays(W, bv, bh, betas, bn):
    """The AIS kernels' argument types: W float32/64, biases and schedule float64, bn None or float64."""
    betas = linear_betas(betas) if np.isscalar(betas) else np.ascontiguousarray(betas, np.float64)
    W = np.ascontiguousarray(W)
    if W.dtype not in (np.float32, np.float64):
        W = W.astype(np.float64)
    bn = np.asarray(bn, np.float64) if bn is not None and np.size(bn) else None
    return W, np.ascontiguousarray(bv, np.float64), np.ascontiguousarray(bh, np.float64), betas, bn


def ais_log_z(W: np.ndarray, bv: np.ndarray, bh: np.ndarray, runs: int = DEFAULT_RUNS,
              betas: np.ndarray | int = DEFAULT_BETAS, seed: int = 0, first_step: int = 0,
              bn: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """AIS estimates of ``log Z`` of S RBMs sharing ``W`` (one kernel call; see the module docstring).

    Parameters
    ----------
    W : (V, H) float32 or float64.
    bv, bh : (S, V) and (S, H) biases of each RBM.
    runs : AIS runs per RBM.
    betas : the schedule (float64 from 0 to 1), or its length for :func:`linear_betas`.
    seed, first_step : the random stream; RBM ``s`` uses the chains of global step
        ``first_step + s``, so blocks of one sequence can be done separately.
    bn : (V + 1,) count bias shared by the RBMs, or None.

    Returns
    -------
    log_z : (S,) float64 estimates.
    stderr : (S,) delta-method standard errors of ``log_z`` (NaN when runs = 1).
    """
    from rnnrbm.kernels import ais_log_weights

    W, bv, bh, betas, bn = _kernel_arrays(W, bv, bh, betas, bn)
    logw = ais_log_weights(W, bv, bh, betas, runs, seed, first=first_step * runs, bn=bn)
    mean, stderr = logmeanexp(logw)
    return base_log_z(bv, bh, bn) + mean, stderr


def raise_log_p(W: np.ndarray, v: np.ndarray, bv: np.ndarray, bh: np.ndarray, runs: int = DEFAULT_RUNS,
                betas: np.ndarray | int = DEFAULT_BETAS, seed: int = 0, first_step: int = 0,
                bn: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reverse AIS (RAISE) estimates of ``log p(v[s])`` for S RBMs sharing ``W``; where
    ``-F(v) - log Z`` with :func:`ais_log_z` errs high, this errs low on data the model fits
    (module docstring).

    Parameters are those of :func:`ais_log_z` plus ``v`` (S, V), the binary data of each RBM.
    Returns the (S,) float64 estimates and their (S,) delta-method standard errors.
    """
    from rnnrbm.kernels import reverse_ais_log_weights

    W, bv, bh, betas, bn = _kernel_arrays(W, bv, bh, betas, bn)
    v = np.ascontiguousarray(v, np.float64)
    L = reverse_ais_log_weights(W, v, bv, bh, betas, runs, seed, first=first_step * runs, bn=bn)
    mean, stderr = logmeanexp(-L)
    return mean - free_energy(v, W, bv, bh, bn) - base_log_z(bv, bh, bn), stderr


def _states(m: int) -> np.ndarray:
    """All 2^m binary vectors of length m as a (2^m, m) float64 array."""
    return ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1).astype(np.float64)


def exact_log_z(W: np.ndarray, bv: np.ndarray, bh: np.ndarray, max_units: int = EXACT_MAX_UNITS,
                bn: np.ndarray | None = None) -> np.ndarray:
    """Exact ``log Z`` of S RBMs by enumerating the smaller layer (at most ``max_units`` units).

    Over hiddens: ``log Z = logsumexp_h [h.bh + sum_i softplus(bv_i + (W h)_i)
    + log_count_mean(bv + W h, bn)]``; over visibles (when V < H) the same with the roles
    swapped, plus ``bn[n(v)]``. (S, V), (S, H) -> (S,) float64.
    """
    from rnnrbm.rbm import count_energy

    bn = np.asarray(bn, np.float64) if bn is not None and np.size(bn) else None
    W = np.asarray(W, np.float64)
    bv = np.atleast_2d(np.asarray(bv, np.float64))
    bh = np.atleast_2d(np.asarray(bh, np.float64))
    V, H = W.shape
    over_visibles = H > V
    if over_visibles:
        small, big, M = bv, bh, W    # enumerate v
    else:
        small, big, M = bh, bv, W.T  # enumerate h; (W h)_i = (h W^T)_i
    m, n = M.shape
    if m > max_units:
        raise ValueError(f"exact_log_z: 2^{m} states is too many to enumerate (max {max_units} units)")
    states = _states(m)
    A = states @ M                                   # (2^m, n)
    out = np.empty(len(small))
    per_step = max(1, EXACT_BLOCK_ELEMENTS // (len(states) * max(n, 1)))
    for start in range(0, len(small), per_step):
        stop = min(start + per_step, len(small))
        terms = small[start:stop] @ states.T         # (s, 2^m)
        act = A[None, :, :] + big[start:stop, None, :]
        terms += softplus(act).sum(axis=-1)
        terms += count_energy(states, bn) if over_visibles else log_count_mean(act, bn)
        top = terms.max(axis=-1, keepdims=True)
        out[start:stop] = top[:, 0] + np.log(np.exp(terms - top).sum(axis=-1))
    return out


def exact_is_cheaper(n_visible: int, n_hidden: int, runs: int, n_betas: int) -> bool:
    """True when enumeration (2^min(V, H) states) costs less than AIS and min(V, H) <= 20."""
    m, n = min(n_visible, n_hidden), max(n_visible, n_hidden)
    return m <= EXACT_MAX_UNITS and 2 ** m * (n + m) <= runs * n_betas * (n_visible + n_hidden)


@dataclass
class LogLikelihood:
    """Result of :func:`log_likelihood`: per-step values and their summary."""

    per_step: np.ndarray                # (steps,) log p(v_t | v_<t), all pieces in order
    method: str                         # "ais", "raise" or "exact"
    log_z_stderr: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (steps,) AIS/RAISE error of each step

    @property
    def steps(self) -> int:
        return len(self.per_step)

    @property
    def mean(self) -> float:
        """Average LL per time step (nats)."""
        return float(self.per_step.mean()) if self.steps else float("nan")

    @property
    def impossible_steps(self) -> int:
        """Steps whose estimate is ``log p(v_t | v_<t) > 0``, a probability above 1.

        For binary notes that cannot be, so each one proves that AIS's ``log Z_t`` came
        out too low: its temperatures were too few for this model. (None does not prove
        the opposite.) The tolerance covers rounding in an exact or converged log Z.
        """
        return int(np.sum(self.per_step > IMPOSSIBLE_TOL))

    @property
    def stderr(self) -> Optional[float]:
        """Standard error of :attr:`mean` over time steps (their spread, steps taken as independent)."""
        return float(self.per_step.std(ddof=1) / np.sqrt(self.steps)) if self.steps > 1 else None

    @property
    def ais_stderr(self) -> Optional[float]:
        """Monte Carlo error of :attr:`mean` due to AIS: ``sqrt(sum_t se_t^2) / steps`` (0 when exact)."""
        if self.method == "exact":
            return 0.0
        if not self.steps or not np.all(np.isfinite(self.log_z_stderr)):
            return None
        return float(np.sqrt(np.sum(self.log_z_stderr ** 2)) / self.steps)


def step_biases(params: dict[str, np.ndarray], piece: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(v, bv_t, bh_t)`` of every step of one piece, in float64: (T, V), (T, V), (T, H)."""
    from rnnrbm.model import dynamic_biases, recurrence

    p64 = {k: np.asarray(a, np.float64) for k, a in params.items()}  # no copy when already float64
    v = (np.asarray(piece) != 0).astype(np.float64)
    u = recurrence(p64, v)
    bv, bh = dynamic_biases(p64, u[:-1])
    return v, bv, bh


def log_likelihood(params: dict[str, np.ndarray], pieces: list[np.ndarray], runs: int = DEFAULT_RUNS,
                   n_betas: int = DEFAULT_BETAS, seed: int = 0, method: str = "auto",
                   progress: Optional[StepProgress] = None) -> LogLikelihood:
    """``log p(v_t | v_<t)`` for every step of ``pieces`` (each (T, V) binary).

    ``method``: "ais", "raise" (reverse AIS), "exact" (enumeration; needs ``min(V, H) <= 20``)
    or "auto" (exact when :func:`exact_is_cheaper`, else AIS). ``progress(done, total)`` is
    called with step counts after each block.
    """
    if method not in METHODS:
        raise UsageError(f"--log-z must be one of {', '.join(METHODS)} (got {method!r})")
    if runs < 1:
        raise UsageError(f"--ais-runs must be at least 1 (got {runs})")
    betas = linear_betas(n_betas)
    W = np.ascontiguousarray(params["W"])
    V, H = W.shape
    if method == "auto":
        method = "exact" if exact_is_cheaper(V, H, runs, n_betas) else "ais"
    if method == "exact" and min(V, H) > EXACT_MAX_UNITS:
        raise UsageError(f"--log-z exact enumerates 2^{min(V, H)} states; it needs at most "
                         f"{EXACT_MAX_UNITS} visible or hidden units")
    total = int(sum(len(p) for p in pieces))
    params64 = {k: np.asarray(a, np.float64) for k, a in params.items()}
    bn = params64.get("bn")
    sampled = method in ("ais", "raise")
    block = max(1, CHAINS_PER_BLOCK // runs) if sampled else max(1, EXACT_BLOCK_ELEMENTS // 2 ** min(V, H))
    ll = np.empty(total)
    se = np.zeros(total)
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    done = 0

    def flush() -> None:
        nonlocal done, pending
        v, bv, bh = (np.concatenate(parts) for parts in zip(*pending))
        pending = []
        if method == "ais":
            log_z, stderr = ais_log_z(W, bv, bh, runs, betas, seed, first_step=done, bn=bn)
            se[done:done + len(v)] = stderr
            ll[done:done + len(v)] = -free_energy(v, W, bv, bh, bn) - log_z
        elif method == "raise":
            ll[done:done + len(v)], se[done:done + len(v)] = raise_log_p(W, v, bv, bh, runs, betas, seed, done, bn)
        else:
            ll[done:done + len(v)] = -free_energy(v, W, bv, bh, bn) - exact_log_z(W, bv, bh, bn=bn)
        done += len(v)
        if progress:
            progress(done, total)

    buffered = 0
    for piece in pieces:
        if len(piece) == 0:
            continue
        v, bv, bh = step_biases(params64, piece)
        for start in range(0, len(v), block):
            part = slice(start, start + block)
            pending.append((v[part], bv[part], bh[part]))
            buffered += len(v[part])
            if buffered >= block:
                flush()
                buffered = 0
    if pending:
        flush()
    return LogLikelihood(ll, method, se)
