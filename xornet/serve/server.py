"""Running the app with uvicorn: bind first (a busy port is a one-line error), drain on SIGTERM, exit 0.

Example:
    >>> serve_model("models/basic_model.json", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import sys
from pathlib import Path

import uvicorn

from xornet.errors import InputError

DRAIN_SECONDS = 30


def serve_model(model_path: str | Path, weights_path: str | Path | None = None, host: str = "127.0.0.1",
                port: int = 8000, max_body_bytes: int | None = None, reload_on_change: bool = False) -> None:
    """Load and verify the model, listen on host:port, serve until SIGTERM or Ctrl-C, then drain.

    Example:
        >>> serve_model("models/basic_model.json", host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    from xornet.serve.app import MAX_BODY_BYTES, create_app

    app = create_app(model_path, weights_path, max_body_bytes or MAX_BODY_BYTES, reload_on_change)
    sock = _listen(host, port)
    served = app.state.served
    print(f"Serving {served.model_path} ({served.predictor.engine} engine, "
          f"{'verified against its run record' if served.verified() else 'no run record to verify it'}) "
          f"on http://{host}:{sock.getsockname()[1]} (Ctrl-C or SIGTERM to stop)", file=sys.stderr, flush=True)
    _DrainingServer(uvicorn_config(app)).run(sockets=[sock])


def uvicorn_config(app) -> uvicorn.Config:
    """How uvicorn runs `app`: quiet, the app's lifespan, no WebSocket protocol (none is served, and
    importing one is start-up time), and up to DRAIN_SECONDS to finish requests in flight on shutdown.

    Example:
        >>> uvicorn_config(create_app("models/basic_model.json")).load()
    """
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="none",
                          timeout_graceful_shutdown=DRAIN_SECONDS)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        raise InputError(f"--host {host} --port {port}: cannot listen there: {exc.strerror}",
                         hint="pick another --port, or stop the program using it" if in_use else
                         "--host takes an address of this machine: 127.0.0.1 (this machine only) or 0.0.0.0 (every "
                         "network interface)") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, except that a shutdown asked by SIGTERM or SIGINT ends with exit code 0.

    uvicorn drains in-flight requests, then re-raises the signal so the process
    dies of it (exit -15); for a server told to stop, stopping is success.
    """

    @contextlib.contextmanager
    def capture_signals(self):
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
