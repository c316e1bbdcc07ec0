"""JSB Chorales benchmark against Table 1 of Boulanger-Lewandowski et al. (ICML 2012), issue 5.

    python scripts/bench_jsb.py                       # every run, then the table
    python scripts/bench_jsb.py --only rtrl           # one run (run two BPTT runs side by side)
    python scripts/bench_jsb.py --report              # only the table, from finished runs
    python scripts/bench_jsb.py --report --rescore    # ... adding the per-step ACC to older runs

Data: ../shared/data/jsb-chorales-quarter.json with the paper's split, 88 keys (A0-C8),
one step per beat, no transposition. Every run trains on 'train' under the same
wall-clock budget (``--minutes``), keeps the checkpoint with the best valid accuracy
(early stopping on valid only), and is then evaluated once on 'test' with
``rnnrbm evaluate``: test figures never choose anything. Each run's commands, wall times
and results go to ``WORK/<run>/result.json``; the table is Markdown for docs/benchmarks.md.
The shipped model is chosen on valid LL, accuracy and samples and written by
``scripts/ll_over_training.py --ship`` (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("../shared/data/jsb-chorales-quarter.json")  # paths are relative to the repo root

# The paper's sizes and CD-15; everything else is rnnrbm's default (Adam 1e-2, lambda 0.003).
COMMON = ["--range", "piano", "--hidden", "150", "--recurrent", "100", "--cd-k", "15", "--epochs", "10000",
          "--patience", "10", "--lr-decay", "0.5", "--seed", "0"]
PRE30 = ["--gradient", "bptt", "--pretrain-epochs", "30", "--negative-weight", "0", "--lr-decay", "1",
         "--patience", "10000"]
# The jsb-88 recipe without its gradient and size: lambda 0, count bias, rate x 0.8 per epoch from epoch 20.
ANNEAL = ["--pretrain-epochs", "10", "--lr-decay", "0.8", "--lr-decay-from", "20", "--patience", "10000",
          "--negative-weight", "0", "--count-bias"]
RUNS = {
    "rtrl": ["--gradient", "rtrl"],
    "bptt": ["--gradient", "bptt"],
    "bptt-noreg": ["--gradient", "bptt", "--negative-weight", "0"],
    "bptt-pretrain": ["--gradient", "bptt", "--pretrain-epochs", "10"],
    # The chorale default model's recipe (models/README.md): longer pretraining, no regularizer, and a
    # constant rate for the whole budget (halving it on every noisy valid-ACC dip froze the runs above).
    "bptt-pre30": PRE30,
    # ... with each CD chain started at the previous frame, where generation and the ACC predictions start.
    "bptt-prev": [*PRE30, "--cd-start", "previous"],
    # ... with half the chains (at random) started at the frame itself, to keep the LL that the above loses.
    "bptt-mixed": [*PRE30, "--cd-start", "mixed"],
    # ... with persistent chains (each goes on from the previous frame's negative sample), which
    # reach the low-energy states beyond k steps that collapse the LL of the two rows above.
    "bptt-persist": [*PRE30, "--cd-start", "persistent"],
    # The count bias (a learned energy per number of notes), with chains at the data and at the previous frame.
    "bptt-count": [*PRE30, "--count-bias"],
    "bptt-prev-count": [*PRE30, "--cd-start", "previous", "--count-bias"],
    # Persistent chains with the count bias, and persistent chains with a smaller rate (smaller
    # weights, so the chains mix and reach the deep states that collapse the LL).
    "bptt-persist-count": [*PRE30, "--cd-start", "persistent", "--count-bias"],
    "bptt-persist-lr3": [*PRE30, "--cd-start", "persistent", "--lr", "3e-3", "--lr-rnn", "3e-3"],
    # The paper's other initialisation: the recurrent net first trained as a logistic RNN predicting each
    # frame (the paper's "RNN" row, 1-2 s per epoch), then the RBM pretraining.
    "bptt-rnnpre": [*PRE30, "--pretrain-rnn-epochs", "40"],
    "bptt-persist-rnnpre": [*PRE30, "--pretrain-rnn-epochs", "40", "--cd-start", "persistent"],
    # ... on the recipe models/jsb-88.npz had until 2026-12-02 (bptt-pretrain), and with the count bias.
    "bptt-pretrain-rnnpre": ["--gradient", "bptt", "--pretrain-epochs", "10", "--pretrain-rnn-epochs", "40"],
    "bptt-count-rnnpre": [*PRE30, "--pretrain-rnn-epochs", "40", "--count-bias"],
    # The bptt-pretrain recipe's initialisation with a ten times smaller constant rate, closer to the paper's
    # SGD at 1e-3: smoother RBMs, whose LL the fast rows lose while their ACC rises.
    "bptt-slow": ["--gradient", "bptt", "--pretrain-epochs", "10", "--pretrain-rnn-epochs", "40", "--lr", "1e-3",
                  "--lr-rnn", "1e-3", "--lr-decay", "1", "--patience", "10000"],
    # The bptt-pretrain recipe's train and valid LL are equal (-6.44 and -6.39 on 25 pieces each): it underfits.
    # More Gibbs steps (CD's bias, which long runs turn into sharp, low-LL models, shrinks with k), and
    # more hidden units.
    "bptt-pretrain-k50": ["--gradient", "bptt", "--pretrain-epochs", "10", "--cd-k", "50"],
    "bptt-pretrain-h300": ["--gradient", "bptt", "--pretrain-epochs", "10", "--hidden", "300"],
    # ... at a constant rate, for scripts/ll_over_training.py: where does its valid LL peak?
    "bptt-pretrain-const": ["--gradient", "bptt", "--pretrain-epochs", "10", "--lr-decay", "1", "--patience", "10000"],
    "bptt-pretrain-const-noreg": ["--gradient", "bptt", "--pretrain-epochs", "10", "--lr-decay", "1", "--patience",
                                  "10000", "--negative-weight", "0"],
    # Lambda 0 keeps the LL but samples dense chaos; the count bias penalises dense frames whatever the
    # past (it gave the chorale default model clean samples), and a smaller lambda regularises less.
    "bptt-pretrain-const-noreg-count": ["--gradient", "bptt", "--pretrain-epochs", "10", "--lr-decay", "1",
                                        "--patience", "10000", "--negative-weight", "0", "--count-bias"],
    "bptt-pretrain-const-l001": ["--gradient", "bptt", "--pretrain-epochs", "10", "--lr-decay", "1", "--patience",
                                 "10000", "--negative-weight", "0.001"],
    "bptt-pretrain-const-l001-count": ["--gradient", "bptt", "--pretrain-epochs", "10", "--lr-decay", "1",
                                       "--patience", "10000", "--negative-weight", "0.001", "--count-bias"],
    # ... lambda 0 with the count bias, the rate x 0.8 after every epoch from epoch 20 (--lr-decay-from).
    "bptt-pretrain-count-anneal": ["--gradient", "bptt", *ANNEAL],
    # ... the same with the exact RTRL gradient instead of 25-step BPTT.
    "rtrl-pretrain-count-anneal": ["--gradient", "rtrl", *ANNEAL],
    # Tempering the 150-hidden model to T = 0.8 spends its LL lead on ACC and stops 0.29 points short: does
    # a larger model have more LL to spend? (BPTT first: the two gradients learn alike at this recipe.)
    "bptt-pretrain-count-anneal-h300": ["--gradient", "bptt", *ANNEAL, "--hidden", "300"],
    "bptt-pretrain-count-anneal-r200": ["--gradient", "bptt", *ANNEAL, "--recurrent", "200"],
    "rtrl-pretrain-count-anneal-h300": ["--gradient", "rtrl", *ANNEAL, "--hidden", "300"],
}
LABELS = {
    "rtrl": "RNN-RBM, exact RTRL, lambda 0.003",
    "bptt": "RNN-RBM, BPTT (25-step chunks), lambda 0.003",
    "bptt-noreg": "RNN-RBM, BPTT, regularizer off (lambda 0)",
    "bptt-pretrain": "RNN-RBM, BPTT, lambda 0.003, 10 epochs RBM pretraining",
    "bptt-pre30": "RNN-RBM, BPTT, lambda 0, 30 epochs RBM pretraining, constant lr",
    "bptt-prev": "RNN-RBM, BPTT, as above, CD chains start at the previous frame",
    "bptt-mixed": "RNN-RBM, BPTT, as above, half the CD chains at the previous frame",
    "bptt-persist": "RNN-RBM, BPTT, as above, persistent CD chains",
    "bptt-count": "RNN-RBM + count bias, BPTT, lambda 0, 30 epochs RBM pretraining, constant lr",
    "bptt-prev-count": "RNN-RBM + count bias, BPTT, as above, CD chains start at the previous frame",
    "bptt-persist-count": "RNN-RBM + count bias, BPTT, as above, persistent CD chains",
    "bptt-persist-lr3": "RNN-RBM, BPTT, persistent CD chains, Adam lr 3e-3",
    "bptt-rnnpre": "RNN-RBM, BPTT, lambda 0, 40 epochs RNN + 30 epochs RBM pretraining, constant lr",
    "bptt-persist-rnnpre": "RNN-RBM, BPTT, as above, persistent CD chains",
    "bptt-pretrain-rnnpre": "RNN-RBM, BPTT, lambda 0.003, 40 epochs RNN + 10 epochs RBM pretraining",
    "bptt-count-rnnpre": "RNN-RBM + count bias, BPTT, lambda 0, 40 epochs RNN + 30 epochs RBM pretraining, constant lr",
    "bptt-slow": "RNN-RBM, BPTT, lambda 0.003, 40 epochs RNN + 10 epochs RBM pretraining, constant lr 1e-3",
    "bptt-pretrain-k50": "RNN-RBM, BPTT, lambda 0.003, 10 epochs RBM pretraining, CD-50",
    "bptt-pretrain-h300": "RNN-RBM, BPTT, lambda 0.003, 10 epochs RBM pretraining, 300 hidden units",
    "bptt-pretrain-const": "RNN-RBM, BPTT, lambda 0.003, 10 epochs RBM pretraining, constant lr",
    "bptt-pretrain-const-noreg": "RNN-RBM, BPTT, lambda 0, 10 epochs RBM pretraining, constant lr",
    "bptt-pretrain-const-noreg-count": "RNN-RBM + count bias, BPTT, lambda 0, 10 epochs RBM pretraining, constant lr",
    "bptt-pretrain-const-l001": "RNN-RBM, BPTT, lambda 0.001, 10 epochs RBM pretraining, constant lr",
    "bptt-pretrain-const-l001-count": "RNN-RBM + count bias, BPTT, lambda 0.001, 10 epochs RBM pretraining, "
                                      "constant lr",
    "bptt-pretrain-count-anneal": "RNN-RBM + count bias, BPTT, lambda 0, 10 epochs RBM pretraining, lr x 0.8 per "
                                  "epoch from epoch 20",
    "rtrl-pretrain-count-anneal": "RNN-RBM + count bias, exact RTRL, lambda 0, 10 epochs RBM pretraining, lr x 0.8 "
                                  "per epoch from epoch 20",
    "bptt-pretrain-count-anneal-h300": "as bptt-pretrain-count-anneal, 300 hidden units",
    "bptt-pretrain-count-anneal-r200": "as bptt-pretrain-count-anneal, 200 recurrent units",
    "rtrl-pretrain-count-anneal-h300": "as rtrl-pretrain-count-anneal, 300 hidden units (models/jsb-88.npz)",
}
PAPER = [("RNN (HF)", -8.58, 29.41), ("RTRBM", -6.35, 30.17), ("RNN-RBM", -6.27, 33.12),
         ("RNN-NADE (HF)", -5.56, 32.50)]


def run(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` with stdout to ``log``; return its wall time in seconds."""
    print("$", shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run(cmd, stdout=f, check=True)
    return time.perf_counter() - t0


def bench(name: str, work: Path, data: Path, minutes: float, ais_runs: int, ais_betas: int) -> dict:
    out = work / name / "model.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    train = ["rnnrbm", "train", str(data), "-o", str(out), *COMMON, *RUNS[name], "--max-minutes", str(minutes), "-q"]
    train_s = run(train, out.parent / "train.txt")
    # Both estimators, so the table can refuse an LL that AIS alone would report unconverged.
    evaluate = ["rnnrbm", "evaluate", "-m", str(out), str(data), "--split", "test", "--ais-runs", str(ais_runs),
                "--ais-betas", str(ais_betas), "--log-z", "both", "--json", "-q"]
    eval_s = run(evaluate, out.parent / "test.json")
    log = [json.loads(line) for line in (out.parent / "model.log.jsonl").read_text().splitlines()]
    best = max((r for r in log if r["valid_acc"] is not None), key=lambda r: r["valid_acc"])
    result = {"run": name, "train_command": shlex.join(train), "evaluate_command": shlex.join(evaluate),
              "train_seconds": train_s, "evaluate_seconds": eval_s, "epochs": len(log),
              "best_epoch": best["epoch"], "best_valid_acc": best["valid_acc"],
              "test": json.loads((out.parent / "test.json").read_text())}
    (out.parent / "result.json").write_text(json.dumps(result, indent=1))
    return result


def rescore(result: dict, work: Path, data: Path) -> dict:
    """Add the per-step test ACC to a run evaluated before ``rnnrbm evaluate`` reported it.

    It is computed as ``rnnrbm evaluate`` computes it (same seed, Gibbs steps and the
    default number of draws), so only the pooled ACC's draws differ from the run's own.
    """
    from rnnrbm.checkpoint import load_checkpoint
    from rnnrbm.evaluate import DEFAULT_ACC_SAMPLES, expected_accuracy, load_split

    t = result["test"]
    ckpt = load_checkpoint(work / result["run"] / "model.npz")
    pieces, _ = load_split([data], ckpt.meta, "test")
    acc = expected_accuracy(ckpt.params, pieces, t["acc_gibbs"], DEFAULT_ACC_SAMPLES,
                            np.random.default_rng([t["seed"], 1]))
    t.update(acc_step=acc["acc_step"], acc_step_stderr=acc["acc_step_stderr"], acc_step_samples=DEFAULT_ACC_SAMPLES,
             acc_step_rescored=True)
    (work / result["run"] / "result.json").write_text(json.dumps(result, indent=1))
    return result


def baselines(data: Path) -> tuple[float, float, float]:
    """Test LL of independent notes with the train split's frequencies (add-one smoothed), and
    test ACC of predicting each step as a copy of the previous one, pooled and per step: what
    a model must beat."""
    splits = json.loads(data.read_text())

    def roll(split: str) -> np.ndarray:
        frames = [step for song in splits[split] for step in song]
        out = np.zeros((len(frames), 88))
        for t, step in enumerate(frames):
            out[t, [p - 21 for p in step]] = 1
        return out

    train, test = roll("train"), roll("test")
    p = (train.sum(0) + 1) / (len(train) + 2)
    ll = float((test * np.log(p) + (1 - test) * np.log(1 - p)).sum(1).mean())
    tp = fp = fn = 0
    steps = []
    for song in splits["test"]:
        prev: set = set()
        for step in map(set, song):
            tp, fp, fn = tp + len(step & prev), fp + len(prev - step), fn + len(step - prev)
            steps.append(len(step & prev) / len(step | prev) if step | prev else 1.0)
            prev = step
    return ll, tp / (tp + fp + fn), float(np.mean(steps))


def ll_cell(test: dict) -> str:
    """The test LL, with reverse AIS's where the two disagree (AIS only for runs evaluated before both)."""
    if test.get("ll_agree") is None:
        return f"{test['ll']:.2f} (AIS only)"
    if not test["ll_agree"]:
        return f"not converged: AIS {test['ll']:.2f}, reverse AIS {test['ll_reverse']:.2f}"
    return f"{test['ll']:.2f}"


def table(results: list[dict], data: Path) -> str:
    rows = ["| model | epochs | train min | valid ACC % (training estimate, pooled) | test LL | "
            "test ACC % (per step, the paper's) | test ACC % (pooled) |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {name} (paper) | | | | {ll:.2f} | {acc:.2f} | |" for name, ll, acc in PAPER]
    for r in results:
        t = r["test"]
        step = f"{100 * t['acc_step']:.2f}" if "acc_step" in t else "(--rescore)"
        rows.append(f"| {LABELS[r['run']]} | {r['epochs']} (best {r['best_epoch']}) | {r['train_seconds'] / 60:.1f} | "
                    f"{100 * r['best_valid_acc']:.2f} | {ll_cell(t)} | {step} | {100 * t['acc']:.2f} |")
    ll, acc, acc_step = baselines(data)
    rows.append(f"| independent notes at train frequencies (baseline) | | | | {ll:.2f} | | |")
    rows.append(f"| copy the previous step (baseline) | | | | | {100 * acc_step:.2f} | {100 * acc:.2f} |")
    rows.append(f"| all-0.5 model (sanity) | | | | {88 * np.log(0.5):.2f} | | |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / DATA)
    ap.add_argument("--work", type=Path, default=ROOT / "runs/jsb")
    ap.add_argument("--only", default=",".join(RUNS), help="comma-separated runs: " + ", ".join(RUNS))
    ap.add_argument("--minutes", type=float, default=15.0, help="wall-clock training budget of every run")
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--ais-betas", type=int, default=1000)
    ap.add_argument("--report", action="store_true", help="only print the table of finished runs")
    ap.add_argument("--rescore", action="store_true",
                    help="add the per-step test ACC to finished runs evaluated before it was reported")
    args = ap.parse_args()
    # Commands run from the repo root with root-relative paths, so they can be pasted into the docs.
    args.data, args.work = (Path(os.path.relpath(p.resolve(), ROOT)) for p in (args.data, args.work))
    os.chdir(ROOT)
    if not args.data.exists():  # the table's baselines need it too
        print(f"bench_jsb: {args.data} not found (the ICML 2012 JSB split, ../shared/data)", file=sys.stderr)
        return 2
    if not args.report:
        for name in args.only.split(","):
            if name not in RUNS:
                print(f"bench_jsb: unknown run {name!r}; choose from {', '.join(RUNS)}", file=sys.stderr)
                return 2
            bench(name, args.work, args.data, args.minutes, args.ais_runs, args.ais_betas)
    results = [json.loads(p.read_text()) for name in RUNS if (p := args.work / name / "result.json").exists()]
    if args.rescore:
        results = [r if "acc_step" in r["test"] else rescore(r, args.work, args.data) for r in results]
    print(table(results, args.data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
