"""`xornet export`: a saved model in a form another Keras reads."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from xornet.cli.app import WEIGHTS_HELP, app, check_model_options, check_output_dir, friendly_errors


class ExportFormat(str, Enum):
    keras2 = "keras2"
    keras3 = "keras3"
    keras = "keras"


@app.command(short_help="Write a saved model for another Keras.")
@friendly_errors
def export(
    model: str = typer.Argument(..., metavar="MODEL", help="The architecture JSON to export (weights found as for predict)."),
    directory: Path = typer.Argument(..., metavar="DIR", help="Where to write the exported files (made if missing)."),
    to: ExportFormat = typer.Option(..., "--to", help="keras2: Keras 2 JSON + HDF5; keras3: to_json() + .weights.h5; keras: one .keras file."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help=WEIGHTS_HELP),
    force: bool = typer.Option(False, "--force", help="Replace existing files."),
):
    """Write a saved model in a form another Keras reads: Keras 2, the Keras 3 pair, or a .keras file."""
    from xornet.files.export import export_model
    from xornet.files.load import load_model

    check_model_options(model, weights, "MODEL")
    check_output_dir(directory, str(directory))

    written = export_model(load_model(model, weights), to.value, directory, force)
    typer.echo("Wrote " + ", ".join(str(p) for p in written))
