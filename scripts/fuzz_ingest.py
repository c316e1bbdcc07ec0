"""Fuzz MIDI ingest for longer than CI does: many hostile files, counted by outcome.

Runs the hypothesis strategy of ``tests/test_fuzz_ingest.py`` (``tests/fuzzing.py``:
random events with absurd values, then bit flips, truncations, inserted chunks,
absurd chunk lengths) through :func:`rnnrbm.workers.parse_midi`, the function
``rnnrbm ingest`` calls per file, with its per-file time limit. Prints how many
files were ingested, skipped (by reason) or broke the contract (raised, or gave
a malformed roll), the slowest file and the peak RSS. Exit status 1 if any broke it.

    python scripts/fuzz_ingest.py --examples 20000
    python scripts/fuzz_ingest.py --examples 5000 --keep /tmp/bad   # keep failing and slowest files
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzzing import hostile_midi  # noqa: E402

from rnnrbm.workers import parse_midi  # noqa: E402

OPTIONS = dict(low=60, high=95, steps_per_beat=4, out_of_range="fold", pedal=True, transpose_to_c=True,
               max_steps=200_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="files to generate (default 20000)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per file (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--keep", type=Path, help="folder to copy broken and the slowest files into")
    args = parser.parse_args()

    outcomes: Counter = Counter()
    broken: list[tuple[str, bytes]] = []
    slowest = (0.0, b"")
    work = Path(tempfile.mkdtemp(prefix="fuzz-ingest-"))
    path = work / "fuzz.mid"

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(hostile_midi())
    def run(data: bytes) -> None:
        nonlocal slowest
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            result = parse_midi(str(path), OPTIONS, timeout=args.timeout)
        except BaseException as exc:  # the contract says this never happens: count it, go on
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcomes["BROKEN: raised"] += 1
            broken.append((traceback.format_exc(limit=3), data))
            return
        elapsed = time.perf_counter() - start
        slowest = max(slowest, (elapsed, data))
        if result.roll is None:
            outcomes[f"skipped: {result.reason}"] += 1
        elif (result.roll.ndim == 2 and 1 <= len(result.roll) <= OPTIONS["max_steps"]
              and result.roll.max() <= 1 and math.isfinite(result.qpm) and result.qpm > 0):
            outcomes["ingested" + (" (recovered)" if result.recovered else "")] += 1
        else:
            outcomes["BROKEN: malformed roll"] += 1
            broken.append((f"roll {result.roll.shape}, qpm {result.qpm}", data))

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start

    total = sum(outcomes.values())
    ingested = sum(n for k, n in outcomes.items() if k.startswith("ingested"))
    skipped = sum(n for k, n in outcomes.items() if k.startswith("skipped"))
    print(f"examples run: {total} in {seconds:.0f} s (seed {args.seed}, timeout {args.timeout:g} s per file)")
    print(f"ingested:     {ingested}  (recovered {outcomes['ingested (recovered)']})")
    print(f"skipped:      {skipped}")
    for outcome, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        if outcome.startswith("skipped"):
            print(f"  {count:7d}  {outcome[len('skipped: '):]}")
    print(f"broken:       {total - ingested - skipped}")
    print(f"slowest file: {slowest[0]:.3f} s ({len(slowest[1])} bytes)")
    print(f"peak RSS:     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    for text, _ in broken[:5]:
        print("---\n" + text)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / "slowest.mid").write_bytes(slowest[1])
        for i, (_, data) in enumerate(broken):
            (args.keep / f"broken-{i}.mid").write_bytes(data)
    path.unlink(missing_ok=True)
    work.rmdir()
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
