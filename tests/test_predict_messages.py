"""`xornet predict`: one wording for bad inputs of every kind, and no 0/1 table for models trained on a file.

Every bad-input message names the source (file, <stdin> or --x), the line (CSV)
or row, the column (by header name when the input has one, else counted from 1),
what was expected and the value as given.
"""

import shutil

import numpy as np
import pytest

from conftest import REPO, one_error, parquet, write


# A model trained with data.missing: error (or drop) refuses a missing cell the same way on every path.
MISSING = ("missing value, expected a number (hint: fill it in: the model was trained with data.missing: error, "
           "which keeps no value to fill it with; a model trained with data.missing: mean or zero fills it)")

X_CASES = [
    (["--x", "a,b"], "--x, row 1, column 1: expected a number, received 'a'"),
    (["--x", "0,1", "--x", "1,zz"], "--x, row 2, column 2: expected a number, received 'zz'"),
    (["--x", "1e39,0"], "--x, row 1, column 1: expected a finite number, received '1e39' (1 such value)"),
    (["--x", "0,nan"], f"--x, row 1, column 2: {MISSING}"),  # nan, NA, null...: missing, as in training files
    (["--x", "0,"], f"--x, row 1, column 2: {MISSING}"),
    (["--x", "0,1", "--x", "1"], "--x, row 2: expected 2 comma-separated numbers (the model's input width), received 1"),
]

CSV_CASES = [
    # without a header: columns counted from 1
    ("0,1\n1,0\nzz,1\n", "badpred.csv, line 3, column 1: expected a number, received 'zz'"),
    ("0,1\n1,nan\n", f"badpred.csv, line 2, column 2: {MISSING}"),
    ("0,1\n\n1e39,0\n", "badpred.csv, line 3, column 1: expected a finite number, received '1e39' (1 such value)"),
    ("0,1\n1,\n", f"badpred.csv, line 2, column 2: {MISSING}"),
    ("0,1\n1,0,1\n", "badpred.csv, line 2: expected 2 numbers (the model's input width), received 3"),
    # with a header: columns named by it
    ("x1,x2\n0,1\n1,zz\n", "badpred.csv, line 3, column 'x2': expected a number, received 'zz'"),
    ("x1,x2\n0,1\n1,?\n", "badpred.csv, line 3, column 'x2': expected a number, received '?' (hint: if '?' marks a "
                            "missing value, write it blank or as NA (missing: blank, NA, N/A, NaN, nan, null, NULL, "
                            "None))"),
    ("x1,x2\n-inf,0\n-inf,1\n", "badpred.csv, line 2, column 'x1': expected a finite number, received '-inf' (2 such "
                               "values)"),
    ("x1,x2\n0,1\n0\n", "badpred.csv, line 3: expected 2 cells (as many as the header), received 1"),
    ("a,b\n0,1\n", "badpred.csv, line 1: no column named 'x1', expected the training features (x1, x2), received a, b "
                    "(hint: name the columns as the features are named, or leave the header out to give the values in "
                    "the training order)"),
    # a data row taken for a header for its text (a label of class names): a value too many
    ("0,1,odd\n1,1,even\n", "badpred.csv, line 1: expected 2 values (the training features x1, x2), received 3: 0, "
                              "1, odd (hint: leave the label column out: predict takes the features only)"),
    ("0,1,1,odd\n", "badpred.csv, line 1: expected 2 values (the training features x1, x2), received 4: 0, 1, 1, odd"),
    ("x1,x2,x1\n0,1,1\n", "badpred.csv, line 1: column 'x1' appears twice, expected each training feature once"),
    # a header naming the training features: other columns (a text label) are not read
    ("y,x2,x1\nodd,1,zz\n", "badpred.csv, line 2, column 'x1': expected a number, received 'zz'"),
    ("y,x2,x1\nodd,nan,0\n", f"badpred.csv, line 2, column 'x2': {MISSING}"),
    ("y,x2,x1\n0,1,1\n1,0\n", "badpred.csv, line 3: expected 3 cells (as many as the header), received 2"),
]


@pytest.mark.parametrize("args, message", X_CASES)
def test_bad_x_values(trained, xornet, args, message):
    assert one_error(xornet("predict", *args)) == f"error: {message}"


@pytest.mark.parametrize("text, message", CSV_CASES)
def test_bad_csv_files_and_stdin(trained, xornet, text, message):
    write("badpred.csv", text)
    assert one_error(xornet("predict", "--input", "badpred.csv", "--format", "csv")) == f"error: {message}"
    from_stdin = one_error(xornet("predict", "--input", "-", input=text))
    assert from_stdin == f"error: {message.replace('badpred.csv', '<stdin>')}"


def test_bad_npy_files(trained, xornet):
    np.save("in.npy", np.array([[0, 1], [1, np.nan]], "float32"))
    assert one_error(xornet("predict", "-i", "in.npy")) == f"error: in.npy, row 2, column 'x2': {MISSING}"
    np.save("in.npy", np.array([[0, 1], [1e300, 0], [1e300, 1]]))  # float64: too large for float32
    assert one_error(xornet("predict", "-i", "in.npy")) == (
        "error: in.npy, row 2, column 1: expected a finite number, received 1e+300 (2 such values)")
    np.save("in.npy", np.array([(0.0, 1.0), (1.0, np.inf)], dtype=[("x1", "f8"), ("x2", "f8")]))  # named fields
    assert one_error(xornet("predict", "-i", "in.npy")) == (
        "error: in.npy, row 2, column 'x2': expected a finite number, received inf (1 such value)")
    np.save("in.npy", np.array([["0", "1"], ["1", "zz"]]))
    assert one_error(xornet("predict", "-i", "in.npy")) == (
        "error: in.npy, row 2, column 2: expected a number, received 'zz'")


def test_bad_parquet_files(trained, xornet):
    parquet("in.parquet", {"x1": ["0", "zz"], "x2": [1.0, 0.0]})
    assert one_error(xornet("predict", "-i", "in.parquet")) == (
        "error: in.parquet, row 2, column 'x1': expected a number, received 'zz'")
    parquet("in.parquet", {"x1": [0.0, None], "x2": [1.0, 0.0]})
    assert one_error(xornet("predict", "-i", "in.parquet")) == (
        f"error: in.parquet, row 2, column 'x1': {MISSING}")
    parquet("in.parquet", {"y": ["odd", "even"], "x2": [1.0, 1e300], "x1": [0.0, 1.0]})
    assert one_error(xornet("predict", "-i", "in.parquet")) == (
        "error: in.parquet, row 2, column 'x2': expected a finite number, received 1e+300 (1 such value)")


def test_parquet_text_label_is_not_read_and_text_numbers_are(trained, xornet):
    parquet("in.parquet", {"y": ["odd", "even"], "x2": [1.0, 1.0], "x1": ["0", "1"]})
    result = xornet("predict", "-i", "in.parquet", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:2] + line.split(",")[3:] for line in result.stdout.splitlines()] == [
        ["x1", "x2", "class"], ["0", "1", "1"], ["1", "1", "0"]]


def test_good_csv_never_takes_the_slow_path(trained, xornet, monkeypatch):
    from xornet import prediction_inputs

    calls, explain = [], prediction_inputs._explain_rows
    monkeypatch.setattr(prediction_inputs, "_explain_rows", lambda *args: calls.append(args) or explain(*args))
    write("good.csv", "x1,x2\n" + "0,1\n1,1\n" * 1000)
    result = xornet("predict", "-i", "good.csv", "-f", "csv")
    assert (result.exit_code, len(result.stdout.splitlines()), len(calls)) == (0, 2001, 0)
    write("bad.csv", "0,1\n1,x\n")
    assert one_error(xornet("predict", "-i", "bad.csv")) == "error: bad.csv, line 2, column 2: expected a number, received 'x'"
    assert len(calls) == 1


@pytest.fixture
def diabetes(workdir, xornet):
    """configs/diabetes.yaml trained for one epoch (data file with a test split)."""
    shutil.copytree(REPO / "data", workdir / "data")
    result = xornet("train", "configs/diabetes.yaml", "--epochs", "1", "-q")
    assert result.exit_code == 0, result.stderr
    return workdir


def test_model_trained_on_a_file_needs_inputs(diabetes, xornet):
    model = "models/diabetes/basic_model.json"
    assert one_error(xornet("predict", "--model", model)) == (
        "error: the model was trained on data/diabetes.csv, not a truth table: expected inputs to predict, "
        "pass --input FILE or --x VALUES "
        "(hint: to score it on its test split, run `xornet evaluate --model models/diabetes/basic_model.json`)")
    assert xornet("evaluate", "--model", model).exit_code == 0  # the hint works
    result = xornet("predict", "--model", model, "--x", "59,2,32.1,101,157,93.2,38,4,4.8598,87", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,prediction"


def test_truth_table_model_still_lists_every_combination(trained, xornet):
    result = xornet("predict", "-f", "csv")
    assert result.exit_code == 0
    assert [line.split(",")[:2] for line in result.stdout.splitlines()] == [
        ["x1", "x2"], ["0", "0"], ["0", "1"], ["1", "0"], ["1", "1"]]


@pytest.fixture
def text_label(workdir, xornet):
    """A model trained for one epoch on a small CSV file with a text label and no test split."""
    write("tiny.csv", "x1,x2,kind\n0,0,a\n0,1,b\n1,0,b\n1,1,a\n")
    write("configs/tiny.yaml", "name: tiny\nseed: 1\ndata:\n  path: ../tiny.csv\n  label: kind\nmodel:\n  layers:\n"
          "    - {type: Dense, units: 2, activation: softmax, input_dim: 2}\n"
          "training:\n  loss: sparse_categorical_crossentropy\n  epochs: 1\noutput:\n  dir: tiny\n")
    result = xornet("train", "configs/tiny.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    return workdir


def test_text_label_model_messages(text_label, xornet):
    model = "tiny/basic_model.json"
    assert one_error(xornet("predict", "-m", model, "-w", "tiny/basic_weights.h5")) == (
        "error: the model was trained on tiny.csv, not a truth table: expected inputs to predict, "
        "pass --input FILE or --x VALUES (hint: to score it on a labelled file, "
        "run `xornet evaluate --model tiny/basic_model.json --weights tiny/basic_weights.h5 --data FILE`)")
    # Its input files are read as in training (the label may be there, as text): same wording.
    write("in.csv", "kind,x2,x1\na,1,0\nb,0,1e39\n")
    assert one_error(xornet("predict", "-m", model, "-i", "in.csv")) == (
        "error: in.csv, line 3, column 'x1': expected a finite number, received '1e39' (1 such value)")
    write("in.csv", "kind,x2,x1\na,zz,0\n")
    assert one_error(xornet("predict", "-m", model, "-i", "in.csv")) == (
        "error: in.csv, line 2, column 'x2': expected a number, received 'zz'")
    parquet("in.parquet", {"kind": ["a", "b"], "x1": [0.0, 1.0], "x2": [1.0, float("inf")]})
    assert one_error(xornet("predict", "-m", model, "-i", "in.parquet")) == (
        "error: in.parquet, row 2, column 'x2': expected a finite number, received inf (1 such value)")


def test_help_names_every_input_kind(xornet):
    result = xornet("predict", "--help")
    assert "CSV, Parquet or .npy file of inputs; - reads CSV from stdin." in " ".join(result.stdout.split())
