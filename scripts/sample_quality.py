#!/usr/bin/env python
"""Quality bar of a model's samples against its training data (issue 4).

    python scripts/sample_quality.py models/default.npz DATA [--samples 20] [--steps 256]

DATA is anything ``rnnrbm train`` reads (corpus .npz, MIDI folder, benchmark JSON);
it is read with the checkpoint's own range and grid, and its 'train' split is the
reference. Prints a Markdown table for the model card, one verdict per criterion,
and a final JSON line. Exits 1 when a criterion fails.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path


from rnnrbm.checkpoint import load_checkpoint
from rnnrbm.ingest import load_pieces
from rnnrbm.sample import sample_roll
from rnnrbm.sample_io import primer_config
from rnnrbm.stats import PITCH_CLASSES, roll_statistics


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path, nargs="+")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--gibbs-steps", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    ckpt = load_checkpoint(args.model)
    config = replace(primer_config(ckpt.meta), min_steps=1)
    data = load_pieces(args.data, config)[0].pieces("train")
    low = ckpt.meta["low"]
    ref = roll_statistics(data, low)
    rolls = [sample_roll(ckpt.params, args.steps, gibbs_steps=args.gibbs_steps, seed=args.seed + i)
             for i in range(args.samples)]
    got = roll_statistics(rolls, low, reference=ref)

    mean_ratio = got["notes_per_step_mean"] / ref["notes_per_step_mean"]
    checks = {
        "mean notes per step within 20% of the data's": abs(mean_ratio - 1) <= 0.2,
        "steps above the data's 99th-percentile polyphony < 1%": got["above_p99_rate"] < 0.01,
        "silent steps < 10% (or no more than the data's)": got["silence_rate"] < max(0.10, ref["silence_rate"]),
    }
    print(f"{args.samples} samples x {args.steps} steps (k={args.gibbs_steps}, seeds {args.seed}..) "
          f"vs {ref['pieces']} training pieces ({ref['steps']} steps)\n")
    print("| statistic | data | samples |\n|---|---|---|")
    rows = [("mean notes per step", "notes_per_step_mean", "{:.2f}"), ("std notes per step", "notes_per_step_std", "{:.2f}"),
            ("99th-percentile polyphony", "polyphony_p99", "{:.0f}"), ("steps above data's p99", "above_p99_rate", "{:.2%}"),
            ("silent steps", "silence_rate", "{:.2%}"), ("pitch-class entropy (bits)", "pitch_class_entropy", "{:.2f}"),
            ("scale consistency", "scale_consistency", "{:.3f}")]
    for label, key, fmt in rows:
        print(f"| {label} | {fmt.format(ref[key])} | {fmt.format(got[key])} |")
    print(f"| notes-per-step distribution (JS distance to data) | 0 | {got['notes_per_step_js']:.3f} |")
    print(f"| pitch-class distribution (JS distance to data) | 0 | {got['pitch_class_js']:.3f} |")
    dist = lambda d: " ".join(f"{x:.2f}" for x in d[:9])  # noqa: E731
    print(f"\nnotes per step 0..8, data:    {dist(ref['notes_per_step_dist'])}")
    print(f"notes per step 0..8, samples: {dist(got['notes_per_step_dist'])}")
    print("pitch classes " + " ".join(f"{pc:>4}" for pc in PITCH_CLASSES))
    print("  data        " + " ".join(f"{x:4.2f}" for x in ref["pitch_class_dist"]))
    print("  samples     " + " ".join(f"{x:4.2f}" for x in got["pitch_class_dist"]))
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print("RESULT " + json.dumps({"data": ref, "samples": got, "pass": all(checks.values())}))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
