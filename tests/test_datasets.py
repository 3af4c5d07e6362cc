"""The shipped datasets train to the promised test accuracy, and as well as a plain Keras script on the same split."""

import json
import shutil

import numpy as np
import pytest

from conftest import REPO


def plain_keras_test_accuracy(config_path: str, seed: int) -> float:
    """What a plain Keras script gets: the same split, Normalization, layers, optimizer, batch size, epochs and early stopping."""
    import keras

    from xornet.config import load_config
    from xornet.data import load_splits

    config = load_config(config_path)
    splits = load_splits(config, seed)
    keras.utils.set_random_seed(seed)
    normalization = keras.layers.Normalization()
    normalization.adapt(splits.train.x)
    layers = [keras.layers.Dense(layer.units, activation=layer.activation) for layer in config.model.layers]
    model = keras.Sequential([keras.Input(shape=(splits.train.width,)), normalization, *layers])
    t = config.training
    model.compile(optimizer=keras.optimizers.Adam(t.learning_rate), loss=t.loss, metrics=["accuracy"])
    callbacks, validation = [], (splits.validation.x, splits.validation.y)
    if t.early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(**t.early_stopping.model_dump()))
    model.fit(splits.train.x, splits.train.y, batch_size=t.batch_size, epochs=t.epochs, verbose=0,
              validation_data=validation, callbacks=callbacks)
    return model.evaluate(splits.test.x, splits.test.y, verbose=0)[1]


@pytest.mark.parametrize("name, target", [("breast_cancer", 0.95), ("iris", 0.93)])
def test_shipped_dataset_reaches_its_target_like_plain_keras(workdir, xornet, name, target):
    shutil.copytree(REPO / "data", workdir / "data")
    result = xornet("train", f"configs/{name}.yaml")
    assert result.exit_code == 0, result.stderr
    record = json.loads((workdir / f"models/{name}/basic_run.json").read_text())
    ours = record["held_out"]["test"]["accuracy"]
    assert ours >= target
    assert f"On the test rows ({record['held_out']['test']['rows']}): loss " in result.stdout
    scores = json.loads(xornet("evaluate", "-m", f"models/{name}/basic_model.json", "-f", "json").stdout)
    assert scores["accuracy"] == pytest.approx(ours)
    plain = plain_keras_test_accuracy(f"configs/{name}.yaml", record["data"]["splits"]["seed"])
    assert abs(ours - plain) <= 0.01 + 1e-9, (ours, plain)


def test_shipped_regression_dataset(workdir, xornet):
    shutil.copytree(REPO / "data", workdir / "data")
    assert xornet("train", "configs/diabetes.yaml", "-q").exit_code == 0
    scores = json.loads(xornet("evaluate", "-m", "models/diabetes/basic_model.json", "-f", "json").stdout)
    assert scores["rows"] == 88 and scores["r2"] > 0.3
    assert scores["rmse"] == pytest.approx(np.sqrt(scores["loss"]), rel=1e-4)
