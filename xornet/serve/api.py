"""The FastAPI app of `xornet serve`: the OpenAPI documentation (/docs, /openapi.json) of every route.

`xornet.serve.app.ServeApp` answers the model's routes itself and hands every
other request (the docs, unknown paths, wrong methods) to this app, built on
the first such request. Its routes answer exactly as `ServeApp` does, from the
same state and the same functions.

Example:
    >>> api = create_api(create_app("models/basic_model.json"))
    >>> sorted(api.openapi()["paths"])[:2]
    ['/health', '/model']
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from xornet import __version__
from xornet.errors import XornetError
from xornet.serve.app import HEALTH, STATUS, history, model_facts, predict_response, training_points
from xornet.serve.schemas import PREDICT_REQUEST_DOC, ErrorBody, Health, PredictionRow


def create_api(front) -> FastAPI:
    """The FastAPI app documenting and answering the routes of `front` (a `ServeApp`), from its state."""
    state = front.state
    app = FastAPI(title="xornet serve", version=__version__,
                  description="Predictions of one saved xornet model, and a page to look at it.",
                  responses={422: {"model": ErrorBody, "description": "Inputs the model cannot take"}})

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
        """Predictions for rows given as JSON `{"inputs": [[0, 1], {"x1": 1, "x2": 0}, ...]}` or a CSV body, exactly as
        `xornet predict --format json` gives them: probabilities and classes (named as in the run record),
        or the value of a regression model. `?threshold=0.9`: class 1 above 0.9."""
        status, content = await predict_response(state.served, request.headers.get("content-type", ""),
                                                 request.url.query, request.stream(), front.max_body_bytes)
        return Response(content, status, media_type="application/json")

    @app.get("/health", response_model=Health)
    async def health():
        """Whether the server is up and serving its model."""
        return HEALTH

    @app.get("/model")
    async def model():
        """The architecture (layers, parameter counts), inputs, task, class names, the run record's
        key facts, and the files' SHA-256 with whether they still match the files on disk."""
        return await run_in_threadpool(model_facts, state)

    @app.get("/model/history")
    async def model_history():
        """The per-epoch training history from the run record: {"loss": [...], "accuracy": [...], ...}."""
        return history(state)

    @app.get("/model/training-data")
    async def training_data():
        """The training rows the run record names (at most 5000): {"inputs": [[...]], "labels": [...]}."""
        return await run_in_threadpool(training_points, state.served.record)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return front.page

    return app
