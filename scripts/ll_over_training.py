#!/usr/bin/env python
"""Valid LL and ACC of one JSB benchmark row at several epochs: is an LL-selected epoch also good at ACC?

    python scripts/ll_over_training.py bptt-persist --epochs 10 20 40 80 160

Trains the row's recipe (``scripts/bench_jsb.py``, same flags and seed) with
``rnnrbm train``, stopping at each listed epoch and going on with ``--resume``, which
continues bit for bit from the epoch boundary; each stop's checkpoint is kept as
``WORK/<row>/eNNNN.npz``. Every snapshot is then scored with ``rnnrbm evaluate`` on
the first ``--pieces`` valid pieces (LL, a subset because AIS dominates the cost) and on
all valid pieces (ACC, per step and pooled). The LL is estimated twice at the same cost
(``--log-z both``): by AIS, which errs high, with its count of impossible steps (log p > 0),
and by reverse AIS, which errs low on data the model fits; where they disagree, neither is
converged. Only valid data is used, so an epoch chosen from this table may be
evaluated once on test afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench_jsb import COMMON, DATA, ROOT, RUNS


def train_to(row: str, data: Path, out: Path, epochs: int, resume: bool) -> None:
    # The last --epochs wins over COMMON's.
    cmd = ["rnnrbm", "train", str(data), "-o", str(out), *COMMON, *RUNS[row], "--epochs", str(epochs), "-q"]
    print("$", " ".join(cmd + (["--resume"] if resume else [])), flush=True)
    subprocess.run(cmd + (["--resume"] if resume else []), check=True, stdout=subprocess.DEVNULL)


def evaluate(model: Path, data: Path, ais_runs: int, ais_betas: int, log_z: str) -> dict:
    cmd = ["rnnrbm", "evaluate", "-m", str(model), str(data), "--split", "valid", "--ais-runs", str(ais_runs),
           "--ais-betas", str(ais_betas), "--log-z", log_z, "--json", "-q"]
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
    args = ap.parse_args()
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
    print(f"| epoch | valid LL ({args.pieces} pieces), AIS {args.ais_runs} x {args.ais_betas} | steps with "
          "log p > 0 | valid LL, reverse AIS | valid ACC % per step | valid ACC % pooled |")
    print("|---|---|---|---|---|---|")
    for epoch in sorted(set(args.epochs)):
        snap = work / f"e{epoch:04d}.npz"
        ll = evaluate(snap, subset, args.ais_runs, args.ais_betas, "both")
        acc = evaluate(snap, args.data, 1, 2, "ais")  # AIS off in effect; ACC uses its own seed, as in a full run
        print(f"| {epoch} | {ll['ll']:.2f} ± {ll['ais_stderr']:.2f} | {ll['ll_impossible']} of {ll['steps']} | "
              f"{ll['ll_reverse']:.2f} ± {ll['ll_reverse_ais_stderr']:.2f} | {100 * acc['acc_step']:.2f} | "
              f"{100 * acc['acc']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
