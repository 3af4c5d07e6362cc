"""`xornet summary`: the network a config describes or a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import _load_config, app, friendly_errors
from xornet.errors import InputError


@app.command()
@friendly_errors
def summary(
    target: Optional[Path] = typer.Argument(None, help="A config (.yaml) or a saved model (.json); default: the reference XOR net."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config key: --set model.layers.0.units=4"),
):
    """Show the network a config describes (built, not trained) or a saved model."""
    from xornet.summary import config_summary, saved_model_summary

    if target is not None and target.suffix.lower() == ".json":
        if overrides:
            raise InputError("--set applies to configs, not to a saved model")
        typer.echo(saved_model_summary(target))
        return
    if target is None:
        from xornet.config import validate_config

        cfg = validate_config({}, "<reference experiment>", overrides=overrides)
    else:
        cfg = _load_config(target, overrides)
    typer.echo(config_summary(cfg))
