"""`xornet summary`: the network a config describes or a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import WEIGHTS_HELP, _err, _load_config, app, check_model_options, friendly_errors
from xornet.errors import InputError

DEFAULT_MODEL = "basic_model.json"  # what predict and evaluate use without --model: here, else in models/


@app.command(short_help="Show a config's network or a saved model.")
@friendly_errors
def summary(
    target: Optional[Path] = typer.Argument(
        None, metavar="TARGET",
        help=f"A config (.yaml) or a saved model (.json, or a Keras 3 .keras file). Default: {DEFAULT_MODEL} (here or in models/) when it "
             "exists, as for predict and evaluate; else the reference XOR net, untrained."),
    overrides: List[str] = typer.Option([], "--set", metavar="<key=value>",
                                        help="Override a config key: --set model.layers.0.units=4 (repeatable)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help=WEIGHTS_HELP),
):
    """Show the network a config describes (built, not trained) or a saved model."""
    from xornet.summary import config_summary, saved_model_summary

    if target is None and not overrides:
        target = _default_model()
    if target is not None and target.is_dir():
        inside = sorted(target.glob("*_model.json")) or sorted(target.glob("*.yaml"))
        raise InputError(f"TARGET {target}: is a directory; summary takes a config (.yaml) or a saved model (.json)",
                         hint=f"xornet summary {inside[0]}" if inside else None)
    if target is not None and target.suffix.lower() in (".json", ".keras"):
        if overrides:
            raise InputError("--set applies to configs, not to a saved model")
        check_model_options(str(target), weights, "TARGET")
        typer.echo(saved_model_summary(target, weights))
        return
    if weights is not None:
        raise InputError("--weights goes with a saved model (.json or .keras), not with a config")
    if target is None:
        from xornet.config import validate_config

        cfg = validate_config({}, "<reference experiment>", overrides=overrides)
        _err(f"note: no saved {DEFAULT_MODEL}: showing the reference XOR net, built but not trained")
    else:
        cfg = _load_config(target, overrides)
    typer.echo(config_summary(cfg))


def _default_model() -> Optional[Path]:
    """The model predict and evaluate use without --model, when it exists."""
    from xornet.files.load import find_model_file

    try:
        return find_model_file(DEFAULT_MODEL)
    except InputError:
        return None
