"""Rough edges of the CLI: strict JSON, byte-order marks, help text, --debug anywhere, flag names in
errors, train --format json / --fail-if-not-converged, evaluate --label, summary's default, the
progress bar's width. Everything through the real CLI runner."""

import io
import json
import re
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import REPO, one_error, write
from test_train import SUMMARY

BOM = "\ufeff"


def strict_json(text):
    """json.loads that refuses NaN, Infinity and -Infinity, as strict parsers do."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


# --- JSON output is JSON -------------------------------------------------------------


def test_json_outputs_parse_strictly(trained, xornet):
    rows = strict_json(xornet("predict", "-f", "json").stdout)
    assert [row["class"] for row in rows] == [0, 1, 1, 0]
    rows = strict_json(xornet("predict", "--x", "1e30,-1e30", "--x", "0,1", "-f", "json").stdout)
    assert np.allclose([row["input"] for row in rows], [[1e30, -1e30], [0, 1]]) and rows[1]["class"] == 1
    scores = strict_json(xornet("evaluate", "-d", "configs/xor.yaml", "-f", "json").stdout)
    assert scores["accuracy"] == 1.0
    result = xornet("predict", "-i", "-", "-f", "json", input="x1,x2\n")
    assert one_error(result) == "error: <stdin>: the CSV has a header but no data rows, expected rows of 2 numbers"


def test_outputs_that_overflow_are_refused_not_printed_as_nan(workdir, xornet):
    # A linear hidden layer whose two units become +inf and -inf for a huge input: the output is nan.
    write("configs/linear.yaml", "name: linear\nseed: 1\ndata: {table: xor}\nmodel:\n  layers:\n"
          "    - {type: Dense, units: 2, input_dim: 2}\n    - {type: Dense, units: 1}\n"
          "    - {type: Activation, activation: sigmoid}\ntraining: {epochs: 1, restarts: 0}\noutput: {dir: lin}\n")
    assert xornet("train", "configs/linear.yaml", "-q").exit_code == 0
    shutil.copy(workdir / "lin/basic_model.json", workdir / "big_model.json")
    shutil.copy(workdir / "lin/basic_weights.h5", workdir / "big_weights.h5")
    with h5py.File(workdir / "big_weights.h5", "r+") as f:
        f["dense/dense/kernel:0"][...] = np.array([[10.0, -10.0], [0.0, 0.0]], "float32")
        f["dense_1/dense_1/kernel:0"][...] = np.array([[1.0], [1.0]], "float32")
    ok = xornet("predict", "-m", "big_model.json", "--x", "1,1", "-f", "json")
    assert ok.exit_code == 0 and len(strict_json(ok.stdout)) == 1
    for output_format in ("json", "csv", "table"):
        result = xornet("predict", "-m", "big_model.json", "--x", "0,0", "--x", "1e38,0", "-f", output_format)
        assert one_error(result) == (
            "error: input row 2 ([1e+38, 0]): the model's output is nan, not a finite number; "
            "the inputs are too large for this network (hint: scale the inputs like the training data)")


@pytest.mark.parametrize("args", [["plot", "models/basic_model.json", "--out", "/proc/xornet/plot.png"],
                                  ["export", "models/basic_model.json", "/proc/xornet", "--to", "keras2"]])
def test_unwritable_output_places_are_refused_before_work(trained, xornet, args):
    message = one_error(xornet(*args))
    assert re.fullmatch(r"error: (--out )?/proc/xornet(/plot.png)?: cannot write into /proc \(.+\)", message), message


# --- byte-order marks ----------------------------------------------------------------


def test_a_byte_order_mark_is_not_data(trained, xornet):
    (trained / "bom.csv").write_bytes((BOM + "0,1\n1,1\n").encode())
    result = xornet("predict", "-i", "bom.csv", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:2] + line.split(",")[3:] for line in result.stdout.splitlines()] == [
        ["x1", "x2", "class"], ["0", "1", "1"], ["1", "1", "0"]]
    # A header behind a mark is still a header, and picks the named columns (stdin too).
    result = xornet("predict", "-i", "-", "-f", "csv", input=BOM + "y,x2,x1\n1,0,1\n")
    assert [line.split(",")[:2] for line in result.stdout.splitlines()] == [["x1", "x2"], ["1", "0"]]
    (trained / "data.csv").write_bytes((BOM + "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n").encode())
    scores = strict_json(xornet("evaluate", "-d", "data.csv", "-f", "json").stdout)
    assert (scores["rows"], scores["accuracy"]) == (4, 1.0)


def test_training_data_with_a_byte_order_mark(workdir, xornet):
    (workdir / "xor.csv").write_bytes((BOM + "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n").encode())
    write("configs/bom.yaml", (workdir / "configs/xor.yaml").read_text().replace(
        "  table: xor ", "  path: ../xor.csv ").replace("input_dim: 2", "input_dim: 2") + "\n")
    result = xornet("train", "configs/bom.yaml", "--output-dir", "bom", "--epochs", "1", "--set", "training.restarts=0")
    assert result.exit_code == 0, result.stderr
    assert "Data: xor.csv, 4 rows, 2 inputs\n" in result.stdout
    assert "a b  probability  class  target\n" in result.stdout


# --- evaluate: labels and --label ----------------------------------------------------


def test_evaluate_refuses_labels_a_binary_model_cannot_have(trained, xornet):
    write("d.csv", "x1,x2,y\n0,0,0\n0,1,1\n1,0,5\n1,1,0\n")
    assert one_error(xornet("evaluate", "-d", "d.csv")) == (
        "error: d.csv, line 4: expected a label of 0 or 1 (the model has one output), received 5 (1 such row)")


def test_evaluate_label_picks_the_label_column(trained, xornet):
    write("t.csv", "target,x1,x2\n0,0,0\n1,0,1\n1,1,0\n1,1,1\n")
    assert one_error(xornet("evaluate", "-d", "t.csv")) == (
        "error: t.csv: data.label: no column named 'y'; the file has columns: target, x1, x2")
    result = xornet("evaluate", "-d", "t.csv", "--label", "target")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "basic_model.json on t.csv (4 rows, loss binary_crossentropy)", "loss       0.7437", "accuracy   75.0%"]


def test_evaluate_offers_only_the_formats_it_prints(trained, xornet):
    help_text = " ".join(xornet("evaluate", "--help").stdout.split())
    assert "-f, --format <table|json> table or json. [default: table]" in help_text
    assert xornet("evaluate", "-d", "configs/xor.yaml", "-f", "csv").exit_code == 2


# --- help text -----------------------------------------------------------------------


COMMANDS = [[], ["train"], ["predict"], ["summary"], ["evaluate"], ["plot"], ["sweep"], ["export"],
            ["config"], ["config", "show"], ["config", "init"], ["config", "validate"]]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "xornet" for c in COMMANDS])
def test_help_is_not_mangled(xornet, command):
    result = xornet(*command, "--help")
    assert result.exit_code == 0
    text = result.stdout
    assert "<bool>" not in text  # flags take no value
    assert not re.search(r"\w \.(\s|$)", text), text  # nothing in brackets eaten before a full stop
    assert "[[" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_help_says_what_defaults_mean(xornet):
    def flat(*command):
        return " ".join(xornet(*command, "--help").stdout.split())

    assert "-w, --weights <path> The HDF5 weights. Default: from the run record, else <stem>_weights.h5 beside the model." in flat("predict")
    assert ("--out <path> The picture to write; its suffix picks the format: .png, .svg, .pdf, .jpg, ... "
            "Default: <stem>_plot.png beside the model.") in flat("plot")
    seeds = flat("sweep")
    assert "--seeds <int> Train every setting from seeds 0 .. N-1 (default: the config's seed only)." in seeds
    assert "[default: 0]" not in seeds
    assert "--target-loss <float> Loss that counts as converged (default: training.target_loss, else 0.1)." in seeds
    assert "--fail-if-not-converged Exit with code 3 when training does not converge" in flat("train")


def test_completion_is_on_and_help_imports_no_tensorflow():
    code = ("import sys; from typer.testing import CliRunner; from xornet.cli import app; "
            "r = CliRunner().invoke(app, ['--help']); "
            "print('--install-completion' in r.stdout, '--show-completion' in r.stdout, "
            "'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "False", "False"]


# --- --debug anywhere, flags named as typed ------------------------------------------


@pytest.mark.parametrize("args", [["--debug", "predict", "-m", "nope.json"], ["predict", "-m", "nope.json", "--debug"],
                                  ["predict", "--debug", "-m", "nope.json"]])
def test_debug_before_or_after_the_command(workdir, xornet, monkeypatch, args):
    monkeypatch.delenv("XORNET_DEBUG", raising=False)
    result = xornet(*args)
    assert result.exit_code == 2
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.endswith("error: model file not found: looked for nope.json and models/nope.json "
                                  "(hint: train one with `xornet train CONFIG`, or give the path of a saved model's .json (or .keras) file)\n")
    assert "Traceback" not in xornet("predict", "-m", "nope.json").stderr  # the next call is not in debug mode
    assert "XORNET_DEBUG" not in os.environ  # nor are processes it starts (servers, sweep workers)


def test_flag_errors_name_the_flag_typed(workdir, xornet):
    assert one_error(xornet("train", "configs/xor.yaml", "--seed", "-1")) == (
        "error: --seed -1: seed: expected a value greater than or equal to 0, received -1")
    assert one_error(xornet("train", "configs/xor.yaml", "--set", "training.epochs=-5")) == (
        "error: --set training.epochs=-5: training.epochs: expected a value greater than or equal to 1, received -5")


# --- train: --format json, --fail-if-not-converged -----------------------------------


def test_train_format_json_is_one_object(workdir, xornet):
    result = xornet("train", "configs/xor.yaml", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = strict_json(result.stdout)
    assert result.stdout.count("\n") == 1 and result.stderr == ""
    assert report == {
        "experiment": "xor",
        "files": {"model": "models/basic_model.json", "weights": "models/basic_weights.h5",
                  "history": "models/basic_history.csv", "record": "models/basic_run.json"},
        "final": {"loss": pytest.approx(0.0498, abs=1e-4), "accuracy": 1.0},
        "converged": True, "epochs": 3000, "epochs_run": 788, "stop_reason": "target_loss", "attempts": 1,
        "seed": 42, "engine": "fast", "seconds": report["seconds"],
    }
    assert all((workdir / path).is_file() for path in report["files"].values())

    held_out = strict_json(xornet("train", REPO / "configs/iris.yaml", "--format", "json").stdout)["held_out"]
    assert held_out == {
        "validation": {"rows": 30, "loss": pytest.approx(0.1707, abs=1e-4), "accuracy": pytest.approx(0.9)},
        "test": {"rows": 30, "loss": pytest.approx(0.0865, abs=1e-4), "accuracy": pytest.approx(0.9667, abs=1e-4)}}


def test_not_converged_exits_0_or_3_with_the_flag(workdir, xornet):
    args = ["train", "configs/xor.yaml", "--epochs", "5", "--set", "training.restarts=0", "--output-dir", "short"]
    default = xornet(*args)
    assert default.exit_code == 0
    assert default.stderr.startswith("warning: training did not converge (")
    strict = xornet(*args, "--fail-if-not-converged", "-f", "json", "--force")
    assert strict.exit_code == 3
    report = strict_json(strict.stdout)
    assert (report["converged"], report["epochs_run"], report["stop_reason"]) == (False, 5, "completed")
    assert strict.stderr.startswith("warning: training did not converge (") and strict.stderr.count("\n") == 1
    assert (workdir / "short/basic_model.json").is_file()  # the files are still written


# --- summary's default ---------------------------------------------------------------


def test_summary_without_argument_shows_the_saved_model(trained, xornet):
    result = xornet("summary")
    assert result.exit_code == 0
    assert result.stdout == xornet("summary", "models/basic_model.json").stdout
    assert result.stdout.startswith("Model file models/basic_model.json\n")


def test_summary_without_a_saved_model_says_it_shows_the_reference_net(workdir, xornet):
    result = xornet("summary")
    assert result.exit_code == 0
    assert result.stdout == "Experiment xor (reference XOR experiment)\n" + SUMMARY
    assert result.stderr == "note: no saved basic_model.json: showing the reference XOR net, built but not trained\n"


# --- the progress bar fits the terminal ----------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 120])
def test_progress_bar_line_fits_the_terminal(width):
    from rich.console import Console

    from xornet.cli.train import ProgressBar

    bar = ProgressBar(True, Console(file=io.StringIO(), width=width, force_terminal=True))
    bar.started -= 100.0  # a long run, so the bar shows
    bar(5282, 20000, {"loss": 0.123456, "accuracy": 0.75, "mean_squared_error": 0.25})
    shown = Console(file=io.StringIO(), width=width, record=True)
    shown.print(bar.bar.get_renderable())
    bar.close()
    line = shown.export_text().rstrip("\n")
    assert "\n" not in line and len(line) <= width
    assert line.startswith("epoch  5282/20000 ")
    assert re.search(r" (-:--:--|\d:\d\d:\d\d)$", line), line  # the time left is not cut
    assert "loss 0.1235" in line
    if width >= 120:
        assert "mean_squared_error 0.2500  " in line and "epochs/s" in line


def test_a_reader_that_leaves_early_costs_no_model_and_no_error(workdir):
    """`xornet train CONFIG | head -1`: once the pipe closes, train carries on to save its model, without an
    error; predict stops writing. Both exit 0 with nothing on stderr."""
    train = subprocess.Popen([sys.executable, "-m", "xornet", "train", "configs/xor.yaml"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert train.stdout.readline() == b"Experiment xor (configs/xor.yaml), seed 42\n"
    train.stdout.close()  # the rest is written after the reader has gone
    assert (train.wait(), train.stderr.read()) == (0, b"")
    assert sorted(p.name for p in (workdir / "models").glob("basic*")) == [
        "basic_history.csv", "basic_model.json", "basic_run.json", "basic_weights.h5"]

    (workdir / "many.csv").write_text("0,1\n1,1\n" * 100_000)  # more than a pipe holds
    predict = subprocess.Popen([sys.executable, "-m", "xornet", "predict", "-m", "models/basic_model.json",
                                "-i", "many.csv", "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert predict.stdout.readline() == b"x1,x2,probability,class\n"
    predict.stdout.close()
    assert (predict.wait(), predict.stderr.read()) == (0, b"")
