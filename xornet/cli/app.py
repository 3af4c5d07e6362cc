"""The Typer application, its global options, and the one-line error handling every command shares.

TensorFlow is imported only inside the commands that need it, so `xornet --help`
and config validation stay fast.
"""

from __future__ import annotations

import functools
import os
import traceback
from enum import Enum
from pathlib import Path

import typer

from xornet import __version__
from xornet.errors import XornetError

app = typer.Typer(
    help="Train, save and use small Keras networks from YAML experiment configs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)

_state = {"debug": False}


def _err(text: str = "") -> None:
    typer.echo(text, err=True)


def friendly_errors(command):
    """Turn xornet errors into one line on stderr and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
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

    return wrapper


def _version(value: bool):
    if value:
        typer.echo(f"xornet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and TensorFlow's own log lines."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
):
    """Train, save and use small Keras networks from YAML experiment configs."""
    _state["debug"] = debug
    if debug:
        os.environ["XORNET_DEBUG"] = "1"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _load_config(path: Path, overrides: list[str]):
    from xornet.config import load_config

    return load_config(path, overrides)



def main() -> None:
    """Entry point of the `xornet` console script."""
    import xornet.cli  # noqa: F401  (registers the commands)

    app(prog_name="xornet")
