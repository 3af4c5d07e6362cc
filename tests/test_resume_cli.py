"""`xornet train --resume` through the real CLI: a run killed part way continues from its checkpoint."""

import csv
import os
import signal
import subprocess
import sys
import time

from conftest import write

CONFIG = """\
name: long_xor
seed: 3
training:
  epochs: 1000000
  checkpoint_every: 100
  target_loss: null
  restarts: 0
"""


def kill_after_checkpoint(config: str, checkpoint, env=None) -> None:
    """`xornet train config` in its own process, killed with SIGKILL once it has written `checkpoint`."""
    child = subprocess.Popen([sys.executable, "-m", "xornet", "train", config, "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 300
        while not checkpoint.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert checkpoint.exists(), "no checkpoint was written"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_killed_run_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(workdir, xornet):
    from xornet.checkpoint import load_checkpoint

    write("long.yaml", CONFIG)
    checkpoint = workdir / "models" / ".basic_checkpoint.npz"
    kill_after_checkpoint("long.yaml", checkpoint)
    assert not (workdir / "models" / "basic_model.json").exists()
    epoch = load_checkpoint(checkpoint).epoch
    total = epoch + 50

    resumed = xornet("train", "long.yaml", "--resume", "--epochs", total)
    assert resumed.exit_code == 0, resumed.stderr
    assert f"Trained {total} epochs, resumed from the checkpoint of epoch {epoch} " in resumed.stdout
    assert not checkpoint.exists()  # removed once the model files are saved
    with open(workdir / "models" / "basic_history.csv") as handle:
        resumed_losses = [float(row["loss"]) for row in csv.DictReader(handle)]

    straight = xornet("train", "long.yaml", "--epochs", total, "--output-dir", "straight", "-q")
    assert straight.exit_code == 0, straight.stderr
    with open(workdir / "straight" / "basic_history.csv") as handle:
        straight_losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(resumed_losses) == len(straight_losses) == total
    assert max(abs(a - b) for a, b in zip(resumed_losses, straight_losses)) <= 1e-6


def test_resume_without_a_checkpoint_is_one_clear_error(workdir, xornet):
    write("long.yaml", CONFIG)
    result = xornet("train", "long.yaml", "--resume")
    assert result.exit_code == 2
    assert result.stderr == ("error: --resume: no checkpoint to resume from (models/.basic_checkpoint.npz) "
                             "(hint: set training.checkpoint_every: N and train without --resume first)\n")
