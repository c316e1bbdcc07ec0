"""Options shared by every command that reads music (ingest, train, evaluate, info).

Typer options are plain metadata, so one definition serves all commands and
the defaults and help texts cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import typer

LOW = typer.Option(None, "--low", help="Lowest pitch kept, as a name or MIDI number (default: C4, or a corpus's own range)")
HIGH = typer.Option(None, "--high", help="Highest pitch kept, as a name or MIDI number (default: B6, or a corpus's own range)")
RANGE = typer.Option(None, "--range", help="Named range instead of --low/--high: 'piano' is A0-C8 (88 keys).")
STEPS_PER_BEAT = typer.Option(None, "--steps-per-beat", help="Time steps per beat (default: 4 for MIDI, 1 for benchmark JSON, a corpus's own grid).")
OUT_OF_RANGE = typer.Option("fold", "--out-of-range", help="fold: move notes by octaves into range; drop: remove them.")
PEDAL = typer.Option(True, "--pedal/--no-pedal", help="Honour the sustain pedal (CC64).")
TRANSPOSE = typer.Option(False, "--transpose-to-c", help="Transpose every piece to C major / A minor.")
MIN_STEPS = typer.Option(2, "--min-steps", help="Drop pieces shorter than this many steps.")
VALID_FRACTION = typer.Option(0.1, "--valid-fraction", help="Share of pieces put in 'valid' when the input has no split.")
TEST_FRACTION = typer.Option(0.1, "--test-fraction", help="Share of pieces put in 'test' when the input has no split.")
JOBS = typer.Option(1, "--jobs", "-j", help="Parallel processes for parsing MIDI files.")


def ingest_config(low: Optional[str], high: Optional[str], range_: Optional[str], steps_per_beat: Optional[int],
                  out_of_range: str, pedal: bool, transpose_to_c: bool, min_steps: int,
                  valid_fraction: float, test_fraction: float, paths: Sequence[Path] = ()):
    """Build the library's IngestConfig from the shared options (raises UsageError on bad values).

    With no range option and only corpus ``.npz`` inputs, the first corpus's own
    range is kept instead of folding it into the default C4-B6.
    """
    from rnnrbm.ingest import IngestConfig
    from rnnrbm.notes import parse_range

    corpora = [Path(p) for p in paths if str(p).lower().endswith(".npz")]
    if low is None and high is None and range_ is None and corpora and len(corpora) == len(paths):
        from rnnrbm.corpus import Corpus

        corpus = Corpus.load(corpora[0])
        lo, hi = corpus.low, corpus.high
    else:
        lo, hi = parse_range(low, high, range_)
    return IngestConfig(low=lo, high=hi, steps_per_beat=steps_per_beat, out_of_range=out_of_range, pedal=pedal,
                        transpose_to_c=transpose_to_c, min_steps=min_steps, valid_fraction=valid_fraction,
                        test_fraction=test_fraction)
