"""Validation, early stopping, schedules, class weights, checkpoints, chunking and normalization
in the fast trainer each equal what plain Keras' model.fit computes."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xornet.trainer as trainer
from xornet.config import TrainingConfig, validate_config
from xornet.errors import InputError
from xornet.network import build_model, compile_model
from xornet.trainer import resolve_class_weight, train_model

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 2)).astype("float32")
Y = (X[:, :1] * X[:, 1:] > 0).astype("float32")
XV = rng.normal(size=(13, 2)).astype("float32")
YV = rng.integers(0, 2, size=(13, 1)).astype("float32")  # noise: validation loss soon rises


def fresh_model(training, seed=5, layers=None, optimizer=None):
    config = validate_config({"model": {"layers": layers}} if layers else {})
    model = build_model(config, 2, seed)
    compile_model(model, training)
    if optimizer is not None:  # the reference: a Keras optimizer made by hand
        model.compile(optimizer=optimizer, loss=training.loss, metrics=list(training.metrics))
    return model


def fit_reference(training, callbacks=(), optimizer=None, validation=(XV, YV), **fit_args):
    model = fresh_model(training, optimizer=optimizer)
    history = model.fit(X, Y, epochs=training.epochs, batch_size=training.batch_size or len(X), shuffle=False,
                        verbose=0, validation_data=validation, callbacks=list(callbacks), **fit_args).history
    return model, history


def assert_same(result, model, reference, history, tolerance=1e-5):
    assert sorted(result.history) == sorted(history)
    for name in history:
        np.testing.assert_allclose(result.history[name], history[name], rtol=tolerance, atol=tolerance)
    for mine, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("engine", ["fast", "keras"])
def test_validation_metrics_equal_fit(engine):
    training = TrainingConfig(epochs=12, batch_size=8, shuffle=False, engine=engine)
    reference, history = fit_reference(training)
    model = fresh_model(training)
    result = train_model(model, X, Y, training, seed=5, validation=(XV, YV))
    assert list(result.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert_same(result, model, reference, history)


@pytest.mark.parametrize("settings", [
    {"patience": 3, "restore_best_weights": True},
    {"monitor": "val_accuracy", "patience": 2, "min_delta": 0.01, "start_from_epoch": 3, "baseline": 0.6},
])
def test_early_stopping_equals_keras_callback(settings):
    import keras

    training = TrainingConfig(epochs=60, batch_size=8, shuffle=False, learning_rate=0.5, early_stopping=settings)
    reference, history = fit_reference(training, [keras.callbacks.EarlyStopping(**settings)])
    model = fresh_model(training)
    result = train_model(model, X, Y, training, seed=5, validation=(XV, YV))
    assert result.stop_reason == "early_stopping" and result.epochs_run == len(history["loss"]) < 60
    assert_same(result, model, reference, history)


@pytest.mark.parametrize("text, message", [
    ("training:\n  early_stopping: {monitor: val_acuracy}\n",
     "c.yaml, line 2: training.early_stopping: monitor 'val_acuracy' is not reported; expected one of loss, accuracy, "
     "val_loss, val_accuracy (did you mean 'val_accuracy'?)"),
    ("training:\n  early_stopping: {patience: -1}\n",
     "c.yaml, line 2: training.early_stopping.patience: expected a value greater than or equal to 0, received -1"),
    ("training:\n  learning_rate_schedule: {type: exponential_decay, decay_steps: 10, alpha: 0.1}\n",
     "c.yaml, line 2: training.learning_rate_schedule: alpha does not go with type exponential_decay; "
     "expected keys: type, decay_steps, decay_rate, staircase"),
    ("training:\n  learning_rate_schedule: {type: cosine_decay}\n",
     "c.yaml, line 2: training.learning_rate_schedule: type cosine_decay needs decay_steps, received no decay_steps key"),
    ("training:\n  learning_rate_schedule: {type: step_decay}\n",
     "c.yaml, line 2: training.learning_rate_schedule.type: expected 'exponential_decay', 'cosine_decay' or "
     "'reduce_on_plateau', received 'step_decay' (did you mean 'cosine_decay'?)"),
    ("training:\n  loss: huber\n  class_weight: balanced\n",
     "c.yaml, line 3: training.class_weight: class weights need a classification loss (binary_crossentropy, "
     "binary_focal_crossentropy, categorical_crossentropy, ...), received loss 'huber'"),
    ("training:\n  class_weight: {0: -2}\n",
     "c.yaml, line 2: training.class_weight: expected balanced or a mapping {class: weight} (for example "
     "{0: 1.0, 1: 3.0}); the weight of class 0 must be a number >= 0, received -2"),
    ("training:\n  engine: keras\n  checkpoint_every: 5\n",
     "c.yaml, line 3: training.checkpoint_every: checkpoints need engine auto or fast, received engine 'keras'"),
])
def test_config_errors(workdir, xornet, text, message):
    (workdir / "c.yaml").write_text(text)
    result = xornet("config", "validate", "c.yaml")
    assert result.exit_code == 2 and result.stderr == f"error: {message}\n"


def test_a_check_of_two_keys_names_the_set_that_broke_it(workdir, xornet):
    (workdir / "c.yaml").write_text("training:\n  checkpoint_every: 5\n")
    result = xornet("config", "show", "c.yaml", "--set", "training.engine=keras")
    assert (result.exit_code, result.stderr) == (2, "error: --set training.engine=keras: training.checkpoint_every: "
                                                 "checkpoints need engine auto or fast, received engine 'keras'\n")


def test_early_stopping_on_validation_needs_validation_data():
    training = TrainingConfig(epochs=5, early_stopping={"patience": 2})
    with pytest.raises(InputError, match=r"training.early_stopping.monitor is 'val_loss' but there is no validation"):
        train_model(fresh_model(training), X, Y, training)


@pytest.mark.parametrize("schedule", [
    {"type": "exponential_decay", "decay_steps": 3, "decay_rate": 0.5, "staircase": True},
    {"type": "cosine_decay", "decay_steps": 20, "alpha": 0.1},
])
def test_learning_rate_schedules_equal_keras(schedule):
    import keras

    training = TrainingConfig(epochs=10, batch_size=8, shuffle=False, learning_rate=0.5,
                              learning_rate_schedule=schedule)
    arguments = {k: v for k, v in schedule.items() if k != "type"}
    make = {"exponential_decay": keras.optimizers.schedules.ExponentialDecay,
            "cosine_decay": keras.optimizers.schedules.CosineDecay}[schedule["type"]]
    reference, history = fit_reference(training, optimizer=keras.optimizers.SGD(make(0.5, **arguments)))
    model = fresh_model(training)
    result = train_model(model, X, Y, training, seed=5, validation=(XV, YV))
    assert_same(result, model, reference, history)
    assert float(model.optimizer.learning_rate) < 0.4  # the schedule is in use: 50 steps later, a lower rate


def test_reduce_on_plateau_equals_keras_callback():
    import keras

    settings = {"monitor": "val_loss", "factor": 0.5, "patience": 1, "min_delta": 0.01, "cooldown": 1}
    training = TrainingConfig(epochs=15, batch_size=8, shuffle=False, learning_rate=0.5,
                              learning_rate_schedule={"type": "reduce_on_plateau", **settings})
    reference, history = fit_reference(training, [keras.callbacks.ReduceLROnPlateau(**settings)])
    model = fresh_model(training)
    result = train_model(model, X, Y, training, seed=5, validation=(XV, YV))
    assert result.history["learning_rate"][0] == 0.5 and result.history["learning_rate"][-1] < 0.1
    assert_same(result, model, reference, history)


@pytest.mark.parametrize("setting", ["balanced", {0: 1.0, 1: 4.0}])
def test_class_weight_equals_fit(setting):
    y = Y.copy()
    y[:12] = 1.0  # unbalanced: more ones than zeros
    training = TrainingConfig(epochs=8, batch_size=16, shuffle=False, class_weight=setting)
    weights = resolve_class_weight(setting, y)
    reference = fresh_model(training)
    history = reference.fit(X, y, epochs=8, batch_size=16, shuffle=False, verbose=0, class_weight=weights).history
    model = fresh_model(training)
    result = train_model(model, X, y, training, seed=5)
    assert_same(result, model, reference, history)


def test_balanced_class_weight_is_scikit_learns():
    # n_samples / (n_classes * bincount): 4 rows, 2 classes, 3 zeros and 1 one.
    assert resolve_class_weight("balanced", np.array([[0.0], [0.0], [0.0], [1.0]])) == {0: 4 / 6, 1: 2.0}
    assert resolve_class_weight({"dog": 2, "0": 3}, np.zeros((2, 1)), ["cat", "dog"]) == {1: 2.0, 0: 3.0}
    with pytest.raises(InputError, match=r"training.class_weight: unknown class 'cow'"):
        resolve_class_weight({"cow": 2}, np.zeros((2, 1)), ["cat", "dog"])


def test_chunks_of_batches_equal_whole_epochs(monkeypatch):
    training = TrainingConfig(epochs=6, batch_size=4, shuffle=True, optimizer="adam", learning_rate=0.05)
    whole = fresh_model(training)
    expected = train_model(whole, X, Y, training, seed=3, validation=(XV, YV))
    monkeypatch.setattr(trainer, "CHUNK_SECONDS", 0.0)  # compiled calls of a single batch (a few of 4)
    monkeypatch.setattr(trainer, "FIRST_CALL_ROWS", 1)
    calls = []
    model = fresh_model(training)
    result = train_model(model, X, Y, training, seed=3, validation=(XV, YV),
                         progress=lambda done, total, logs: calls.append(done))
    assert calls[0] == 0.1 and calls[-1] == 6 and len(calls) > 40  # 10 batches an epoch, reported part way
    for name in expected.history:
        np.testing.assert_allclose(result.history[name], expected.history[name], rtol=1e-6, atol=1e-7)
    for mine, theirs in zip(model.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)


KILLED_RUN = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    from pathlib import Path
    from xornet.config import TrainingConfig, validate_config
    from xornet.network import build_model, compile_model
    from xornet.trainer import train_model

    def run(checkpoint, resume=False, kill_at=None):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(24, 2)).astype("float32")
        y = (x[:, :1] * x[:, 1:] > 0).astype("float32")
        xv = rng.normal(size=(8, 2)).astype("float32")
        yv = (xv[:, :1] * xv[:, 1:] > 0).astype("float32")
        config = validate_config({"model": {"layers": [
            {"type": "Dense", "units": 8, "activation": "tanh"}, {"type": "Dropout", "rate": 0.3},
            {"type": "Dense", "units": 1, "activation": "sigmoid"}]}})
        training = TrainingConfig(epochs=16, batch_size=5, optimizer="adam", learning_rate=0.05, checkpoint_every=4,
                                  early_stopping={"patience": 100, "restore_best_weights": True})
        model = build_model(config, 2, 7)
        compile_model(model, training)

        def progress(done, total, logs):
            if kill_at is not None and done >= kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        result = train_model(model, x, y, training, seed=7, progress=progress, validation=(xv, yv),
                             checkpoint_path=checkpoint, resume=resume)
        return model, result

    if __name__ == "__main__":
        model, result = run(Path(sys.argv[1]), resume=sys.argv[2] == "resume",
                            kill_at=int(sys.argv[3]) if len(sys.argv) > 3 else None)
        np.savez(sys.argv[1] + ".out.npz", *model.get_weights())
        Path(sys.argv[1] + ".history.json").write_text(json.dumps([result.history, result.resumed_from]))
""")


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN)
    checkpoint = tmp_path / "run.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    killed = subprocess.run([sys.executable, str(script), str(checkpoint), "new", "10"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    from xornet.checkpoint import load_checkpoint

    assert load_checkpoint(checkpoint).epoch == 8  # checkpoints at 4 and 8; killed during epoch 10
    resumed = subprocess.run([sys.executable, str(script), str(checkpoint), "resume"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    history, resumed_from = json.loads((tmp_path / "run.npz.history.json").read_text())
    sys.path.insert(0, str(tmp_path))
    try:
        import killed_run
    finally:
        sys.path.remove(str(tmp_path))
    model, result = killed_run.run(tmp_path / "uninterrupted.npz")
    assert resumed_from == 8 and len(history["loss"]) == 16
    for name in result.history:
        np.testing.assert_allclose(history[name], result.history[name], rtol=1e-6, atol=1e-7)
    with np.load(tmp_path / "run.npz.out.npz") as stored:
        for index, weights in enumerate(model.get_weights()):
            np.testing.assert_allclose(stored[f"arr_{index}"], weights, rtol=1e-6, atol=1e-7)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    training = TrainingConfig(epochs=4, checkpoint_every=2)
    train_model(fresh_model(training), X, Y, training, seed=1, checkpoint_path=tmp_path / "c.npz")
    other = TrainingConfig(epochs=4, checkpoint_every=2, learning_rate=0.5)
    with pytest.raises(InputError, match=r"c.npz: the checkpoint is of a different run \(training.learning_rate: 0.1 -> 0.5\)"):
        train_model(fresh_model(other), X, Y, other, seed=1, checkpoint_path=tmp_path / "c.npz", resume=True)
    with pytest.raises(InputError, match=r"missing.npz: no checkpoint to resume from"):
        train_model(fresh_model(training), X, Y, training, checkpoint_path=tmp_path / "missing.npz", resume=True)


def test_normalization_layer_survives_plain_keras_loading(tmp_path):
    import keras

    from xornet.files.weights_h5 import write_weights_h5
    from xornet.preprocessing import normalization_layer

    raw = (X * [1000.0, 0.01] + [5000.0, -3.0]).astype("float32")  # features on very different scales
    model = keras.Sequential([keras.Input(shape=(2,)), normalization_layer(raw), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    np.testing.assert_allclose(model.layers[0](raw).numpy().mean(axis=0), [0, 0], atol=1e-4)
    (tmp_path / "m.json").write_text(model.to_json())
    write_weights_h5(model, tmp_path / "w.h5")
    loaded = keras.models.model_from_json((tmp_path / "m.json").read_text())
    loaded.load_weights(tmp_path / "w.h5")
    np.testing.assert_allclose(loaded.predict(raw, verbose=0), model.predict(raw, verbose=0), rtol=1e-6, atol=1e-7)


def test_plot_and_tensorboard_show_validation(workdir, xornet, tmp_path):
    import tensorflow as tf

    from xornet.tensorboard import write_scalars

    history = {"loss": [0.7, 0.6], "accuracy": [0.5, 0.75], "val_loss": [0.8, 0.65], "val_accuracy": [0.4, 0.6]}
    write_scalars(tmp_path / "tb", history)
    read = {}
    for folder in ("", "validation"):
        (event,) = (tmp_path / "tb" / folder).glob("events.out.tfevents.*")
        for record in tf.compat.v1.train.summary_iterator(str(event)):
            for value in record.summary.value:
                read[(folder, value.tag)] = read.get((folder, value.tag), []) + [float(tf.make_ndarray(value.tensor))]
    assert read == {("", "epoch_loss"): pytest.approx([0.7, 0.6]), ("", "epoch_accuracy"): pytest.approx([0.5, 0.75]),
                    ("validation", "epoch_loss"): pytest.approx([0.8, 0.65]),
                    ("validation", "epoch_accuracy"): pytest.approx([0.4, 0.6])}


def test_plot_draws_validation_beside_training(trained, xornet):
    import csv

    from PIL import Image

    def orange_pixels(name):
        assert xornet("plot", "models/basic_model.json", "--out", name).exit_code == 0
        with Image.open(trained / name) as image:
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        return int(np.all(pixels == [255, 127, 14], axis=1).sum())  # matplotlib's tab:orange

    assert orange_pixels("plain.png") == 0
    path = trained / "models/basic_history.csv"
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "val_loss", "val_accuracy"])
        writer.writeheader()
        writer.writerows({**row, "val_loss": float(row["loss"]) + 0.1, "val_accuracy": 0.5} for row in rows)
    assert orange_pixels("validation.png") > 100
