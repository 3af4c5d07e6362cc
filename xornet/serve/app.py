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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
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
               max_body_bytes: int = MAX_BODY_BYTES, reload_on_change: bool = False) -> ServeApp:
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
    async def predict(request: Request):
        """Probabilities and classes for rows given as JSON `{"inputs": [[0, 1], ...]}` or a CSV body,
        in the shape of `xornet predict --format json`. `?threshold=0.9`: class 1 above 0.9."""
        status, content = await predict_response(request.app.state.served, request.headers.get("content-type", ""),
                                                 request.url.query, request.stream(), max_body_bytes)
        return Response(content, status, media_type="application/json")

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

    return ServeApp(app, max_body_bytes)


class ServeApp:
    """The ASGI app: POST /predict answered here directly, everything else by the FastAPI app `api`.

    The hot path skips FastAPI's middleware and dependency layers, which cost
    more than the prediction itself (bench/serve_speed.py: about 2x the
    requests/s); FastAPI's /predict route documents it and answers the same way.
    """

    def __init__(self, api: FastAPI, max_body_bytes: int):
        self.api = api
        self.state = api.state
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            return await self.api(scope, receive, send)
        headers = dict(scope["headers"])
        status, content = await predict_response(self.state.served, headers.get(b"content-type", b"").decode("latin-1"),
                                                 scope["query_string"].decode("latin-1"), _body_chunks(receive),
                                                 self.max_body_bytes)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]})
        await send({"type": "http.response.body", "body": content})


async def predict_response(served, content_type: str, query: str, chunks: AsyncIterator[bytes],
                           max_body_bytes: int) -> tuple[int, bytes]:
    """(status, JSON body) answering POST /predict: the predictions, or {"error": "<one line>"}.

    Example:
        >>> await predict_response(served, "application/json", "", chunks_of(b'{"inputs": [[0, 1]]}'), 1000)
        (200, b'[{"input": [0, 1], "probability": 0.94..., "class": 1}]')
    """
    try:
        threshold = _threshold(query)
        body = await _read_body(chunks, max_body_bytes)
        features = (served.record.get("data") or {}).get("features")
        rows = rows_from_body(body, content_type, served.predictor.input_width, features)
        if served.predictor.engine == "numpy":
            probabilities = served.predictor.predict(rows)  # microseconds: cheaper than a thread hop
        else:
            probabilities = await run_in_threadpool(served.predictor.predict, rows)
        objects = rows_as_json_objects(rows, probabilities, to_classes(probabilities, threshold))
        return 200, json.dumps(objects).encode()
    except XornetError as exc:
        return STATUS.get(type(exc), 422), json.dumps({"error": str(exc)}).encode()


def _threshold(query: str) -> float:
    values = parse_qs(query).get("threshold")
    if not values:
        return 0.5
    try:
        threshold = float(values[-1])
    except ValueError:
        threshold = float("nan")
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold: expected a number from 0 to 1, received {values[-1]!r}")
    return threshold


async def _body_chunks(receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        yield message.get("body", b"")
        if not message.get("more_body"):
            return


async def _read_body(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole request body, refused with 413 as soon as it is over `limit` bytes."""
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body: larger than the limit of {limit} bytes",
                               hint="send fewer rows per request, or start the server with a larger --max-body-bytes")
        parts.append(chunk)
    return b"".join(parts)


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
