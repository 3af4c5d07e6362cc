"""Real users' Keras files (../shared/wild_keras, Keras 1.2 to 3): every network xornet can run loads in
summary, predict, evaluate and export with the numbers real Keras gives; every other one is refused by name."""

import json
import shutil

import numpy as np
import pytest

from wild_keras import WILD, wild_dir
from xornet.files.architecture import outputs_values
from xornet.files.load import load_model, read_architecture
from xornet.predictor import load_predictor

RUNNABLE = {"InputLayer", "Dense", "Activation", "Dropout", "BatchNormalization", "LeakyReLU", "Flatten"}
ORACLE = json.loads((WILD / "oracle.json").read_text()) if (WILD / "oracle.json").is_file() else []
CASES = [entry["dir"] for entry in ORACLE] or ["corpus-absent"]
WEIGHTED = [entry["dir"] for entry in ORACLE if entry.get("has_weights")] or ["corpus-absent"]
RTOL, ATOL = 1e-5, 1e-7  # relative, with a floor for softmax outputs of 1e-21 that float32 cannot resolve


@pytest.fixture
def case(request):
    folder = wild_dir() / request.param
    oracle = {entry["dir"]: entry for entry in json.loads((WILD / "oracle.json").read_text())}[request.param]
    return folder, oracle


def runnable(oracle) -> bool:
    """What the oracle says about a network, judged by xornet's rule: its layers, over flat rows of inputs."""
    return set(oracle["layers"]) <= RUNNABLE and oracle["input_width"] is not None


def expected(folder):
    data = json.loads((folder / "expected.json").read_text())
    return np.array(data["inputs"], "float32"), np.array(data["predictions"])


@pytest.mark.parametrize("case", CASES, indirect=True)
def test_summary_loads_or_refuses_by_name(case, xornet):
    folder, oracle = case
    result = xornet("summary", folder / "model.json")
    if runnable(oracle):
        assert result.exit_code == 0, result.stderr
        assert f"Total params: {oracle['params']:,} " in result.stdout
        return
    refused = next(name for name in oracle["layers"] if name not in RUNNABLE or name == "Flatten")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {folder}/model.json: layer ")
    assert f"({refused}) is not a layer xornet can run" in result.stderr
    index = int(result.stderr.split(": layer ")[1].split()[0])
    assert oracle["layers"][index] == refused
    predicted = xornet("predict", "-m", folder / "model.json", "-w", folder / "model.json")
    assert (predicted.exit_code, predicted.stderr) == (2, result.stderr)  # the same reader, the same refusal


@pytest.mark.parametrize("case", WEIGHTED, indirect=True)
def test_predict_evaluate_and_export_match_keras(case, xornet, tmp_path):
    folder, oracle = case
    model, weights = folder / "model.json", folder / "weights.h5"
    x, want = expected(folder)
    check_all_commands(xornet, tmp_path, model, weights, x, want, oracle["params"])


def check_all_commands(xornet, tmp_path, model, weights, x, want, params):
    """predict (NumPy and Keras), evaluate, and export --to keras3 read back by plain Keras 3, all giving `want`."""
    rows = tmp_path / "rows.csv"
    rows.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in x))
    result = xornet("predict", "-m", model, "-w", weights, "--input", rows, "-f", "json")
    assert result.exit_code == 0, result.stderr
    values = outputs_values(load_predictor(model, weights).output_activation)
    got = np.array([row["prediction" if values else "probability"] for row in json.loads(result.stdout)])
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=RTOL, atol=ATOL)
    assert load_predictor(model, weights).engine == "numpy"
    keras_model = load_model(model, weights).model
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), want, rtol=RTOL, atol=ATOL)

    if values and want.shape[1] == 1:  # a regression: scored by its values, labelled with Keras' own outputs
        labels = [repr(float(v)) for v in want[:, 0]]
    else:
        labels = np.argmax(want, axis=1) if want.shape[1] > 1 else (want[:, 0] > 0.5).astype(int)
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(",".join(f"x{i}" for i in range(x.shape[1])) + ",y\n" + "".join(
        ",".join(repr(float(v)) for v in row) + f",{label}\n" for row, label in zip(x, labels)))
    result = xornet("evaluate", "-m", model, "-w", weights, "--data", labelled, "-f", "json")
    if values and want.shape[1] > 1:  # several values a row: a label column cannot hold them
        assert result.exit_code == 2 and f"gives {want.shape[1]} values a row" in result.stderr
    else:
        assert result.exit_code == 0, result.stderr
        scores = json.loads(result.stdout)
        assert scores["rows"] == 5
        if values:
            assert scores["mae"] < 1e-4
        else:
            assert scores["accuracy"] == 1.0

    result = xornet("export", model, tmp_path / "k3", "--to", "keras3", "-w", weights)
    assert result.exit_code == 0, result.stderr
    import keras

    exported = keras.models.model_from_json((tmp_path / "k3/model_model.json").read_text())
    exported.load_weights(str(tmp_path / "k3/model.weights.h5"))
    assert exported.count_params() == params
    np.testing.assert_allclose(exported.predict(x, verbose=0), want, rtol=RTOL, atol=ATOL)


UNWEIGHTED = [entry["dir"] for entry in ORACLE if runnable(entry) and not entry.get("has_weights")] or ["absent"]


@pytest.mark.parametrize("case", UNWEIGHTED, indirect=True)
def test_networks_without_weights_predict_like_keras_with_made_up_weights(case, xornet, tmp_path):
    """Keras 1.2 files (no Keras loads them: xornet's Keras 3 build is the reference, checked against the
    oracle's hand count) and Keras 2 files with LeakyReLU and BatchNormalization (tf_keras is the reference)."""
    folder, oracle = case
    rng = np.random.default_rng(0)
    if oracle["loads_in_keras2"]:
        import tf_keras

        reference = tf_keras.models.model_from_json((folder / "model.json").read_text())
    else:
        reference = read_architecture(folder / "model.json")
    for layer in reference.layers:
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.name
                           else rng.normal(0, 0.05, w.shape).astype("float32") for w in layer.weights])
    weights = tmp_path / "weights.h5"
    if oracle["loads_in_keras2"]:
        reference.save_weights(str(weights))  # Keras 2's HDF5 layout
    else:
        from xornet.files.weights_h5 import write_weights_h5

        write_weights_h5(reference, weights)
    assert reference.count_params() == oracle["params"]
    x = rng.normal(size=(5, oracle["input_width"])).astype("float32")
    check_all_commands(xornet, tmp_path, folder / "model.json", weights, x, reference.predict(x, verbose=0),
                       oracle["params"])


def test_the_corpus_count():
    """What the README claims: how many of the corpus' files xornet reads."""
    oracle = json.loads((wild_dir() / "oracle.json").read_text())
    loaded = [entry["dir"] for entry in oracle if runnable(entry)]
    assert (len(oracle), len(loaded), sum(1 for e in oracle if runnable(e) and e.get("has_weights"))) == (28, 21, 17)


def test_keras2_pair_model_json_and_model_h5_is_found_by_default(tmp_path, xornet):
    """Keras 2 users saved `model.json` + `model.h5` (here a whole-model file with a model_weights group)."""
    folder = wild_dir() / "07_adeel-iris"
    shutil.copy(folder / "model.json", tmp_path / "model.json")
    shutil.copy(folder / "weights.h5", tmp_path / "model.h5")
    result = xornet("predict", "-m", tmp_path / "model.json", "-i", folder / "rows.csv", "-f", "json")
    assert result.exit_code == 0, result.stderr
    got = [row["probability"] for row in json.loads(result.stdout)]
    np.testing.assert_allclose(got, expected(folder)[1], rtol=RTOL, atol=ATOL)
