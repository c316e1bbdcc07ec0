#!/usr/bin/env python
"""Speed benchmark: machine peak, training, generation, ingest and command latency (issue 6).

    python scripts/bench_speed.py [--repeats 5] [--skip-epoch] [--skip-ingest]

Prints one Markdown table (medians over --repeats) and ends with the line
``RESULT rtrl_peak_frac=... rtrl_steps_per_s=... bptt_steps_per_s=... gen_steps_per_s=...
help_s=... generate_warm_s=... ingest_jobs2_speedup=...`` whose figures are for
the paper size (88 visible, 150 hidden, 100 recurrent, CD-15), float32.
Uses ../shared/data where present (JSB epoch, Nottingham ingest).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from rnnrbm.config import ModelConfig, TrainConfig
from rnnrbm.gradients import chunk_gradient, init_state, n_recurrent_params
from rnnrbm.model import init_params
from rnnrbm.sample import sample_roll

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SIZES = {"paper": ModelConfig(88, 150, 100), "default": ModelConfig(36, 150, 64)}
rows: list[tuple[str, str]] = []


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: compilation, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_peak(repeats: int) -> dict[str, float]:
    peak = {}
    for dtype in (np.float32, np.float64):
        a = np.random.default_rng(0).random((1024, 1024)).astype(dtype)
        t = median_time(lambda: a @ a, repeats)
        peak[np.dtype(dtype).name] = 2 * 1024**3 / t / 1e9
        rows.append((f"GEMM 1024^3 {np.dtype(dtype).name}", f"{peak[np.dtype(dtype).name]:.1f} GFLOP/s"))
        R, P = 100, n_recurrent_params(88, 100)
        A = a[: R + 1, :R].copy()
        S = np.random.default_rng(1).random((R, 8 * P)).astype(dtype)
        t = median_time(lambda: A @ S, repeats)
        rows.append((f"GEMM RTRL shape (101x100)(100x{8 * P}) {np.dtype(dtype).name}",
                     f"{2 * (R + 1) * R * 8 * P / t / 1e9:.1f} GFLOP/s"))
    return peak


def training_throughput(repeats: int, peak: dict[str, float]) -> dict[str, float]:
    out = {}
    config = TrainConfig()
    B, L = config.batch, config.chunk
    for size, mc in SIZES.items():
        for dtype in ("float32", "float64"):
            params = init_params(mc, np.random.default_rng(0), np.dtype(dtype))
            rng = np.random.default_rng(1)
            v = (rng.random((B, L, mc.n_visible)) < 4 / 88).astype(dtype)  # JSB-like density
            first = np.zeros((B, L), bool)
            first[:, 0] = True
            valid = np.ones((B, L), bool)
            for gradient in ("rtrl", "bptt"):
                state = init_state(params, B, gradient == "rtrl")
                step = lambda: chunk_gradient(params, v, first, valid, state, config.cd_k, rng, gradient)  # noqa: E731
                with threadpool_limits(limits=1, user_api="blas"):  # as train() runs
                    t = median_time(step, repeats)
                rate = B * L / t
                out[f"{gradient}_{size}_{dtype}"] = rate
                extra = ""
                if gradient == "rtrl":
                    R, P = mc.n_recurrent, n_recurrent_params(mc.n_visible, mc.n_recurrent)
                    gflops = 2 * (R + 1) * R * P * B * L / t / 1e9
                    out[f"rtrl_{size}_{dtype}_frac"] = gflops / peak[dtype]
                    extra = f", {gflops:.1f} GFLOP/s = {gflops / peak[dtype]:.0%} of peak"
                rows.append((f"train {gradient} {size} {dtype}", f"{rate:,.0f} steps/s{extra}"))
    return out


def jsb_epochs() -> None:
    from rnnrbm.ingest import IngestConfig, load_pieces
    from rnnrbm.train import train

    corpus, _ = load_pieces([SHARED / "jsb-chorales-quarter.json"], IngestConfig(low=21, high=108, steps_per_beat=1))
    with tempfile.TemporaryDirectory() as tmp:
        for gradient in ("bptt", "rtrl"):
            epochs = 2 if gradient == "bptt" else 1  # BPTT's first epoch includes compilation
            result = train(corpus.pieces("train"), [], SIZES["paper"], TrainConfig(epochs=epochs, gradient=gradient),
                           Path(tmp) / f"{gradient}.npz", {"low": 21, "high": 108, "steps_per_beat": 1})
            rows.append((f"JSB epoch {gradient} (paper size, float32)", f"{result.history[-1]['seconds']:.1f} s"))


def generation(repeats: int) -> dict[str, float]:
    out = {}
    for size, mc in SIZES.items():
        params = init_params(mc, np.random.default_rng(0))
        params["bv"][:] = -3.0  # a few notes per step, like a trained model
        t = median_time(lambda: sample_roll(params, 1000, gibbs_steps=25, seed=0), repeats)
        out[size] = 1000 / t
        rows.append((f"generate {size} k=25", f"{out[size]:,.0f} steps/s"))
    return out


def ingest_speed() -> float:
    from rnnrbm.ingest import ingest

    files = sorted((SHARED / "nottingham").glob("*.mid"))
    rates = {}
    for jobs in (1, 2):
        t0 = time.perf_counter()
        ingest([SHARED / "nottingham"], jobs=jobs)
        rates[jobs] = len(files) / (time.perf_counter() - t0)
        rows.append((f"ingest Nottingham --jobs {jobs}", f"{rates[jobs]:.0f} files/s"))
    return rates[2] / rates[1]


def command(args: list[str], repeats: int, env: dict | None = None) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def latency(repeats: int) -> tuple[float, float]:
    exe = [sys.executable, "-m", "rnnrbm"]
    help_s = command(exe + ["--help"], repeats)
    with tempfile.TemporaryDirectory() as tmp:
        gen = exe + ["generate", "-o", str(Path(tmp) / "out.mid"), "--seed", "1", "--no-preview"]
        command(gen, 1)  # warm the Numba cache
        warm = command(gen, repeats)
        cold_env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "cold"))
        cold = statistics.median(command(gen, 1, dict(cold_env, NUMBA_CACHE_DIR=str(Path(tmp) / f"cold{i}")))
                                 for i in range(min(repeats, 3)))
    rows.append(("rnnrbm --help", f"{help_s:.2f} s"))
    rows.append(("rnnrbm generate -o out.mid, warm cache", f"{warm:.2f} s"))
    rows.append(("rnnrbm generate -o out.mid, cold cache", f"{cold:.2f} s"))
    return help_s, warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-epoch", action="store_true", help="skip the JSB epochs (RTRL takes about a minute)")
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()
    peak = gemm_peak(args.repeats)
    train_rates = training_throughput(args.repeats, peak)
    if not args.skip_epoch and (SHARED / "jsb-chorales-quarter.json").exists():
        jsb_epochs()
    gen = generation(args.repeats)
    speedup = ingest_speed() if not args.skip_ingest and (SHARED / "nottingham").is_dir() else float("nan")
    help_s, warm = latency(args.repeats)
    print(f"| measurement (median of {args.repeats}) | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"RESULT rtrl_peak_frac={train_rates['rtrl_paper_float32_frac']:.3f} "
          f"rtrl_steps_per_s={train_rates['rtrl_paper_float32']:.1f} bptt_steps_per_s={train_rates['bptt_paper_float32']:.1f} "
          f"gen_steps_per_s={gen['paper']:.1f} help_s={help_s:.3f} generate_warm_s={warm:.3f} "
          f"ingest_jobs2_speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
