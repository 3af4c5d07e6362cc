"""Model files: Keras 2 files in, files every Keras reads out, integrity, and never losing a model."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, write
from xornet.files.load import load_model
from xornet.predictor import load_predictor

FIXTURES = REPO / "tests/fixtures/keras2"
XOR = [[0, 0], [0, 1], [1, 0], [1, 1]]


@pytest.mark.parametrize("model, weights", [
    ("xor", "xor"), ("xor24", "xor"), ("xor20", "xor"), ("deep_relu", "deep_relu"), ("softmax", "softmax")])
def test_keras2_files_predict_like_keras2(model, weights, xornet, tmp_path):
    """Files written by real Keras 2 (tf_keras); the expected numbers are what Keras 2 predicted."""
    expected = json.loads((FIXTURES / f"{weights}_predictions.json").read_text())
    inputs = np.array(expected["inputs"], "float32")
    np.save(tmp_path / "in.npy", inputs)
    result = xornet("predict", "-m", FIXTURES / f"{model}_model.json", "-w", FIXTURES / f"{weights}_weights.h5",
                    "--input", tmp_path / "in.npy", "--format", "json")
    assert result.exit_code == 0, result.stderr
    got = [row["probability"] for row in json.loads(result.stdout)]
    want = np.array(expected["predictions"])
    np.testing.assert_allclose(np.array(got).reshape(want.shape), want, rtol=1e-6, atol=1e-6)
    keras_model = load_model(FIXTURES / f"{model}_model.json", FIXTURES / f"{weights}_weights.h5").model
    np.testing.assert_allclose(keras_model.predict(inputs, verbose=0), want, rtol=1e-6, atol=1e-6)


def test_summary_of_a_keras2_file(xornet):
    result = xornet("summary", FIXTURES / "xor20_model.json")
    assert result.exit_code == 0, result.stderr
    assert "│ dense_1 (Dense)               │ (None, 10)            │           30 │" in result.stdout
    assert " Trainable params: 41 (164.00 B)" in result.stdout


def keras2_error(xornet, tmp_path, change):
    config = json.loads((FIXTURES / "xor24_model.json").read_text())
    change(config["config"]["layers"])
    write(tmp_path / "m_model.json", json.dumps(config))
    result = xornet("predict", "-m", tmp_path / "m_model.json", "-w", FIXTURES / "xor_weights.h5")
    assert result.exit_code == 2 and result.stdout == ""
    return result.stderr.replace(str(tmp_path) + "/", "")


def test_untranslatable_keras2_layers_and_options(xornet, tmp_path):
    def conv(layers):
        layers[2] = {"class_name": "Conv2D", "config": {"name": "conv", "filters": 3}}

    assert keras2_error(xornet, tmp_path, conv) == (
        "error: m_model.json: layer 2 (Conv2D) is not a layer xornet can run "
        "(it runs: Dense, Activation, Dropout, BatchNormalization, LeakyReLU, Flatten, Normalization)\n")

    def constraint(layers):
        layers[1]["config"]["kernel_constraint"] = {"class_name": "MaxNorm", "config": {"max_value": 2}}

    assert keras2_error(xornet, tmp_path, constraint) == (
        "error: m_model.json: layer 1 ('dense', Dense): cannot translate option kernel_constraint\n")

    def unknown_option(layers):
        layers[1]["config"]["wobble"] = 1

    assert keras2_error(xornet, tmp_path, unknown_option) == (
        "error: m_model.json: layer 1 ('dense', Dense): cannot translate option wobble\n")

    def no_shape(layers):
        del layers[0]
        del layers[0]["config"]["batch_input_shape"]

    assert keras2_error(xornet, tmp_path, no_shape) == (
        "error: m_model.json: the first layer has no input shape (batch_input_shape or input_dim) of the form "
        "[null, N] (hint: xornet translates networks over flat rows of N inputs)\n")


def test_export_for_keras2_keras3_and_a_keras_file(trained, xornet):
    for to in ("keras2", "keras3", "keras"):
        result = xornet("export", "models/basic_model.json", f"out_{to}", "--to", to)
        assert result.exit_code == 0, result.stderr
    assert result.stdout == "Wrote out_keras/basic.keras\n"
    again = xornet("export", "models/basic_model.json", "out_keras", "--to", "keras")
    assert (again.exit_code, again.stderr) == (
        2, "error: out_keras/basic.keras already exists; refusing to overwrite it (hint: pass --force to replace it)\n")
    assert xornet("export", "models/basic_model.json", "out_keras", "--to", "keras", "--force").exit_code == 0

    import keras
    import tf_keras

    x = np.array(XOR, "float32")
    reference = load_model("models/basic_model.json").model.predict(x, verbose=0)
    keras2 = tf_keras.models.model_from_json((trained / "out_keras2/basic_model.json").read_text())
    keras2.load_weights(str(trained / "models/basic_weights.h5"))  # xornet's own weights file, as written
    np.testing.assert_allclose(keras2.predict(x, verbose=0), reference, rtol=1e-6)
    keras2.load_weights(str(trained / "out_keras2/basic_weights.h5"))
    np.testing.assert_allclose(keras2.predict(x, verbose=0), reference, rtol=1e-6)
    keras3 = keras.models.model_from_json((trained / "out_keras3/basic_model.json").read_text())
    keras3.load_weights(str(trained / "out_keras3/basic.weights.h5"))
    np.testing.assert_allclose(keras3.predict(x, verbose=0), reference, rtol=1e-6)
    whole = keras.models.load_model(str(trained / "out_keras/basic.keras"))
    np.testing.assert_allclose(whole.predict(x, verbose=0), reference, rtol=1e-6)
    # xornet reads the Keras 3 layout too, under any name.
    shutil.copy(trained / "out_keras3/basic.weights.h5", trained / "k3.h5")
    result = xornet("predict", "-m", "out_keras3/basic_model.json", "-w", "k3.h5", "-f", "json")
    np.testing.assert_allclose([row["probability"] for row in json.loads(result.stdout)], reference[:, 0], rtol=1e-6)


def test_keras_archives_are_read_by_predict_summary_and_evaluate(trained, xornet, tmp_path):
    """A `.keras` file saved by real Keras (`model.save`), and xornet's own `export --to keras`."""
    import zipfile

    import keras

    keras.utils.set_random_seed(4)
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="relu"),
                            keras.layers.Dense(3, activation="softmax")])
    net.save(tmp_path / "net.keras")
    x = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    result = xornet("predict", "-m", tmp_path / "net.keras", "--input", tmp_path / "x.npy", "-f", "json")
    assert result.exit_code == 0, result.stderr
    got = [row["probability"] for row in json.loads(result.stdout)]
    np.testing.assert_allclose(got, net.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    shown = xornet("summary", tmp_path / "net.keras")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith(f"Model file {tmp_path / 'net.keras'}\n") and "Total params: 38 " in shown.stdout

    assert xornet("export", "models/basic_model.json", "models", "--to", "keras").exit_code == 0
    shutil.copytree("models", "out")  # beside basic_run.json, which is the JSON pair's record, not the archive's
    own = xornet("predict", "-m", "out/basic.keras", "-f", "csv")
    assert own.stdout == xornet("predict", "-m", "models/basic_model.json", "-f", "csv").stdout
    again = xornet("export", "out/basic.keras", "keras2", "--to", "keras2")
    assert again.stdout == "Wrote keras2/basic_model.json, keras2/basic_weights.h5\n"
    served = serve_once(tmp_path / "net.keras", {"inputs": x[:2].tolist()})
    np.testing.assert_allclose([row["probability"] for row in served], got[:2], rtol=1e-6)
    write("xor.csv", "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    scored = xornet("evaluate", "-m", "out/basic.keras", "--data", "xor.csv", "--label", "y")
    assert scored.exit_code == 0 and "\naccuracy   100.0%\n" in scored.stdout, scored.stdout + scored.stderr

    with zipfile.ZipFile(tmp_path / "net.keras") as whole, zipfile.ZipFile(tmp_path / "bare.keras", "w") as bare:
        bare.writestr("config.json", whole.read("config.json"))
    refused = xornet("predict", "-m", tmp_path / "bare.keras", "--input", tmp_path / "x.npy")
    assert (refused.exit_code, refused.stderr) == (
        2, f"error: {tmp_path / 'bare.keras'}: a zip archive without model.weights.h5, expected a Keras 3 .keras file "
           "(it holds config.json)\n")


def serve_once(model: Path, body: dict):
    """What `xornet serve --model MODEL` answers to one POST /predict, in process."""
    import asyncio

    import httpx

    from xornet.serve.app import create_app

    async def ask():
        api = create_app(model).api
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            return await client.post("/predict", json=body)

    answer = asyncio.run(ask())
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_swapped_or_damaged_files_are_caught(trained, xornet):
    shutil.copy(trained / "models/basic_weights.h5", trained / "good.h5")
    assert xornet("train", "configs/xor.yaml", "--seed", "3", "--epochs", "5", "--output-dir", "other", "-q",
                  "--set", "training.restarts=0").exit_code == 0
    shutil.copy(trained / "other/basic_weights.h5", trained / "models/basic_weights.h5")
    message = ("error: models/basic_weights.h5: does not match its run record models/basic_run.json (SHA-256 "
               "differs): the file was replaced or damaged after training (hint: retrain it or restore the file; "
               "delete the run record to use the file as it is)\n")
    result = xornet("predict")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)
    shutil.copy(trained / "good.h5", trained / "models/basic_weights.h5")
    assert xornet("predict").exit_code == 0
    model_json = trained / "models/basic_model.json"
    model_json.write_text(model_json.read_text().replace('"units": 10', '"units": 10 '))
    result = xornet("summary", "models/basic_model.json")
    assert result.exit_code == 2 and "models/basic_model.json: does not match its run record" in result.stderr
    data = (trained / "good.h5").read_bytes()
    (trained / "cut.h5").write_bytes(data[: len(data) // 2])
    result = xornet("predict", "-m", "other/basic_model.json", "-w", "cut.h5")
    assert result.exit_code == 2 and result.stderr.startswith("error: cut.h5: ")


KILLED_SAVER = """
import os, signal, sys
from pathlib import Path
from xornet.files import safe_write as artifacts

kill_at, source, target = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
steps = 0
real_replace, real_fsync = os.replace, os.fsync

def step():
    global steps
    steps += 1
    if steps == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

def replace(a, b):
    step(); real_replace(a, b); step()

def fsync(fd):
    step(); real_fsync(fd)

os.replace, os.fsync = replace, fsync
names = ["basic_weights.h5", "basic_model.json", "basic_history.csv", "basic_run.json"]
staged = artifacts.stage({target / n: (lambda data: lambda temp: temp.write_bytes(data))((source / n).read_bytes())
                          for n in names})
artifacts.replace_together(artifacts.journal_path(target / "basic_model.json"), staged)
print("saved")
"""


def test_killing_a_save_at_any_point_leaves_the_old_or_the_new_model(trained, xornet):
    assert xornet("train", "configs/xor.yaml", "--seed", "7", "--epochs", "40", "--output-dir", "new", "-q",
                  "--set", "training.restarts=0").exit_code == 0
    x = np.array(XOR, "float32")
    old = load_predictor(trained / "models/basic_model.json").predict(x)
    new = load_predictor(trained / "new/basic_model.json").predict(x)
    assert not np.allclose(old, new)
    outcomes = []
    for kill_at in range(1, 100):
        shutil.rmtree(trained / "target", ignore_errors=True)
        shutil.copytree(trained / "models", trained / "target")
        run = subprocess.run([sys.executable, "-c", KILLED_SAVER, str(kill_at), str(trained / "new"),
                              str(trained / "target")], capture_output=True, text=True, timeout=120)
        predictor = load_predictor(trained / "target/basic_model.json")  # checks the record's SHA-256 too
        got = predictor.predict(x)
        assert np.array_equal(got, old) or np.array_equal(got, new), kill_at
        assert predictor.record["seed"] == (42 if np.array_equal(got, old) else 7)
        outcomes.append("new" if np.array_equal(got, new) else "old")
        if run.returncode == 0:
            assert run.stdout == "saved\n"
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
    assert outcomes[-1] == "new" and "old" in outcomes and len(outcomes) > 10
    assert not list((trained / "target").glob(".basic_saving.json"))


def test_ctrl_c_during_training_keeps_the_files_and_exits_130(trained):
    before = {p.name: p.read_bytes() for p in (trained / "models").iterdir()}
    script = Path(sys.executable).parent / "xornet"
    process = subprocess.Popen([str(script), "train", "configs/xor.yaml", "--epochs", "10000000",
                                "--set", "training.target_loss=null"], cwd=trained,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while "Training:" not in process.stdout.readline():
        pass
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "error: interrupted during training: nothing was written, existing files are untouched\n"
    assert {p.name: p.read_bytes() for p in (trained / "models").iterdir()} == before
