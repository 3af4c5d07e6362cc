"""Predictions without TensorFlow compute the same numbers as Keras."""

import json

import numpy as np
import pytest

from conftest import write
from xornet.predictor import load_predictor


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "relu6", "softplus", "softsign", "elu",
                                        "exponential", "silu", "swish", "linear"])
def test_numpy_matches_keras(workdir, xornet, activation):
    write("c.yaml", f"name: act\nseed: 9\ndata:\n  table: xor\n  inputs: 3\nmodel:\n  layers:\n"
                    f"    - {{type: Dense, units: 6, activation: {activation}}}\n    - {{type: Dropout, rate: 0.2}}\n"
                    f"    - {{type: Dense, units: 5}}\n    - {{type: Activation, activation: {activation}}}\n"
                    f"    - {{type: Dense, units: 1, activation: sigmoid}}\ntraining:\n  epochs: 20\n")
    assert xornet("train", "c.yaml", "-q").exit_code == 0
    predictor = load_predictor("models/basic_model.json")
    assert predictor.engine == "numpy" and predictor.input_width == 3
    import keras

    model = keras.models.model_from_json(open("models/basic_model.json").read())
    model.load_weights("models/basic_weights.h5")
    x = np.random.default_rng(1).normal(size=(50, 3)).astype("float32") * 3
    np.testing.assert_allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_softmax_output_and_keras_fallback(workdir, xornet):
    write("c.yaml", "name: soft\nseed: 2\ndata:\n  table: xor\nmodel:\n  layers:\n"
                    "    - {type: Dense, units: 4, activation: tanh}\n    - {type: Dense, units: 2, activation: softmax}\n"
                    "training:\n  loss: sparse_categorical_crossentropy\n  epochs: 30\n")
    assert xornet("train", "c.yaml", "-q").exit_code == 0, "train"
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
    numpy_predictor = load_predictor("models/basic_model.json")
    # An option the NumPy path does not know sends the model to Keras.
    config = json.loads(open("models/basic_model.json").read())
    config["config"]["layers"][1]["config"]["activation"] = "gelu"
    write("models/gelu_model.json", json.dumps(config))
    keras_predictor = load_predictor("models/gelu_model.json", "models/basic_weights.h5")
    assert (numpy_predictor.engine, keras_predictor.engine) == ("numpy", "keras")
    import keras

    model = keras.models.model_from_json(open("models/basic_model.json").read())
    model.load_weights("models/basic_weights.h5")
    np.testing.assert_allclose(numpy_predictor.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    result = xornet("predict", "--format", "json")
    rows = json.loads(result.stdout)
    assert len(rows[0]["probability"]) == 2 and rows[0]["class"] == int(np.argmax(rows[0]["probability"]))
