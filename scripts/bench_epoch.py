#!/usr/bin/env python
"""Seconds per training epoch on the JSB chorales (88 keys, 1 step per beat, the paper's split).

    python scripts/bench_epoch.py --gradients bptt rtrl --dtypes float32 --epochs 3

Trains the paper's size (150 hidden, 100 recurrent, CD-15, other options default)
and prints seconds, steps/s and valid ACC of every epoch (validation excluded
from the time). Needs ../shared/data/jsb-chorales-quarter.json.
"""

import argparse
import tempfile
from pathlib import Path

from rnnrbm.config import ModelConfig, TrainConfig
from rnnrbm.ingest import IngestConfig, load_pieces
from rnnrbm.train import train

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales-quarter.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gradients", nargs="+", default=["bptt", "rtrl"])
    ap.add_argument("--dtypes", nargs="+", default=["float32"])
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    corpus, _ = load_pieces([JSB], IngestConfig(low=21, high=108, steps_per_beat=1))
    meta = {"low": 21, "high": 108, "steps_per_beat": 1}
    print("| gradient | dtype | epoch | seconds | steps/s | valid ACC |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for gradient in args.gradients:
            for dtype in args.dtypes:
                config = TrainConfig(epochs=args.epochs, gradient=gradient, dtype=dtype, patience=args.epochs)
                result = train(corpus.pieces("train"), corpus.pieces("valid"), ModelConfig(88, 150, 100), config,
                               Path(tmp) / f"{gradient}-{dtype}.npz", meta)
                for h in result.history:
                    print(f"| {gradient} | {dtype} | {h['epoch']} | {h['seconds']:.1f} | {h['steps_per_s']:.0f} | "
                          f"{h['valid_acc']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
