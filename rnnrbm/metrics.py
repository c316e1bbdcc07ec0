"""Expected frame-level accuracy (Bay et al., 2009), the ACC column of the 2012 paper.

For every step t the model predicts v_t by running block Gibbs steps of the
step's conditional RBM, started at the previous frame v_{t-1} (zeros before the
first frame), several times. Two summaries of these draws:

* pooled: the expected counts are summed over all steps of all pieces and
  ``ACC = TP / (TP + FP + FN)``;
* per step: each step's accuracy ``TP_t / (TP_t + FP_t + FN_t)`` is averaged over
  the draws (its expectation under the model's conditional distribution), then
  over all steps. This is the protocol the paper's first author published for its
  ACC column (evaluation notes of the ICML 2012 data page). A step where nothing
  sounds and nothing is predicted scores 1.

The per-step mean is higher: steps with few notes weigh as much as dense ones.
"""

from __future__ import annotations

import numpy as np

from rnnrbm.model import dynamic_biases, recurrence
from rnnrbm.rbm import gibbs_chain


def accuracy_counts(truth: np.ndarray, prediction: np.ndarray) -> tuple[float, float, float]:
    """Expected (TP, FP, FN) of ``prediction`` (probabilities or 0/1) against binary ``truth``, same shape."""
    truth = truth.astype(np.float64)
    prediction = prediction.astype(np.float64)
    tp = float(np.sum(prediction * truth))
    fp = float(np.sum(prediction * (1.0 - truth)))
    fn = float(np.sum((1.0 - prediction) * truth))
    return tp, fp, fn


def accuracy_from_counts(tp: float, fp: float, fn: float) -> float:
    """``TP / (TP + FP + FN)``; 1.0 when there is nothing to predict and nothing was predicted."""
    total = tp + fp + fn
    return tp / total if total > 0 else 1.0


def step_accuracy(truth: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Expected accuracy of every step: the mean over draws of ``TP_t / (TP_t + FP_t + FN_t)``.

    truth (T, V) binary, draws (S, T, V) binary  ->  (T,) float in [0, 1]. A step
    with no note in the truth and none in a draw scores 1 for that draw.
    """
    truth = truth.astype(np.float64)[None]
    draws = draws.astype(np.float64)
    tp = np.sum(draws * truth, axis=2)
    wrong = np.sum(draws * (1.0 - truth), axis=2) + np.sum((1.0 - draws) * truth, axis=2)
    total = tp + wrong
    return np.where(total > 0, tp / np.maximum(total, 1.0), 1.0).mean(axis=0)


def prediction_inputs(params: dict[str, np.ndarray], piece: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each step's prediction chain starts, and the step's RBM biases.

    piece (T, V) binary  ->  start (T, V), the previous frame (zeros before the first),
    bv_t (T, V) and bh_t (T, H), from the recurrent net fed v_1..v_{t-1}; all in W's dtype.
    """
    dtype = params["W"].dtype
    v = np.asarray(piece).astype(dtype)
    bv_t, bh_t = dynamic_biases(params, recurrence(params, v)[:-1])  # u_0..u_{T-1}: biases of steps 1..T
    return np.vstack([np.zeros((1, v.shape[1]), dtype), v[:-1]]), bv_t, bh_t


def predict_frames(params: dict[str, np.ndarray], piece: np.ndarray, gibbs_steps: int, samples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Mean over ``samples`` draws of the predicted frames of one piece.

    piece (T, V) binary  ->  (T, V) float in [0, 1], where row t is predicted from
    v_1..v_{t-1} only.
    """
    start, bv_t, bh_t = prediction_inputs(params, piece)
    T = len(piece)
    reps = lambda x: np.tile(x, (samples, 1))  # noqa: E731 - all draws in one batch
    draws = gibbs_chain(reps(start), params["W"], reps(bv_t), reps(bh_t), gibbs_steps, rng, params.get("bn"))
    return draws.reshape(samples, T, -1).mean(axis=0)


def frame_accuracy(params: dict[str, np.ndarray], pieces: list[np.ndarray], gibbs_steps: int = 5,
                   samples: int = 1, rng: np.random.Generator | None = None) -> float:
    """Expected frame-level accuracy of the model on ``pieces`` (each (T, V) binary)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    tp = fp = fn = 0.0
    for piece in pieces:
        if len(piece) == 0:
            continue
        c = accuracy_counts(piece, predict_frames(params, piece, gibbs_steps, samples, rng))
        tp, fp, fn = tp + c[0], fp + c[1], fn + c[2]
    return accuracy_from_counts(tp, fp, fn)


def predict_pieces(params: dict[str, np.ndarray], pieces: list[np.ndarray], gibbs_steps: int, samples: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """The draws of :func:`predict_frames` for several pieces at once: one batch of Gibbs chains.

    Fewer, larger matrix products than piece by piece (much faster for short pieces). Returns one
    (samples, T, V) array of predicted frames per piece, in order (empty pieces give T = 0); their
    mean over the first axis is :func:`predict_frames`'s prediction.
    """
    V = params["W"].shape[0]
    starts, bvs, bhs, lengths = [], [], [], []
    for piece in pieces:
        lengths.append(len(piece))
        if len(piece) == 0:
            continue
        start, bv_t, bh_t = prediction_inputs(params, piece)
        starts.append(start)
        bvs.append(bv_t)
        bhs.append(bh_t)
    if not starts:
        return [np.zeros((samples, 0, V)) for _ in pieces]
    reps = lambda parts: np.tile(np.concatenate(parts), (samples, 1))  # noqa: E731 - all draws in one batch
    draws = gibbs_chain(reps(starts), params["W"], reps(bvs), reps(bhs), gibbs_steps, rng, params.get("bn"))
    return np.split(draws.reshape(samples, -1, V), np.cumsum(lengths)[:-1], axis=1)
