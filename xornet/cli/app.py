"""The Typer application, its global options, and the one-line error handling every command shares.

TensorFlow is imported only inside the commands that need it, so `xornet --help`
and config validation stay fast.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import tempfile
import traceback
from enum import Enum
from pathlib import Path

import typer

from xornet import __version__
from xornet.cli.usage_errors import OneLineErrorsGroup
from xornet.errors import InputError, XornetError
from xornet.text import shown_path  # noqa: F401  (the commands' import)

app = typer.Typer(
    name="xornet",
    cls=OneLineErrorsGroup,  # Click's usage errors as one `error:` line
    help="Train, save and use small Keras networks from YAML experiment configs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
    rich_markup_mode=None,
)

_state = {"debug": False}


def _err(text: str = "") -> None:
    typer.echo(text, err=True)


DEBUG_HELP = "Show tracebacks and TensorFlow's own log lines."
_DEBUG_FROM_ENVIRONMENT = os.environ.get("XORNET_DEBUG")  # set by the user before xornet started


def debugging() -> bool:
    """Was --debug given (before or after the command), or XORNET_DEBUG set?"""
    return _state["debug"]


def _set_debug(debug: bool) -> None:
    if debug:
        _state["debug"] = True
        os.environ["XORNET_DEBUG"] = "1"


def friendly_errors(command):
    """Turn xornet errors into one line on stderr and the right exit code.

    The wrapped command also takes `--debug`, so `xornet predict --debug` works
    like `xornet --debug predict`.
    """

    @functools.wraps(command)
    def wrapper(*args, debug: bool = False, **kwargs):
        _set_debug(debug)
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except XornetError as exc:
            if _state["debug"]:
                traceback.print_exc()
            _err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug in xornet or a library: still one line unless --debug
            if _state["debug"]:
                traceback.print_exc()
            _err(f"error: unexpected failure: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise typer.Exit(1) from None

    signature = inspect.signature(command, eval_str=True)
    option = inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                               default=typer.Option(False, "--debug", help=DEBUG_HELP))
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), option])
    wrapper.__annotations__ = {**wrapper.__annotations__, "debug": bool}
    return wrapper


def _version(value: bool):
    if value:
        typer.echo(f"xornet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
):
    """Train, save and use small Keras networks from YAML experiment configs."""
    # Reset between in-process invocations (tests, library use); --debug turns it on again.
    _state["debug"] = False
    if _DEBUG_FROM_ENVIRONMENT is None:
        os.environ.pop("XORNET_DEBUG", None)
    _set_debug(debug)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


WEIGHTS_HELP = "The HDF5 weights. Default: from the run record, else <stem>_weights.h5 beside the model."


def check_model_options(model: str, weights: Path | None, model_flag: str = "--model") -> None:
    """Refuse an empty model path and directories given as model or --weights, before anything is loaded."""
    if not model.strip():
        raise InputError(f"{model_flag}: expected a model .json file, received an empty path")
    if Path(model).is_dir():
        raise InputError(f"{model_flag} {model}: is a directory, expected a model .json file")
    if weights is not None and weights.is_dir():
        raise InputError(f"--weights {weights}: is a directory, expected an HDF5 weights file")


def check_input_file(path: Path, flag: str, expected: str) -> None:
    """Refuse a missing input file or a directory, before anything is loaded."""
    if not path.exists():
        raise InputError(f"{path}: input file not found")
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a directory, expected {expected}")


def open_binary(path: Path):
    """Open an input file for reading bytes; an OS error (no permission, ...) becomes one line."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def check_output_file(path: Path, where: str) -> None:
    """Check, before any work, that a file can be written at `path` (its folder may not exist yet).

    `where` starts the error message, e.g. "--out pics/x.png".
    """
    if path.is_dir():
        raise InputError(f"{where}: is a directory, expected a file name")
    _check_folder(path.parent, where)


def check_output_dir(path: Path, where: str) -> None:
    """Check, before any work, that files can be written into the directory `path` (it may not exist yet)."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{where}: is a file, expected a directory")
    _check_folder(path, where)


def _check_folder(folder: Path, where: str) -> None:
    existing = folder
    while not existing.exists():  # the closest existing parent decides whether the folder can be made
        if existing.is_symlink():
            raise InputError(f"{where}: {existing} is a broken link")
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{where}: {existing} is a file, expected a directory there")
    try:  # a real probe: permissions, read-only and special file systems (/proc) all show here
        os.rmdir(tempfile.mkdtemp(prefix=".xornet-probe-", dir=existing))
    except OSError as exc:
        raise InputError(f"{where}: cannot write into {existing} ({exc.strerror or exc})") from None


def _load_config(path: Path, overrides: list[str]):
    from xornet.config import load_config

    return load_config(path, overrides)



def main() -> None:
    """Entry point of the `xornet` console script."""
    import xornet.cli  # noqa: F401  (registers the commands)

    sys.stdout = ReaderMayLeave(sys.stdout)
    app(prog_name="xornet")


class ReaderMayLeave:
    """Standard output for a reader that may leave early (`xornet train CONFIG | head -1`): once the pipe is
    closed, output goes to /dev/null and the command carries on, so a training run still saves its model.

    Example:
        >>> sys.stdout = ReaderMayLeave(sys.stdout)
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            reader_left()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            reader_left()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def reader_left() -> None:
    """Send the rest of standard output to /dev/null (also what Python flushes at exit), after a broken pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno())
    os.close(devnull)
