"""``rnnrbm generate``: compose new music with a trained checkpoint.

Only typer, rich and pathlib are imported here; NumPy, Numba and pretty_midi
load inside the command, so ``rnnrbm --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from rnnrbm.cli import app, console, domain_errors, err_console

PREVIEW_WIDTH = 80
SHOWN_FILES = 4  # finished files named on Ctrl-C


@app.command(epilog="Examples:\n\n"
                    "rnnrbm generate -o song.mid --seed 7 --bars 16\n\n"
                    "rnnrbm generate -m models/bach.npz --primer start.mid --keep-primer -n 3 -o take.mid")
@domain_errors
def generate(
    out: Path = typer.Option(Path("out.mid"), "-o", "--out", help="MIDI file to write (.mid/.midi); with -n > 1, "
                             "'<stem>-1.mid', '<stem>-2.mid', ..."),
    model: Optional[Path] = typer.Option(None, "-m", "--model", show_default=False,
                                         help="Checkpoint .npz from 'rnnrbm train' (default: the shipped "
                                              "models/default.npz)."),
    steps: Optional[int] = typer.Option(None, "--steps", show_default=False,
                                        help="Time steps to generate (default: 256)."),
    bars: Optional[float] = typer.Option(None, "--bars", help="Length in 4-beat bars instead of --steps."),
    seconds: Optional[float] = typer.Option(None, "--seconds", help="Length in seconds (at --qpm) instead of --steps."),
    num_outputs: int = typer.Option(1, "-n", "--num-outputs", help="Pieces to write; piece i uses seed + i - 1."),
    seed: Optional[int] = typer.Option(None, "--seed", show_default=False,
                                       help="Random seed; the same seed gives byte-identical files "
                                            "(default: a random seed, printed)."),
    gibbs_steps: int = typer.Option(25, "--gibbs-steps", "-k", help="Block Gibbs steps per time step."),
    temperature: float = typer.Option(1.0, "--temperature", "-t",
                                      help="Divides the RBM energy: < 1 is more conservative, > 1 wilder."),
    primer: Optional[Path] = typer.Option(None, "--primer", help="MIDI file to continue from."),
    keep_primer: bool = typer.Option(False, "--keep-primer", help="Start the output with the primer."),
    qpm: Optional[float] = typer.Option(None, "--qpm", show_default=False,
                                        help="Tempo in quarter notes per minute (default: the checkpoint's, else 100)."),
    program: int = typer.Option(0, "--program", help="General MIDI program 0-127 (0 = piano)."),
    velocity: int = typer.Option(80, "--velocity", help="Note velocity 1-127."),
    wav: Optional[Path] = typer.Option(None, "--wav", help="Also render a sine-wave .wav (numbered like -o)."),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Show a piano-roll preview."),
) -> None:
    """Compose new music with a trained RNN-RBM and write it as MIDI."""
    try:
        from rnnrbm.sample import GenerateOptions, generate_files

        options = GenerateOptions(steps=steps, bars=bars, seconds=seconds, num_outputs=num_outputs, seed=seed,
                                  gibbs_steps=gibbs_steps, temperature=temperature, keep_primer=keep_primer,
                                  qpm=qpm, program=program, velocity=velocity)
        result = generate_files(out, options, model=model, primer=primer, wav=wav)
    except KeyboardInterrupt as exc:
        # Each piece is written atomically once sampled: finished files stay, partial ones never exist.
        err_console.print(escape(interrupted_message(getattr(exc, "written", []))), highlight=False, soft_wrap=True)
        raise typer.Exit(130)
    _report(result, preview)


def interrupted_message(written: list) -> str:
    """The one line printed on Ctrl-C, naming the finished files that were kept."""
    if not written:
        return "interrupted: no file was written"
    names = ", ".join(str(p) for p in written[:SHOWN_FILES])
    more = f" and {len(written) - SHOWN_FILES} more" if len(written) > SHOWN_FILES else ""
    return f"interrupted: kept the {len(written)} finished file(s) {names}{more}; no partial file was written"


def _report(result, preview: bool) -> None:
    """Print the summary (and previews) of a :class:`rnnrbm.sample.GenerateResult`."""
    from rnnrbm.notes import note_name

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    how = f"chosen at random; --seed {result.seed} reproduces it" if result.seed_chosen else "given"
    say(f"model {escape(str(result.model))}: {result.steps} steps at {result.steps_per_beat}/beat, {result.qpm:g} qpm, "
        f"{result.gibbs_steps} Gibbs steps, temperature {result.temperature:g}, seed [bold]{result.seed}[/] ({how})")
    for piece in result.pieces:
        span = piece.pitch_span
        pitches = f"{note_name(span[0])}-{note_name(span[1])}" if span else "silent"
        primer = f" (first {piece.primer_steps} steps: primer)" if piece.primer_steps else ""
        say(f"wrote [bold]{escape(str(piece.path))}[/]" + (f" and [bold]{escape(str(piece.wav))}[/]" if piece.wav else "")
            + f": seed {piece.seed}, {piece.duration:.1f} s, {piece.n_notes} notes, "
              f"{piece.mean_notes:.2f} notes/step, {pitches}{primer}")
        if preview:
            for line in preview_lines(piece.roll, piece.low, PREVIEW_WIDTH, piece.primer_steps):
                console.print(line, highlight=False, markup=False, soft_wrap=True)


def preview_lines(roll, low: int, width: int = PREVIEW_WIDTH, primer_steps: int = 0) -> list[str]:
    """A compact text piano roll: time across (at most ``width`` columns), two pitches per row.

    Each column covers ``ceil(T / width)`` steps and shows a pitch when it sounds in
    any of them; each row holds two adjacent pitches (upper half block = higher
    pitch), only the used span is drawn, and rows with a C are labelled. A ``|``
    in the ruler marks where a kept primer ends.
    """
    import numpy as np

    from rnnrbm.notes import note_name

    roll = np.asarray(roll) != 0
    used = np.nonzero(roll.any(axis=0))[0]
    if len(used) == 0:
        return ["(silent)"]
    per = max(1, -(-len(roll) // width))
    n_cols = -(-len(roll) // per)
    padded = np.zeros((n_cols * per, roll.shape[1]), bool)
    padded[:len(roll)] = roll
    cols = padded.reshape(n_cols, per, -1).any(axis=1)  # (n_cols, V)
    lo, hi = int(used[0]), int(used[-1])
    glyph = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    lines = []
    for top in range(hi, lo - 1, -2):
        bottom = top - 1
        upper = cols[:, top]
        lower = cols[:, bottom] if bottom >= lo else np.zeros(n_cols, bool)
        label = next((note_name(low + p) for p in (top, bottom) if p >= lo and (low + p) % 12 == 0), "")
        lines.append(f"{label:>4} │" + "".join(glyph[(bool(a), bool(b))] for a, b in zip(upper, lower)))
    ruler = ["─"] * n_cols
    if 0 < primer_steps < len(roll):
        ruler[min(primer_steps // per, n_cols - 1)] = "|"
    lines.append("     └" + "".join(ruler) + f"  {len(roll)} steps, {per}/column")
    return lines

