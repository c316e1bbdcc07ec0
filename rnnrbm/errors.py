"""Domain errors: anything the user can fix, reported as one line without a traceback."""


class RnnrbmError(Exception):
    """A problem with the user's input, files or options.

    The CLI prints ``str(error)`` as one line on stderr and exits with ``exit_code``.
    """

    exit_code = 1


class UsageError(RnnrbmError):
    """Bad command-line arguments (exit code 2, like Typer's own usage errors)."""

    exit_code = 2
