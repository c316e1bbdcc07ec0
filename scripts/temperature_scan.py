#!/usr/bin/env python
"""How the JSB model's ACC and LL move with its temperature, on valid data only.

    python scripts/temperature_scan.py [--model models/jsb-88.npz] [--temperatures 0.9 0.8 0.7 0.6]

The paper's ACC is the expected accuracy of one draw from p(v_t | v_<t). It rewards a
confident distribution: at the same log-likelihood, a sharper model scores higher. The
tempered model (``rnnrbm.model.tempered``: the RBM energy divided by T, what
``rnnrbm evaluate --temperature T`` measures) trades the one for the other with a
single number. For each T this prints, on the valid split, the per-step ACC
(``rnnrbm evaluate``'s defaults: 1000 Gibbs steps, 20 draws, all pieces) and the LL by
AIS and reverse AIS (100 runs x 1000 temperatures) on the first ``--ll-pieces`` pieces,
where the two must agree for the figure to hold. Each row is appended to
``WORK/scan.jsonl`` as soon as it is done; ``--report`` prints the table of all rows.
Nothing here reads test data.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "../shared/data/jsb-chorales-quarter.json"


def scan_row(params: dict, valid: list, low: int, temperature: float, ll_pieces: int, seed: int) -> dict:
    """Valid ACC (all pieces) and LL by AIS and reverse AIS (the first ``ll_pieces``) at ``temperature``."""
    from rnnrbm.evaluate import EvaluateOptions, evaluate_pieces

    t0 = time.perf_counter()
    acc = evaluate_pieces(params, valid, low, EvaluateOptions(log_z="none", temperature=temperature, seed=seed))
    row = {"temperature": temperature, "acc_step": acc["acc_step"], "acc_step_stderr": acc["acc_step_stderr"],
           "acc": acc["acc"], "acc_minutes": (time.perf_counter() - t0) / 60}
    if ll_pieces:
        t0 = time.perf_counter()
        ll = evaluate_pieces(params, valid[:ll_pieces], low,
                             EvaluateOptions(log_z="both", acc_gibbs=1, acc_samples=1, temperature=temperature,
                                             seed=seed))
        row.update(ll_pieces=ll_pieces, ll_steps=ll["steps"], ll=ll["ll"], ll_reverse=ll["ll_reverse"],
                   ll_agree=ll["ll_agree"], ll_minutes=(time.perf_counter() - t0) / 60)
    return row


def report(path: Path) -> None:
    rows = sorted((json.loads(line) for line in path.read_text().splitlines() if line.strip()),
                  key=lambda r: -r["temperature"])
    print("| temperature | valid ACC % per step | valid ACC % pooled | valid LL, AIS / reverse AIS (pieces) |")
    print("|---|---|---|---|")
    for r in rows:
        ll = (f"{r['ll']:.3f} / {r['ll_reverse']:.3f} ({r['ll_pieces']})"
              + ("" if r["ll_agree"] else ", disagree") if "ll" in r else "")
        print(f"| {r['temperature']:g} | {100 * r['acc_step']:.2f} ± {100 * r['acc_step_stderr']:.2f} "
              f"| {100 * r['acc']:.2f} | {ll} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models/jsb-88.npz")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=ROOT / "runs/temperature")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.9, 0.8, 0.7, 0.6])
    ap.add_argument("--ll-pieces", type=int, default=10, help="valid pieces for the LL (0 = no LL)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", action="store_true", help="only print the table of WORK/scan.jsonl")
    args = ap.parse_args()
    out = args.work / "scan.jsonl"
    if not args.report:
        from rnnrbm.checkpoint import load_checkpoint
        from rnnrbm.evaluate import load_split

        ckpt = load_checkpoint(args.model)
        valid, _ = load_split([args.data], ckpt.meta, "valid")
        args.work.mkdir(parents=True, exist_ok=True)
        for t in args.temperatures:
            row = {"model": str(args.model), **scan_row(ckpt.params, valid, int(ckpt.meta["low"]), t,
                                                        args.ll_pieces, args.seed)}
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
