"""The ASGI app of `xornet serve`: /predict, /health, /model (+ history, training data), the page at /.

The model is loaded and verified once, before the app exists; every error is
answered with a JSON body `{"error": "<one line>"}` and a 4xx status.

Example:
    >>> import uvicorn
    >>> uvicorn.run(create_app("models/basic_model.json"), host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from xornet import __version__
from xornet.errors import InputError, XornetError
from xornet.predicting import rows_as_json_objects, to_classes
from xornet.serve.inputs import MalformedBody, UnsupportedContentType, rows_from_body
from xornet.serve.schemas import PREDICT_REQUEST_DOC, ErrorBody, Health, PredictionRow
from xornet.serve.served_model import load_served_model

MAX_BODY_BYTES = 1_000_000
RELOAD_POLL_SECONDS = 0.5
TRAINING_POINTS_SHOWN = 5000


class BodyTooLarge(InputError):
    """The request body is over the server's limit (answered with 413)."""


STATUS = {MalformedBody: 400, BodyTooLarge: 413, UnsupportedContentType: 415}


def create_app(model_path: str | Path, weights_path: str | Path | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, reload_on_change: bool = False) -> FastAPI:
    """The app serving one saved model, loaded and verified now (raises `InputError` if it cannot be).

    Example:
        >>> app = create_app("models/basic_model.json")
        >>> app.state.served.predictor.engine
        'numpy'
    """
    served = load_served_model(model_path, weights_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher = asyncio.create_task(_watch_files(app, model_path, weights_path)) if reload_on_change else None
        yield
        if watcher is not None:
            watcher.cancel()

    app = FastAPI(title="xornet serve", version=__version__, lifespan=lifespan,
                  description="Predictions of one saved xornet model, and a page to look at it.",
                  responses={422: {"model": ErrorBody, "description": "Inputs the model cannot take"}})
    app.state.served = served
    app.state.reload_on_change = reload_on_change
    app.state.reload_error = None
    page = files("xornet.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.exception_handler(XornetError)
    async def xornet_error(request: Request, exc: XornetError):
        return JSONResponse({"error": str(exc)}, status_code=STATUS.get(type(exc), 422))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return JSONResponse({"error": f"{where}: {first['msg']}, received {first.get('input')!r}"}, status_code=422)

    @app.post("/predict", response_model=list[PredictionRow], openapi_extra=PREDICT_REQUEST_DOC,
              responses={400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody}})
    async def predict(request: Request, threshold: float = Query(0.5, ge=0, le=1,
                                                                 description="Class 1 when the probability is above this.")):
        """Probabilities and classes for rows given as JSON `{"inputs": [[0, 1], ...]}` or a CSV body,
        in the shape of `xornet predict --format json`."""
        current = request.app.state.served
        features = (current.record.get("data") or {}).get("features")
        body = await _read_body(request, max_body_bytes)
        rows = rows_from_body(body, request.headers.get("content-type", ""), current.predictor.input_width, features)
        if current.predictor.engine == "numpy":
            probabilities = current.predictor.predict(rows)  # microseconds: cheaper than a thread hop
        else:
            probabilities = await run_in_threadpool(current.predictor.predict, rows)
        objects = rows_as_json_objects(rows, probabilities, to_classes(probabilities, threshold))
        return Response(json.dumps(objects), media_type="application/json")

    @app.get("/health", response_model=Health)
    async def health():
        """Whether the server is up and serving its model."""
        return {"status": "ok"}

    @app.get("/model")
    async def model(request: Request):
        """The architecture (layers, parameter counts), inputs, task, class names, the run record's
        key facts, and the files' SHA-256 with whether they still match the files on disk."""
        description = await run_in_threadpool(request.app.state.served.describe)
        return {**description, "reload_on_change": request.app.state.reload_on_change,
                "reload_error": request.app.state.reload_error,
                "tensorflow_imported": "tensorflow" in sys.modules}

    @app.get("/model/history")
    async def history(request: Request):
        """The per-epoch training history from the run record: {"loss": [...], "accuracy": [...], ...}."""
        return request.app.state.served.record.get("history") or {}

    @app.get("/model/training-data")
    async def training_data(request: Request):
        """The training rows the run record names (at most 5000): {"inputs": [[...]], "labels": [...]}."""
        return await run_in_threadpool(_training_points, request.app.state.served.record)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return page

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is over `limit` bytes."""
    too_large = BodyTooLarge(f"request body: larger than the limit of {limit} bytes",
                             hint="send fewer rows per request, or start the server with a larger --max-body-bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _training_points(record: dict) -> dict:
    from xornet.data import dataset_of_record

    dataset = dataset_of_record(record)
    if dataset is None:
        return {"inputs": [], "labels": []}
    return {"inputs": dataset.x[:TRAINING_POINTS_SHOWN].tolist(),
            "labels": dataset.y[:TRAINING_POINTS_SHOWN].reshape(len(dataset.y[:TRAINING_POINTS_SHOWN]), -1).tolist()}


def _files_state(paths) -> tuple:
    """What changes when a file is replaced: (inode, size, mtime) of each file, None when missing."""
    state = []
    for path in paths:
        try:
            stat = os.stat(path)
            state.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except OSError:
            state.append(None)
    return tuple(state)


async def _watch_files(app: FastAPI, model_path, weights_path) -> None:
    """Reload the model when its files change, once they have stayed the same for one poll.

    A new version replaces the old in one assignment, and only after it loaded
    and matched its run record; until then the old version keeps serving.
    """
    seen = _files_state(app.state.served.paths.values())
    while True:
        await asyncio.sleep(RELOAD_POLL_SECONDS)
        now = _files_state(app.state.served.paths.values())
        if now == seen:
            continue
        seen = now
        await asyncio.sleep(RELOAD_POLL_SECONDS)
        if _files_state(app.state.served.paths.values()) != now:
            continue  # still being written: look again at the next poll
        try:
            app.state.served = await run_in_threadpool(load_served_model, model_path, weights_path)
            app.state.reload_error = None
        except XornetError as exc:
            app.state.reload_error = str(exc)
