"""Streamed runs (data.stream) against in-memory runs of the same config and files: data.missing, data.validation_path
and data.test_path give the same fills, counts, histories and scores.

Every comparison here trains on the whole training file (no data.validation / data.test fraction), with
training.shuffle: false: in memory and streamed, the same rows in the same batches, so the histories agree to
float rounding (the hash split of a streamed file differs from the in-memory split, which is why no fraction is used).
"""

import json
import re

import numpy as np
import pytest

from tests.conftest import write
from tests.test_stream import config, make_rows

NUMBERS = re.compile(r"\d+\.\d+(?:e[-+]\d+)?")


def write_gaps(name, x, y):
    """A CSV of x and y where NaN is an empty cell."""
    cells = [["" if np.isnan(v) else f"{v:.6g}" for v in row] for row in np.column_stack([x, y])]
    write(name, "f0,f1,f2,f3,label\n" + "".join(",".join(row) + "\n" for row in cells))


def with_gaps(rows, seed, label_gaps=3):
    x, y = make_rows(rows, seed=seed)
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < 0.08] = np.nan
    y[rng.choice(rows, label_gaps, replace=False)] = np.nan
    return x, y


def pair(name, extra, epochs=4, learning_rate=0.02, training=""):
    """Two configs of the same experiment: `{name}_mem` in memory, `{name}_str` streamed; epochs in file order."""
    for how, stream in (("mem", "false"), ("str", "true")):
        text = config(f"{name}_{how}", "rows.csv", f"{extra}  normalize: true\n  stream: {stream}\n").read_text()
        text = text.replace("learning_rate: 0.02", f"learning_rate: {learning_rate}")
        write(f"{name}_{how}.yaml", text.replace("epochs: 3", f"epochs: {epochs}\n  shuffle: false{training}"))


def train(xornet, workdir, names):
    """(stdout, run record) of training each config `names` (name.yaml, into out_name)."""
    outputs, records = [], []
    for name in names:
        result = xornet("train", f"{name}.yaml")
        assert result.exit_code == 0 and result.stderr == "", result.stderr  # no warning either
        outputs.append(result.stdout)
        records.append(json.loads((workdir / f"out_{name}/basic_run.json").read_text()))
    return outputs, records


def train_both(xornet, workdir, name):
    outputs, records = train(xornet, workdir, [f"{name}_mem", f"{name}_str"])
    assert "engine fast (streamed)" in outputs[1] and "streamed" not in outputs[0]
    return outputs, records


def lines_with(text, start):
    return [line for line in text.splitlines() if line.startswith(start)]


def assert_same_numbers(first, second, tolerance=1e-5):
    """The same text but for float rounding in its numbers."""
    assert NUMBERS.sub("#", first) == NUMBERS.sub("#", second)
    np.testing.assert_allclose([float(v) for v in NUMBERS.findall(first)],
                               [float(v) for v in NUMBERS.findall(second)], atol=tolerance, rtol=0)


@pytest.mark.parametrize("policy", ["mean", "zero", "drop"])
def test_streamed_missing_cells_are_filled_or_dropped_as_in_memory(workdir, xornet, policy):
    x, y = with_gaps(300, seed=5)
    write_gaps("rows.csv", x, y)
    pair("gaps", f"  missing: {policy}\n")
    (mem, streamed), (memory, record) = train_both(xornet, workdir, "gaps")
    kept = ~np.isnan(y) & (~np.isnan(x).any(axis=1) if policy == "drop" else True)
    filled = 0 if policy == "drop" else int(np.isnan(x[kept]).sum())
    assert lines_with(streamed, "Missing values") == lines_with(mem, "Missing values") == [
        f"Missing values (data.missing: {policy}): {int((~kept).sum())} rows dropped, {filled} cells filled"]
    assert lines_with(streamed, "Data: ") == lines_with(mem, "Data: ") == [f"Data: rows.csv, {int(kept.sum())} rows, 4 inputs"]
    assert record["data"]["missing"] == memory["data"]["missing"] == {
        "policy": policy, "rows_dropped": int((~kept).sum()), "cells_filled": filled}
    assert record["data"]["rows"] == memory["data"]["rows"] == 300  # the file's rows, dropped ones too
    assert list(record["data"]["fill"]) == list(memory["data"]["fill"]) == ([] if policy == "drop" else ["f0", "f1", "f2", "f3"])
    means = np.nanmean(x[kept].astype("float64"), axis=0) if policy == "mean" else np.zeros(4)
    for fills in (record["data"]["fill"], memory["data"]["fill"]):
        np.testing.assert_allclose(list(fills.values()), means[:len(fills)], rtol=1e-6, atol=1e-7)
    for name in ("loss", "accuracy"):  # the same filled rows, normalized alike, in the same batches
        np.testing.assert_allclose(record["history"][name], memory["history"][name], atol=1e-5, rtol=0)
    write("ask.csv", "f0,f1,f2,f3\n0.5,,50,\n,3,,0.1\n")
    answers = [xornet("predict", "--model", f"out_gaps_{how}/basic_model.json", "--input", "ask.csv", "--format", "csv")
               for how in ("mem", "str")]
    if policy == "drop":  # nothing to fill with: both refuse, alike
        assert answers[0].exit_code == answers[1].exit_code == 2 and answers[0].stderr == answers[1].stderr
    else:  # filled with the recorded values
        assert answers[0].exit_code == answers[1].exit_code == 0, answers[1].stderr
        assert_same_numbers(answers[0].stdout, answers[1].stdout)


def test_streamed_mean_fills_the_test_rows_evaluate_scores(workdir, xornet):
    x, y = with_gaps(600, seed=6)
    write_gaps("rows.csv", x, y)
    config("held", "rows.csv", "  missing: mean\n  test: 0.3\n  normalize: true\n  stream: true\n")
    result = xornet("train", "held.yaml")
    assert result.exit_code == 0, result.stderr
    record = json.loads((workdir / "out_held/basic_run.json").read_text())
    scores = json.loads(xornet("evaluate", "-m", "out_held/basic_model.json", "-f", "json").stdout)
    assert scores["rows"] == record["held_out"]["test"]["rows"]  # the test rows' values hash matched: filled alike
    assert scores["loss"] == pytest.approx(record["held_out"]["test"]["loss"], abs=1e-5)


def test_streamed_missing_errors_say_what_in_memory_says(workdir, xornet):
    x, y = with_gaps(50, seed=7, label_gaps=0)
    write_gaps("rows.csv", x, y)
    errors = []
    for how, stream in (("mem", "false"), ("str", "true")):
        config(f"err_{how}", "rows.csv", f"  stream: {stream}\n")
        errors.append(xornet("train", f"err_{how}.yaml"))
    assert errors[0].exit_code == errors[1].exit_code == 2
    assert errors[1].stderr == errors[0].stderr
    assert f"({int(np.isnan(x).sum())} missing cells in the file) (hint: fill it in, or set data.missing: drop, mean or zero)" in errors[1].stderr
    x[:, 1] = np.nan
    write_gaps("rows.csv", x, y)
    for policy in ("drop", "mean"):
        errors = []
        for how, stream in (("mem", "false"), ("str", "true")):
            config(f"none_{how}", "rows.csv", f"  stream: {stream}\n  missing: {policy}\n")
            errors.append(xornet("train", f"none_{how}.yaml", "--force"))
        assert errors[0].exit_code == errors[1].exit_code == 2
        assert errors[1].stderr == errors[0].stderr, policy


def write_parts(parquet_test=False):
    """rows.csv to train on, val.csv and test.csv (or test.parquet) beside it, each with a few missing cells."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name, seed in (("rows.csv", 8), ("val.csv", 9), ("test.csv", 10)):
        x, y = with_gaps(300, seed=seed, label_gaps=2)
        write_gaps(name, x, y)
        if name == "test.csv" and parquet_test:
            columns = {f"f{i}": x[:, i] for i in range(4)} | {"label": y}
            pq.write_table(pa.table(columns), "test.parquet")


@pytest.mark.parametrize("test_file", ["test.csv", "test.parquet"])
def test_streamed_validation_and_test_files_score_as_in_memory(workdir, xornet, test_file):
    write_parts(parquet_test=test_file.endswith(".parquet"))
    pair("files", f"  missing: mean\n  validation_path: val.csv\n  test_path: {test_file}\n",
         epochs=40, learning_rate=0.2, training="\n  early_stopping: {monitor: val_loss, patience: 2}")
    (mem, streamed), (memory, record) = train_both(xornet, workdir, "files")
    assert lines_with(streamed, "Data: ") == lines_with(mem, "Data: ") == [
        "Data: rows.csv, 298 training rows (298 validation, 298 test), 4 inputs"]
    assert record["stop_reason"] == memory["stop_reason"] == "early_stopping"
    assert record["epochs_run"] == memory["epochs_run"] < 40
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(record["history"][name], memory["history"][name], atol=1e-5, rtol=0)
    for name in ("validation", "test"):
        assert record["held_out"][name]["rows"] == memory["held_out"][name]["rows"] == 298
        np.testing.assert_allclose(record["held_out"][name]["loss"], memory["held_out"][name]["loss"], atol=1e-5)
        assert {k: v for k, v in record["data"]["splits"][name].items() if k != "values_sha256"} == \
               {k: v for k, v in memory["data"]["splits"][name].items() if k != "values_sha256"}
    # (values_sha256 differs: it hashes the filled test rows, and the two means differ in float32's last digit)
    assert_same_numbers("\n".join(lines_with(streamed, "On the ")), "\n".join(lines_with(mem, "On the ")))
    scores = [json.loads(xornet("evaluate", "-m", f"out_files_{how}/basic_model.json", "-f", "json").stdout)
              for how in ("mem", "str")]
    assert scores[1]["rows"] == scores[0]["rows"] == 298
    assert scores[1]["loss"] == pytest.approx(scores[0]["loss"], abs=1e-5)
    assert scores[1]["loss"] == pytest.approx(record["held_out"]["test"]["loss"], abs=1e-5)


def test_a_streamed_validation_file_is_checked_as_in_memory(workdir, xornet):
    write_parts()
    write("val.csv", "f0,f1,f3,label\n1,2,3,0\n")
    errors = []
    for how, stream in (("mem", "false"), ("str", "true")):
        config(f"bad_{how}", "rows.csv", f"  missing: mean\n  validation_path: val.csv\n  stream: {stream}\n")
        errors.append(xornet("train", f"bad_{how}.yaml"))
    assert errors[0].exit_code == errors[1].exit_code == 2
    assert errors[1].stderr == errors[0].stderr == (f"error: {workdir / 'val.csv'}: data.validation_path: no column named "
                                                    "'f2'; the file has columns: f0, f1, f3, label\n")
    result = xornet("config", "validate", "bad_str.yaml")
    assert result.exit_code == 2 and result.stderr == errors[1].stderr
    write("val.csv", "f0,f1,f2,f3,label\n1,2,3,4,0\n1,,3,4,1\n")
    errors = []
    for how in ("mem", "str"):
        write(f"bad_{how}.yaml", (workdir / f"bad_{how}.yaml").read_text().replace("  missing: mean\n", ""))
        errors.append(xornet("train", f"bad_{how}.yaml", "--force"))
    assert errors[0].exit_code == errors[1].exit_code == 2
    assert errors[1].stderr == errors[0].stderr


def write_colors(name, rows, seed, colors=("red", "green", "blue")):
    """f0, color (text, a few empty), size (numbers read as categories), label: a CSV or Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    f0 = rng.normal(size=rows).round(3)
    color = rng.choice(colors, rows).astype(object)
    color[rng.choice(rows, 4, replace=False)] = None
    size = rng.choice([1, 2, 3], rows)
    label = ((f0 > 0) ^ (color == "red")).astype(int)
    columns = {"f0": f0, "color": color, "size": size, "label": label}
    if name.endswith(".parquet"):
        pq.write_table(pa.table({k: list(v) if k == "color" else v for k, v in columns.items()}), name)
    else:
        write(name, "f0,color,size,label\n" + "".join(f"{a},{'' if c is None else c},{s},{y}\n"
                                                      for a, c, s, y in zip(f0, color, size, label)))


@pytest.mark.parametrize("data, unknown", [("rows.csv", "ignore"), ("rows.parquet", "error")])
def test_streamed_categorical_columns_are_one_hot_encoded_as_in_memory(workdir, xornet, data, unknown):
    write_colors(data, 300, seed=11)
    write_colors("test.csv", 100, seed=12)
    missing = "zero" if unknown == "ignore" else "drop"  # zero: a missing color goes to the <other> column
    for how, stream in (("mem", "false"), ("str", "true")):
        text = config(f"cat_{how}", data, f"  categorical: [color, size]\n  unknown: {unknown}\n  missing: {missing}\n"
                                          f"  test_path: test.csv\n  normalize: true\n  stream: {stream}\n").read_text()
        write(f"cat_{how}.yaml", text.replace("epochs: 3", "epochs: 4\n  shuffle: false"))
    (mem, streamed), (memory, record) = train_both(xornet, workdir, "cat")
    other = ["color=<other>"] if unknown == "ignore" else []
    assert record["data"]["categorical"] == memory["data"]["categorical"] == {"color": ["blue", "green", "red"],
                                                                             "size": ["1", "2", "3"]}
    assert record["data"]["inputs"] == memory["data"]["inputs"] == [
        "f0", "color=blue", "color=green", "color=red", *other, "size=1", "size=2", "size=3",
        *(["size=<other>"] if other else [])]
    assert record["data"]["missing"] == memory["data"]["missing"]
    assert lines_with(streamed, "Data: ") == lines_with(mem, "Data: ")
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(record["history"][name], memory["history"][name], atol=1e-5, rtol=0)
    assert record["held_out"]["test"]["rows"] == memory["held_out"]["test"]["rows"]
    assert record["held_out"]["test"]["loss"] == pytest.approx(memory["held_out"]["test"]["loss"], abs=1e-5)
    assert record["data"]["splits"]["test"]["values_sha256"] == memory["data"]["splits"]["test"]["values_sha256"]
    scores = [json.loads(xornet("evaluate", "-m", f"out_cat_{how}/basic_model.json", "-f", "json").stdout)
              for how in ("mem", "str")]
    assert scores[1]["loss"] == pytest.approx(scores[0]["loss"], abs=1e-5)
    write("ask.csv", "f0,color,size\n0.5,red,2\n-1,green,1\n")
    answers = [xornet("predict", "--model", f"out_cat_{how}/basic_model.json", "--input", "ask.csv", "--format", "csv")
               for how in ("mem", "str")]
    assert answers[0].exit_code == answers[1].exit_code == 0, answers[1].stderr
    assert_same_numbers(answers[0].stdout, answers[1].stdout)
    write_colors("test.csv", 100, seed=12, colors=("red", "green", "purple"))  # a category training never saw
    errors = [xornet("train", f"cat_{how}.yaml", "--force") for how in ("mem", "str")]
    assert errors[0].exit_code == errors[1].exit_code == (0 if unknown == "ignore" else 2)
    assert errors[1].stderr == errors[0].stderr
    if unknown == "error":
        assert "column 'color': unknown category 'purple', the training rows have: blue, green, red" in errors[1].stderr


def test_streamed_vocabularies_come_from_the_training_rows_only(workdir, monkeypatch):
    from xornet.config import load_config
    from xornet.data import stream as streaming
    from xornet.data.stream import open_stream, split_codes

    rows = 400
    names = np.array([f"c{i}" for i in range(rows)], object)  # every row its own category
    write("rows.csv", "f0,color,label\n" + "".join(f"{i % 7},{n},{i % 2}\n" for i, n in enumerate(names)))
    config("voc", "rows.csv", "  categorical: [color]\n  unknown: ignore\n  test: 0.3\n  stream: true\n")
    monkeypatch.setattr(streaming, "READ_ROWS", 64)  # many record batches
    stream = open_stream(load_config("voc.yaml"), seed=3)
    train = split_codes(np.arange(rows), None, 0.3, seed=3) == 0
    assert stream.categorical == {"color": sorted(names[train])} and 0 < train.sum() < rows
    x = np.concatenate([x for _, x, _ in stream.part("test")])
    assert x.shape == (rows - train.sum(), 1 + train.sum() + 1) and np.all(x[:, -1] == 1)  # all <other>


def test_streamed_keras_engine_is_model_fit_on_the_fast_loops_batches(workdir, xornet):
    x, _ = make_rows(900, seed=2)
    y = (x[:, 0] > 1.0).astype("float32")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({f"f{i}": x[:, i] for i in range(4)} | {"label": y}), "rows.parquet")
    for engine in ("auto", "keras"):  # shuffled epochs, class weights, validation rows, early stopping
        text = config(f"eng_{engine}", "rows.parquet", "  validation: 0.3\n  normalize: true\n  stream: true\n").read_text()
        write(f"eng_{engine}.yaml", text.replace("epochs: 3", f"epochs: 60\n  engine: {engine}\n  class_weight: balanced\n"
                                                 "  early_stopping: {monitor: val_loss, patience: 3}"))
    (fast, keras), (loop, fitted) = train(xornet, workdir, ["eng_auto", "eng_keras"])
    assert "engine keras (streamed)" in keras and "engine fast (streamed)" in fast
    assert fitted["stop_reason"] == loop["stop_reason"] == "early_stopping"
    assert fitted["epochs_run"] == loop["epochs_run"] < 60
    assert sorted(fitted["history"]) == sorted(loop["history"])
    for name in loop["history"]:
        np.testing.assert_allclose(fitted["history"][name], loop["history"][name], atol=1e-5, rtol=0)


def test_streamed_categories_written_as_numbers_match_by_value_across_files(workdir, xornet):
    """A CSV's 3.0 trains; a Parquet validation file's 3 is the same category, as in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    size, f0 = rng.integers(1, 4, 300), rng.normal(size=300).round(3)
    label = ((f0 > 0) ^ (size == 2)).astype(int)
    write("rows.csv", "f0,size,label\n" + "".join(f"{f},{s:.1f},{y}\n" for f, s, y in zip(f0, size, label)))
    pq.write_table(pa.table({"f0": f0[:60], "size": size[:60], "label": label[:60]}), "val.parquet")
    for how in ("true", "false"):
        config(f"num_{how}", "rows.csv", f"  categorical: [size]\n  validation_path: val.parquet\n  stream: {how}\n")
        result = xornet("train", f"num_{how}.yaml", "-q")
        assert (result.exit_code, result.stderr) == (0, "")
