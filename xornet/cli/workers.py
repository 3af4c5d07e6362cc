"""Worker processes started by `--jobs` (sweep and tune): start them, wait with progress, stop them on Ctrl-C.

Example:
    >>> run_workers([sys.executable, "-m", "xornet", "sweep", ...], 2, lambda: None, "a sweep worker",
    ...             "run the sweep again to resume it")
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Callable

from xornet.errors import XornetError


def run_workers(command: list[str], jobs: int, on_poll: Callable[[], None], who: str, resume: str) -> None:
    """Run `jobs` processes of `command` and wait for them, calling `on_poll` every half second. On Ctrl-C (or an
    error while watching) they are stopped (`stop_workers`) and the exception goes on; a worker that failed is an XornetError naming
    `who` failed and how to `resume`."""
    workers = [subprocess.Popen(command) for _ in range(jobs)]
    try:
        while any(w.poll() is None for w in workers):
            time.sleep(0.5)
            on_poll()
    except BaseException:  # Ctrl-C, or a failure watching the study: no worker is left running
        stop_workers(workers)
        raise
    codes = [w.returncode for w in workers]
    if any(codes):
        raise XornetError(f"{who} failed (exit codes {codes}); {resume}")


def stop_workers(workers: list) -> None:
    """Stop the workers: on a terminal Ctrl-C reached them too (give them 2 s to put their trials back); else
    (a signal to this process alone) send it; one that has not stopped 30 s later is killed."""
    deadline = time.monotonic() + 2
    while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGINT)
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()
