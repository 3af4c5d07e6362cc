"""The `xornet` command line: parse arguments, call the library, format results.

One module per command (or command group); `app.py` holds the Typer app and the
error handling they share. Importing this package registers every command.
"""

from xornet.cli.app import app, main
from xornet.cli import train, predict, summary, evaluate, sweep, tune, export, config_commands, serve  # noqa: F401,E402

__all__ = ["app", "main"]
