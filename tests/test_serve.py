"""`xornet serve`: a real server process on a loopback port, real HTTP requests (httpx)."""

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from conftest import REPO

XOR_ROWS = [[0, 0], [0, 1], [1, 0], [1, 1]]
# A model trained with data.missing: error refuses a missing cell as `xornet predict` does.
MISSING = ("missing value, expected a number (hint: fill it in: the model was trained with data.missing: error, "
           "which keeps no value to fill it with; a model trained with data.missing: mean or zero fills it)")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """configs/xor.yaml trained into a temp directory, through the real CLI."""
    directory = tmp_path_factory.mktemp("served") / "models"
    train(directory)
    return directory


def train(directory, *args, config=REPO / "configs/xor.yaml"):
    from typer.testing import CliRunner

    from xornet.cli import app

    result = CliRunner().invoke(app, ["train", str(config), "--output-dir", str(directory), "--quiet", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return directory / "basic_model.json"


def cli_json(*args):
    from typer.testing import CliRunner

    from xornet.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


class Server:
    """`python -m xornet serve ... --port 0` as a child process; the port is read from its first line."""

    def __init__(self, *args):
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "xornet", "serve", "--port", "0", *map(str, args)],
                                        stderr=subprocess.PIPE, text=True)
        self.first_line = self.process.stderr.readline()
        assert "Serving" in self.first_line, self.first_line + self.process.stderr.read()
        self.url = self.first_line.split(" on ")[1].split()[0]
        self.client = httpx.Client(base_url=self.url, timeout=10)
        assert self.client.get("/health").json() == {"status": "ok"}
        self.seconds_to_ready = time.perf_counter() - started

    def stop(self):
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(model_dir):
    running = Server("--model", model_dir / "basic_model.json")
    yield running
    assert running.stop() == 0


def test_predict_json_rows_match_xornet_predict(server, model_dir):
    expected = cli_json("predict", "--model", model_dir / "basic_model.json", "--format", "json")
    response = server.client.post("/predict", json={"inputs": XOR_ROWS})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected
    assert [row["class"] for row in expected] == [0, 1, 1, 0]


def test_json_rows_may_be_objects_keyed_by_the_records_feature_names(server, model_dir, tmp_path):
    expected = cli_json("predict", "--model", model_dir / "basic_model.json", "--format", "json")
    rows = [{"x2": x2, "x1": x1} for x1, x2 in XOR_ROWS]
    assert server.client.post("/predict", json={"inputs": rows}).json() == expected
    for name in ("basic_model.json", "basic_weights.h5"):  # plain Keras files: no run record names the inputs
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    running = Server("--model", tmp_path / "basic_model.json")
    try:
        response = running.client.post("/predict", json={"inputs": rows})
        assert (response.status_code, response.json()) == (422, {"error": (
            "request body, row 1: a row as an object needs the training features' names, and this model has no run "
            "record naming them; expected a list of numbers like [0, 1]")})
        assert running.client.post("/predict", json={"inputs": XOR_ROWS}).json() == expected
    finally:
        assert running.stop() == 0


def test_predict_csv_body_and_threshold_match_xornet_predict(server, model_dir):
    expected = cli_json("predict", "--model", model_dir / "basic_model.json", "--format", "json",
                        "--x", "0,1", "--x", "1,1", "--threshold", "0.95")
    response = server.client.post("/predict?threshold=0.95", content="x1,x2\n0,1\n1,1\n",
                                  headers={"content-type": "text/csv"})
    assert response.status_code == 200
    assert response.json() == expected
    assert [row["class"] for row in expected] == [0, 0]


def test_model_describes_network_run_and_files_without_tensorflow(server, model_dir):
    facts = server.client.get("/model").json()
    assert [(layer["type"], layer["params"]) for layer in facts["layers"]] == [
        ("Dense", 30), ("Activation", 0), ("Dense", 11), ("Activation", 0)]
    assert facts["parameters"] == 41
    assert facts["input"] == {"width": 2, "names": ["x1", "x2"], "features": ["x1", "x2"], "categories": {}}
    assert (facts["task"], facts["outputs"], facts["class_names"]) == ("binary classification", 1, None)
    assert (facts["engine"], facts["tensorflow_imported"], facts["verified"]) == ("numpy", False, True)
    assert facts["run"]["experiment"] == "xor" and facts["run"]["converged"] is True
    for role, name in (("model", "basic_model.json"), ("weights", "basic_weights.h5"), ("record", "basic_run.json")):
        assert facts["files"][role]["sha256"] == hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        assert facts["files"][role]["matches_disk"] is True
    assert facts["serving"].endswith("verified against the run record")
    history = server.client.get("/model/history").json()
    assert len(history["loss"]) == facts["run"]["epochs_run"]
    assert server.client.get("/model/training-data").json() == {
        "inputs": [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "labels": [[0.0], [1.0], [1.0], [0.0]]}


def test_start_up_is_quick(server):
    print(f"server ready {server.seconds_to_ready:.2f} s after the process started")
    assert server.first_line.startswith("Serving ")
    assert "(numpy engine, verified against its run record)" in server.first_line


def test_health_openapi_and_docs(server):
    assert server.client.get("/health").json() == {"status": "ok"}
    spec = server.client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {"/predict", "/health", "/model"}
    assert set(spec["paths"]["/predict"]["post"]["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert "swagger" in server.client.get("/docs").text.lower()


@pytest.mark.parametrize("body, content_type, status, error", [
    ('{"inputs": [[0, 1]', "application/json", 400,
     "request body: not valid JSON (Expecting ',' delimiter at line 1, column 19), expected {\"inputs\": [[0, 1], ...]}"),
    ('[[0, 1]]', "application/json", 422,
     'request body: expected an object with key "inputs" like {"inputs": [[0, 1], ...]}, received list'),
    ('{"inputs": []}', "application/json", 422,
     'request body: "inputs" must be a non-empty list of rows like [[0, 1]], received []'),
    ('{"inputs": [[0, 1, 1]]}', "application/json", 422,
     "request body, row 1: expected 2 numbers (the model's input width), received 3"),
    ('{"inputs": [[0, 1], [0, "1"]]}', "application/json", 422,
     'request body, row 2, column 2: expected a number, received "1"'),
    ('{"inputs": [[true, 1]]}', "application/json", 422,
     "request body, row 1, column 1: expected a number, received true"),
    ('{"inputs": [[0, NaN]]}', "application/json", 422,
     "request body, row 1, column 2: expected a finite number, received nan"),
    ('{"inputs": [[1e39, 0]]}', "application/json", 422,
     "request body, row 1, column 1: expected a finite number, received 1e+39 (1 such value)"),
    ('{"inputs": [[0, 1]], "threshold": 0.5}', "application/json", 422,
     "request body: unknown key 'threshold', expected only \"inputs\""),
    ("0,1\n1,x\n", "text/csv", 422, "request body, line 2, column 2: expected a number, received 'x'"),
    ("0,1\n1,\n", "text/csv", 422, f"request body, line 2, column 2: {MISSING}"),
    ('{"inputs": [[0, 1], [0, null]]}', "application/json", 422, f"request body, row 2, column 2: {MISSING}"),
    ("0,1,1\n", "text/csv", 422, "request body, line 1: expected 2 numbers (the model's input width), received 3"),
    ("0,1\n-inf,1\n", "text/csv", 422, "request body, line 2, column 1: expected a finite number, received '-inf' (1 such value)"),
    ("\xff", "text/csv", 400, "request body: not UTF-8 text, expected CSV rows of 2 numbers"),
    ("<x/>", "application/xml", 415,
     "request body: content type 'application/xml' is not supported, expected application/json or text/csv"),
])
def test_bad_requests_get_one_line_errors(server, body, content_type, status, error):
    response = server.client.post("/predict", content=body.encode("latin-1"), headers={"content-type": content_type})
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_bad_threshold_and_unknown_paths_are_json_errors(server):
    response = server.client.post("/predict?threshold=2", json={"inputs": [[0, 1]]})
    assert (response.status_code, response.json()) == (
        422, {"error": "threshold: expected a number from 0 to 1, received '2'"})
    response = server.client.get("/nothing")
    assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


def test_body_over_the_limit_is_refused_with_413(server):
    big = json.dumps({"inputs": [[0, 1]] * 200_000}).encode()
    assert len(big) > 1_000_000
    response = server.client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == (413, {"error": (
        "request body: larger than the limit of 1000000 bytes (hint: send fewer rows per request, "
        "or start the server with a larger --max-body-bytes)")})


def test_changed_files_are_not_used_and_model_says_so(model_dir, tmp_path):
    directory = tmp_path / "models"
    shutil.copytree(model_dir, directory)
    running = Server("--model", directory / "basic_model.json")
    try:
        before = running.client.post("/predict", json={"inputs": XOR_ROWS}).json()
        other = train(tmp_path / "other", "--seed", "7")
        shutil.copy(other.with_name("basic_weights.h5"), directory / "basic_weights.h5")
        assert running.client.post("/predict", json={"inputs": XOR_ROWS}).json() == before
        facts = running.client.get("/model").json()
        assert [facts["files"][role]["matches_disk"] for role in ("model", "weights", "record")] == [True, False, True]
        assert "weights changed on disk since, and is not used" in facts["serving"]
    finally:
        assert running.stop() == 0


def test_reload_on_change_swaps_in_the_retrained_model_only_once_it_verifies(model_dir, tmp_path):
    directory = tmp_path / "models"
    shutil.copytree(model_dir, directory)
    running = Server("--model", directory / "basic_model.json", "--reload-on-change")
    try:
        old = running.client.get("/model").json()["files"]["weights"]["sha256"]
        # A weights file that does not match the run record is refused; the old version keeps serving.
        other = train(tmp_path / "other", "--seed", "7")
        shutil.copy(other.with_name("basic_weights.h5"), directory / "basic_weights.h5")
        facts = wait_for(running, lambda facts: facts["reload_error"])
        assert "basic_weights.h5: does not match its run record" in facts["reload_error"]
        assert facts["files"]["weights"]["sha256"] == old
        assert facts["serving"].endswith("weights changed on disk since, and is not used until it loads "
                                         "(reload_error says why if it cannot)")
        # Retraining in place (an atomic, journaled save) is picked up.
        train(directory, "--seed", "7", "--force")
        facts = wait_for(running, lambda facts: facts["files"]["weights"]["sha256"] != old and not facts["reload_error"])
        assert facts["verified"] is True and facts["run"]["seed"] == 7
        expected = cli_json("predict", "--model", directory / "basic_model.json", "--format", "json")
        assert running.client.post("/predict", json={"inputs": XOR_ROWS}).json() == expected
    finally:
        assert running.stop() == 0


def wait_for(running, condition, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        facts = running.client.get("/model").json()
        if condition(facts):
            return facts
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {seconds} s: {facts}")


def test_sigterm_drains_the_request_in_flight_and_exits_0(model_dir):
    running = Server("--model", model_dir / "basic_model.json")
    half_sent, finish = threading.Event(), threading.Event()
    result = {}

    def body():
        yield b'{"inputs": [[0, 1]'
        half_sent.set()
        finish.wait(10)
        yield b"]}"

    def post():
        result["response"] = running.client.post("/predict", content=body(),
                                                  headers={"content-type": "application/json"})

    sender = threading.Thread(target=post)
    sender.start()
    assert half_sent.wait(10)
    time.sleep(0.3)
    running.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert running.process.poll() is None  # still draining the request in flight
    finish.set()
    sender.join(10)
    assert result["response"].status_code == 200
    assert result["response"].json()[0]["class"] == 1
    assert running.process.wait(timeout=30) == 0
    running.client.close()


def test_busy_port_and_missing_model_are_one_line_errors(xornet, model_dir):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = xornet("serve", "--model", model_dir / "basic_model.json", "--port", port)
    assert result.exit_code == 2
    assert result.stderr == (f"error: --host 127.0.0.1 --port {port}: cannot listen there: Address already in use "
                             "(hint: pick another --port, or stop the program using it)\n")
    result = xornet("serve", "--model", model_dir / "basic_model.json", "--host", "256.1.1.1", "--port", port)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --host 256.1.1.1 --port {port}: cannot listen there: ")
    assert result.stderr.endswith("(hint: --host takes an address of this machine: 127.0.0.1 (this machine only) or "
                                  "0.0.0.0 (every network interface))\n")
    result = xornet("serve", "--model", model_dir / "missing.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: model file not found: looked for {model_dir / 'missing.json'}")


@pytest.mark.parametrize("body, content_type", [
    ('{"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]]}', "application/json"),
    ("x1,x2\n0,1\n", "text/csv"),
    ('{"inputs": [[0, 1, 1]]}', "application/json"),
    ("0,1\n1,x\n", "text/csv"),
])
def test_fastapi_route_answers_as_the_fast_path(server, model_dir, body, content_type):
    import asyncio

    from xornet.serve.app import create_app

    async def ask_fastapi():
        api = create_app(model_dir / "basic_model.json").api
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            return await client.post("/predict?threshold=0.95", content=body, headers={"content-type": content_type})

    inner = asyncio.run(ask_fastapi())
    outer = server.client.post("/predict?threshold=0.95", content=body, headers={"content-type": content_type})
    assert (inner.status_code, inner.json()) == (outer.status_code, outer.json())


def test_keras_engine_for_layers_numpy_does_not_run_and_softmax_outputs(tmp_path):
    config = tmp_path / "gelu.yaml"
    config.write_text("name: gelu\nseed: 2\ndata:\n  table: xor\nmodel:\n  layers:\n"
                      "    - {type: Dense, units: 4, activation: gelu}\n    - {type: Dense, units: 2, activation: softmax}\n"
                      "training:\n  loss: sparse_categorical_crossentropy\n  epochs: 30\n")
    model = train(tmp_path / "models", config=config)
    running = Server("--model", model)
    try:
        facts = running.client.get("/model").json()
        assert (facts["engine"], facts["tensorflow_imported"]) == ("keras", True)
        assert (facts["task"], facts["outputs"], facts["parameters"]) == ("multi-class classification", 2, 22)
        expected = cli_json("predict", "--model", model, "--format", "json")
        assert running.client.post("/predict", json={"inputs": XOR_ROWS}).json() == expected
        assert len(expected[0]["probability"]) == 2
    finally:
        assert running.stop() == 0


@pytest.fixture(scope="module")
def shipped_models(tmp_path_factory):
    """The shipped iris (multi-class, class names), diabetes (regression) and breast cancer (binary, class names)
    configs trained through the real CLI; breast cancer for 5 epochs only, to be quick."""
    root = tmp_path_factory.mktemp("shipped")
    return {name: train(root / name, *args, config=REPO / f"configs/{name}.yaml")
            for name, args in (("iris", ()), ("diabetes", ()), ("breast_cancer", ("--epochs", "5")))}


def data_lines(name, numbers):
    """The header and the data lines `numbers` (counted from 1) of data/<name>.csv, as the file writes them."""
    lines = (REPO / f"data/{name}.csv").read_text().splitlines()
    return lines[0], [lines[n] for n in numbers]


@pytest.mark.parametrize("name, numbers", [("iris", (1, 51, 101, 150)), ("diabetes", (1, 2, 3)),
                                           ("breast_cancer", (1, 20))])
def test_predict_answers_exactly_as_xornet_predict_with_class_names_or_values(shipped_models, name, numbers):
    model = shipped_models[name]
    header, lines = data_lines(name, numbers)
    label = header.split(",").index({"iris": "species", "diabetes": "progression"}.get(name, "diagnosis"))
    rows = [[cell for k, cell in enumerate(line.split(",")) if k != label] for line in lines]
    expected = cli_json("predict", "--model", model, "--format", "json", *(a for row in rows for a in ("--x", ",".join(row))))
    running = Server("--model", model)
    try:
        assert running.client.post("/predict", json={"inputs": [[float(c) for c in row] for row in rows]}).json() == expected
        # A CSV body with the training file's header and label column, as `xornet predict --input -` reads it.
        csv = running.client.post("/predict", content="\n".join([header, *lines]) + "\n", headers={"content-type": "text/csv"})
        assert csv.json() == expected
        facts = running.client.get("/model").json()
    finally:
        assert running.stop() == 0
    if name == "iris":
        assert facts["class_names"] == ["setosa", "versicolor", "virginica"]
        assert [row["class"] for row in expected] == ["setosa", "versicolor", "virginica", "virginica"]
        assert [list(row["probabilities"]) for row in expected] == [["setosa", "versicolor", "virginica"]] * 4
    elif name == "diabetes":
        assert (facts["task"], facts["class_names"]) == ("regression", None)
        assert [sorted(row) for row in expected] == [["input", "prediction"]] * 3
    else:
        assert facts["class_names"] == ["benign", "malignant"]
        assert {row["class"] for row in expected} <= {"benign", "malignant"}
        assert [row["probabilities"] for row in expected] == [  # one sigmoid: the probability of malignant
            {"benign": 1 - row["probability"], "malignant": row["probability"]} for row in expected]


def test_outputs_too_large_to_be_finite_are_refused_as_xornet_predict_refuses_them(shipped_models, xornet):
    model = shipped_models["diabetes"]
    row = ",".join(["1e37"] * 10)
    result = xornet("predict", "--model", str(model), "--x", row, "--format", "json")
    assert result.exit_code == 2
    running = Server("--model", model)
    try:
        response = running.client.post("/predict", json={"inputs": [[1e37] * 10]})
    finally:
        assert running.stop() == 0
    assert response.status_code == 422
    assert "error: " + response.json()["error"] == result.stderr.strip().splitlines()[0]
