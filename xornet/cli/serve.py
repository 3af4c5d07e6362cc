"""`xornet serve`: a saved model behind HTTP, with a page to look at it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xornet.cli.app import app, friendly_errors


@app.command()
@friendly_errors
def serve(
    model: Path = typer.Option(Path("basic_model.json"), "--model", "-m",
                               help="The architecture JSON, or a Keras 3 .keras file (a bare name is also looked for in models/)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w",
                                           help="The HDF5 weights (default: from the run record, else <stem>_weights.h5)."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="The TCP port (0: any free port)."),
    max_body_bytes: int = typer.Option(1_000_000, "--max-body-bytes", min=1, help="Larger request bodies get 413."),
    reload_on_change: bool = typer.Option(False, "--reload-on-change",
                                          help="Reload the model when its files change (after they verify)."),
):
    """Serve a saved model over HTTP: POST /predict, GET /model, GET /health, the page at /, docs at /docs."""
    from xornet.serve.server import serve_model

    serve_model(model, weights, host, port, max_body_bytes, reload_on_change)
