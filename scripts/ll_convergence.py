#!/usr/bin/env python
"""Is a checkpoint's LL converged? AIS and reverse AIS at growing numbers of temperatures.

    python scripts/ll_convergence.py models/jsb-88.npz --pieces 5 --betas 1000 3000 10000

Scores the first ``--pieces`` pieces of one split of the JSB benchmark file with
``rnnrbm evaluate --log-z both`` at each temperature count: AIS, which errs high (its
log Z is a stochastic lower bound), and reverse AIS, which errs low on data the model
fits. Both tend to the true LL; where they still disagree, neither figure can be quoted
(and the truth need not lie between them). Use valid data to check a model before its test figures are taken.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/data/jsb-chorales-quarter.json"


def evaluate(model: Path, data: Path, split: str, runs: int, betas: int) -> dict:
    cmd = ["rnnrbm", "evaluate", "-m", str(model), str(data), "--split", split, "--ais-runs", str(runs),
           "--ais-betas", str(betas), "--log-z", "both", "--acc-gibbs", "1", "--acc-samples", "1", "--json", "-q"]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, default=DATA, help="benchmark .json (the ICML 2012 JSB split)")
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    ap.add_argument("--pieces", type=int, default=5, help="the split's first N pieces (0 = all)")
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--betas", type=int, nargs="+", default=[1000, 3000, 10000])
    args = ap.parse_args()
    for path, what in ((args.model, "checkpoint"), (args.data, "benchmark file")):
        if not path.exists():
            print(f"ll_convergence: {what} {path} not found", file=sys.stderr)
            return 2
    pieces = json.loads(args.data.read_text())[args.split]
    pieces = pieces[:args.pieces] if args.pieces else pieces
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset.json"
        subset.write_text(json.dumps({**{s: [] for s in ("train", "valid", "test")}, args.split: pieces}))
        print(f"{args.model}: {args.split} pieces 1-{len(pieces)}, {args.ais_runs} runs")
        print("| temperatures | AIS LL | steps with log p > 0 | reverse AIS LL | gap | seconds (AIS + reverse) |")
        print("|---|---|---|---|---|---|")
        for betas in args.betas:
            r = evaluate(args.model, subset, args.split, args.ais_runs, betas)
            seconds = r["seconds"]["ll"] + r["seconds"]["ll_reverse"]
            print(f"| {betas} | {r['ll']:.3f} ± {r['ais_stderr']:.3f} | {r['ll_impossible']} of {r['steps']} | "
                  f"{r['ll_reverse']:.3f} ± {r['ll_reverse_ais_stderr']:.3f} | {r['ll_gap']:.3f} | {seconds:.0f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
