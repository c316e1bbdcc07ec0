#!/usr/bin/env python
"""Valid LL and ACC of one JSB benchmark row at several epochs: is an LL-selected epoch also good at ACC?

    python scripts/ll_over_training.py bptt-persist --epochs 10 20 40 80 160
    python scripts/ll_over_training.py <row> --epochs 10 20 30 40 --ship 40   # the benchmark model

Trains the row's recipe (``scripts/bench_jsb.py``, same flags and seed) with
``rnnrbm train``, stopping at each listed epoch and going on with ``--resume``, which
continues bit for bit from the epoch boundary; each stop's checkpoint is kept as
``WORK/<row>/eNNNN.npz``. Every snapshot is then scored with ``rnnrbm evaluate`` on
the first ``--pieces`` valid pieces (LL, a subset because AIS dominates the cost) and on
all valid pieces (ACC, per step and pooled), and 20 sampled pieces of 128 steps are
compared with the valid data (notes per step, and the rate of steps above the data's
99th-percentile polyphony): LL and ACC are teacher-forced, the samples are not. The LL
is estimated twice at the same cost (``--log-z both``): by AIS, which errs high, with its
count of impossible steps (log p > 0), and by reverse AIS, which errs low on data the
model fits; where they disagree, neither is converged. Only valid data is used, so an
epoch chosen from this table may be evaluated once on test afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench_jsb import COMMON, DATA, ROOT, RUNS
from rnnrbm.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def train_to(row: str, data: Path, out: Path, epochs: int, resume: bool) -> None:
    # The last --epochs wins over COMMON's.
    cmd = ["rnnrbm", "train", str(data), "-o", str(out), *COMMON, *RUNS[row], "--epochs", str(epochs), "-q"]
    print("$", " ".join(cmd + (["--resume"] if resume else [])), flush=True)
    subprocess.run(cmd + (["--resume"] if resume else []), check=True, stdout=subprocess.DEVNULL)


def evaluate(model: Path, data: Path, ais_runs: int, ais_betas: int, log_z: str, extra: tuple = ()) -> dict:
    cmd = ["rnnrbm", "evaluate", "-m", str(model), str(data), "--split", "valid", "--ais-runs", str(ais_runs),
           "--ais-betas", str(ais_betas), "--log-z", log_z, *extra, "--json", "-q"]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("row", choices=list(RUNS))
    ap.add_argument("--epochs", type=int, nargs="+", default=[10, 20, 40, 80, 160])
    ap.add_argument("--data", type=Path, default=ROOT / DATA)
    ap.add_argument("--work", type=Path, default=ROOT / "runs/ll-over-training")
    ap.add_argument("--pieces", type=int, default=25, help="valid pieces for the AIS LL")
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--ais-betas", type=int, default=500)
    ap.add_argument("--ship", type=int, metavar="EPOCH",
                    help="save this listed epoch's snapshot, without its optimizer state, as models/jsb-88.npz "
                         "instead of scoring the snapshots")
    args = ap.parse_args()
    if args.ship is not None and args.ship not in args.epochs:
        ap.error(f"--ship {args.ship} is not one of --epochs {' '.join(map(str, args.epochs))}")
    if not args.data.exists():
        print(f"ll_over_training: {args.data} not found (the ICML 2012 JSB split, ../shared/data)", file=sys.stderr)
        return 2
    work = args.work / args.row
    work.mkdir(parents=True, exist_ok=True)
    subset = work / "valid-subset.json"  # the LL's pieces, as the benchmark format's valid split
    subset.write_text(json.dumps({"train": [], "valid": json.loads(args.data.read_text())["valid"][:args.pieces],
                                  "test": []}))
    out = work / "model.npz"
    for i, epoch in enumerate(sorted(set(args.epochs))):
        snap = work / f"e{epoch:04d}.npz"
        if not snap.exists():
            train_to(args.row, args.data, out, epoch, resume=i > 0)
            shutil.copyfile(work / "model.last.npz", snap)
    if args.ship is not None:
        ckpt = load_checkpoint(work / f"e{args.ship:04d}.npz")
        meta = {k: v for k, v in ckpt.meta.items() if k != "rng"}  # resume state is not part of a model
        save_checkpoint(ROOT / "models/jsb-88.npz", Checkpoint(ckpt.params, meta))
        print(f"saved epoch {args.ship} of {args.row} as models/jsb-88.npz")
        return 0
    print(f"| epoch | valid LL ({args.pieces} pieces), AIS {args.ais_runs} x {args.ais_betas} | steps with "
          "log p > 0 | valid LL, reverse AIS | valid ACC % per step | valid ACC % pooled | samples: notes per step "
          "| samples: steps above the data's p99 |")
    print("|---|---|---|---|---|---|---|---|")
    for epoch in sorted(set(args.epochs)):
        snap = work / f"e{epoch:04d}.npz"
        ll = evaluate(snap, subset, args.ais_runs, args.ais_betas, "both")
        # ACC and samples use their own seeds: the same figures as in a run with AIS
        acc = evaluate(snap, args.data, 1, 2, "none", ["--samples", "20", "--sample-steps", "128"])
        stats = acc["samples"]["stats"]
        print(f"| {epoch} | {ll['ll']:.2f} ± {ll['ais_stderr']:.2f} | {ll['ll_impossible']} of {ll['steps']} | "
              f"{ll['ll_reverse']:.2f} ± {ll['ll_reverse_ais_stderr']:.2f} | {100 * acc['acc_step']:.2f} | "
              f"{100 * acc['acc']:.2f} | "
              f"{stats['notes_per_step_mean']:.2f} | {100 * stats['above_p99_rate']:.1f} % |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
