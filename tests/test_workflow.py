"""Experiment workflow: config tools, restarts, evaluate, plots and TensorBoard (sweeps: test_sweep.py)."""

import json

import numpy as np
import pytest

from conftest import write
from xornet.cli.config_commands import fill_starter
from xornet.config import STARTER, Config, load_config


def test_config_init_show_validate(workdir, xornet):
    result = xornet("config", "init", "start.yaml")
    assert (result.exit_code, result.stdout) == (0, "Wrote start.yaml\n")
    assert (workdir / "start.yaml").read_text() == fill_starter(STARTER, "start")
    again = xornet("config", "init", "start.yaml")
    assert (again.exit_code, again.stderr) == (
        2, "error: start.yaml already exists; refusing to overwrite it (hint: pass --force, or give another PATH)\n")
    started = load_config(workdir / "start.yaml")
    assert started.model == Config().model and started.training.restarts == 3
    shown = xornet("config", "show", "start.yaml", "--set", "training.epochs=7")
    assert shown.exit_code == 0
    assert "training:\n  optimizer: sgd\n  learning_rate: 0.1\n" in shown.stdout and "  epochs: 7\n" in shown.stdout
    write("bad.yaml", "training:\n  epoch: 3\n")
    checked = xornet("config", "validate", "start.yaml", "bad.yaml", "configs/xor.yaml")
    assert checked.exit_code == 2
    assert checked.stdout == "ok: start.yaml\nok: configs/xor.yaml\n"
    assert checked.stderr.startswith("error: bad.yaml, line 2: unknown key training.epoch (did you mean 'epochs'?)")
    assert xornet("config", "validate", "configs/and.yaml").exit_code == 0


def test_restarts_keep_the_converged_attempt(workdir, xornet):
    result = xornet("train", "configs/seed.yaml", "--epochs", "300", "--set", "training.target_loss=0.5",
                    "--set", "training.restarts=3")
    assert result.exit_code == 0, result.stderr
    assert (
        "Attempt 1 of at most 4, seed 1: 300 epochs, loss 0.5531, accuracy 75.0%: not converged\n"
        "Attempt 2 of at most 4, seed 577090037: 300 epochs, loss 0.5207, accuracy 100.0%: not converged\n"
        "Attempt 3 of at most 4, seed 271041745: 163 epochs, loss 0.4983, accuracy 100.0%: converged\n"
    ) in result.stdout
    assert result.stderr == ""
    record = json.loads((workdir / "models/seed/basic_run.json").read_text())
    assert record["seed"] == 271041745 and [a["seed"] for a in record["attempts"]] == [1, 577090037, 271041745]
    assert [a["converged"] for a in record["attempts"]] == [False, False, True]


def test_restarts_without_convergence_keep_the_best_and_say_so(workdir, xornet):
    result = xornet("train", "configs/seed.yaml", "--set", "training.restarts=2")
    assert result.exit_code == 0
    record = json.loads((workdir / "models/seed/basic_run.json").read_text())
    losses = [a["final"]["loss"] for a in record["attempts"]]
    assert len(losses) == 3 and record["final"]["loss"] == min(losses) and record["converged"] is False
    assert result.stderr.startswith(f"warning: training did not converge (best of 3 attempts (seed {record['seed']}),")


def test_evaluate(trained, xornet):
    result = xornet("evaluate", "--data", "configs/xor.yaml")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "basic_model.json on truth table xor (4 rows, loss binary_crossentropy)\n"
        "loss       0.0498\naccuracy   100.0%\nprecision  1.0000\nrecall     1.0000\nf1         1.0000\n\n"
        "confusion matrix (rows: true class, columns: predicted class)\n"
        "         pred 0  pred 1\ntrue 0        2       0\ntrue 1        0       2\n")
    write("and.csv", "x1,x2,y\n0,0,0\n0,1,0\n1,0,0\n1,1,1\n")
    scores = json.loads(xornet("evaluate", "--data", "and.csv", "--format", "json").stdout)
    # The XOR model predicts 0, 1, 1, 0 against AND's 0, 0, 0, 1.
    assert scores["confusion_matrix"] == [[1, 2], [1, 0]]
    assert (scores["rows"], scores["accuracy"], scores["precision"], scores["recall"], scores["f1"]) == (4, 0.25, 0, 0, 0)
    import keras

    from xornet.predictor import load_predictor

    p = load_predictor("models/basic_model.json").predict(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32"))
    y = np.array([[0], [0], [0], [1]], "float32")
    assert scores["loss"] == pytest.approx(float(np.mean(keras.losses.binary_crossentropy(y, p))), rel=1e-5)
    wrong = xornet("evaluate", "--data", "configs/and.yaml", "--model", "models/basic_model.json", "-f", "csv")
    assert wrong.exit_code == 2 and "expected one of table, json, received 'csv'" in wrong.stderr  # offered: table, json


def test_plot_writes_a_real_picture(trained, xornet):
    result = xornet("plot", "models/basic_model.json")
    assert (result.exit_code, result.stdout) == (0, "Wrote models/basic_plot.png\n")
    from PIL import Image

    with Image.open(trained / "models/basic_plot.png") as image:
        assert image.size == (1350, 400)
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # curves, colour map and points, not blank
    from_record = xornet("plot", "models/basic_run.json", "--out", "pics/xor.png")
    assert from_record.exit_code == 0 and (trained / "pics/xor.png").stat().st_size > 10000


def test_tensorboard_scalars_read_back(workdir, xornet):
    result = xornet("train", "configs/xor.yaml", "--set", "training.tensorboard=tb", "-q")
    assert result.exit_code == 0, result.stderr
    import tensorflow as tf

    events = list((workdir / "tb/xor").glob("events.out.tfevents.*"))
    assert len(events) == 1
    scalars = {}
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    history = json.loads((workdir / "models/basic_run.json").read_text())["history"]
    assert sorted(scalars) == ["epoch_accuracy", "epoch_loss"]
    assert [step for step, _ in scalars["epoch_loss"]] == list(range(1, len(history["loss"]) + 1))
    np.testing.assert_allclose([v for _, v in scalars["epoch_loss"]], history["loss"], rtol=1e-6)
