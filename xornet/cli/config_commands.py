"""`xornet config show | init | validate`: check, show and start experiment configs."""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import List

import typer

from xornet.cli.app import _err, _load_config, app, debugging, friendly_errors
from xornet.cli.usage_errors import OneLineErrorsGroup
from xornet.config import check_data_files
from xornet.errors import InputError, XornetError


config_app = typer.Typer(cls=OneLineErrorsGroup, help="Check, show and start experiment configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@friendly_errors
def config_show(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The experiment config (YAML)."),
    overrides: List[str] = typer.Option([], "--set", metavar="<key=value>", help="Override a key: --set training.epochs=500"),
):
    """Print the fully resolved config: file, defaults and overrides together."""
    import yaml

    typer.echo(yaml.safe_dump(_load_config(config, overrides).resolved(), sort_keys=False).rstrip("\n"))


@config_app.command("init")
@friendly_errors
def config_init(
    path: str = typer.Argument("xornet.yaml", help="Where to write the starter config."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
):
    """Write a commented starter config (the XOR experiment), named after the file, saving into models/NAME."""
    from xornet.config import STARTER
    from xornet.files.safe_write import atomic_write_text
    from xornet.files.writable import check_writable

    check_writable(Path(path), "config init PATH")  # a str argument: click refuses a NUL byte with a usage box
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path} already exists; refusing to overwrite it", hint="pass --force, or give another PATH")
    atomic_write_text(path, fill_starter(STARTER, experiment_name(path)))
    typer.echo(f"Wrote {path}")


def fill_starter(starter: str, name: str) -> str:
    """Put `name` where the starter config says <name>, keeping its comments in their column."""
    return re.sub(r"<name>( *)", lambda m: name.ljust(len(m.group(0)) - 1) + " " if m.group(1) else name, starter)


def experiment_name(path: Path) -> str:
    """An experiment name from a config file name, fit for `name` (NAME_PATTERN) and a directory.

    Example:
        >>> experiment_name(Path("my first.yaml"))
        'my_first'
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)[:64]
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)
    return name or "experiment"


@config_app.command("validate")
@friendly_errors
def config_validate(configs: List[Path] = typer.Argument(..., metavar="CONFIG", show_default=False,
                                                          help="Config files to check.")):
    """Check configs without training: exit 0 when all are valid, 2 otherwise."""
    failed = 0
    for path in configs:
        try:
            config = _load_config(path, [])
            check_data_files(config)
            from xornet.data import check_columns

            check_columns(config)  # the data file's header only: its rows are read by train
            if config.data.stream is True:  # its header or Parquet schema: no rows, no TensorFlow
                from xornet.data.stream import open_stream

                open_stream(config, seed=0, scan=False)
        except XornetError as exc:
            failed += 1
            if debugging():
                traceback.print_exc()
            _err(f"error: {exc}")
        else:
            typer.echo(f"ok: {path}")
    if failed:
        raise typer.Exit(2)
