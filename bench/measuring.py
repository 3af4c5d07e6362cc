"""What the bench scripts share: running a competitor in its own process, and the tabular network they train.

Example:
    >>> seconds, peak_mib, out = run_measured([sys.executable, "-c", "print(1)"])
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_measured(command: list[str], stdout=subprocess.PIPE, cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB, stdout) of one child process, the child's own max RSS from os.wait4.

    Its pipes are read before waiting, so a chatty child cannot block on a full pipe.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env, text=True, cwd=cwd)
    out = child.stdout.read() if stdout == subprocess.PIPE else ""
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(map(str, command[:4]))} failed:\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def tabular_config(data: Path, out: Path, epochs: int = 5, stream: bool | None = None) -> str:
    """The issue's tabular setup as a config: Dense(32, relu) x 2, Dense(1, sigmoid), Adam, batch 256."""
    stream_line = "" if stream is None else f"\n  stream: {str(stream).lower()}"
    return f"""\
name: bench
seed: 1
data:
  path: {data}
  label: y{stream_line}
model:
  layers:
    - {{type: Dense, units: 32, activation: relu}}
    - {{type: Dense, units: 32, activation: relu}}
    - {{type: Dense, units: 1, activation: sigmoid}}
training:
  optimizer: adam
  learning_rate: 0.001
  epochs: {epochs}
  batch_size: 256
output:
  dir: {out}
"""
