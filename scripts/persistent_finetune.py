#!/usr/bin/env python
"""Can the shipped JSB model trade log-likelihood for ACC? Fine-tune it with persistent CD chains.

    python scripts/persistent_finetune.py [--model models/jsb-88.npz] [--lr 1e-3] [--epochs 10]

Persistent chains raised the ACC of models trained from scratch and lowered their LL
(docs/benchmarks.md). The shipped model's test LL is 0.86 nats above the paper's
RNN-RBM, so some LL could be spent. This continues training the model's parameters
with its own recipe but persistent CD chains (``--cd-start persistent``), BPTT and a
fresh Adam at ``--lr``, writes every epoch's parameters as ``WORK/eNN.npz`` and prints a
quick valid ACC (200 Gibbs steps, 5 draws; score the snapshots with ``rnnrbm evaluate``
for the real figures). Nothing here touches test data or ``models/``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from rnnrbm.batches import epoch_chunks
from rnnrbm.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnrbm.config import TrainConfig
from rnnrbm.evaluate import expected_accuracy, load_split
from rnnrbm.gradients import chunk_gradient, init_state
from rnnrbm.model import PARAM_NAMES
from rnnrbm.optim import Adam

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/data/jsb-chorales-quarter.json"


def quick_acc(params: dict, valid: list[np.ndarray]) -> float:
    return expected_accuracy(params, valid, 200, 5, np.random.default_rng([0, 1]))["acc_step"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models/jsb-88.npz")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=ROOT / "runs/persistent-finetune")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    ckpt = load_checkpoint(args.model)
    params = {k: v.copy() for k, v in ckpt.params.items()}
    train, _ = load_split([args.data], ckpt.meta, "train")
    valid, _ = load_split([args.data], ckpt.meta, "valid")
    config = replace(TrainConfig(**ckpt.meta["train"]), cd_start="persistent", gradient="bptt",
                     lr=args.lr, lr_rnn=args.lr, negative_weight=0.0)
    meta = {k: v for k, v in ckpt.meta.items() if k != "rng"}
    meta["finetune"] = {"from": str(args.model), "cd_start": "persistent", "lr": args.lr, "seed": args.seed}
    opt = Adam(params, config.lr, config.lr_rnn, config.clip)
    rng = np.random.default_rng(args.seed)
    used = [p for p in train if len(p)]
    args.work.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(limits=1, user_api="blas"):
        print(json.dumps({"epoch": 0, "valid_acc_step_quick": round(100 * quick_acc(params, valid), 2)}), flush=True)
        for epoch in range(1, args.epochs + 1):
            t0 = time.perf_counter()
            state = init_state(params, config.batch, False)
            for chunk in epoch_chunks(used, config.batch, config.chunk, rng, np.dtype(config.dtype)):
                g, state, stats = chunk_gradient(params, chunk.v, chunk.first, chunk.valid, state, config.cd_k, rng,
                                                 "bptt", cd_start="persistent")
                if stats["frames"]:
                    opt.step(params, {k: g[k] / stats["frames"] for k in PARAM_NAMES})
            seconds = time.perf_counter() - t0
            save_checkpoint(args.work / f"e{epoch:02d}.npz", Checkpoint(params, dict(meta, epoch=epoch)))
            print(json.dumps({"epoch": epoch, "seconds": round(seconds, 1),
                              "valid_acc_step_quick": round(100 * quick_acc(params, valid), 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
