#!/usr/bin/env python
"""Measure the negative-gradient regularizer: train with several weights, compare samples with the data.

    python scripts/negative_gradient_study.py --weights 0 0.001 0.003 0.01 0.03 --epochs 20

Trains on the JSB chorales (../shared/data, 88 keys, 1 step per beat, the paper's
split) once per weight, with everything else at its default except --gradient and
--epochs, then draws --samples pieces of 256 steps (k = 25) from the best-valid
checkpoint. Prints one Markdown row per weight: best valid ACC, and the samples'
notes per step, rate of steps above the data's 99th-percentile polyphony and
silent-step rate.
"""

import argparse
import time
from pathlib import Path

from rnnrbm.config import ModelConfig, TrainConfig
from rnnrbm.checkpoint import load_checkpoint
from rnnrbm.ingest import IngestConfig, load_pieces
from rnnrbm.sample import sample_roll
from rnnrbm.stats import roll_statistics
from rnnrbm.train import train

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales-quarter.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.001, 0.003, 0.01, 0.03])
    ap.add_argument("--gradient", default="bptt")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("runs/negative"))
    args = ap.parse_args()

    corpus, _ = load_pieces([JSB], IngestConfig(low=21, high=108, steps_per_beat=1))
    train_pieces, valid_pieces = corpus.pieces("train"), corpus.pieces("valid")
    data = roll_statistics(train_pieces, 21)
    meta = {"low": 21, "high": 108, "steps_per_beat": 1, "out_of_range": "fold", "qpm": 100.0}
    print(f"data: notes/step {data['notes_per_step_mean']:.2f}, p99 polyphony {data['polyphony_p99']:.0f}, "
          f"silent {data['silence_rate']:.2%}\n")
    print("| lambda | best valid ACC | notes/step | steps > data p99 | silent | train s |\n|---|---|---|---|---|---|")
    for weight in args.weights:
        config = TrainConfig(epochs=args.epochs, gradient=args.gradient, negative_weight=weight, patience=args.epochs)
        out = args.out / f"{args.gradient}-{weight}.npz"
        t0 = time.perf_counter()
        result = train(train_pieces, valid_pieces, ModelConfig(88, 150, 100), config, out, meta)
        seconds = time.perf_counter() - t0
        params = load_checkpoint(out).params
        rolls = [sample_roll(params, 256, gibbs_steps=25, seed=s) for s in range(args.samples)]
        got = roll_statistics(rolls, 21, reference=data)
        best = max(h["valid_acc"] for h in result.history)
        print(f"| {weight:g} | {best:.4f} | {got['notes_per_step_mean']:.2f} | {got['above_p99_rate']:.1%} | "
              f"{got['silence_rate']:.1%} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
