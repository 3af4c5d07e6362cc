"""BatchNormalization, LeakyReLU and Flatten: configs, training, NumPy predictor, Keras 2 and 3 files, export."""

import json
import shutil

import numpy as np
import pytest

from conftest import write
from xornet.files.load import load_model
from xornet.predictor import load_predictor
from wild_keras import wild_dir

LAYERED = """\
name: layered
seed: 5
data:
  table: xor
  inputs: 3
model:
  layers:
    - {type: Flatten}
    - {type: Dense, units: 8}
    - {type: BatchNormalization, momentum: 0.5}
    - {type: LeakyReLU, negative_slope: 0.2}
    - {type: Dense, units: 6, activation: tanh}
    - {type: BatchNormalization, center: false, epsilon: 0.01}
    - {type: Dense, units: 4}
    - {type: BatchNormalization, scale: false}
    - {type: LeakyReLU}
    - {type: Dense, units: 1, activation: sigmoid}
training:
  optimizer: adam
  learning_rate: 0.05
  epochs: 60
  restarts: 0
"""
ROWS = np.random.default_rng(3).normal(size=(40, 3)).astype("float32") * 2


@pytest.fixture
def layered(workdir, xornet):
    write("layered.yaml", LAYERED)
    result = xornet("train", "layered.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    return workdir


def test_config_with_the_new_layers_trains_and_numpy_predicts_like_keras(layered, xornet):
    import keras

    model = keras.models.model_from_json(open("models/basic_model.json").read())
    model.load_weights("models/basic_weights.h5")
    assert [layer.__class__.__name__ for layer in model.layers] == [
        "Flatten", "Dense", "BatchNormalization", "LeakyReLU", "Dense", "BatchNormalization", "Dense",
        "BatchNormalization", "LeakyReLU", "Dense"]
    norm = model.layers[2]
    assert [w.shape for w in norm.get_weights()] == [(8,), (8,), (8,), (8,)]
    assert not np.allclose(norm.moving_mean.numpy(), 0)  # training moved the statistics
    assert [w.shape for w in model.layers[5].get_weights()] == [(6,), (6,), (6,)]  # no beta
    assert [w.shape for w in model.layers[7].get_weights()] == [(4,), (4,), (4,)]  # no gamma
    assert model.layers[3].get_config()["negative_slope"] == pytest.approx(0.2)
    predictor = load_predictor("models/basic_model.json")
    assert predictor.engine == "numpy"
    np.testing.assert_allclose(predictor.predict(ROWS), model.predict(ROWS, verbose=0), rtol=1e-6, atol=1e-6)
    result = xornet("predict", "--x", "1,0,1", "-f", "json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)[0]["probability"]
    assert got == pytest.approx(float(model.predict(np.array([[1, 0, 1]], "float32"), verbose=0)[0, 0]), abs=1e-6)
    summary = xornet("summary", "models/basic_model.json")
    assert "batch_normalization_1" in summary.stdout and "leaky_re_lu_1" in summary.stdout
    assert f"Total params: {model.count_params():,}" in summary.stdout


def test_new_layers_export_to_keras2_and_keras3(layered, xornet):
    import keras
    import tf_keras

    reference = load_model("models/basic_model.json").model.predict(ROWS, verbose=0)
    for to in ("keras2", "keras3"):
        assert xornet("export", "models/basic_model.json", f"out_{to}", "--to", to).exit_code == 0
    keras2 = tf_keras.models.model_from_json(open("out_keras2/basic_model.json").read())
    keras2.load_weights("out_keras2/basic_weights.h5")
    assert keras2.layers[3].get_config()["alpha"] == pytest.approx(0.2)
    np.testing.assert_allclose(keras2.predict(ROWS, verbose=0), reference, rtol=1e-6, atol=1e-6)
    keras3 = keras.models.model_from_json(open("out_keras3/basic_model.json").read())
    keras3.load_weights("out_keras3/basic.weights.h5")
    np.testing.assert_allclose(keras3.predict(ROWS, verbose=0), reference, rtol=1e-6, atol=1e-6)
    # Both exports read back, on the NumPy path, to the same numbers.
    for model, weights in (("out_keras2/basic_model.json", "out_keras2/basic_weights.h5"),
                           ("out_keras3/basic_model.json", "out_keras3/basic.weights.h5")):
        predictor = load_predictor(model, weights)
        assert predictor.engine == "numpy"
        np.testing.assert_allclose(predictor.predict(ROWS), reference, rtol=1e-6, atol=1e-6)


def _random_statistics(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.normal(size=w.shape).astype("float32") if "variance" not in w.name
                               else rng.uniform(0.5, 2, size=w.shape).astype("float32") for w in layer.weights])


def test_files_written_by_keras2_with_the_new_layers(tmp_path, xornet):
    import tf_keras

    model = tf_keras.Sequential([
        tf_keras.layers.Dense(7, input_dim=5), tf_keras.layers.BatchNormalization(epsilon=0.01),
        tf_keras.layers.LeakyReLU(alpha=0.1), tf_keras.layers.Flatten(), tf_keras.layers.Dense(3, activation="softmax")])
    _random_statistics(model, 1)
    (tmp_path / "net.json").write_text(model.to_json())
    model.save_weights(str(tmp_path / "net.h5"))  # Keras 2's layout: gamma, beta, moving_mean, moving_variance
    x = ROWS[:, :2].repeat(3, axis=1)[:, :5]
    predictor = load_predictor(tmp_path / "net.json")  # net.h5 beside net.json is found
    np.testing.assert_allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    keras_path = load_model(tmp_path / "net.json").model
    np.testing.assert_allclose(keras_path.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_files_written_by_keras3_with_the_new_layers(tmp_path):
    import keras

    model = keras.Sequential([
        keras.Input(shape=(4,)), keras.layers.Dense(6), keras.layers.BatchNormalization(center=False),
        keras.layers.LeakyReLU(negative_slope=0.05), keras.layers.Dense(2), keras.layers.BatchNormalization(),
        keras.layers.Activation("sigmoid")])
    _random_statistics(model, 2)
    (tmp_path / "k3.json").write_text(model.to_json())
    model.save_weights(str(tmp_path / "k3.weights.h5"))  # Keras 3's layout: layers/<name>/vars/0..3
    x = ROWS[:, :2].repeat(2, axis=1)
    predictor = load_predictor(tmp_path / "k3.json")
    assert predictor.engine == "numpy"
    np.testing.assert_allclose(predictor.predict(x), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_flatten_of_rows_is_a_no_op_and_of_images_is_refused(tmp_path, xornet):
    import keras

    model = keras.Sequential([keras.Input(shape=(4, 2)), keras.layers.Flatten(), keras.layers.Dense(1)])
    (tmp_path / "img.json").write_text(model.to_json())
    result = xornet("summary", tmp_path / "img.json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"error: {tmp_path}/img.json: layer 1 (Flatten) is not a layer xornet can run on input "
                             "of shape (None, 4, 2) (hint: xornet runs networks over flat rows of N inputs)\n")


def test_a_model_too_big_for_memory_is_refused_before_building(tmp_path, xornet):
    config = {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": {"name": "d", "units": 10**9, "batch_input_shape": [None, 1000]}}]}
    write(tmp_path / "big.json", json.dumps(config))
    write(tmp_path / "big.h5", "")
    for args in (("summary", tmp_path / "big.json"), ("predict", "-m", tmp_path / "big.json", "--x", "1")):
        result = xornet(*args)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(
            f"error: {tmp_path}/big.json: the network has 1,001,000,000,000 parameters (3,729.0 GiB as float32), "
            "more than this machine's memory holds (xornet loads up to ")


def test_keras3_compile_section_names_keras_functions(tmp_path, xornet):
    """Keras 3 writes its own losses by name as builtins functions: data. Code is still refused."""
    case = wild_dir() / "19_arinola-chatbot"
    config = json.loads((case / "model.json").read_text())
    config["compile_config"]["loss"] = {"module": "builtins", "class_name": "function",
                                        "config": "sparse_categorical_crossentropy", "registered_name": "function"}
    write(tmp_path / "model.json", json.dumps(config))
    shutil.copy(case / "weights.h5", tmp_path / "model.h5")
    result = xornet("summary", tmp_path / "model.json")
    assert result.exit_code == 0 and "Total params: 18,122" in result.stdout
    for evil, message in (
            ({"module": "os", "class_name": "system", "config": "rm"},
             "refused: class 'system' from module 'os' is not part of Keras; loading it could run code from outside Keras"),
            ({"class_name": "function", "config": {"code": "4wEAAA", "function_type": "lambda"}},
             "refused: a lambda would run code from the file"),
            ({"module": None, "class_name": "Loss", "registered_name": "mine>Loss", "config": {}},
             "refused: 'mine>Loss' is a custom class registered outside Keras")):
        config["compile_config"]["loss"] = evil
        write(tmp_path / "model.json", json.dumps(config))
        result = xornet("predict", "-m", tmp_path / "model.json", "--x", ",".join(["0"] * 71))
        assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path}/model.json: {message}\n")
