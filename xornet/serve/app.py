"""The ASGI app of `xornet serve`: /predict, /health, /model (+ history, training data), the page at /.

The model is loaded and verified once, before the app exists; every error is
answered with a JSON body `{"error": "<one line>"}` and a 4xx status.

`ServeApp` answers the model's routes itself, with no web framework imported,
so a server on the NumPy predictor answers its first request a fraction of a
second after it starts. The FastAPI app in `xornet.serve.api` (the OpenAPI
documentation at /docs and /openapi.json, and every other request) is built on
the first request that needs it.

Example:
    >>> import uvicorn
    >>> uvicorn.run(create_app("models/basic_model.json"), host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

from xornet.errors import InputError, XornetError
from xornet.predicting import predict_finite, rows_as_json_objects, to_classes
from xornet.serve.inputs import MalformedBody, UnsupportedContentType, rows_from_body
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
    state = SimpleNamespace(served=served, model_path=model_path, weights_path=weights_path,
                            reload_on_change=reload_on_change, reload_error=None)
    return ServeApp(state, max_body_bytes)


class ServeApp:
    """The ASGI app: the model's routes answered here, everything else by the FastAPI app `api`.

    Answering here skips FastAPI's middleware and dependency layers, which cost
    more than the prediction itself (bench/serve_speed.py: about 2x the
    requests/s), and FastAPI's import (most of a second); FastAPI's routes of
    the same paths document them and answer the same way.
    """

    def __init__(self, state: SimpleNamespace, max_body_bytes: int):
        self.state = state
        self.max_body_bytes = max_body_bytes
        self.page = files("xornet.serve").joinpath("page.html").read_text(encoding="utf-8").encode()
        self._api = None
        self._api_lock = threading.Lock()
        self.routes = {("POST", "/predict"): self._predict, ("GET", "/health"): self._health,
                       ("GET", "/model"): self._model, ("GET", "/model/history"): self._history,
                       ("GET", "/model/training-data"): self._training_data, ("GET", "/"): self._page}

    @property
    def api(self):
        """The FastAPI app (docs, OpenAPI schema, the other paths), built on first use."""
        with self._api_lock:
            if self._api is None:
                from xornet.serve.api import create_api

                self._api = create_api(self)
            return self._api

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        route = self.routes.get((scope.get("method"), scope["path"])) if scope["type"] == "http" else None
        if route is not None:
            return await route(scope, receive, send)
        api = self._api or await asyncio.to_thread(lambda: self.api)  # importing FastAPI: not on the event loop
        await api(scope, receive, send)

    async def _lifespan(self, receive, send):
        watcher = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.state.reload_on_change:
                    watcher = asyncio.create_task(_watch_files(self.state))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if watcher is not None:
                    watcher.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _predict(self, scope, receive, send):
        headers = dict(scope["headers"])
        status, content = await predict_response(self.state.served, headers.get(b"content-type", b"").decode("latin-1"),
                                                 scope["query_string"].decode("latin-1"), _body_chunks(receive),
                                                 self.max_body_bytes)
        await _send(send, status, content)

    async def _health(self, scope, receive, send):
        await _send(send, 200, json_bytes(HEALTH))

    async def _model(self, scope, receive, send):
        await _send(send, 200, json_bytes(await asyncio.to_thread(model_facts, self.state)))

    async def _history(self, scope, receive, send):
        await _send(send, 200, json_bytes(history(self.state)))

    async def _training_data(self, scope, receive, send):
        try:
            await _send(send, 200, json_bytes(await asyncio.to_thread(training_points, self.state.served.record)))
        except XornetError as exc:
            await _send(send, STATUS.get(type(exc), 422), json_bytes({"error": str(exc)}))

    async def _page(self, scope, receive, send):
        await _send(send, 200, self.page, b"text/html; charset=utf-8")


HEALTH = {"status": "ok"}


def json_bytes(content) -> bytes:
    """`content` as JSON, written as FastAPI writes it (compact, UTF-8, no NaN)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def _send(send, status: int, content: bytes, content_type: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(content))]})
    await send({"type": "http.response.body", "body": content})


def model_facts(state: SimpleNamespace) -> dict:
    """What GET /model answers: the served model's description and how the server serves it."""
    return {**state.served.describe(state.reload_on_change), "reload_on_change": state.reload_on_change,
            "reload_error": state.reload_error, "tensorflow_imported": "tensorflow" in sys.modules}


def history(state: SimpleNamespace) -> dict:
    """What GET /model/history answers: the per-epoch history from the run record."""
    return state.served.record.get("history") or {}


async def predict_response(served, content_type: str, query: str, chunks: AsyncIterator[bytes],
                           max_body_bytes: int) -> tuple[int, bytes]:
    """(status, JSON body) answering POST /predict: the rows of `xornet predict --format json`, or {"error": "<one line>"}.

    Example:
        >>> await predict_response(served, "application/json", "", chunks_of(b'{"inputs": [[0, 1]]}'), 1000)
        (200, b'[{"input": [0, 1], "probability": 0.94..., "class": 1}]')
    """
    try:
        threshold = _threshold(query)
        body = await _read_body(chunks, max_body_bytes)
        rows = rows_from_body(body, content_type, served.predictor.input_width, served.encoding)
        if served.predictor.engine == "numpy":
            probabilities = predict_finite(served.predictor.predict, rows)  # microseconds: cheaper than a thread hop
        else:
            probabilities = await asyncio.to_thread(predict_finite, served.predictor.predict, rows)
        objects = rows_as_json_objects(rows, probabilities, to_classes(probabilities, threshold), **served.labels)
        return 200, json.dumps(objects, allow_nan=False).encode()
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


def training_points(record: dict) -> dict:
    """What GET /model/training-data answers: the training rows the run record names (at most 5000)."""
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


async def _watch_files(state: SimpleNamespace) -> None:
    """Reload the model when its files change, once they have stayed the same for one poll.

    A new version replaces the old in one assignment, and only after it loaded
    and matched its run record; until then the old version keeps serving.
    """
    seen = _files_state(state.served.paths.values())
    while True:
        await asyncio.sleep(RELOAD_POLL_SECONDS)
        now = _files_state(state.served.paths.values())
        if now == seen:
            continue
        seen = now
        await asyncio.sleep(RELOAD_POLL_SECONDS)
        if _files_state(state.served.paths.values()) != now:
            continue  # still being written: look again at the next poll
        try:
            state.served = await asyncio.to_thread(load_served_model, state.model_path, state.weights_path)
            state.reload_error = None
        except XornetError as exc:
            state.reload_error = str(exc)
