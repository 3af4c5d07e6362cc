"""`xornet serve` on a NumPy-servable model answers without importing FastAPI, pydantic or TensorFlow.

Those imports take most of a second; the app answers /health, /predict and the
model's routes without them, and imports FastAPI only for the docs and other
paths. Checked in a fresh interpreter (this pytest process has imported them all).
"""

import json
import subprocess
import sys

from conftest import REPO

HEAVY = ("fastapi", "starlette", "pydantic", "tensorflow", "keras", "xornet.config")

SCRIPT = """
import asyncio, json, sys

import httpx

from xornet.serve.app import create_app
from xornet.serve.server import uvicorn_config

HEAVY = {heavy!r}


async def ask(app, method, path, **body):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path, **body)
    return response.status_code, response.headers["content-type"], response.text


def imported():
    return sorted(name for name in HEAVY if name in sys.modules)


app = create_app({model!r})
uvicorn_config(app).load()
answers = {{"engine": app.state.served.predictor.engine, "after_start": imported(), "routes": []}}
for method, path, body in [("GET", "/health", {{}}), ("POST", "/predict", {{"json": {{"inputs": [[0, 1], [1, 1]]}}}}),
                           ("POST", "/predict", {{"content": "0,1\\n1,x\\n", "headers": {{"content-type": "text/csv"}}}}),
                           ("GET", "/model", {{}}), ("GET", "/model/history", {{}}), ("GET", "/", {{}})]:
    answers["routes"].append([method, path, *asyncio.run(ask(app, method, path, **body))[:2]])
answers["after_requests"] = imported()
status, _, text = asyncio.run(ask(app, "GET", "/openapi.json"))
answers["openapi"] = (status, sorted(json.loads(text)["paths"]))
answers["after_openapi"] = imported()
print(json.dumps(answers))
"""


def test_the_model_routes_answer_without_fastapi_pydantic_or_tensorflow():
    script = SCRIPT.format(heavy=HEAVY, model=str(REPO / "models/basic_model.json"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert answers.pop("engine") == "numpy"
    assert answers.pop("after_start") == []
    assert answers.pop("after_requests") == []
    assert answers.pop("openapi") == [200, ["/health", "/model", "/model/history", "/model/training-data", "/predict"]]
    # The docs need FastAPI (and with it pydantic and starlette); still no TensorFlow.
    assert answers.pop("after_openapi") == ["fastapi", "pydantic", "starlette"]
    assert answers.pop("routes") == [
        ["GET", "/health", 200, "application/json"],
        ["POST", "/predict", 200, "application/json"],
        ["POST", "/predict", 422, "application/json"],
        ["GET", "/model", 200, "application/json"],
        ["GET", "/model/history", 200, "application/json"],
        ["GET", "/", 200, "text/html; charset=utf-8"],
    ]
    assert answers == {}
