"""`xornet train` through the real CLI and real Keras."""

import json
import re

import h5py
import numpy as np

from conftest import write

SUMMARY = """\
Model: "xor"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┓
┃ Layer (type)                  ┃ Output Shape          ┃      Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━┩
│ dense (Dense)                 │ (None, 10)            │           30 │
├───────────────────────────────┼───────────────────────┼──────────────┤
│ activation (Activation)       │ (None, 10)            │            0 │
├───────────────────────────────┼───────────────────────┼──────────────┤
│ dense_1 (Dense)               │ (None, 1)             │           11 │
├───────────────────────────────┼───────────────────────┼──────────────┤
│ activation_1 (Activation)     │ (None, 1)             │            0 │
└───────────────────────────────┴───────────────────────┴──────────────┘
 Total params: 41 (164.00 B)
 Trainable params: 41 (164.00 B)
 Non-trainable params: 0 (0.00 B)
"""


def test_train_reference_experiment(workdir, xornet):
    result = xornet("train", "configs/xor.yaml")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    head = (
        "Experiment xor (configs/xor.yaml), seed 42\n"
        "Data: truth table xor, 4 rows, 2 inputs\n"
        "Training: 3000 epochs, full batch, sgd learning rate 0.1, loss binary_crossentropy, target loss 0.05\n"
    )
    assert out.startswith(head + SUMMARY)
    rest = out[len(head + SUMMARY):]
    assert re.fullmatch(
        r"Stopped at epoch 788 of 3000 \(loss below target 0\.05\) in \d+\.\d\d s \(seed 42, engine fast\)\n"
        r"Final on the training rows: loss 0\.0498, accuracy 100\.0%\n"
        r"\n"
        r"x1 x2  probability  class  target\n"
        r"0 0         0\.0283      0       0\n"
        r"0 1         0\.9404      1       1\n"
        r"1 0         0\.9525      1       1\n"
        r"1 1         0\.0587      0       0\n"
        r"\n"
        r"Wrote models/basic_model\.json, models/basic_weights\.h5, models/basic_history\.csv, models/basic_run\.json\n",
        rest,
    ), rest
    record = json.loads((workdir / "models/basic_run.json").read_text())
    assert record["experiment"] == "xor" and record["seed"] == 42 and record["epochs_run"] == 788
    assert record["stop_reason"] == "target_loss" and record["engine"] == "fast" and record["converged"] is True
    assert record["final"]["accuracy"] == 1.0 and record["final"]["loss"] < 0.05
    assert len(record["history"]["loss"]) == 788 and record["config"]["training"]["epochs"] == 3000
    assert set(record["versions"]) == {"xornet", "python", "tensorflow", "keras", "h5py", "numpy"}
    assert (workdir / "models/basic_history.csv").read_text().splitlines()[0] == "epoch,loss,accuracy"
    assert len((workdir / "models/basic_history.csv").read_text().splitlines()) == 789
    # The JSON is exactly Keras' to_json(); the weights are HDF5 in Keras 2's layout.
    import keras

    model = keras.models.model_from_json((workdir / "models/basic_model.json").read_text())
    assert model.to_json() == (workdir / "models/basic_model.json").read_text()
    with h5py.File(workdir / "models/basic_weights.h5") as f:
        assert [n.decode() for n in f.attrs["layer_names"]] == ["dense", "activation", "dense_1", "activation_1"]


def test_rerun_same_experiment_replaces_files(trained, xornet):
    result = xornet("train", "configs/xor.yaml", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_other_experiment_is_not_overwritten_silently(trained, xornet):
    before = {p.name: p.read_bytes() for p in (trained / "models").iterdir()}
    result = xornet("train", "configs/seed.yaml", "--output-dir", "models")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: models/basic_model.json already holds a model of a different experiment (name: 'xor' -> 'seed'); "
        "refusing to overwrite it (hint: pass --force to replace it, or --output-dir DIR to write elsewhere)\n"
    )
    assert {p.name: p.read_bytes() for p in (trained / "models").iterdir()} == before
    forced = xornet("train", "configs/seed.yaml", "--output-dir", "models", "--force", "--quiet")
    assert forced.exit_code == 0
    assert json.loads((trained / "models/basic_run.json").read_text())["experiment"] == "seed"


def test_model_of_unknown_origin_is_not_overwritten(workdir, xornet):
    write("models/basic_model.json", "{}")
    result = xornet("train", "configs/xor.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: models/basic_model.json already holds a model with no run record (origin unknown); refusing to "
        "overwrite it with experiment 'xor' (hint: pass --force to replace it, or --output-dir DIR to write elsewhere)\n"
    )
    assert (workdir / "models/basic_model.json").read_text() == "{}"


def test_not_converged_says_so(workdir, xornet):
    result = xornet("train", "configs/seed.yaml")
    assert result.exit_code == 0
    assert "Trained 100 epochs in " in result.stdout
    assert "Final on the training rows: loss 0.6746, accuracy 50.0%" in result.stdout
    assert result.stderr == (
        "warning: training did not converge (loss 0.6746, accuracy 50.0%): try more epochs (--epochs 1000) "
        "or another seed (--seed N, or seed: null)\n"
    )
    assert json.loads((workdir / "models/seed/basic_run.json").read_text())["converged"] is False


def test_options_override_the_config(workdir, xornet):
    result = xornet("train", "configs/xor.yaml", "--epochs", "20", "--seed", "7", "--output-dir", "out", "--set", "training.restarts=0",
                    "--set", "training.learning_rate=0.5", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    record = json.loads((workdir / "out/basic_run.json").read_text())
    assert record["seed"] == 7 and record["epochs_run"] == 20
    assert record["config"]["training"]["learning_rate"] == 0.5
    assert record["overrides"] == ["training.restarts=0", "training.learning_rate=0.5", "training.epochs=20", "seed=7",
                                   "output.dir='out'"]


def test_null_seed_records_the_seed_used(workdir, xornet):
    first = xornet("train", "configs/xor.yaml", "--set", "seed=null", "--epochs", "5", "--output-dir", "a", "-q",
                    "--set", "training.restarts=0")
    assert first.exit_code == 0, first.stderr
    record = json.loads((workdir / "a/basic_run.json").read_text())
    assert isinstance(record["seed"], int) and record["config"]["seed"] == record["seed"]
    again = xornet("train", "configs/xor.yaml", "--seed", record["seed"], "--epochs", "5", "--output-dir", "b", "-q",
                    "--set", "training.restarts=0")
    assert again.exit_code == 0
    assert json.loads((workdir / "b/basic_run.json").read_text())["history"] == record["history"]


def test_gradient_descent_modes_and_perceptrons(workdir, xornet):
    for name, stem in [("xor_sgd", "xor_sgd"), ("xor_minibatch", "xor_minibatch"), ("and", "and"), ("or", "or")]:
        result = xornet("train", f"configs/{name}.yaml", "--quiet")
        assert result.exit_code == 0, result.stderr
        record = json.loads((workdir / f"models/{stem}/basic_run.json").read_text())
        assert record["final"]["accuracy"] == 1.0, name


def test_train_from_csv_and_npy(workdir, xornet):
    write("data/gate.csv", "a,b,noise,target\n0,0,5,0\n0,1,5,1\n1,0,5,1\n1,1,5,0\n")
    write("csv.yaml", "name: csv\nseed: 3\ndata:\n  path: data/gate.csv\n  features: [a, b]\n  label: target\n"
                      "model:\n  layers:\n    - {type: Dense, units: 8, activation: tanh}\n"
                      "    - {type: Dropout, rate: 0.1}\n    - {type: Dense, units: 1, activation: sigmoid}\n"
                      "training:\n  epochs: 30\noutput:\n  dir: csv_out\n")
    result = xornet("train", "csv.yaml")
    assert result.exit_code == 0, result.stderr
    assert "Data: data/gate.csv, 4 rows, 2 inputs\n" in result.stdout
    assert "a b  probability  class  target\n" in result.stdout
    np.save(workdir / "data/gate.npy", np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype="float32"))
    write("npy.yaml", "name: npy\ndata:\n  path: data/gate.npy\ntraining:\n  epochs: 5\noutput:\n  dir: npy_out\n")
    result = xornet("train", "npy.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads((workdir / "npy_out/basic_run.json").read_text())["data"]["features"] == ["0", "1"]


def test_nan_loss_stops_with_a_clear_message_and_writes_nothing(trained, xornet):
    before = {p.name: p.read_bytes() for p in (trained / "models").iterdir()}
    write("boom.yaml", "name: xor\nseed: 1\nmodel:\n  layers:\n    - {type: Dense, units: 4, input_dim: 2}\n"
                       "    - {type: Dense, units: 1}\ntraining:\n  loss: mean_squared_error\n  learning_rate: 1000\n"
                       "  metrics: []\n  epochs: 200\n")
    result = xornet("train", "boom.yaml", "-q", "--force")  # another experiment: --force passes the guard
    assert result.exit_code == 1
    assert re.fullmatch(
        r"error: training stopped at epoch \d+: the loss became (nan|inf) \(hint: lower training.learning_rate, "
        r"or check the data for very large values\)\n", result.stderr)
    assert {p.name: p.read_bytes() for p in (trained / "models").iterdir()} == before


def test_bad_inputs_to_train(workdir, xornet):
    def error(*args):
        result = xornet("train", *args)
        assert result.exit_code == 2, result.stdout
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        return result.stderr.strip()

    assert error("missing.yaml") == (
        "error: missing.yaml: config file not found (hint: check the path, or run `xornet config init`)")
    write("typo.yaml", "name: t\ntraining:\n  epoch: 5\n")
    assert error("typo.yaml").startswith("error: typo.yaml, line 3: unknown key training.epoch (did you mean 'epochs'?)")
    assert error("configs/xor.yaml", "--epochs", "-3") == (
        "error: --epochs -3: training.epochs: expected a value greater than or equal to 1, received -3")
    write("wide.yaml", "data:\n  table: xor\n  inputs: 3\nmodel:\n  layers:\n    - {type: Dense, units: 10, input_dim: 2}\n"
                       "    - {type: Dense, units: 1, activation: sigmoid}\n")
    assert error("wide.yaml") == (
        "error: wide.yaml: model.layers.0.input_dim is 2, but the data (truth table xor) has 3 feature columns "
        "(hint: make them agree, or leave input_dim out to take the width from the data)")
    write("labels.csv", "a,b,y\n0,0,0\n0,1,2\n")
    write("labels.yaml", "data:\n  path: labels.csv\n")
    assert error("labels.yaml") == (
        f"error: {workdir / 'labels.csv'}, line 3: label 'y' is 2, expected 0 or 1 for loss binary_crossentropy (1 such row)")
    write("text.csv", "a,b,y\n0,x,0\n")
    write("text.yaml", "data:\n  path: text.csv\n")
    assert error("text.yaml") == (f"error: {workdir / 'text.csv'}, line 2, column 'b': expected a number, received 'x' "
                                  "(hint: a column of text: add it to data.categorical to one-hot encode it, or leave "
                                  "it out with data.features)")
    write("typo.csv", "a,b,y\n0,1,0\n0,x,1\n1,0,1\n")  # one mistyped cell in a column of numbers: no such hint
    write("typo.yaml", "data:\n  path: typo.csv\n")
    assert error("typo.yaml") == f"error: {workdir / 'typo.csv'}, line 3, column 'b': expected a number, received 'x'"
    write("cols.yaml", "data:\n  path: labels.csv\n  label: lbl\n")
    assert error("cols.yaml") == (
        f"error: {workdir / 'labels.csv'}: data.label: no column named 'lbl'; the file has columns: a, b, y")
    write("nodata.yaml", "data:\n  path: none.csv\n")
    assert error("nodata.yaml") == ("error: nodata.yaml: data.path: file not found: none.csv (hint: a path in a config "
                                    "is relative to the config's folder)")  # as config validate and summary say


def test_debug_shows_the_traceback(workdir, xornet):
    result = xornet("--debug", "train", "missing.yaml")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stderr.endswith(
        "error: missing.yaml: config file not found (hint: check the path, or run `xornet config init`)\n")


def test_the_weights_early_stopping_keeps_are_named_stopped_early_or_not(workdir, xornet):
    """Keras' EarlyStopping with restore_best_weights restores the best epoch at the end of training, also when it
    never stops early; without restore_best_weights the last epoch's weights are kept, and named as no other."""
    import shutil

    from conftest import REPO

    shutil.copytree(REPO / "data", workdir / "data")
    run = ["train", "configs/breast_cancer.yaml", "--set", "training.learning_rate=0.05", "--epochs", "15"]
    result = xornet(*run, "--set", "training.early_stopping.patience=100")
    assert result.exit_code == 0, result.stderr
    import csv

    val_loss = [float(row["val_loss"]) for row in csv.DictReader(open("models/breast_cancer/basic_history.csv"))]
    best = int(np.argmin(val_loss)) + 1
    assert best < 15  # a learning rate this high overshoots: the last epoch is not the best one
    assert f"Trained 15 epochs (weights of epoch {best}, the best val_loss) in " in result.stdout
    result = xornet(*run, "--set", "training.early_stopping.patience=1", "--set",
                    "training.early_stopping.restore_best_weights=false", "--force")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"\nStopped early at epoch \d+ of 15 \(no val_loss progress\) in ", result.stdout), result.stdout
