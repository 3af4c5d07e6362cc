"""data.normalize: true puts a Keras Normalization layer first; every command reads it like plain Keras does."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import REPO
from xornet.cli import app
from xornet.files.load import load_model
from xornet.predictor import load_predictor

WIDTHS = {"iris": 4, "breast_cancer": 30}


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module", params=sorted(WIDTHS))
def normalized(request, tmp_path_factory):
    """(directory, dataset name, raw test rows): the shipped config trained for 5 epochs, data beside configs/."""
    from xornet.config import load_config
    from xornet.data import load_splits

    name = request.param
    directory = tmp_path_factory.mktemp(name)
    shutil.copytree(REPO / "configs", directory / "configs")
    shutil.copytree(REPO / "data", directory / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        result = run("train", f"configs/{name}.yaml", "-q", "--epochs", "5")
        assert result.exit_code == 0, result.stderr
        record = json.loads((directory / f"models/{name}/basic_run.json").read_text())
        splits = load_splits(load_config(f"configs/{name}.yaml"), record["data"]["splits"]["seed"])
    return directory, name, splits


def files(normalized):
    directory, name, _ = normalized
    return directory / f"models/{name}/basic_model.json", directory / f"models/{name}/basic_weights.h5"


def plain_keras(normalized):
    import keras

    model_path, weights_path = files(normalized)
    model = keras.models.model_from_json(model_path.read_text())
    model.load_weights(str(weights_path))
    return model


def test_numpy_predict_equals_plain_keras_from_raw_features(normalized, tmp_path):
    _, name, splits = normalized
    model, rows = plain_keras(normalized), splits.test.x
    layer = model.layers[0]
    assert layer.__class__.__name__ == "Normalization"
    # Adapted on the training rows only, and the rows given are raw (not normalized beforehand).
    np.testing.assert_allclose(layer.adapt_mean.numpy(), splits.train.x.mean(axis=0), rtol=1e-5)
    assert np.abs(rows.mean(axis=0) - splits.train.x.mean(axis=0)).max() > 0
    assert np.abs(rows).max() > 3
    reference = model.predict(rows, verbose=0)
    predictor = load_predictor(files(normalized)[0])
    assert predictor.engine == "numpy"
    np.testing.assert_allclose(predictor.predict(rows), reference, rtol=1e-6, atol=1e-6)
    np.save(tmp_path / "rows.npy", rows)
    result = run("predict", "-m", files(normalized)[0], "--input", tmp_path / "rows.npy", "-f", "json")
    assert result.exit_code == 0, result.stderr
    got = np.array([row["probability"] for row in json.loads(result.stdout)])
    np.testing.assert_allclose(got.reshape(reference.shape), reference, rtol=1e-6, atol=1e-6)


def test_keras_path_equals_plain_keras(normalized):
    rows = normalized[2].test.x
    reference = plain_keras(normalized).predict(rows, verbose=0)
    loaded = load_model(files(normalized)[0]).model
    assert loaded.layers[0].__class__.__name__ == "Normalization"
    np.testing.assert_allclose(loaded.predict(rows, verbose=0), reference, rtol=1e-6, atol=1e-6)


def test_summary_counts_the_layer_as_keras_does(normalized):
    width = WIDTHS[normalized[1]]
    result = run("summary", files(normalized)[0])
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "normalization (Normalization)" in line)
    assert row.split("│")[-2].strip() == str(2 * width + 1)
    assert f" Non-trainable params: {2 * width + 1} " in result.stdout
    assert f"Total params: {plain_keras(normalized).count_params():,} " in result.stdout


def test_export_to_keras2_and_keras3_predicts_the_same(normalized, tmp_path):
    import keras
    import tf_keras

    rows = normalized[2].test.x
    reference = plain_keras(normalized).predict(rows, verbose=0)
    for to in ("keras2", "keras3"):
        result = run("export", files(normalized)[0], tmp_path / to, "--to", to)
        assert result.exit_code == 0, result.stderr
    keras2 = tf_keras.models.model_from_json((tmp_path / "keras2/basic_model.json").read_text())
    keras2.load_weights(str(tmp_path / "keras2/basic_weights.h5"))
    assert keras2.layers[0].__class__.__name__ == "Normalization"
    np.testing.assert_allclose(keras2.predict(rows, verbose=0), reference, rtol=1e-6, atol=1e-6)
    keras3 = keras.models.model_from_json((tmp_path / "keras3/basic_model.json").read_text())
    keras3.load_weights(str(tmp_path / "keras3/basic.weights.h5"))
    np.testing.assert_allclose(keras3.predict(rows, verbose=0), reference, rtol=1e-6, atol=1e-6)
    # Both exports read back on the NumPy path (Keras 2's HDF5 layout and Keras 3's) to the same numbers.
    for model, weights in (("keras2/basic_model.json", "keras2/basic_weights.h5"),
                           ("keras3/basic_model.json", "keras3/basic.weights.h5")):
        predictor = load_predictor(tmp_path / model, tmp_path / weights)
        assert predictor.engine == "numpy"
        np.testing.assert_allclose(predictor.predict(rows), reference, rtol=1e-6, atol=1e-6)


def test_evaluate_on_the_test_split(normalized):
    directory, name, splits = normalized
    result = run("evaluate", "-m", files(normalized)[0], "-f", "json")
    assert result.exit_code == 0, result.stderr
    scores = json.loads(result.stdout)
    record = json.loads((directory / f"models/{name}/basic_run.json").read_text())
    assert scores["rows"] == len(splits.test.x)
    assert scores["accuracy"] == pytest.approx(record["held_out"]["test"]["accuracy"])


def test_files_written_by_keras2_with_a_normalization_layer(tmp_path):
    import tf_keras

    rng = np.random.default_rng(7)
    train = (rng.normal(size=(50, 3)) * [1, 10, 100] + [5, -20, 300]).astype("float32")
    normalization = tf_keras.layers.Normalization(axis=-1, input_shape=(3,))
    model = tf_keras.Sequential([normalization, tf_keras.layers.Dense(4, activation="tanh"),
                                 tf_keras.layers.Dense(2, activation="softmax")])
    normalization.adapt(train)
    (tmp_path / "net.json").write_text(model.to_json())
    model.save_weights(str(tmp_path / "net.h5"))  # Keras 2's layout: mean, variance, count
    rows = (rng.normal(size=(20, 3)) * [1, 10, 100] + [5, -20, 300]).astype("float32")
    reference = model.predict(rows, verbose=0)
    predictor = load_predictor(tmp_path / "net.json")
    assert predictor.engine == "numpy"
    np.testing.assert_allclose(predictor.predict(rows), reference, rtol=1e-6, atol=1e-6)
    keras_path = load_model(tmp_path / "net.json").model
    np.testing.assert_allclose(keras_path.predict(rows, verbose=0), reference, rtol=1e-6, atol=1e-6)


@pytest.fixture
def keras3_normalized(tmp_path):
    """A Keras 3 model file with an adapted Normalization layer and its weights, in tmp_path."""
    import keras

    normalization = keras.layers.Normalization(axis=-1, name="norm")
    model = keras.Sequential([keras.Input(shape=(2,)), normalization, keras.layers.Dense(1, activation="sigmoid")])
    normalization.adapt(np.array([[0, 10], [1, 30]], "float32"))
    model.save_weights(str(tmp_path / "m.weights.h5"))
    return json.loads(model.to_json())


@pytest.mark.parametrize("option, value, expected", [
    ("invert", True, "option invert: expected false (xornet runs Normalization, not its inverse), received True"),
    ("axis", None, "option axis: expected the last axis (-1), received None"),
    ("axis", [0], "option axis: expected the last axis (-1), received 0"),
    ("mean", "a", "option mean: expected null (adapted) or a number or a list of them, received 'a'"),
    ("variance", [1.0, -2.0], "option variance: expected null (adapted) or a number at least 0 or a list of them, "
                              "received [1.0, -2.0]"),
    ("mean", [1.0, 2.0], "options mean and variance: expected both or neither (adapted), received only mean"),
])
def test_other_normalizations_are_refused_by_layer_and_option(keras3_normalized, tmp_path, option, value, expected):
    config = keras3_normalized
    config["config"]["layers"][1]["config"][option] = value
    (tmp_path / "m_model.json").write_text(json.dumps(config))
    for command in (["predict", "-m", tmp_path / "m_model.json", "-w", tmp_path / "m.weights.h5", "--x", "1,2"],
                    ["summary", tmp_path / "m_model.json"]):
        result = run(*command)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr == f"error: {tmp_path}/m_model.json: layer 1 ('norm', Normalization): {expected}\n"


def test_the_unchanged_file_loads(keras3_normalized, tmp_path):
    (tmp_path / "m_model.json").write_text(json.dumps(keras3_normalized))
    result = run("predict", "-m", tmp_path / "m_model.json", "-w", tmp_path / "m.weights.h5", "--x", "1,2")
    assert result.exit_code == 0, result.stderr


def test_served_model_describes_and_predicts_like_plain_keras(normalized):
    from xornet.serve.served_model import load_served_model

    width, rows = WIDTHS[normalized[1]], normalized[2].test.x
    served = load_served_model(files(normalized)[0])
    assert served.verified()
    first = served.describe()["layers"][0]
    assert (first["type"], first["params"]) == ("Normalization", 2 * width + 1)
    assert served.describe()["parameters"] == plain_keras(normalized).count_params()
    reference = plain_keras(normalized).predict(rows, verbose=0)
    np.testing.assert_allclose(served.predictor.predict(rows), reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "gelu"])  # the NumPy predictor, and Keras (gelu)
def test_a_normalization_given_its_mean_and_variance_predicts_like_keras(activation, tmp_path):
    """Keras 3's Normalization(mean=..., variance=...) keeps its statistics in the config, not in the weights."""
    import keras
    import tf_keras

    keras.utils.set_random_seed(3)
    norm = keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.0], name="norm")  # 0: epsilon
    model = keras.Sequential([keras.Input((3,)), norm, keras.layers.Dense(4, activation=activation),
                              keras.layers.Dense(1, activation="sigmoid")])
    (tmp_path / "m_model.json").write_text(model.to_json())
    model.save_weights(tmp_path / "m.weights.h5")
    model.save(tmp_path / "m.keras")
    rows = np.random.default_rng(0).normal(2, 3, size=(7, 3)).astype("float32")
    expected = model.predict(rows, verbose=0)
    for path in (tmp_path / "m_model.json", tmp_path / "m.keras"):
        predictor = load_predictor(path)
        assert predictor.engine == ("numpy" if activation == "sigmoid" else "keras")
        np.testing.assert_allclose(predictor.predict(rows), expected, rtol=1e-6, atol=1e-6)
    shown = run("summary", tmp_path / "m.keras")
    assert f"Total params: {model.count_params()} " in shown.stdout
    from xornet.serve.served_model import load_served_model

    described = load_served_model(tmp_path / "m.keras").describe()["layers"]  # what serve's GET /model shows
    assert [layer["params"] for layer in described] == [layer.count_params() for layer in model.layers] == [0, 16, 5]
    assert run("export", tmp_path / "m_model.json", tmp_path / "k2", "--to", "keras2").exit_code == 0
    keras2 = tf_keras.models.model_from_json((tmp_path / "k2/m_model.json").read_text(),
                                             custom_objects={"gelu": tf_keras.activations.gelu})
    keras2.load_weights(str(tmp_path / "k2/m_weights.h5"))
    np.testing.assert_allclose(keras2.predict(rows, verbose=0), expected, rtol=1e-6, atol=1e-6)
    config = json.loads(model.to_json())
    config["config"]["layers"][1]["config"]["mean"] = [1.0, 2.0]
    (tmp_path / "m_model.json").write_text(json.dumps(config))
    refused = run("predict", "-m", tmp_path / "m_model.json", "--x", "1,2,3")
    assert (refused.exit_code, refused.stderr) == (
        2, f"error: {tmp_path}/m_model.json: layer 'norm' (Normalization): option mean: expected 1 or 3 "
           "values (one per input), received 2\n")


def test_the_moments_are_summed_in_float64_as_streaming_sums_them():
    """Keras' adapt on a float32 array sums each column in float32: at 400,000 rows of a column centred on 1000
    its variance is far off; the layer xornet builds holds the float64 moments (cast to float32)."""
    import keras

    from xornet.preprocessing import normalization_layer

    x = (np.random.default_rng(0).normal(size=(400_000, 2)) * [1, 30] + [1000, -5]).astype("float32")
    exact = np.var(x.astype("float64"), axis=0)
    ours = normalization_layer(x)
    np.testing.assert_allclose(ours.adapt_variance.numpy(), exact, rtol=1e-6)
    np.testing.assert_allclose(ours.adapt_mean.numpy(), x.astype("float64").mean(axis=0), rtol=1e-7)
    theirs = keras.layers.Normalization(axis=-1)
    theirs.adapt(x)
    assert np.abs(theirs.adapt_variance.numpy() / exact - 1).max() > 1e-4


@pytest.mark.parametrize("stream", ["false", "true"])
def test_a_column_too_small_to_normalize_is_refused(tmp_path, stream, monkeypatch):
    """Keras' Normalization divides by at least 1e-7: a column varying by 1e-12 would come out near zero."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    rows = "".join(f"{a:.4f},{b:.3e},{int(a > 0)}\n" for a, b in zip(rng.normal(size=40), rng.normal(size=40) * 1e-12))
    (tmp_path / "tiny.csv").write_text("a,tiny,y\n" + rows)
    (tmp_path / "tiny.yaml").write_text(f"data:\n  path: tiny.csv\n  normalize: true\n  stream: {stream}\n"
                                        "training:\n  epochs: 1\n  batch_size: 8\n")
    result = run("train", "tiny.yaml")
    assert result.exit_code == 2
    std = float(np.std(np.array([float(line.split(",")[1]) for line in rows.splitlines()], "float32")
                       .astype("float64")))
    assert result.stderr == (
        f"error: {tmp_path / 'tiny.csv'}, column 'tiny': its values vary by too little to normalize (standard "
        f"deviation {std:.2g}, below the 1e-07 that Keras' Normalization divides by at least) (hint: rescale the "
        "column, or set data.normalize: false)\n")
