#!/usr/bin/env python
"""Is a checkpoint's ACC converged? Expected frame accuracy at growing Gibbs chain lengths.

    python scripts/acc_convergence.py models/jsb-88.npz [--split valid] [--steps 5 25 100 400 1000 2000]
                                      [--temperature 1]

The paper's ACC is an expectation under the model's conditional distribution
p(v_t | v_<t), which ``rnnrbm evaluate`` estimates with ``--acc-gibbs`` block Gibbs
steps started at the previous frame. A chain that has not mixed still leans toward
where it started, and the estimate is biased. This script runs every step's chains
(``--samples`` per step, as ``rnnrbm evaluate``) once to the longest length and reads
them at each listed length (a chain continued is a longer chain), once started at the
previous frame and once at silence. Where the two starts and the longer lengths agree,
within the paired standard error, the chains sample the model's conditional
distribution and the figure can be quoted. Use valid data to choose a chain length.
A sharper model mixes more slowly: ``--temperature`` checks the tempered model that
``rnnrbm evaluate --temperature`` measures.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from rnnrbm.checkpoint import load_checkpoint
from rnnrbm.evaluate import load_split
from rnnrbm.metrics import prediction_inputs, step_accuracy
from rnnrbm.model import tempered
from rnnrbm.rbm import gibbs_chain

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/data/jsb-chorales-quarter.json"


def step_inputs(params: dict, pieces: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """All steps of all pieces: truth, previous frame, and the step's RBM biases."""
    rows = [prediction_inputs(params, piece) for piece in pieces]
    truth = np.concatenate([np.asarray(p).astype(params["W"].dtype) for p in pieces])
    return (truth, *(np.concatenate([r[i] for r in rows]) for i in range(3)))


def accuracies(params: dict, truth: np.ndarray, start: np.ndarray, bv: np.ndarray, bh: np.ndarray,
               lengths: list[int], samples: int, seed: int) -> dict[int, np.ndarray]:
    """Per-step expected accuracy (T,) after each chain length; ``samples`` chains per step."""
    rng = np.random.default_rng(seed)
    reps = lambda x: np.tile(x, (samples, 1))  # noqa: E731 - all draws in one batch
    v, bv, bh = reps(start), reps(bv), reps(bh)
    out, done = {}, 0
    for k in sorted(lengths):
        v = gibbs_chain(v, params["W"], bv, bh, k - done, rng, params.get("bn"))
        done = k
        out[k] = step_accuracy(truth, v.reshape(samples, len(truth), -1))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, default=DATA, help="benchmark .json, corpus .npz or MIDI")
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test", "all"])
    ap.add_argument("--steps", type=int, nargs="+", default=[5, 25, 100, 400, 1000, 2000])
    ap.add_argument("--samples", type=int, default=20, help="chains per time step (as --acc-samples)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=1.0, help="check the model at this temperature")
    args = ap.parse_args()
    if min(args.steps) < 1:
        ap.error("--steps must be positive")
    ckpt = load_checkpoint(args.model)
    params = tempered(ckpt.params, args.temperature)
    pieces, _ = load_split([args.data], ckpt.meta, args.split)
    truth, prev, bv, bh = step_inputs(params, [p for p in pieces if len(p)])
    runs = {"previous frame": accuracies(params, truth, prev, bv, bh, args.steps, args.samples, args.seed),
            "silence": accuracies(params, truth, np.zeros_like(prev), bv, bh, args.steps, args.samples,
                                  args.seed + 1)}
    ref = runs["previous frame"][max(args.steps)]
    print(f"{args.model} at temperature {args.temperature:g} on {args.split}: {len(truth)} steps, "
          f"{args.samples} chains per step")
    print("| chains start at | Gibbs steps | ACC % per step | minus the longest from the previous frame |")
    print("|---|---|---|---|")
    for name, by_k in runs.items():
        for k, acc in by_k.items():
            diff = acc - ref
            se = diff.std(ddof=1) / math.sqrt(len(diff))
            gap = "" if acc is ref else f"{100 * diff.mean():+.2f} ± {100 * se:.2f}"
            print(f"| {name} | {k} | {100 * acc.mean():.2f} ± {100 * acc.std(ddof=1) / math.sqrt(len(acc)):.2f} "
                  f"| {gap} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
