"""scripts/acc_convergence.py: per-step ACC read off chains at several lengths."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts/acc_convergence.py"
spec = importlib.util.spec_from_file_location("acc_convergence", SCRIPT)
acc_convergence = importlib.util.module_from_spec(spec)
spec.loader.exec_module(acc_convergence)


def test_a_model_sure_of_the_truth_scores_one_at_every_length_from_any_start():
    rng = np.random.default_rng(0)
    truth = (rng.random((30, 12)) < 0.3).astype(np.float64)
    params = {"W": np.zeros((12, 4))}
    bv, bh = np.where(truth > 0, 30.0, -30.0), np.zeros((30, 4))
    for start in (np.zeros_like(truth), 1 - truth):
        by_k = acc_convergence.accuracies(params, truth, start, bv, bh, [1, 3, 10], samples=4, seed=0)
        assert sorted(by_k) == [1, 3, 10]
        for acc in by_k.values():
            assert acc.shape == (30,) and np.all(acc == 1.0)


def test_independent_notes_give_the_closed_form_accuracy_at_every_length():
    # With W = 0 every chain samples the exact distribution after one step, whatever its start.
    truth = np.zeros((400, 2))
    truth[:, 0] = 1.0
    params = {"W": np.zeros((2, 3))}
    bv, bh = np.zeros((400, 2)), np.zeros((400, 3))  # each note on with p = 1/2
    by_k = acc_convergence.accuracies(params, truth, np.ones_like(truth), bv, bh, [1, 5], samples=50, seed=1)
    # Draws (1, 0): 1, (1, 1): 1/2, (0, 0) and (0, 1): 0, each with probability 1/4.
    for acc in by_k.values():
        assert abs(acc.mean() - 0.375) < 0.01
