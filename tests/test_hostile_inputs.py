"""Hostile inputs, outputs and paths: each one is refused with exactly one `error:` line and exit 2.

One trained XOR model is shared by every case (trained once per module); each case
writes its own hostile files under a fresh folder, runs one command through the
real CLI and checks the exact message, the exit code, an empty stdout and that
nothing was written where the command was refused.
"""

import os
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import REPO
from xornet.cli import app

BOM = "\ufeff"
MISSING = ("missing value, expected a number (hint: fill it in: the model was trained with data.missing: error, which "
           "keeps no value to fill it with; a model trained with data.missing: mean or zero fills it)")


def npy(array):
    return lambda path: np.save(path, array, allow_pickle=False)


def npz_named_npy(path):
    with open(path, "wb") as handle:
        np.savez(handle, a=np.zeros((2, 2)))


def text(content, encoding="utf-8"):
    return lambda path: path.write_bytes(content.encode(encoding))


def directory(path):
    path.mkdir()


BINARY = "configs/bin.yaml"  # a config whose data.path is the case's file `d.*`


def config_for(data_name):
    return lambda path: path.write_text(
        f"name: bin\ndata:\n  path: {data_name}\nmodel:\n  layers:\n    - {{type: Dense, units: 1}}\n"
        "    - {type: Activation, activation: sigmoid}\ntraining:\n  epochs: 1\noutput:\n  dir: out\n")


# (id, files {name: writer}, command line, the one error line)
CASES = [
    # predict --input: empty, header-only, zero rows, wrong containers, directories
    ("csv-zero-bytes", {"in.csv": text("")}, "predict -i in.csv",
     "in.csv: no input rows, expected CSV rows of 2 numbers"),
    ("csv-blank-lines", {"in.csv": text("\n\n  \n")}, "predict -i in.csv",
     "in.csv: no input rows, expected CSV rows of 2 numbers"),
    ("csv-header-only", {"in.csv": text("x1,x2\n")}, "predict -i in.csv",
     "in.csv: the CSV has a header but no data rows, expected rows of 2 numbers"),
    ("csv-bom-header-only", {"in.csv": text(BOM + "x1,x2\n")}, "predict -i in.csv",
     "in.csv: the CSV has a header but no data rows, expected rows of 2 numbers"),
    ("csv-header-only-json", {"in.csv": text("x1,x2\n")}, "predict -i in.csv -f json",
     "in.csv: the CSV has a header but no data rows, expected rows of 2 numbers"),
    ("npy-zero-bytes", {"in.npy": text("")}, "predict -i in.npy",
     "in.npy: the .npy file is empty or cut short, expected a 2-D array of numbers"),
    ("npy-zero-rows", {"in.npy": npy(np.zeros((0, 2), "float32"))}, "predict -i in.npy",
     "in.npy: the array has no rows, expected at least one row of numbers"),
    ("npz-named-npy", {"in.npy": npz_named_npy}, "predict -i in.npy",
     "in.npy: an .npz archive, expected a single .npy array (save it with np.save)"),
    ("npy-one-dimensional", {"in.npy": npy(np.zeros(2))}, "predict -i in.npy",
     "in.npy: expected a 2-D array (rows x columns), received shape (2,)"),
    ("npy-too-wide", {"in.npy": npy(np.zeros((1, 3)))}, "predict -i in.npy",
     "in.npy: expected 2 columns (the model's input width), received 3"),
    ("input-directory", {"in.csv": directory}, "predict -i in.csv",
     "--input in.csv: is a directory, expected a CSV, Parquet or .npy file of inputs"),
    ("input-directory-npy", {"in.npy": directory}, "predict -i in.npy",
     "--input in.npy: is a directory, expected a CSV, Parquet or .npy file of inputs"),
    # predict: model and weights paths
    ("model-empty", {}, "predict --model ''", "--model: expected a model .json file, received an empty path"),
    ("model-blank", {}, "predict --model ' '", "--model: expected a model .json file, received an empty path"),
    ("model-directory", {"m.json": directory}, "predict --model m.json",
     "--model m.json: is a directory, expected a model .json file"),
    ("weights-directory", {"w.h5": directory}, "predict --weights w.h5",
     "--weights w.h5: is a directory, expected an HDF5 weights file"),
    ("weights-empty", {}, "predict --weights ''", "--weights .: is a directory, expected an HDF5 weights file"),
    # predict: non-finite inputs (JSON output would not be JSON); a NaN or nan cell is missing, as in training files
    ("csv-nan", {"in.csv": text("0,1\n1,nan\n")}, "predict -i in.csv -f json",
     f"in.csv, line 2, column 2: {MISSING}"),
    ("csv-inf", {"in.csv": text("x1,x2\ninf,1\n")}, "predict -i in.csv -f json",
     "in.csv, line 2, column 'x1': expected a finite number, received 'inf' (1 such value)"),
    ("csv-minus-infinity", {"in.csv": text("0,-Infinity\n")}, "predict -i in.csv -f csv",
     "in.csv, line 1, column 2: expected a finite number, received '-Infinity' (1 such value)"),
    ("csv-float32-overflow", {"in.csv": text("0,0\n1e39,0\n")}, "predict -i in.csv -f json",
     "in.csv, line 2, column 1: expected a finite number, received '1e39' (1 such value)"),
    ("csv-nan-table", {"in.csv": text("NaN,0\n")}, "predict -i in.csv",
     f"in.csv, line 1, column 1: {MISSING}"),
    ("csv-nan-selected-columns", {"in.csv": text("y,x2,x1\n0,nan,1\n")}, "predict -i in.csv -f json",
     f"in.csv, line 2, column 'x2': {MISSING}"),
    ("x-nan", {}, "predict --x nan,1 -f json", f"--x, row 1, column 1: {MISSING}"),
    ("x-inf", {}, "predict --x 0,inf -f json", "--x, row 1, column 2: expected a finite number, received 'inf' (1 such value)"),
    ("x-overflow", {}, "predict --x 0,1 --x -1e40,0 -f json",
     "--x, row 2, column 1: expected a finite number, received '-1e40' (1 such value)"),
    ("npy-nan", {"in.npy": npy(np.array([[0, 1], [1, np.nan]], "float32"))}, "predict -i in.npy -f json",
     f"in.npy, row 2, column 'x2': {MISSING}"),
    ("npy-inf", {"in.npy": npy(np.array([[np.inf, -np.inf]]))}, "predict -i in.npy -f json",
     "in.npy, row 1, column 1: expected a finite number, received inf (2 such values)"),
    ("npy-float64-overflow", {"in.npy": npy(np.array([[1e300, 0]]))}, "predict -i in.npy -f json",
     "in.npy, row 1, column 1: expected a finite number, received 1e+300 (1 such value)"),
    ("stdin-nan", {}, "predict -i - -f json <0,1\nnan,nan\n",
     f"<stdin>, line 2, column 1: {MISSING}"),
    ("stdin-bom-header-only", {}, f"predict -i - <{BOM}x1,x2\n",
     "<stdin>: the CSV has a header but no data rows, expected rows of 2 numbers"),
    # evaluate: labels the model cannot score, data that is not data
    ("labels-two", {"d.csv": text("x1,x2,y\n0,0,0\n0,1,2\n")}, "evaluate -d d.csv -f json",
     "d.csv, line 3: expected a label of 0 or 1 (the model has one output), received 2 (1 such row)"),
    ("labels-negative", {"d.csv": text("x1,x2,y\n0,0,-1\n0,1,-1\n")}, "evaluate -d d.csv",
     "d.csv, line 2: expected a label of 0 or 1 (the model has one output), received -1 (2 such rows)"),
    ("labels-fraction", {"d.csv": text("x1,x2,y\n0,0,0.5\n")}, "evaluate -d d.csv",
     "d.csv, line 2: expected a label of 0 or 1 (the model has one output), received 0.5 (1 such row)"),
    ("labels-nan", {"d.csv": text("x1,x2,y\n0,0,0\n1,1,nan\n")}, "evaluate -d d.csv -f json",
     "d.csv, line 3: expected a label of 0 or 1 (the model has one output), received nan (1 such row)"),
    ("labels-npy", {"d.npy": npy(np.array([[0, 0, 3]], "float32"))}, "evaluate -d d.npy",
     "d.npy, row 1: expected a label of 0 or 1 (the model has one output), received 3 (1 such row)"),
    ("evaluate-features-nan", {"d.csv": text("x1,x2,y\n0,nan,0\n")}, "evaluate -d d.csv -f json",
     "d.csv, line 2, column 'x2': missing value (hint: fill it in, or set data.missing: drop, mean or zero)"),
    ("evaluate-header-only", {"d.csv": text(BOM + "x1,x2,y\n")}, "evaluate -d d.csv",
     "d.csv: the CSV file has a header but no data rows"),
    ("evaluate-data-directory", {"d.csv": directory}, "evaluate -d d.csv",
     "--data d.csv: is a directory, expected a config (.yaml) or a CSV, Parquet or .npy file"),
    ("evaluate-label-unknown", {"d.csv": text("x1,x2,target\n0,1,1\n")}, "evaluate -d d.csv --label targte",
     "--label targte: d.csv: no column named 'targte' (did you mean 'target'?); the file has columns: x1, x2, target"),
    ("evaluate-label-on-config", {}, "evaluate -d configs/xor.yaml --label y",
     "--label goes with --data FILE (a CSV, Parquet or .npy file) (hint: for a config, set data.label in it)"),
    ("evaluate-model-empty", {"d.csv": text("x1,x2,y\n0,1,1\n")}, "evaluate -d d.csv -m ''",
     "--model: expected a model .json file, received an empty path"),
    # train: data.path that is not data, flags named as typed
    ("train-data-directory", {"d.csv": directory, BINARY: config_for("../d.csv")}, f"train {BINARY}",
     f"{BINARY}: data.path: d.csv is a directory, expected a .csv, .parquet or .npy data file"),
    ("train-data-header-only", {"d.csv": text("a,b,y\n"), BINARY: config_for("../d.csv")}, f"train {BINARY}",
     "{case}/d.csv: the CSV file has a header but no data rows"),
    ("train-data-zero-rows", {"d.npy": npy(np.zeros((0, 3))), BINARY: config_for("../d.npy")}, f"train {BINARY}",
     "{case}/d.npy: the array has no rows, expected at least one row of numbers"),
    ("train-data-npz", {"d.npy": npz_named_npy, BINARY: config_for("../d.npy")}, f"train {BINARY}",
     "{case}/d.npy: an .npz archive, expected a single .npy array (save it with np.save)"),
    ("train-epochs-negative", {}, "train configs/xor.yaml --epochs -5 --output-dir out",
     "--epochs -5: training.epochs: expected a value greater than or equal to 1, received -5"),
    ("train-epochs-zero", {}, "train configs/xor.yaml --epochs 0 --output-dir out",
     "--epochs 0: training.epochs: expected a value greater than or equal to 1, received 0"),
    # output paths, checked before any work
    ("plot-out-directory", {"pics": directory}, "plot models/basic_model.json --out pics",
     "--out pics: is a directory, expected a file name"),
    ("plot-out-under-a-file", {"pics": text("a file")}, "plot models/basic_model.json --out pics/x.png",
     "--out pics/x.png: pics is a file, expected a directory there"),
    ("plot-out-deep-under-a-file", {"pics": text("a file")}, "plot models/basic_model.json -o pics/a/b/x.png",
     "--out pics/a/b/x.png: pics is a file, expected a directory there"),
    ("export-dir-is-a-file", {"out": text("a file")}, "export models/basic_model.json out --to keras2",
     "out: is a file, expected a directory"),
    ("export-dir-under-a-file", {"out": text("a file")}, "export models/basic_model.json out/k2 --to keras3",
     "out/k2: out is a file, expected a directory there"),
    ("export-model-empty", {}, "export '' out --to keras2", "MODEL: expected a model .json file, received an empty path"),
    ("plot-model-empty", {}, "plot ''", "MODEL: expected a model .json file, received an empty path"),
    ("plot-model-directory", {"m.json": directory}, "plot m.json", "MODEL m.json: is a directory, expected a model .json file"),
    ("evaluate-data-empty", {}, "evaluate -d ''", "--data .: is a directory, expected a config (.yaml) or a CSV, Parquet or .npy file"),
    ("summary-directory", {"net.yaml": directory}, "summary net.yaml",
     "TARGET net.yaml: is a directory; summary takes a config (.yaml) or a saved model (.json)"),
    ("export-model-directory", {"m": directory}, "export m out --to keras", "MODEL m: is a directory, expected a model .json file"),
]


@pytest.fixture(scope="module")
def shared_model(tmp_path_factory):
    """A folder with configs/ and the XOR model trained into models/, shared by every case."""
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(REPO / "configs", root / "configs")
    here = os.getcwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(app, ["train", "configs/xor.yaml", "--quiet"], catch_exceptions=False)
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.stderr
    return root


@pytest.mark.parametrize("files, command, message", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_input_is_one_clear_error(shared_model, monkeypatch, request, files, command, message):
    import shlex

    case = shared_model / "cases" / request.node.callspec.id
    case.mkdir(parents=True)
    for name, make in files.items():
        (case / name).parent.mkdir(parents=True, exist_ok=True)
        make(case / name)
    (case / "configs").mkdir(exist_ok=True)
    (case / "models").symlink_to(shared_model / "models")
    shutil.copy(shared_model / "configs/xor.yaml", case / "configs/xor.yaml")
    monkeypatch.chdir(case)
    command, _, stdin = command.partition(" <")
    before = sorted(str(p.relative_to(case)) for p in case.rglob("*"))
    result = CliRunner().invoke(app, shlex.split(command), input=stdin or None, catch_exceptions=False)
    assert (result.exit_code, result.stdout) == (2, ""), result.stderr
    expected = message.replace("{case}", str(case.resolve()))
    assert result.stderr == f"error: {expected}\n"
    assert sorted(str(p.relative_to(case)) for p in case.rglob("*")) == before  # nothing written


def test_at_least_thirty_cases():
    assert len(CASES) >= 30 and len({case[0] for case in CASES}) == len(CASES)
