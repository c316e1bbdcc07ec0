"""The ``rnnrbm`` command line: a thin Typer layer over the library.

Each command parses its options, calls one library function and prints with
rich. Library modules (and so NumPy and Numba) are imported inside the command
bodies, so ``rnnrbm --help`` stays fast.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from rnnrbm import __version__
from rnnrbm.errors import RnnrbmError

app = typer.Typer(
    name="rnnrbm",
    help="Learn polyphonic music from MIDI files with an RNN-RBM, and compose new music.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print one error line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def domain_errors(func: Callable) -> Callable:
    """Turn :class:`RnnrbmError` into one stderr line and its exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RnnrbmError as exc:
            fail(str(exc), exc.exit_code)

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"rnnrbm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Learn polyphonic music from MIDI files with an RNN-RBM, and compose new music."""


# Command modules register themselves on ``app``; import them for that side effect.
from rnnrbm.cli import evaluate, generate, ingest, train  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    app()
