"""`xornet train --resume` with streamed data (data.stream), through the real CLI: a run killed with SIGKILL
after a checkpoint continues from it and ends where an uninterrupted run does."""

import csv
import os
import tempfile

import numpy as np

from tests.conftest import write
from tests.test_resume_cli import kill_after_checkpoint
from tests.test_stream import make_rows, write_data

CONFIG = """\
name: long_stream
seed: 3
data:
  path: rows.csv
  label: label
  validation: 0.25
  normalize: true
  stream: true
model:
  layers:
    - {type: Dense, units: 8, activation: tanh}
    - {type: Dropout, rate: 0.2}
    - {type: Dense, units: 1, activation: sigmoid}
training:
  optimizer: adam
  learning_rate: 0.01
  loss: binary_crossentropy
  metrics: [accuracy]
  epochs: 1000000
  batch_size: 32
  checkpoint_every: 3
  learning_rate_schedule: {type: reduce_on_plateau, monitor: val_loss, patience: 2, factor: 0.5}
output:
  dir: models
"""


def history(path):
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    return {name: [float(row[name]) for row in rows] for name in rows[0]}


def weights(directory):
    import keras

    model = keras.models.model_from_json((directory / "basic_model.json").read_text())
    model.load_weights(directory / "basic_weights.h5")
    return model.get_weights()


def test_killed_streamed_run_resumes_and_matches_an_uninterrupted_run(workdir, xornet, monkeypatch):
    from xornet.checkpoint import load_checkpoint

    x, y = make_rows(1500)
    write_data("rows.csv", x, y)
    write("long.yaml", CONFIG)
    checkpoint = workdir / "models" / ".basic_checkpoint.npz"
    temp = workdir / "tmp"  # the killed run's CSV cache stays here, not in the system temp directory
    temp.mkdir()
    kill_after_checkpoint("long.yaml", checkpoint, env=dict(os.environ, TMPDIR=str(temp)))
    assert not (workdir / "models" / "basic_model.json").exists()
    epoch = load_checkpoint(checkpoint).epoch
    assert epoch % 3 == 0
    total = epoch + 5  # ends between two checkpoints

    write("other.yaml", CONFIG.replace("validation: 0.25", "validation: 0.3"))  # other rows train
    other = xornet("train", "other.yaml", "--resume")
    assert other.exit_code == 2
    assert other.stderr == ("error: models/.basic_checkpoint.npz: the checkpoint is of a different run (training rows: "
                            "1150 -> 1071; validation rows: 350 -> 429) (hint: to start over, train with --force and "
                            "without --resume; it replaces the checkpoint)\n")

    write_data("rows.csv", x + 1, y)  # the file edited: the same rows and columns, other numbers
    edited = xornet("train", "long.yaml", "--resume")
    assert (edited.exit_code, edited.stderr) == (
        2, "error: models/.basic_checkpoint.npz: the checkpoint is of a different run (the training or validation rows "
           "hold other values (the data file, or its split, changed)) (hint: to start over, train with --force and "
           "without --resume; it replaces the checkpoint)\n")
    write_data("rows.csv", x, y)

    write("memory.yaml", CONFIG.replace("stream: true", "stream: false"))  # the same rows, split another way
    memory = xornet("train", "memory.yaml", "--resume")
    assert memory.exit_code == 2
    assert memory.stderr == ("error: models/.basic_checkpoint.npz: the checkpoint is of a different run (data read "
                             "streamed then, in memory now) (hint: to start over, train with --force and without "
                             "--resume; it replaces the checkpoint)\n")

    (cache,) = temp.glob("xornet_stream_*")  # the killed run's CSV cache: deleted by the next streamed run
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    resumed = xornet("train", "long.yaml", "--resume", "--epochs", total)
    assert not cache.exists()
    assert resumed.exit_code == 0, resumed.stderr
    assert f"Trained {total} epochs, resumed from the checkpoint of epoch {epoch} " in resumed.stdout
    assert "engine fast (streamed)" in resumed.stdout
    assert not checkpoint.exists()  # removed once the model files are saved

    straight = xornet("train", "long.yaml", "--epochs", total, "--output-dir", "straight", "-q")
    assert straight.exit_code == 0, straight.stderr
    expected, got = history(workdir / "straight" / "basic_history.csv"), history(workdir / "models" / "basic_history.csv")
    assert sorted(got) == sorted(expected) and "val_loss" in got and "learning_rate" in got
    for name in expected:
        assert len(got[name]) == total
        np.testing.assert_allclose(got[name], expected[name], atol=1e-6, rtol=0, err_msg=name)
    for a, b in zip(weights(workdir / "models"), weights(workdir / "straight"), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)

