"""`xornet serve` against a plain FastAPI app calling Keras `model.predict`, same model, same requests.

A bounded load run on 127.0.0.1 only: a fixed number of single-row POST
/predict requests from a fixed number of concurrent clients (keep-alive
HTTP/1.1 connections, one request at a time each), stopping by itself. Both
servers are separate processes started here, one after the other, and get the
identical list of requests. Prints requests/s, p50/p99 latency, failures, and each server's CPU time per
request (steadier than wall time when other programs share the machine).

It also starts each server `--starts` times (after one untimed start) and
prints the seconds from starting the process to the first 200 answer on GET
/health: median, min and max. The servers may write Python bytecode caches
(__pycache__, as any installed package has them), so that the timed starts do
not include compiling xornet's own modules.

    python bench/serve_speed.py [--model models/basic_model.json] [--requests 500] [--clients 32] [--starts 5]

The plain app is what a competent Keras user writes: load the model once,
pydantic request model, `model.predict` per request in FastAPI's thread pool.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN_APP = '''
import sys

import keras
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = keras.models.model_from_json(open(sys.argv[1]).read())
model.load_weights(sys.argv[2])
app = FastAPI()


class Inputs(BaseModel):
    inputs: list[list[float]]


@app.post("/predict")
def predict(body: Inputs):
    probabilities = model.predict(np.array(body.inputs, dtype="float32"), verbose=0)
    return [{"input": row, "probability": float(p[0]), "class": int(p[0] > 0.5)}
            for row, p in zip(body.inputs, probabilities)]


@app.get("/health")
def health():
    return {"status": "ok"}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
'''


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment() -> dict:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def answers_health(port: int) -> bool:
    """True when GET /health on 127.0.0.1:port answers 200 (a refused or failed connection: False)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def start(command: list[str], port: int, poll_seconds: float = 0.2) -> subprocess.Popen:
    """Start a server and wait until GET /health answers (TensorFlow may take a while to import)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=server_environment())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {' '.join(command)}\n{process.stderr.read()}")
        if answers_health(port):
            return process
        time.sleep(poll_seconds)
    process.kill()
    raise SystemExit(f"server did not start: {' '.join(command)}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def start_up_seconds(name: str, command_on, starts: int) -> dict:
    """Seconds from starting the server process to its first 200 on GET /health, over `starts` timed starts.

    `command_on(port)` is the command line serving on that port; one untimed start comes first.
    """
    seconds = []
    for run in range(starts + 1):
        port = free_port()
        started = time.perf_counter()
        process = start(command_on(port), port, poll_seconds=0.005)
        if run:
            seconds.append(time.perf_counter() - started)
        stop(process)
    print(f"  {name}: first /health answer {statistics.median(seconds):.2f} s after start", file=sys.stderr, flush=True)
    return {"server": name, "median": statistics.median(seconds), "min": min(seconds), "max": max(seconds)}


async def client(port: int, bodies: list[bytes], latencies: list[float], failures: list[str]) -> None:
    """One keep-alive connection sending its requests one after another, checking each answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            request = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or "probability" not in json.loads(answer)[0]:
                failures.append(head.split(b"\r\n")[0].decode())
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def load(port: int, bodies: list[bytes], clients: int) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    shares = [bodies[i::clients] for i in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(client(port, share, latencies, failures) for share in shares))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(bodies), "seconds": seconds, "rps": len(latencies) / seconds,
            "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
            "failed": len(bodies) - len(latencies) + len(failures)}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; on a busy machine a steadier measure than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, command: list[str], port: int, bodies: list[bytes], clients: int) -> dict:
    process = start(command, port)
    try:
        asyncio.run(load(port, bodies[:64], clients))  # warm-up: connections, first calls
        cpu_before = cpu_seconds(process.pid)
        result = asyncio.run(load(port, bodies, clients))
        result["cpu_ms"] = 1000 * (cpu_seconds(process.pid) - cpu_before) / len(bodies)
    finally:
        stop(process)
    print(f"  {name}: {result['rps']:.0f} requests/s", file=sys.stderr, flush=True)
    return {"server": name, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models/basic_model.json"))
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--starts", type=int, default=5, help="timed starts of each server for the start-up figure")
    args = parser.parse_args()
    model = Path(args.model)
    weights = model.with_name(model.name.replace("_model.json", "_weights.h5"))
    rng = random.Random(0)
    bodies = [json.dumps({"inputs": [[rng.choice((0, 1)), rng.choice((0, 1))]]}).encode()
              for _ in range(args.requests)]
    plain_script = Path(os.environ.get("TMPDIR", "/tmp")) / "xornet_plain_keras_app.py"
    plain_script.write_text(PLAIN_APP)
    print(f"{args.requests} single-row POST /predict requests, {args.clients} concurrent clients, 127.0.0.1; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    servers = [
        ("xornet serve", lambda port: [sys.executable, "-m", "xornet", "serve", "--model", str(model), "--port", str(port)]),
        ("plain FastAPI + Keras model.predict",
         lambda port: [sys.executable, str(plain_script), str(model), str(weights), str(port)]),
    ]
    starts = [start_up_seconds(name, command_on, args.starts) for name, command_on in servers]
    rows = []
    for name, command_on in servers:
        port = free_port()
        rows.append(measure(name, command_on(port), port, bodies, args.clients))
    print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| server | requests/s | p50 ms | p99 ms | failed | server CPU ms/request |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['server']} | {row['rps']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['failed']} "
              f"| {row['cpu_ms']:.2f} |")
    print(f"\nxornet serve: {rows[0]['rps'] / rows[1]['rps']:.1f}x the plain app's throughput; "
          f"its NumPy predictor alone takes {predictor_microseconds(model):.0f} us for one row, so a request's time "
          "is HTTP, JSON and the event loop, which batching requests together would not shorten")
    print(f"\nStart-up: seconds from starting the process to the first 200 on GET /health, {args.starts} starts each\n")
    print("| server | median s | min s | max s |")
    print("| --- | ---: | ---: | ---: |")
    for row in starts:
        print(f"| {row['server']} | {row['median']:.2f} | {row['min']:.2f} | {row['max']:.2f} |")


def predictor_microseconds(model: Path, calls: int = 2000) -> float:
    """In-process time of one single-row call of the predictor `xornet serve` uses."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from xornet.predictor import load_predictor

    predict = load_predictor(model).predict
    row = np.array([[0, 1]], "float32")
    started = time.perf_counter()
    for _ in range(calls):
        predict(row)
    return (time.perf_counter() - started) / calls * 1e6


if __name__ == "__main__":
    main()
