"""`xornet train --resume` through the real CLI: a run killed part way continues from its checkpoint."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import one_error, write

CONFIG = """\
name: long_xor
seed: 3
training:
  epochs: 1000000
  checkpoint_every: 100
  target_loss: null
  restarts: 0
"""


def kill_after_checkpoint(config: str, checkpoint, env=None, how=signal.SIGKILL, output=subprocess.DEVNULL):
    """`xornet train config` in its own process, killed (SIGKILL, or `how`) once it has written `checkpoint`;
    its (stdout, stderr) when `output` is subprocess.PIPE."""
    child = subprocess.Popen([sys.executable, "-m", "xornet", "train", config, "-q"],
                             stdout=output, stderr=output, env=env, text=True)
    try:
        deadline = time.monotonic() + 300
        while not checkpoint.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert checkpoint.exists(), "no checkpoint was written"
    finally:
        os.kill(child.pid, how)
        streams = child.communicate(timeout=60)
    return child.returncode, *streams


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
                             "(hint: the run never started, or stopped before its first checkpoint (epoch 100): "
                             "there is nothing to resume; train without --resume)\n")
    unset = xornet("train", "configs/xor.yaml", "--resume")
    assert (unset.exit_code, unset.stderr) == (
        2, "error: --resume: no checkpoint to resume from (training.checkpoint_every is not set) "
           "(hint: set training.checkpoint_every: N and train without --resume first)\n")


def test_resume_after_a_finished_run_says_there_is_nothing_to_resume(workdir, xornet):
    write("short.yaml", CONFIG.replace("1000000", "60").replace("100", "20"))
    assert xornet("train", "short.yaml", "-q").exit_code == 0
    result = xornet("train", "short.yaml", "--resume")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "error: --resume: no checkpoint to resume from (models/.basic_checkpoint.npz) (hint: the run "
               "finished and saved models/basic_model.json (its checkpoint is removed then): there is nothing to "
               "resume; train without --resume)\n")


def test_ctrl_c_keeps_the_checkpoint_and_says_resume_continues_from_it(workdir, xornet):
    """A real SIGINT to a real `xornet train` once it has written a checkpoint; then a resume with another
    learning rate is refused, naming only what differs, and the same config resumes."""
    from xornet.checkpoint import load_checkpoint

    write("long.yaml", CONFIG)
    checkpoint = workdir / "models" / ".basic_checkpoint.npz"
    code, _, stderr = kill_after_checkpoint("long.yaml", checkpoint, how=signal.SIGINT, output=subprocess.PIPE)
    epoch = load_checkpoint(checkpoint).epoch
    assert (code, stderr) == (
        130, "error: interrupted during training: the model files were not written (existing ones are untouched); "
             f"the checkpoint models/.basic_checkpoint.npz is kept: train again with --resume to continue from "
             f"epoch {epoch}\n")
    assert epoch >= 100 and not (workdir / "models" / "basic_model.json").exists()

    other = xornet("train", "long.yaml", "--resume", "--set", "training.learning_rate=0.05",
                   "--set", "training.momentum=0.5")
    assert (other.exit_code, other.stderr) == (
        2, "error: models/.basic_checkpoint.npz: the checkpoint is of a different run (training.learning_rate: "
           "0.1 -> 0.05; training.momentum: 0.0 -> 0.5) (hint: to start over, train with --force and without "
           "--resume; it replaces the checkpoint)\n")
    fewer = xornet("train", "long.yaml", "--resume", "--epochs", epoch - 1)
    assert one_error(fewer) == (f"error: --epochs {epoch - 1}: the checkpoint has {epoch:,} epochs trained already, "
                                f"more than training.epochs {epoch - 1} (hint: resume with --epochs {epoch} or more)")
    fresh = xornet("train", "long.yaml", "--epochs", 5)  # forgot --resume: the checkpoint is not thrown away
    assert one_error(fresh) == (f"error: models/.basic_checkpoint.npz: an interrupted run's checkpoint (epoch {epoch}) "
                                "would be replaced (hint: --resume continues it; --force starts over and replaces it)")
    assert load_checkpoint(checkpoint).epoch == epoch
    resumed = xornet("train", "long.yaml", "--resume", "--epochs", epoch + 10)
    assert resumed.exit_code == 0, resumed.stderr
    assert f"Trained {epoch + 10} epochs, resumed from the checkpoint of epoch {epoch} " in resumed.stdout


def test_training_again_over_a_checkpoint_needs_force_and_a_junk_checkpoint_is_named(workdir, xornet):
    write("long.yaml", CONFIG)
    checkpoint = workdir / "models" / ".basic_checkpoint.npz"
    kill_after_checkpoint("long.yaml", checkpoint)
    started_over = xornet("train", "long.yaml", "--epochs", 5, "--force")
    assert started_over.exit_code == 0, started_over.stderr
    assert "Trained 5 epochs in " in started_over.stdout and not checkpoint.exists()

    checkpoint.write_text("not a checkpoint")
    assert one_error(xornet("train", "long.yaml", "--resume")) == (
        "error: models/.basic_checkpoint.npz: not a readable xornet checkpoint (not a .npz archive) "
        "(hint: train without --resume to start over)")
    junk_replaced = xornet("train", "long.yaml", "--epochs", 1)  # nothing to keep in a junk file
    assert junk_replaced.exit_code == 0 and "Trained 1 epoch in " in junk_replaced.stdout


def test_resume_refuses_a_checkpoint_of_other_rows_of_the_same_shape(workdir, xornet):
    """The data file was edited after the run was killed: same rows and columns, other values."""
    rows = np.random.default_rng(0).normal(size=(200, 3)).round(3)
    labels = (rows[:, 0] > 0).astype(int)

    def write_rows(values):
        write("rows.csv", "a,b,c,label\n" + "".join(f"{a},{b},{c},{t}\n" for (a, b, c), t in zip(values, labels)))

    write_rows(rows)
    write("data.yaml", CONFIG.replace("training:", "data: {path: rows.csv, label: label, validation: 0.25}\ntraining:"))
    checkpoint = workdir / "models" / ".basic_checkpoint.npz"
    kill_after_checkpoint("data.yaml", checkpoint)
    write_rows(rows + 1)
    assert one_error(xornet("train", "data.yaml", "--resume", "-q")) == (
        "error: models/.basic_checkpoint.npz: the checkpoint is of a different run (the training or validation rows "
        "hold other values (the data file, or its split, changed)) (hint: to start over, train with --force and "
        "without --resume; it replaces the checkpoint)")
    write_rows(rows[:150])
    assert one_error(xornet("train", "data.yaml", "--resume", "-q")).startswith(
        "error: models/.basic_checkpoint.npz: the checkpoint is of a different run (training rows: 150 -> 112; "
        "validation rows: 50 -> 38) (hint: ")
