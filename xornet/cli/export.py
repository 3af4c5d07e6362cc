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
    savedmodel = "savedmodel"
    tflite = "tflite"
    onnx = "onnx"


@app.command(short_help="Write a saved model for another Keras or a serving engine.")
@friendly_errors
def export(
    model: str = typer.Argument(..., metavar="MODEL", help="The architecture JSON to export (weights found as for predict)."),
    directory: Path = typer.Argument(..., metavar="DIR", help="Where to write the exported files (made if missing)."),
    to: ExportFormat = typer.Option(..., "--to", help="keras2: Keras 2 JSON + HDF5; keras3: to_json() + .weights.h5; keras: one .keras file; "
                                                 "savedmodel (TF Serving), tflite, onnx (needs tf2onnx)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help=WEIGHTS_HELP),
    force: bool = typer.Option(False, "--force", help="Replace existing files (never the model's own)."),
):
    """Write a saved model for another Keras (Keras 2, the Keras 3 pair, a .keras file) or a serving engine (SavedModel, TFLite, ONNX)."""
    from xornet.files.export import check_export

    check_model_options(model, weights, "MODEL")
    check_output_dir(directory, str(directory))
    check_export(model, to.value, directory, force, weights)  # before TensorFlow is imported: seconds sooner

    from xornet.files.export import export_model
    from xornet.files.load import load_model
    from xornet.files.serving_export import SERVING_FORMATS, export_for_serving

    write = export_for_serving if to.value in SERVING_FORMATS else export_model
    written = write(load_model(model, weights), to.value, directory, force)
    typer.echo("Wrote " + ", ".join(str(p) for p in written))
