#!/usr/bin/env python
"""Where each step's RBM puts its mass: Gibbs chains run past the k steps of training.

    python scripts/chain_depth.py MODEL DATA [--split valid] [--pieces 20] [--steps 25 1000]

For every time step of the first ``--pieces`` pieces, with the step's biases from the
recurrent net fed the data, chains start at the data frame v_t, at the previous frame
v_{t-1} (where generation starts) and at silence, and run k block Gibbs steps. The table
gives the chains' notes per step, their share above the data's 99th-percentile polyphony,
and the median of F(chain state) - F(v_t). A state k steps out with a free energy far
below the data's is a mode the model prefers to the music: CD-k, whose chains stop at k,
never pushes it up, generation (25 steps from v_{t-1}) seldom reaches it, but AIS, which
anneals from independent units, does, and the LL drops.
"""

import argparse
from pathlib import Path

import numpy as np

from rnnrbm.ais import free_energy, step_biases
from rnnrbm.checkpoint import load_checkpoint
from rnnrbm.evaluate import load_split
from rnnrbm.kernels import gibbs_chains


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path, help="corpus .npz, benchmark .json or MIDI, read in the model's range")
    ap.add_argument("--split", default="valid")
    ap.add_argument("--pieces", type=int, default=20)
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 1000])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    ckpt = load_checkpoint(args.model)
    pieces, _ = load_split([args.data], ckpt.meta, args.split)
    rows = [step_biases(ckpt.params, piece) for piece in pieces[:args.pieces]]
    v, bv, bh = (np.vstack([r[i] for r in rows]).astype(np.float32) for i in range(3))
    prev = np.vstack([np.vstack([np.zeros_like(r[0][:1]), r[0][:-1]]) for r in rows]).astype(np.float32)
    W = ckpt.params["W"].astype(np.float32)
    bn = ckpt.params["bn"] if ckpt.params["bn"].size else None
    F_data = free_energy(v, W, bv, bh, bn)
    p99 = np.percentile(v.sum(axis=1), 99)
    print(f"{args.model}: {len(rows)} {args.split} pieces, {len(v)} steps; data {v.sum(axis=1).mean():.2f} notes "
          f"per step, p99 {p99:.0f}, {100 * np.mean(v.sum(axis=1) > p99):.2f} % above")
    print("| chains start at | k | notes per step | above p99 | median F - F(data) | share > 1 nat below |")
    print("|---|---|---|---|---|---|")
    for name, start in (("data v_t", v), ("previous v_{t-1}", prev), ("silence", np.zeros_like(v))):
        for k in args.steps:
            s = gibbs_chains(start, W, bv, bh, k, seed=args.seed, bn=bn).astype(np.float32)
            gap, n = free_energy(s, W, bv, bh, bn) - F_data, s.sum(axis=1)
            print(f"| {name} | {k} | {n.mean():.2f} | {100 * np.mean(n > p99):.2f} % | {np.median(gap):+.2f} | "
                  f"{np.mean(gap < -1):.2f} |")


if __name__ == "__main__":
    main()
