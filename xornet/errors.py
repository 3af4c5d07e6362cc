"""The errors xornet shows to a person, and the exit codes they map to.

Every failure a user can cause or fix is raised as a subclass of `XornetError`;
the CLI prints its message on one line and exits with its `exit_code`, without
a traceback (`--debug` shows one).
"""

from __future__ import annotations


class XornetError(Exception):
    """A failure explained in one line, with an optional hint.

    Example:
        >>> raise InputError("configs/x.yaml: no such file", hint="check the path")
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class InputError(XornetError):
    """Bad input: a config, a data file, a model file or an argument. Exit code 2."""

    exit_code = 2


class TrainingError(XornetError):
    """Training could not finish (for example the loss became NaN). Exit code 1."""

    exit_code = 1


class Interrupted(XornetError):
    """The user pressed Ctrl-C. Exit code 130, as shells expect."""

    exit_code = 130
