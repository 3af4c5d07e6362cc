"""`xornet export --to savedmodel | tflite | onnx`, each run by its own engine and compared with xornet's predictions."""

import warnings

import numpy as np
import pytest

from tests.conftest import write
from xornet.predictor import load_predictor

ROWS = np.random.default_rng(0).uniform(-1, 2, size=(64, 2)).astype("float32")


def xornet_predictions(workdir):
    return load_predictor(workdir / "models/basic_model.json").predict(ROWS)


def test_savedmodel_serving_default_signature_matches_xornet(trained, xornet):
    import tensorflow as tf

    result = xornet("export", "models/basic_model.json", "out", "--to", "savedmodel")
    assert (result.exit_code, result.stdout) == (0, "Wrote out/basic_savedmodel\n")
    signature = tf.saved_model.load("out/basic_savedmodel").signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["inputs"]
    outputs = signature(inputs=tf.constant(ROWS))
    assert list(outputs) == ["output_0"]
    np.testing.assert_allclose(outputs["output_0"].numpy(), xornet_predictions(trained), atol=1e-5, rtol=0)
    assert sorted(p.name for p in (trained / "out").iterdir()) == ["basic_savedmodel"]  # no temporary left


def test_savedmodel_is_replaced_whole_only_with_force(trained, xornet):
    assert xornet("export", "models/basic_model.json", "out", "--to", "savedmodel").exit_code == 0
    marker = trained / "out/basic_savedmodel/stale.txt"
    marker.write_text("from the previous export")
    result = xornet("export", "models/basic_model.json", "out", "--to", "savedmodel")
    assert (result.exit_code, result.stderr) == (
        2, "error: out/basic_savedmodel already exists; refusing to overwrite it (hint: pass --force to replace it)\n")
    assert xornet("export", "models/basic_model.json", "out", "--to", "savedmodel", "--force").exit_code == 0
    assert not marker.exists()
    assert sorted(p.name for p in (trained / "out").iterdir()) == ["basic_savedmodel"]


def tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tf.lite.Interpreter: "deprecated, use ai_edge_litert"
        return Interpreter(model_path=str(path))


def test_tflite_interpreter_matches_xornet(trained, xornet):
    result = xornet("export", "models/basic_model.json", "out", "--to", "tflite")
    assert (result.exit_code, result.stdout) == (0, "Wrote out/basic.tflite\n")
    interpreter = tflite_interpreter(trained / "out/basic.tflite")
    (given,), (output,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert given["name"] == "serving_default_inputs:0"
    interpreter.resize_tensor_input(given["index"], list(ROWS.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], ROWS)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(output["index"]), xornet_predictions(trained), atol=1e-5, rtol=0)


def test_onnx_runtime_matches_xornet(trained, xornet):
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
    result = xornet("export", "models/basic_model.json", "out", "--to", "onnx")
    assert (result.exit_code, result.stdout) == (0, "Wrote out/basic.onnx\n")
    session = onnxruntime.InferenceSession(str(trained / "out/basic.onnx"), providers=["CPUExecutionProvider"])
    assert [given.name for given in session.get_inputs()] == ["inputs"]
    (probabilities,) = session.run(None, {"inputs": ROWS})
    np.testing.assert_allclose(probabilities, xornet_predictions(trained), atol=1e-5, rtol=0)


def test_onnx_without_tf2onnx_says_what_is_missing(trained, xornet, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if it were not installed
    result = xornet("export", "models/basic_model.json", "out", "--to", "onnx")
    assert (result.exit_code, result.stderr) == (1, (
        "error: --to onnx needs tf2onnx, which is not installed (hint: pip install 'xornet[onnx]', which installs "
        "tf2onnx and onnxruntime)\n"))
    assert not (trained / "out/basic.onnx").exists()


def test_onnx_of_a_model_with_normalization_has_one_input_and_xornet_numbers(workdir, xornet):
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is in the test extra")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2)) * [1, 100] + [0, 50]
    write("scaled.csv", "a,b,y\n" + "".join(f"{a:.4f},{b:.4f},{int(a + b / 100 > 0.5)}\n" for a, b in x))
    write("scaled.yaml", "name: scaled\nseed: 1\ndata: {path: scaled.csv, label: y, normalize: true}\n"
          "model:\n  layers:\n    - {type: Dense, units: 4, activation: tanh}\n"
          "    - {type: Dense, units: 1, activation: sigmoid}\n"
          "training: {optimizer: adam, learning_rate: 0.05, epochs: 20, batch_size: 32}\noutput: {dir: models}\n")
    assert xornet("train", "scaled.yaml", "-q").exit_code == 0
    result = xornet("export", "models/basic_model.json", "out", "--to", "onnx")
    assert (result.exit_code, result.stdout) == (0, "Wrote out/basic.onnx\n")
    session = onnxruntime.InferenceSession(str(workdir / "out/basic.onnx"), providers=["CPUExecutionProvider"])
    assert [given.name for given in session.get_inputs()] == ["inputs"]  # the adapted mean and variance are inside
    rows = x[:64].astype("float32")
    (probabilities,) = session.run(None, {"inputs": rows})
    expected = load_predictor(workdir / "models/basic_model.json").predict(rows)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=0)
