"""`xornet predict` and `xornet summary` through the real CLI, checked against plain Keras."""

import json

import h5py
import numpy as np
import pytest

from conftest import REPO, write
from test_train import SUMMARY

XOR_TABLE = (
    "x1 x2  probability  class\n"
    "0 0         0.0283      0\n"
    "0 1         0.9404      1\n"
    "1 0         0.9525      1\n"
    "1 1         0.0587      0\n"
)


def plain_keras_predictions(model_json, weights_h5, x):
    """What a Keras user gets from the two files without xornet."""
    import keras

    model = keras.models.model_from_json(open(model_json).read())
    model.load_weights(str(weights_h5))
    return model.predict(np.array(x, dtype="float32"), verbose=0)


def test_predict_all_combinations_as_table(trained, xornet):
    result = xornet("predict", "--model", "models/basic_model.json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == XOR_TABLE
    assert result.stderr == ""


def test_bare_name_is_found_in_models_dir(trained, xornet):
    assert xornet("predict", "--model", "basic_model.json").stdout == XOR_TABLE
    assert xornet("predict").stdout == XOR_TABLE


def test_json_output_matches_plain_keras(trained, xornet):
    result = xornet("predict", "--model", "models/basic_model.json", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [row["input"] for row in rows] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert [row["class"] for row in rows] == [0, 1, 1, 0]
    expected = plain_keras_predictions(trained / "models/basic_model.json", trained / "models/basic_weights.h5",
                                       [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose([row["probability"] for row in rows], expected[:, 0], rtol=1e-6, atol=1e-7)


def test_csv_output_and_x_rows(trained, xornet):
    result = xornet("predict", "--x", "1,1", "--x", "0,1", "--format", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "x1,x2,probability,class"
    assert [line.split(",")[:2] + line.split(",")[3:] for line in lines[1:]] == [["1", "1", "0"], ["0", "1", "1"]]


def test_threshold(trained, xornet):
    result = xornet("predict", "--x", "0,1", "--threshold", "0.99", "--format", "json")
    assert json.loads(result.stdout)[0]["class"] == 0


def test_input_files_and_stdin(trained, xornet):
    write("in.csv", "0,1\n1,1\n")
    result = xornet("predict", "--input", "in.csv", "--format", "json")
    assert [row["class"] for row in json.loads(result.stdout)] == [1, 0]
    # A header naming the training features selects them, so a training CSV (with its label) works.
    result = xornet("predict", "--input", "-", "--format", "csv", input="y,x2,x1\n0,1,0\n1,0,1\n")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:2] for line in result.stdout.splitlines()] == [["x1", "x2"], ["0", "1"], ["1", "0"]]
    np.save(trained / "in.npy", np.array([[1, 0]], dtype="float32"))
    assert json.loads(xornet("predict", "-i", "in.npy", "-f", "json").stdout)[0]["class"] == 1
    # One row without a header: a row, not a header without rows.
    result = xornet("predict", "--input", "-", "--format", "csv", input="0,1\n")
    assert (result.exit_code, result.stdout) == (0, "x1,x2,probability,class\n0,1,0.9404031038284302,1\n")


def test_explicit_weights(trained, xornet):
    (trained / "models/basic_weights.h5").rename(trained / "w.h5")
    (trained / "models/basic_run.json").unlink()
    assert xornet("predict", "--weights", "w.h5").stdout == XOR_TABLE


def test_summary_of_reference_config_and_saved_model(trained, xornet):
    result = xornet("summary", "--set", "seed=42")  # --set: a config, here the reference one
    assert result.exit_code == 0
    assert result.stdout == "Experiment xor (reference XOR experiment)\n" + SUMMARY
    result = xornet("summary", "configs/and.yaml")
    assert "│ dense (Dense)                 │ (None, 1)             │            3 │" in result.stdout
    result = xornet("summary", "configs/xor.yaml", "--set", "model.layers.0.units=4")
    assert " Total params: 17 (68.00 B)" in result.stdout
    result = xornet("summary", "models/basic_model.json")
    assert result.exit_code == 0
    assert result.stdout == (
        "Model file models/basic_model.json\n" + SUMMARY +
        "Trained by experiment xor with seed 42: 788 epochs, loss 0.0498, accuracy 100.0%\n")


def test_plain_keras_loads_the_files_and_matches_predict(trained, xornet):
    x = [[0, 0], [0, 1], [1, 0], [1, 1], [0.5, 0.25]]
    expected = plain_keras_predictions(trained / "models/basic_model.json", trained / "models/basic_weights.h5", x)
    result = xornet("predict", *[a for row in x for a in ("--x", f"{row[0]},{row[1]}")], "--format", "json")
    got = [row["probability"] for row in json.loads(result.stdout)]
    np.testing.assert_allclose(got, expected[:, 0], rtol=1e-6, atol=1e-7)


def test_bad_inputs_to_predict(trained, xornet):
    def error(*args, input=None):
        result = xornet("predict", *args, input=input)
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        return result.stderr.strip()

    assert error("--model", "nope.json") == (
        "error: model file not found: looked for nope.json and models/nope.json "
        "(hint: train one with `xornet train CONFIG`, or give the path of a saved model's .json (or .keras) file)")
    assert error("--x", "1") == "error: --x, row 1: expected 2 comma-separated numbers (the model's input width), received 1"
    assert error("--x", "1,z") == "error: --x, row 1, column 2: expected a number, received 'z'"
    assert error("--x", "1,0", "--input", "a.csv") == "error: --input and --x: expected one source of inputs, received both"
    assert error("--threshold", "2") == "error: --threshold: expected a number from 0 to 1, received 2"
    assert error("--input", "none.csv") == "error: none.csv: input file not found"
    write("wide.csv", "1,0,1\n")
    assert error("-i", "wide.csv") == "error: wide.csv, line 1: expected 2 numbers (the model's input width), received 3"
    write("bad.csv", "1,0\n0,q\n")
    assert error("-i", "bad.csv") == "error: bad.csv, line 2, column 2: expected a number, received 'q'"
    assert error("-i", "-", input="") == "error: <stdin>: no input rows, expected CSV rows of 2 numbers"
    write("models/x_model.json", "not json")
    assert error("--model", "models/x_model.json").startswith(
        "error: models/x_model.json: not valid JSON (Expecting value: line 1 column 1 (char 0)), expected a Keras model JSON")
    write("models/y_model.json", '{"a": 1}')
    assert error("-m", "models/y_model.json") == (
        "error: models/y_model.json: JSON without class_name and config, expected a Keras model (model.to_json())")
    write("lonely_model.json", (trained / "models/basic_model.json").read_text())
    assert error("-m", "lonely_model.json") == (
        "error: lonely_model.json: no weights file found beside it: looked for lonely_weights.h5, lonely.weights.h5, "
        "lonely_model.h5 (hint: pass --weights PATH)")
    assert error("--weights", "missing.h5") == "error: missing.h5: weights file not found"
    write("fake.h5", "not hdf5")
    assert error("--weights", "fake.h5") == "error: fake.h5: not an HDF5 file, expected Keras weights (.h5)"


def test_weights_that_do_not_fit(trained, xornet):
    result = xornet("train", "configs/xor.yaml", "--set", "model.layers.0.units=4", "--epochs", "2", "--set", "training.restarts=0",
                    "--output-dir", "small", "-q")
    assert result.exit_code == 0
    result = xornet("predict", "--weights", "small/basic_weights.h5")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: small/basic_weights.h5: layer 'dense' (stored as 'dense') expects weights of shapes (2, 10), (10), "
        "received (2, 4), (4) (hint: the weights belong to a different architecture)\n")
    result = xornet("predict", "--weights", "models/and/basic_weights.h5") if False else None
    result = xornet("train", "configs/and.yaml", "--epochs", "2", "--output-dir", "one", "-q")
    result = xornet("predict", "--weights", "one/basic_weights.h5")
    assert result.stderr == (
        "error: one/basic_weights.h5: the weights file has 1 layers with weights, the model has 2 (dense, dense_1) "
        "(hint: the weights belong to a different architecture)\n")


def test_code_in_a_model_file_is_refused(trained, xornet):
    config = json.loads((trained / "models/basic_model.json").read_text())
    config["config"]["layers"][1]["class_name"] = "Lambda"
    write("models/evil_model.json", json.dumps(config))
    result = xornet("predict", "-m", "models/evil_model.json", "-w", "models/basic_weights.h5")
    assert result.exit_code == 2
    assert result.stderr == "error: models/evil_model.json: refused: a Lambda layer would run code from the file\n"
    config["config"]["layers"][1].update(class_name="Dense", module="os.path")
    write("models/evil_model.json", json.dumps(config))
    result = xornet("predict", "-m", "models/evil_model.json", "-w", "models/basic_weights.h5")
    assert result.stderr == (
        "error: models/evil_model.json: refused: class 'Dense' from module 'os.path' is not part of Keras; "
        "loading it could run code from outside Keras\n")


def test_shipped_model_predicts_xor(xornet, monkeypatch):
    monkeypatch.chdir(REPO)
    result = xornet("predict", "--model", "models/basic_model.json", "--format", "json")
    assert result.exit_code == 0
    assert [row["class"] for row in json.loads(result.stdout)] == [0, 1, 1, 0]


def test_shipped_model_is_reproduced_by_its_recorded_seed(workdir, xornet):
    record = json.loads((REPO / "models/basic_run.json").read_text())
    result = xornet("train", REPO / record["config_file"], "--seed", record["seed"], "--output-dir", "again", "-q")
    assert result.exit_code == 0, result.stderr
    shipped = plain_keras_predictions(REPO / "models/basic_model.json", REPO / "models/basic_weights.h5",
                                      [[0, 0], [0, 1], [1, 0], [1, 1]])
    again = plain_keras_predictions(workdir / "again/basic_model.json", workdir / "again/basic_weights.h5",
                                    [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose(again, shipped, rtol=1e-5, atol=1e-6)
    with h5py.File(REPO / "models/basic_weights.h5") as f:
        assert [n.decode() for n in f.attrs["layer_names"]] == ["dense", "activation", "dense_1", "activation_1"]


def test_csv_inputs_stream_in_chunks_with_exact_line_numbers():
    import io

    from xornet.errors import InputError
    from xornet.prediction_inputs import iter_csv_inputs

    text = "a,b\n" + "".join(f"{i % 2},{i % 3}\n" for i in range(7))  # 4 bytes a line
    chunks = list(iter_csv_inputs(io.BytesIO(text.encode()), 2, "in.csv", chunk_bytes=13))
    assert [len(values) for values, _ in chunks] == [3, 3, 1]
    assert chunks[1][1].to_pylist() == ["1,0", "0,1", "1,2"]
    with pytest.raises(InputError, match=r"^in.csv, line 7, column 'b': expected a number, received 'x'$"):
        list(iter_csv_inputs(io.BytesIO(text.replace("1,2\n", "1,x\n", 1).encode()), 2, "in.csv", chunk_bytes=13))


def test_many_rows_through_the_cli(trained, xornet):
    rows = 70000  # more than one chunk
    write("big.csv", "".join(f"{i % 2},{(i // 2) % 2}\n" for i in range(rows)))
    result = xornet("predict", "--input", "big.csv", "--format", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == rows + 1
    assert [line.rsplit(",", 1)[1] for line in lines[1:5]] == ["0", "1", "1", "0"]


def test_parquet_inputs_by_feature_name_or_width(trained, xornet):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"y": [1, 0], "x2": [1.0, 1.0], "x1": [0.0, 1.0]}), "named.parquet")
    result = xornet("predict", "-i", "named.parquet", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:2] + line.split(",")[3:] for line in result.stdout.splitlines()] == [
        ["x1", "x2", "class"], ["0", "1", "1"], ["1", "1", "0"]]
    pq.write_table(pa.table({"a": [0.0], "b": [1.0], "c": [1.0]}), "wide.parquet")
    result = xornet("predict", "-i", "wide.parquet")
    assert (result.exit_code, result.stderr) == (
        2, "error: wide.parquet: no column named 'x1', expected the training features (x1, x2), received a, b, c (hint: "
           "name the columns as the features are named, or leave the header out to give the values in the training "
           "order)\n")


def test_a_model_without_a_record_whose_outputs_are_not_probabilities_predicts_values(workdir, xornet):
    """A Keras file from elsewhere ending in linear units: its outputs are values, not probabilities and classes."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2)])
    write("their/model.json", model.to_json())
    model.save_weights("their/model.weights.h5")
    rows = np.array([[0.5, 1.0, -2.0], [3.0, 0.25, 1.5]], "float32")
    expected = model.predict(rows, verbose=0)
    args = ("predict", "--model", "their/model.json", "--weights", "their/model.weights.h5", "--x", "0.5,1,-2",
            "--x", "3,0.25,1.5")
    result = xornet(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    objects = json.loads(result.stdout)
    assert [sorted(o) for o in objects] == [["input", "prediction"]] * 2
    np.testing.assert_allclose([o["prediction"] for o in objects], expected, atol=1e-6, rtol=0)
    result = xornet(*args, "--format", "csv")
    assert result.stdout.splitlines()[0] == "x1,x2,x3,prediction_0,prediction_1"
    np.testing.assert_allclose([[float(v) for v in line.split(",")[3:]] for line in result.stdout.splitlines()[1:]],
                               expected, atol=1e-6, rtol=0)
    result = xornet(*args)
    assert result.stdout.splitlines()[0].split()[-1] == "prediction" and "class" not in result.stdout
    assert result.stdout.splitlines()[1].endswith(" ".join(f"{v:.4f}" for v in expected[0]))
