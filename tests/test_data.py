"""Real tabular data through the CLI: pyarrow reading, missing values, splits, categorical columns, tasks, normalization."""

import json

import numpy as np
import pytest

from conftest import write

MODEL = ("model:\n  layers:\n    - {type: Dense, units: 8, activation: tanh}\n"
         "    - {type: Dense, units: 1, activation: sigmoid}\n")


def rows_csv(path, rows=40, seed=0, header="a,b,color,y", color=True):
    """A small separable problem: y = a + b > 0, with a color column that carries no signal."""
    rng = np.random.default_rng(seed)
    lines = [header]
    for a, b in rng.normal(size=(rows, 2)).round(3):
        cells = [f"{a:g}", f"{b:g}"] + ([["red", "green", "blue"][int(abs(a) * 10) % 3]] if color else [])
        lines.append(",".join(cells + [str(int(a + b > 0))]))
    return write(path, "\n".join(lines) + "\n")


def config(name, data, model=MODEL, training="training:\n  optimizer: adam\n  learning_rate: 0.05\n  epochs: 40\n"):
    return write(f"{name}.yaml", f"name: {name}\nseed: 7\ndata:\n{data}{model}{training}output:\n  dir: out_{name}\n")


def error(xornet, *args):
    result = xornet(*args)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr.strip()


def test_reading_csv_and_parquet_with_clear_errors(workdir, xornet):
    import pyarrow as pa
    import pyarrow.parquet as pq

    write("bom.csv", "\ufeffa,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    config("bom", "  path: bom.csv\n", model="", training="training:\n  epochs: 3\n")
    result = xornet("train", "bom.yaml")
    assert result.exit_code == 0, result.stderr
    assert "Data: bom.csv, 4 rows, 2 inputs\n" in result.stdout
    assert json.loads((workdir / "out_bom/basic_run.json").read_text())["data"]["features"] == ["a", "b"]

    write("bad.csv", "a,b,y\n" + "0,1,1\n" * 5 + "1,zero,0\n")
    config("bad", "  path: bad.csv\n", model="")
    assert error(xornet, "train", "bad.yaml") == (
        f"error: {workdir / 'bad.csv'}, line 7, column 'b': expected a number, received 'zero'")
    write("short.csv", "a,b,y\n0,1,1\n1,0\n")
    config("short", "  path: short.csv\n", model="")
    assert error(xornet, "train", "short.yaml") == f"error: {workdir / 'short.csv'}, line 3: expected 3 columns, received 2"
    assert error(xornet, "train", "bad.yaml", "--set", "data.label=3") == (
        f"error: --set data.label=3: {workdir / 'bad.csv'}: column 3 is out of range: the file has 3 columns, numbered "
        "from 0 to 2")

    pq.write_table(pa.table({"a": [0.0, 0.0, 1.0, 1.0], "b": [0, 1, 0, 1], "y": [0, 1, 1, 0]}), workdir / "gate.parquet")
    config("pq", "  path: gate.parquet\n", model="", training="training:\n  epochs: 3\n")
    result = xornet("train", "pq.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads((workdir / "out_pq/basic_run.json").read_text())["data"]["features"] == ["a", "b"]


def test_parquet_of_many_row_groups_reads_as_its_csv_twin(workdir, xornet):
    """Parquet is read batch by batch into the block: across row groups, with text, missing cells and
    dictionary columns, the run equals the same rows' CSV run."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows_csv("twin.csv", rows=300)
    lines = (workdir / "twin.csv").read_text().splitlines()
    for row in (5, 50, 200):  # three missing cells in a
        lines[row] = "," + lines[row].split(",", 1)[1]
    write("twin.csv", "\n".join(lines) + "\n")
    table = pacsv.read_csv(workdir / "twin.csv")
    table = table.set_column(2, "color", table.column("color").dictionary_encode())
    pq.write_table(table, workdir / "twin.parquet", row_group_size=32)
    assert pq.ParquetFile(workdir / "twin.parquet").num_row_groups == 10
    records = {}
    for kind in ("csv", "parquet"):
        config(kind, f"  path: twin.{kind}\n  categorical: [color]\n  missing: mean\n  validation: 0.2\n",
               training="training:\n  epochs: 3\n")
        result = xornet("train", f"{kind}.yaml", "-q")
        assert result.exit_code == 0, result.stderr
        records[kind] = json.loads((workdir / f"out_{kind}/basic_run.json").read_text().replace("twin.parquet",
                                                                                                  "twin.csv"))
    assert records["csv"]["data"]["missing"] == {"policy": "mean", "rows_dropped": 0, "cells_filled": 3}
    assert records["csv"]["data"] == records["parquet"]["data"]
    assert records["csv"]["history"] == records["parquet"]["history"]


def test_missing_values_error_by_default_or_drop_mean_zero_with_counts(workdir, xornet):
    write("gaps.csv", "a,b,y\n1,2,0\n3,,1\n4,5,1\n,6,0\n7,8,\n")
    config("gaps", "  path: gaps.csv\n", model="")
    assert error(xornet, "train", "gaps.yaml") == (
        f"error: {workdir / 'gaps.csv'}, line 3, column 'b': missing value (3 missing cells in the file) "
        "(hint: fill it in, or set data.missing: drop, mean or zero)")
    result = xornet("train", "gaps.yaml", "--set", "data.missing=mean", "--epochs", "2")
    assert result.exit_code == 0, result.stderr
    assert "Missing values (data.missing: mean): 1 row dropped, 2 cells filled\n" in result.stdout
    record = json.loads((workdir / "out_gaps/basic_run.json").read_text())["data"]
    assert record["missing"] == {"policy": "mean", "rows_dropped": 1, "cells_filled": 2}
    assert record["fill"] == {"a": pytest.approx((1 + 3 + 4) / 3), "b": pytest.approx((2 + 5 + 6) / 3)}
    result = xornet("train", "gaps.yaml", "--set", "data.missing=drop", "--epochs", "2", "--force")
    assert "Missing values (data.missing: drop): 3 rows dropped, 0 cells filled\n" in result.stdout
    assert "Data: gaps.csv, 2 rows, 2 inputs\n" in result.stdout
    assert error(xornet, "train", "gaps.yaml", "--set", "data.missing=some") .startswith(
        "error: --set data.missing=some: data.missing: expected 'error', 'drop', 'mean' or 'zero', received 'some'")


def test_held_out_splits_are_recorded_reported_and_evaluated(workdir, xornet):
    rows_csv("points.csv", rows=100, color=False, header="a,b,y")
    config("split", "  path: points.csv\n  validation: 0.2\n  test: 0.1\n")
    result = xornet("train", "split.yaml")
    assert result.exit_code == 0, result.stderr
    assert "Data: points.csv, 70 training rows (20 validation, 10 test), 2 inputs\n" in result.stdout
    record = json.loads((workdir / "out_split/basic_run.json").read_text())
    splits = record["data"]["splits"]
    assert splits["seed"] == 7 and [splits[p]["rows"] for p in ("train", "validation", "test")] == [70, 20, 10]
    assert all(len(splits[p]["sha256"]) == 64 for p in ("train", "validation", "test"))
    lines = result.stdout.splitlines()
    final = lines.index(next(line for line in lines if line.startswith("Final on the training rows: ")))
    assert lines[final + 1] == "On the validation rows (20): " + ", ".join(
        f"{k} {v * 100:.1f}%" if k == "accuracy" else f"{k} {v:.4f}"
        for k, v in record["held_out"]["validation"].items() if k != "rows")
    assert lines[final + 2].startswith("On the test rows (10): loss ")
    # Stratified: both classes keep their share in each part.
    labels = np.loadtxt(workdir / "points.csv", delimiter=",", skiprows=1)[:, 2]
    assert abs(labels.mean() - 0.5) < 0.15

    scores = json.loads(xornet("evaluate", "-m", "out_split/basic_model.json", "-f", "json").stdout)
    assert scores["rows"] == 10
    assert scores["loss"] == pytest.approx(record["held_out"]["test"]["loss"], rel=1e-4)
    assert scores["accuracy"] == pytest.approx(record["held_out"]["test"]["accuracy"])
    table = xornet("evaluate", "-m", "out_split/basic_model.json").stdout
    assert table.startswith("out_split/basic_model.json on the test rows of points.csv (10 rows, loss")
    whole = json.loads(xornet("evaluate", "-m", "out_split/basic_model.json", "--data", "points.csv",
                              "--label", "y", "-f", "json").stdout)
    assert whole["rows"] == 100

    original = (workdir / "points.csv").read_text()
    lines = original.splitlines()  # the same labels, so the same split, but other inputs
    write("points.csv", "\n".join([lines[0]] + [f"{float(a) + 1:g},{b},{y}" for a, b, y in
                                                (line.split(",") for line in lines[1:])]) + "\n")
    assert error(xornet, "evaluate", "-m", "out_split/basic_model.json") == (
        "error: out_split/basic_model.json: the test rows of points.csv hold other values than when the run scored "
        "them (the file changed since training) (hint: pass --data FILE to score the file as it is now)")
    write("points.csv", original)
    assert xornet("evaluate", "-m", "out_split/basic_model.json").exit_code == 0
    rows_csv("points.csv", rows=100, seed=1, color=False, header="a,b,y")  # the data changed since training
    assert error(xornet, "evaluate", "-m", "out_split/basic_model.json").startswith(
        "error: out_split/basic_model.json: the test split re-derived from the run record is not the one the run used")
    config("nosplit", "  path: points.csv\n", training="training:\n  epochs: 2\n")
    assert xornet("train", "nosplit.yaml", "-q").exit_code == 0
    assert error(xornet, "evaluate", "-m", "out_nosplit/basic_model.json") == (
        "error: out_nosplit/basic_model.json: the run has no test split to score (data.test or data.test_path in its "
        "config) (hint: pass --data FILE (and --label COLUMN) to score a file)")


def test_validation_and_test_files(workdir, xornet):
    rows_csv("train.csv", rows=60, color=False, header="a,b,y")
    rows_csv("val.csv", rows=15, seed=2, color=False, header="a,b,y")
    rows_csv("test.csv", rows=12, seed=3, color=False, header="a,b,y")
    config("files", "  path: train.csv\n  validation_path: val.csv\n  test_path: test.csv\n")
    result = xornet("train", "files.yaml")
    assert result.exit_code == 0, result.stderr
    assert "60 training rows (15 validation, 12 test)" in result.stdout
    assert "On the test rows (12): " in result.stdout
    assert json.loads(xornet("evaluate", "-m", "out_files/basic_model.json", "-f", "json").stdout)["rows"] == 12
    assert error(xornet, "train", "files.yaml", "--set", "data.validation=0.2") == (
        "error: --set data.validation=0.2: data: expected either data.validation (a fraction) or "
        "data.validation_path (a file), received both")


def test_categorical_columns_one_hot_from_training_rows(workdir, xornet):
    rows_csv("colors.csv", rows=60)
    config("cat", "  path: colors.csv\n  categorical: [color]\n  test: 0.2\n")
    result = xornet("train", "cat.yaml")
    assert result.exit_code == 0, result.stderr
    assert ", 5 inputs\n" in result.stdout
    record = json.loads((workdir / "out_cat/basic_run.json").read_text())["data"]
    assert record["categorical"] == {"color": ["blue", "green", "red"]}
    assert record["inputs"] == ["a", "b", "color=blue", "color=green", "color=red"]
    write("new.csv", "a,b,color\n2,1,red\n-2,-1,blue\n")
    result = xornet("predict", "-m", "out_cat/basic_model.json", "-i", "new.csv", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[:5] for line in result.stdout.splitlines()[1:]] == [
        ["2", "1", "0", "0", "1"], ["-2", "-1", "1", "0", "0"]]
    assert [line.split(",")[-1] for line in result.stdout.splitlines()[1:]] == ["1", "0"]
    scores = json.loads(xornet("evaluate", "-m", "out_cat/basic_model.json", "-f", "json").stdout)
    assert scores["rows"] == 12
    write("odd.csv", "a,b,color\n2,1,red\n-2,-1,purple\n")
    assert error(xornet, "predict", "-m", "out_cat/basic_model.json", "-i", "odd.csv") == (
        "error: odd.csv, line 3, column 'color': unknown category 'purple', the training rows have: blue, green, red "
        "(hint: train with data.unknown: ignore to give unseen categories their own column)")
    config("catignore", "  path: colors.csv\n  categorical: [color]\n  unknown: ignore\n", training="training:\n  epochs: 2\n")
    assert xornet("train", "catignore.yaml", "-q").exit_code == 0
    result = xornet("predict", "-m", "out_catignore/basic_model.json", "-i", "odd.csv", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("a,b,color=blue,color=green,color=red,color=<other>,probability")
    assert result.stdout.splitlines()[2].startswith("-2,-1,0,0,0,1,")
    # Normalized, the unseen-category column (0 in every training row) is centred, not scaled by Keras' 1e7.
    config("catnorm", "  path: colors.csv\n  categorical: [color]\n  unknown: ignore\n  normalize: true\n",
           training="training:\n  epochs: 2\n")
    assert xornet("train", "catnorm.yaml", "-q").exit_code == 0
    import keras

    model = keras.models.model_from_json((workdir / "out_catnorm/basic_model.json").read_text())
    model.load_weights(workdir / "out_catnorm/basic_weights.h5")
    mean, variance = (np.ravel(weight) for weight in model.layers[0].get_weights()[:2])
    assert (mean[-1], variance[-1]) == (0.0, 1.0) and 0 < variance[:-1].min() and variance[:-1].max() != 1.0
    result = xornet("predict", "-m", "out_catnorm/basic_model.json", "-i", "odd.csv", "-f", "json")
    unseen = np.array([[-2, -1, 0, 0, 0, 1]], "float32")
    assert json.loads(result.stdout)[1]["probability"] == pytest.approx(float(np.asarray(model(unseen))[0, 0]), abs=1e-6)
    config("cattext", "  path: colors.csv\n", training="training:\n  epochs: 2\n")
    first_color = (workdir / "colors.csv").read_text().splitlines()[1].split(",")[2]
    assert error(xornet, "train", "cattext.yaml") == (
        f"error: {workdir / 'colors.csv'}, line 2, column 'color': expected a number, received {first_color!r} (hint: "
        "a column of text: add it to data.categorical to one-hot encode it, or leave it out with data.features)")
    config("cattypo", "  path: colors.csv\n  categorical: [colour]\n", training="training:\n  epochs: 2\n")
    assert error(xornet, "train", "cattypo.yaml") == (  # named before the text cell is, which it explains
        f"error: {workdir / 'colors.csv'}: data.categorical: 'colour' is not one of the feature columns (a, b, color) "
        "(did you mean 'color'?)")


def test_task_and_last_layer_must_agree_before_training(workdir, xornet):
    write("three.csv", "a,b,kind\n0,0,x\n0,1,y\n1,0,z\n1,1,x\n")
    config("three", "  path: three.csv\n", model="")
    assert error(xornet, "train", "three.yaml") == (
        f"error: {workdir / 'three.csv'}: the label 'kind' has 3 classes (x, y, z), but the model ends in 1 sigmoid unit "
        "with loss binary_crossentropy (hint: end the model with Dense(3, activation softmax) and use loss "
        "sparse_categorical_crossentropy)")
    write("nums.csv", "a,b,y\n0,0,0\n0,1,1\n1,0,2\n1,1,0\n")
    config("nums", "  path: nums.csv\n", model="")
    assert "the label 'y' has 3 classes (0, 1, 2), but the model ends in 1 sigmoid unit" in error(xornet, "train", "nums.yaml")
    config("reg", "  path: three.csv\n", model="", training="training:\n  loss: mean_squared_error\n  metrics: []\n")
    assert error(xornet, "train", "reg.yaml") == (
        f"error: {workdir / 'three.csv'}, line 2, column 'kind': the label is text ('x'), expected numbers for loss "
        "mean_squared_error (hint: text labels are classes: use loss binary_crossentropy or sparse_categorical_crossentropy)")
    config("onesoftmax", "  path: nums.csv\n", model="model:\n  layers:\n    - {type: Dense, units: 1, activation: softmax}\n",
           training="training:\n  loss: sparse_categorical_crossentropy\n")
    assert error(xornet, "train", "onesoftmax.yaml") == (
        f"error: {workdir / 'nums.csv'}, line 3: label 'y' is 1, expected a class number from 0 to 0 for loss "
        "sparse_categorical_crossentropy (2 such rows) (hint: the model ends in 1 unit, one per class: the label has 3 "
        "class numbers, so end it with Dense(3, activation softmax))")


def test_multiclass_predict_and_evaluate_name_the_classes(workdir, xornet):
    lines = ["a,b,kind"] + [f"{a},{b},{['low', 'mid', 'high'][(a + b) // 2]}" for a in range(3) for b in range(3)] * 4
    write("kinds.csv", "\n".join(lines) + "\n")
    config("kinds", "  path: kinds.csv\n  normalize: true\n",
           model="model:\n  layers:\n    - {type: Dense, units: 16, activation: relu}\n"
                 "    - {type: Dense, units: 3, activation: softmax}\n",
           training="training:\n  optimizer: adam\n  learning_rate: 0.05\n  epochs: 150\n"
                    "  loss: sparse_categorical_crossentropy\n")
    result = xornet("train", "kinds.yaml")
    assert result.exit_code == 0, result.stderr
    assert json.loads((workdir / "out_kinds/basic_run.json").read_text())["data"]["classes"] == ["high", "low", "mid"]
    result = xornet("predict", "-m", "out_kinds/basic_model.json", "--x", "0,0", "--x", "2,2", "-f", "json")
    rows = json.loads(result.stdout)
    assert [row["class"] for row in rows] == ["low", "high"]
    assert set(rows[0]["probabilities"]) == {"high", "low", "mid"}
    table = xornet("evaluate", "-m", "out_kinds/basic_model.json", "--data", "kinds.csv").stdout
    assert "class  precision  recall      f1  support\nhigh      1.0000  1.0000  1.0000        4\n" in table
    assert table.endswith("            pred high   pred low   pred mid\ntrue high           4          0          0\n"
                          "true low            0         12          0\ntrue mid            0          0         20\n")
    assert error(xornet, "evaluate", "-m", "out_kinds/basic_model.json", "--data", "kinds.csv", "--label", "kinds") == (
        "error: --label kinds: kinds.csv: no column named 'kinds' (did you mean 'kind'?); the file has columns: "
        "a, b, kind")  # named from the header: reading the body first failed on the text column 'kind'


def test_regression_prints_values_and_mae_rmse_r2(workdir, xornet):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(80, 2)).round(3)
    write("line.csv", "a,b,t\n" + "".join(f"{a:g},{b:g},{3 * a - b + 10:g}\n" for a, b in x))
    config("line", "  path: line.csv\n  test: 0.25\n", model="model:\n  layers:\n    - {type: Dense, units: 1}\n",
           training="training:\n  optimizer: adam\n  learning_rate: 0.2\n  epochs: 300\n  loss: mean_squared_error\n"
                    "  metrics: [mean_absolute_error]\n")
    result = xornet("train", "line.yaml")
    assert result.exit_code == 0, result.stderr
    assert "prediction  target\n" in result.stdout
    result = xornet("predict", "-m", "out_line/basic_model.json", "--x", "0.5,0", "-f", "csv")
    assert result.stdout.splitlines()[0] == "a,b,prediction"
    assert float(result.stdout.splitlines()[1].split(",")[-1]) == pytest.approx(11.5, abs=0.1)
    lines = xornet("evaluate", "-m", "out_line/basic_model.json").stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["loss", "MAE", "RMSE", "R²"]
    assert float(lines[-1].split()[1]) > 0.99
    # Targets the last activation cannot reach are refused before training, not trained into "did not converge".
    config("sigmoidline", "  path: line.csv\n", model="model:\n  layers:\n    - {type: Dense, units: 1, activation: "
           "sigmoid}\n", training="training:\n  loss: mean_squared_error\n")
    assert error(xornet, "train", "sigmoidline.yaml") == (
        f"error: {workdir / 'line.csv'}: the label 't' runs from {min(3 * a - b + 10 for a, b in x):g} to "
        f"{max(3 * a - b + 10 for a, b in x):g}, but the model ends in sigmoid, whose outputs are between 0 and 1 "
        "(loss mean_squared_error) (hint: end the model with a linear Dense(1) for regression (no activation))")


def test_normalize_layer_is_first_and_plain_keras_reproduces_predictions(workdir, xornet):
    import keras

    write("scales.csv", "small,big,y\n" + "".join(f"{i % 7 / 100:g},{(i * 37) % 1000},{int((i * 37) % 1000 > 500)}\n"
                                                  for i in range(50)))
    config("scaled", "  path: scales.csv\n  normalize: true\n  validation: 0.2\n")
    assert xornet("train", "scaled.yaml", "-q").exit_code == 0
    architecture = json.loads((workdir / "out_scaled/basic_model.json").read_text())
    assert [layer["class_name"] for layer in architecture["config"]["layers"]][:2] == ["InputLayer", "Normalization"]
    model = keras.models.model_from_json((workdir / "out_scaled/basic_model.json").read_text())
    model.load_weights(workdir / "out_scaled/basic_weights.h5")
    x = np.array([[0.01, 100], [0.05, 900]], "float32")
    plain = np.asarray(model(x))[:, 0]
    result = xornet("predict", "-m", "out_scaled/basic_model.json", "--x", "0.01,100", "--x", "0.05,900", "-f", "json")
    assert [row["probability"] for row in json.loads(result.stdout)] == pytest.approx(plain.tolist(), abs=1e-6)
    normalization = model.layers[0]
    train_rows = np.loadtxt(workdir / "scales.csv", delimiter=",", skiprows=1)[:, :2]
    assert np.asarray(normalization.mean).ravel()[1] != pytest.approx(train_rows[:, 1].mean())  # training rows only


def test_predict_echoes_header_selected_inputs_as_written(workdir, xornet):
    write("gate.csv", "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    config("echo", "  path: gate.csv\n", model="", training="training:\n  epochs: 2\n")
    assert xornet("train", "echo.yaml", "-q").exit_code == 0
    write("in.csv", "y,b,a\n1,-1.4238,0.1\n")
    result = xornet("predict", "-m", "out_echo/basic_model.json", "-i", "in.csv", "-f", "csv")
    assert result.stdout.splitlines()[1].startswith("0.1,-1.4238,")
    table = xornet("predict", "-m", "out_echo/basic_model.json", "-i", "in.csv").stdout
    assert table.splitlines()[1].startswith("0.1 -1.4238 ")


def test_file_data_convergence_is_judged_by_target_loss_with_hints_for_the_data(workdir, xornet):
    rows_csv("noisy.csv", rows=40, color=False, header="a,b,y")
    config("noisy", "  path: noisy.csv\n", training="training:\n  epochs: 2\n")
    result = xornet("train", "noisy.yaml")
    assert result.exit_code == 0 and result.stderr == ""  # no target: nothing to judge, no warning
    result = xornet("train", "noisy.yaml", "--set", "training.target_loss=0.001", "--force")
    assert result.stderr.startswith("warning: training did not converge (loss ")
    assert "try more epochs (--epochs 1000)" in result.stderr


def test_a_label_that_turns_to_text_after_the_first_block_is_read_as_text(workdir, xornet):
    """pyarrow guesses a column's type from its first 1 MiB block; a later "spam" must not break the read."""
    from xornet.data import read_table

    rows = 150_000  # about 1.5 MiB: the text comes in a later block
    write("late.csv", "a,b,y\n" + "0.5,1.5,1\n1.5,0.5,0\n" * (rows // 2) + "1,1,spam\n")
    table = read_table(workdir / "late.csv", infer_columns={"y"})
    assert table.columns["y"].dtype == object and table.columns["y"][-1] == "spam"
    assert table.columns["a"].dtype == np.float32 and table.rows == rows + 1
    config("late", "  path: late.csv\n", model="", training="training:\n  epochs: 1\n")
    assert error(xornet, "train", "late.yaml") == (
        f"error: {workdir / 'late.csv'}: the label 'y' has 3 classes (0, 1, spam), but the model ends in 1 sigmoid "
        "unit with loss binary_crossentropy (hint: end the model with Dense(3, activation softmax) and use loss "
        "sparse_categorical_crossentropy)")


def test_a_label_missing_on_the_first_row_is_still_read_as_numbers(workdir, xornet):
    write("gap.csv", "a,b,y\n0,0,\n" + "0,1,1\n1,0,1\n1,1,0\n0,0,0\n" * 3)
    config("gap", "  path: gap.csv\n  missing: drop\n", model="", training="training:\n  epochs: 2\n")
    result = xornet("train", "gap.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    record = json.loads((workdir / "out_gap/basic_run.json").read_text())["data"]
    assert (record["classes"], record["missing"]) == (None, {"policy": "drop", "rows_dropped": 1, "cells_filled": 0})


def test_big_tables_are_shared_with_tensorflow_and_train_to_the_same_weights(workdir, xornet, monkeypatch):
    """A table from a file is handed to TensorFlow without a copy (DLPack); the weights equal a copied run's."""
    import h5py
    import tensorflow as tf

    from xornet import trainer

    rows_csv("rows.csv", rows=200, header="a,b,y", color=False)
    shared = []
    from_dlpack = tf.experimental.dlpack.from_dlpack
    monkeypatch.setattr(tf.experimental.dlpack, "from_dlpack", lambda capsule: shared.append(1) or from_dlpack(capsule))
    weights = {}
    for name, limit in (("copied", 1 << 40), ("shared", 0)):
        monkeypatch.setattr(trainer, "SHARED_BYTES", limit)
        config(name, "  path: rows.csv\n  label: y\n  features: [a, b]\n", training=(
            "training:\n  optimizer: adam\n  learning_rate: 0.05\n  epochs: 5\n  batch_size: 32\n"))
        result = xornet("train", f"{name}.yaml", "-q")
        assert result.exit_code == 0, result.stderr
        with h5py.File(workdir / f"out_{name}/basic_weights.h5") as f:
            weights[name] = [np.array(f[key]) for key in sorted(_datasets(f))]
    assert len(shared) == 2  # x and y of the shared run
    assert all(np.array_equal(a, b) for a, b in zip(weights["copied"], weights["shared"]))


def _datasets(group, prefix=""):
    import h5py

    for key, item in group.items():
        if isinstance(item, h5py.Dataset):
            yield prefix + key
        else:
            yield from (f"{key}/{name}" for name in _datasets(item))


def test_a_misspelt_label_is_named_before_text_columns_are_read_and_parquet_labels_may_be_names(workdir, xornet):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    write("flowers.csv", "size,weight,kind\n" + "1.5,1,small\n2.5,3,big\n" * 10)
    config("typo", "  path: flowers.csv\n  label: kinds\n", model="")
    assert error(xornet, "train", "typo.yaml") == (
        f"error: {workdir / 'flowers.csv'}: data.label: no column named 'kinds' (did you mean 'kind'?); "
        "the file has columns: size, weight, kind")
    pq.write_table(pacsv.read_csv(workdir / "flowers.csv"), workdir / "flowers.parquet")
    config("names", "  path: flowers.parquet\n  label: kind\n", model="", training="training:\n  epochs: 2\n")
    result = xornet("train", "names.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads((workdir / "out_names/basic_run.json").read_text())["data"]["classes"] == ["big", "small"]


def test_a_csv_cut_into_many_chunks_reads_as_pyarrow_reads_it_whole(workdir, xornet, monkeypatch):
    """The reader cuts the file at line ends every CHUNK_BYTES and parses the chunks side by side: with chunks of
    a few lines, CRLF line ends, blank lines, quoted text, missing cells and no last line end, the columns equal
    pyarrow's whole-file read, and a bad cell far down is named by its line."""
    import pyarrow.csv as pacsv

    from xornet.data import parallel_csv, read_table
    from xornet.data.readers import NULL_VALUES

    rng = np.random.default_rng(3)
    lines = ["a,b,color,y"]
    for index, (a, b) in enumerate(rng.normal(size=(300, 2)).round(3)):
        color = ['"red, dark"', "green", ""][index % 3]
        lines.append(f"{'' if index % 13 == 5 else a},{b},{color},{int(a + b > 0)}" + ("\r\n" if index % 7 else "\r\n\r\n"))
    write("cut.csv", "".join(lines[:1]) + "\n" + "".join(lines[1:]).rstrip("\r\n"))
    whole = pacsv.read_csv(workdir / "cut.csv", convert_options=pacsv.ConvertOptions(
        null_values=NULL_VALUES, strings_can_be_null=True, column_types={"color": "string"}))
    assert len(parallel_csv._chunks(workdir / "cut.csv", 12)) == 1
    monkeypatch.setattr(parallel_csv, "CHUNK_BYTES", 32)
    assert len(parallel_csv._chunks(workdir / "cut.csv", 12)) > 100  # many chunks of a line or two
    table = read_table(workdir / "cut.csv", text_columns={"color"})
    assert table.rows == 300 and np.isnan(table.columns["a"]).sum() == 23
    for name in ("a", "b", "y"):
        np.testing.assert_array_equal(table.columns[name], whole.column(name).to_numpy().astype("float32"))
    assert table.columns["color"].tolist() == whole.column("color").to_pylist()

    write("marked.csv", "a,b,y\n0,1,1\n#N/A,1,0\n")
    config("marked", "  path: marked.csv\n  missing: mean\n", model="")
    assert error(xornet, "train", "marked.yaml") == (
        f"error: {workdir / 'marked.csv'}, line 3, column 'a': expected a number, received '#N/A' (hint: if '#N/A' "
        "marks a missing value, write it blank or as NA (missing: blank, NA, N/A, NaN, nan, null, NULL, None))")
    write("marked.csv", "a,b,y\n0,1,1\n NA ,1,0\n")
    assert error(xornet, "train", "marked.yaml") == (
        f"error: {workdir / 'marked.csv'}, line 3, column 'a': expected a number, received 'NA' (hint: a missing value "
        "is written with no spaces around it: blank, or one of NA, N/A, NaN, nan, null, NULL, None)")

    write("late_bad.csv", "a,b,y\n" + "0,1,1\n" * 500 + "1,zero,0\n" + "0,1,1\n" * 20)
    config("late_bad", "  path: late_bad.csv\n", model="")
    assert error(xornet, "train", "late_bad.yaml") == (
        f"error: {workdir / 'late_bad.csv'}, line 502, column 'b': expected a number, received 'zero'")


def test_old_mac_line_ends_are_named_by_train_and_predict(workdir, xornet):
    write("mac.csv", "a,b,y\r0,1,1\r1,0,1\r1,1,0\r0,0,0\r")
    config("mac", "  path: mac.csv\n", model="", training="training:\n  epochs: 1\n")
    message = ("line 1: the line ends in a carriage return alone (old Mac line ends), expected \\n or \\r\\n "
               "(hint: convert the file with: tr '\\r' '\\n' < OLD > NEW)")
    assert error(xornet, "train", "mac.yaml") == f"error: {workdir / 'mac.csv'}, {message}"
    assert xornet("train", "configs/xor.yaml", "-q").exit_code == 0
    write("mac_in.csv", "0,1\r1,1\r")
    assert error(xornet, "predict", "-m", "models/basic_model.json", "-i", "mac_in.csv") == f"error: mac_in.csv, {message}"


def test_without_a_model_section_the_reference_network_takes_the_data_files_width(workdir, xornet):
    write("three.csv", "a,b,c,y\n" + "0,0,1,1\n0,1,1,0\n1,0,0,0\n1,1,0,1\n" * 3)
    write("three.yaml", "seed: 1\ndata:\n  path: three.csv\n  label: y\ntraining:\n  epochs: 2\n")
    summary = xornet("summary", "three.yaml")
    assert summary.exit_code == 0, summary.stderr
    assert "│ dense (Dense)                 │ (None, 10)            │           40 │" in summary.stdout
    assert " Total params: 51 (204.00 B)\n" in summary.stdout
    result = xornet("train", "three.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    write("gone.yaml", "seed: 1\ndata:\n  path: gone.csv\n  label: y\n")
    assert error(xornet, "summary", "gone.yaml") == ("error: gone.yaml: data.path: file not found: gone.csv (hint: a "
                                                     "path in a config is relative to the config's folder)")


def test_a_pandas_row_index_is_not_taken_for_a_feature(workdir, xornet):
    write("indexed.csv", ",a,b,y\n" + "".join(f"{i},{i % 3},{-i % 5},{i % 2}\n" for i in range(20)))
    config("indexed", "  path: indexed.csv\n", model="", training="training:\n  epochs: 1\n")
    for stream in ("false", "true"):
        assert error(xornet, "train", "indexed.yaml", "--set", f"data.stream={stream}", "--set", "training.batch_size=4") == (
            f"error: {workdir / 'indexed.csv'}: column 1 has no name in the header, expected a name for every feature "
            "(a pandas row index, written by to_csv without index=False?) (hint: write the file with index=False, or "
            "list the features in data.features)")
    config("picked", "  path: indexed.csv\n  features: [a, b]\n", model="", training="training:\n  epochs: 1\n")
    assert xornet("train", "picked.yaml", "-q").exit_code == 0


@pytest.mark.parametrize("marker", ["", "NA"])
def test_a_headerless_file_whose_first_line_has_a_missing_cell_keeps_that_line_as_data(workdir, xornet, marker):
    rows = [f"0.5,{marker},0.25,1"] + [f"{i / 10},{-i / 10},{i % 3},{i % 2}" for i in range(1, 40)]
    write("nohead.csv", "\n".join(rows) + "\n")
    config("nohead", "  path: nohead.csv\n  missing: mean\n", model="", training="training:\n  epochs: 1\n")
    result = xornet("train", "nohead.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    data = json.loads((workdir / "out_nohead/basic_run.json").read_text())["data"]
    assert (data["rows"], data["features"], data["label"]) == (40, ["0", "1", "2"], "3")
    assert data["missing"] == {"policy": "mean", "rows_dropped": 0, "cells_filled": 1}


def test_errors_count_the_empty_lines_the_readers_skip(workdir, xornet):
    write("gaps.csv", "a,b,y\n\n0,1,1\n\r\n1,0,1\n\n\n1,x,0\n")
    config("gaps", "  path: gaps.csv\n", model="")
    assert error(xornet, "train", "gaps.yaml") == (
        f"error: {workdir / 'gaps.csv'}, line 8, column 'b': expected a number, received 'x'")
    write("holes.csv", "a,b,y\n0,1,1\n\n1,0,1\n\n,1,0\n")
    config("holes", "  path: holes.csv\n", model="")
    assert error(xornet, "train", "holes.yaml").startswith(f"error: {workdir / 'holes.csv'}, line 6, column 'a': missing value")


def test_messy_files_a_user_brings(workdir, xornet):
    """Files a data scientist brings: each is trained right or refused in one line that says what to do."""
    # A comma at the end of every line: the label is an empty last column; no missing-value policy can save it.
    write("trailing.csv", "a,b,y,\n1,2,0,\n2,3,1,\n3,4,0,\n")
    for policy in ("drop", "zero", "mean"):
        config("trailing", f"  path: trailing.csv\n  missing: {policy}\n", model="")
        assert error(xornet, "train", "trailing.yaml") == (
            f"error: {workdir / 'trailing.csv'}: no rows left with data.missing: {policy}: column '' is empty in every "
            "row (hint: check data.label (now ''): a comma at the end of every line makes an empty last column)")
    write("blank.csv", "a,b,y\n1,,0\n2,,1\n3,,0\n")
    config("blank", "  path: blank.csv\n  missing: mean\n", model="")
    assert error(xornet, "train", "blank.yaml") == (
        f"error: {workdir / 'blank.csv'}: column 'b' is empty in every training row: it has no mean to fill its "
        "missing cells with (data.missing: mean) (hint: leave it out with data.features, or fill it in)")
    # A value whose square overflows float32 cannot be normalized: refused, not saved as a model nothing loads.
    write("huge.csv", "a,b,y\n" + "0.5,1,1\n-0.5,2,0\n" * 5 + "0.5,1e30,1\n")
    config("huge", "  path: huge.csv\n  normalize: true\n", model="")
    assert error(xornet, "train", "huge.yaml") == (
        f"error: {workdir / 'huge.csv'}, line 12, column 'b': 1e+30 is too large to normalize (the column's variance "
        "overflows float32) (hint: rescale the column, or set data.normalize: false)")
    # inf, and a number too large for float32, are refused as written, not trained into a NaN model.
    write("inf.csv", "a,b,y\n" + "0.5,1,1\n-0.5,2,0\n" * 3 + "0.5,1e39,1\n-inf,2,0\n")
    config("inf", "  path: inf.csv\n  normalize: true\n", model="")
    hint = ("(hint: training takes finite float32 numbers (up to about 3.4e38): fix or rescale the column, or leave "
            "it out with data.features)")
    assert error(xornet, "train", "inf.yaml") == (
        f"error: {workdir / 'inf.csv'}, line 8, column 'b': expected a finite number, received '1e39' (2 such values) "
        + hint)
    assert not (workdir / "out_inf").exists()
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [0.5, float("inf")], "y": [1, 0]}), "inf.parquet")
    config("infpq", "  path: inf.parquet\n", model="")
    assert error(xornet, "train", "infpq.yaml") == (
        f"error: {workdir / 'inf.parquet'}, row 2, column 'a': expected a finite number, received inf (1 such value) "
        + hint)
    # A line of only spaces is named (pyarrow reads it as a row of one cell).
    write("spaces.csv", "a,b,y\n1,2,0\n   \n3,4,1\n")
    config("spaces", "  path: spaces.csv\n", model="")
    assert error(xornet, "train", "spaces.yaml") == (
        f"error: {workdir / 'spaces.csv'}, line 3: the line holds only spaces, expected 3 columns (hint: delete the "
        "line (empty lines are skipped))")
    # A Parquet date or time column the run does not use is read as text, as a CSV one is.
    import datetime

    days = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(8)]
    pq.write_table(pa.table({"when": days, "at": [datetime.datetime(2020, 1, 1, 5)] * 8, "a": [0.5, -0.5] * 4,
                             "y": [1, 0] * 4}), "dated.parquet")
    config("dated", "  path: dated.parquet\n  features: [a]\n", model="", training="training:\n  epochs: 2\n")
    assert xornet("train", "dated.yaml", "-q").exit_code == 0
    write("fine.csv", "a,b,y\n" + "0.5,1,1\n-0.5,2,0\n" * 3)
    config("infvalidation", "  path: fine.csv\n  validation_path: inf.csv\n", model="")
    assert error(xornet, "train", "infvalidation.yaml").startswith(
        f"error: {workdir / 'inf.csv'}, line 8, column 'b': expected a finite number, received '1e39'")
    # Columns left out of data.features are never parsed as numbers.
    write("people.csv", 'id,name,a,b,answer\n0,"Smith, John",0.1,-66,no\n1,"Doe, J",0.5,3,yes\n2,X,1.5,3,yes\n')
    config("people", "  path: people.csv\n  features: [a, b]\n  label: answer\n", model="",
           training="training:\n  epochs: 2\n")
    assert xornet("train", "people.yaml", "-q").exit_code == 0
    # ... nor by predict and evaluate, and quoted commas do not shift the cells predict echoes.
    predicted = xornet("predict", "-m", "out_people/basic_model.json", "-i", "people.csv", "--format", "csv")
    assert predicted.exit_code == 0, predicted.stderr
    assert [line.split(",")[:2] for line in predicted.stdout.splitlines()] == [
        ["a", "b"], ["0.1", "-66"], ["0.5", "3"], ["1.5", "3"]]
    assert xornet("evaluate", "-m", "out_people/basic_model.json", "--data", "people.csv").exit_code == 0
    write("quoted.csv", 'a,b\n"1,5",2\n')
    assert error(xornet, "predict", "-m", "out_people/basic_model.json", "-i", "quoted.csv") == (
        "error: quoted.csv, line 2, column 'a': expected a number, received '1,5'")
    # Labels that differ only in spaces or capitals are shown quoted, with a hint.
    write("yes.csv", "a,b,y\n1,2,Yes\n2,3,yes \n3,4,No\n")
    config("lookalike", "  path: yes.csv\n", model="")
    assert error(xornet, "train", "lookalike.yaml") == (
        f"error: {workdir / 'yes.csv'}: the label 'y' has 3 classes ('No', 'Yes', 'yes '), but the model ends in 1 "
        "sigmoid unit with loss binary_crossentropy (hint: some classes differ only in spaces or capitals: clean the "
        "label column, or end the model with Dense(3, activation softmax) and use loss sparse_categorical_crossentropy)")
    # A semicolon-separated file is named as such.
    write("euro.csv", "a;b;y\n1,5;2;0\n")
    config("euro", "  path: euro.csv\n", model="")
    assert error(xornet, "train", "euro.yaml") == (
        f"error: {workdir / 'euro.csv'}, line 1: the header 'a;b;y' is one column: the file looks semicolon-separated, "
        "expected comma-separated CSV (hint: convert it, e.g. pandas.read_csv(FILE, sep=';', decimal=',')"
        ".to_csv(NEW, index=False))")
    # ... by predict too (a model of inputs a, b).
    assert error(xornet, "predict", "-m", "out_people/basic_model.json", "-i", "euro.csv") == (
        "error: euro.csv, line 1: the header 'a;b;y' is one column: the file looks semicolon-separated, expected "
        "comma-separated CSV (hint: convert it, e.g. pandas.read_csv(FILE, sep=';', decimal=',').to_csv(NEW, "
        "index=False))")


def test_the_python_predict_refuses_what_the_command_line_refuses(trained):
    import xornet

    model = xornet.load(trained / "models/basic_model.json").model
    assert xornet.predict(model, [[0, 1]]).shape == (1, 1)
    with pytest.raises(xornet.InputError, match=r"^inputs, row 2, column 1: expected a finite number, received nan "):
        xornet.predict(model, [[0, 1], [float("nan"), 1]])


def test_predict_echoes_the_inputs_of_lines_with_quoted_commas(trained, xornet):
    write("notes.csv", 'x1,note,x2\n0,"a, b",1\n1,"c",1\n')
    result = xornet("predict", "-m", "models/basic_model.json", "-i", "notes.csv", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [line.rsplit(",", 2)[0] for line in result.stdout.splitlines()] == ["x1,x2", "0,1", "1,1"]


def test_a_headerless_file_with_text_classes_keeps_its_first_row(workdir, xornet):
    """UCI-style files ("5.1,3.5,1.4,0.2,Iris-setosa") have no header: a first line shaped like the second is data."""
    lines = [f"{i / 10:g},{(i * 7) % 5 / 10:g},{['red fox', 'blue jay', 'green frog'][i % 3]}" for i in range(30)]
    write("uci.csv", "\n".join(lines) + "\n")
    config("uci", "  path: uci.csv\n", model="model:\n  layers:\n    - {type: Dense, units: 3, activation: softmax}\n",
           training="training:\n  loss: sparse_categorical_crossentropy\n  epochs: 2\n")
    result = xornet("train", "uci.yaml")
    assert result.exit_code == 0, result.stderr
    assert "Data: uci.csv, 30 rows, 2 inputs" in result.stdout.replace(str(workdir) + "/", "")
    record = json.loads((workdir / "out_uci/basic_run.json").read_text())["data"]
    assert (record["features"], record["label"], record["classes"]) == (
        ["0", "1"], "2", ["blue jay", "green frog", "red fox"])
    # A header of names over such rows is still a header.
    write("named.csv", "a,b,animal\n" + "\n".join(lines) + "\n")
    config("named", "  path: named.csv\n", model="model:\n  layers:\n    - {type: Dense, units: 3, activation: softmax}\n",
           training="training:\n  loss: sparse_categorical_crossentropy\n  epochs: 2\n")
    assert xornet("train", "named.yaml", "-q").exit_code == 0
    assert json.loads((workdir / "out_named/basic_run.json").read_text())["data"]["rows"] == 30
