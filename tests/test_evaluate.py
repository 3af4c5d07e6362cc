"""`xornet evaluate --data`: which rows it scores, with which loss, and the data it refuses."""

import json
import re
from pathlib import Path

import pytest

from conftest import write

BIN_CSV = "a,b,big,y\n" + "".join(f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{i * 100},{int(i % 7 / 7 + i % 5 / 5 > 1)}\n"
                                  for i in range(50))
REG_CSV = "x1,x2,x3,target\n" + "".join(f"{i % 3},{i % 4},{i % 5},{i % 3 + 2 * (i % 4) + 3 * (i % 5)}\n"
                                        for i in range(40))
LAYERS = "model:\n  layers:\n    - {type: Dense, units: 4, activation: tanh}\n    - {type: Dense, units: 1%s}\n"


def _config(path, label, loss, split="", activation=", activation: sigmoid"):
    return (f"seed: 1\ndata:\n  path: {path}\n  label: {label}\n{split}" + LAYERS % activation +
            f"training:\n  optimizer: adam\n  loss: {loss}\n  epochs: 2\noutput:\n  dir: models/{path[:3]}\n")


@pytest.fixture
def models(workdir, xornet):
    """models/bin (binary: a, b, big -> y, trained on 30 of bin.csv's 50 rows) and models/reg (regression:
    x1, x2, x3 -> target)."""
    write("bin.csv", BIN_CSV)
    write("reg.csv", REG_CSV)
    write("bin.yaml", _config("bin.csv", "y", "binary_crossentropy", "  validation: 0.2\n  test: 0.2\n"))
    write("reg.yaml", _config("reg.csv", "target", "mean_squared_error", activation=""))
    for config in ("bin.yaml", "reg.yaml"):
        assert xornet("train", config, "--quiet").exit_code == 0
    return workdir


def error(result):
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("model, config, file, first_line", [
    ("bin", "bin.yaml", "bin.csv", "models/bin/basic_model.json on bin.csv (50 rows, loss binary_crossentropy)"),
    # the config's loss is not the model's: the model's own loss scores it
    ("reg", "other_loss.yaml", "reg.csv", "models/reg/basic_model.json on reg.csv (40 rows, loss mean_squared_error)"),
])
def test_a_config_is_scored_on_every_row_of_its_file_with_the_models_loss(models, xornet, model, config, file,
                                                                          first_line):
    write("other_loss.yaml", _config("reg.csv", "target", "binary_crossentropy"))
    by_config = xornet("evaluate", "--model", f"models/{model}/basic_model.json", "--data", config)
    by_file = xornet("evaluate", "--model", f"models/{model}/basic_model.json", "--data", file)
    assert by_config.exit_code == 0, by_config.stderr
    assert by_config.stdout.splitlines()[0] == first_line
    assert by_config.stdout == by_file.stdout


def test_a_config_with_other_columns_than_the_models_is_refused(models, xornet):
    assert error(xornet("evaluate", "--model", "models/reg/basic_model.json", "--data", "bin.yaml")) == (
        2, "", "error: bin.yaml: the config's data has features a, b, big and label 'y', the model was trained on "
               "features x1, x2, x3 and label 'target' (hint: pass the config the model was trained from, or --data "
               "FILE with the model's columns)\n")
    write("fewer.yaml", "data:\n  path: bin.csv\n  features: [a, b]\n  label: y\n")
    assert error(xornet("evaluate", "--model", "models/bin/basic_model.json", "--data", "fewer.yaml")) == (
        2, "", "error: fewer.yaml: the config's data has features a, b and label 'y', the model was trained on "
               "features a, b, big and label 'y' (hint: pass the config the model was trained from, or --data "
               "FILE with the model's columns)\n")


def test_a_config_whose_labels_are_not_the_models_classes_is_refused(models, xornet):
    write("three.csv", BIN_CSV.replace(",1\n", ",2\n"))
    write("three.yaml", "data:\n  path: three.csv\n  label: y\n")
    assert error(xornet("evaluate", "--model", "models/bin/basic_model.json", "--data", "three.yaml")) == (
        2, "", f"error: {workdir_path('three.csv')}, line 5: expected a label of 0 or 1 (the model has one output), "
               "received 2 (18 such rows)\n")


def test_a_truth_table_config_must_have_the_models_inputs(trained, xornet):
    write("xor3.yaml", "data:\n  table: xor\n  inputs: 3\n")
    assert error(xornet("evaluate", "--data", "xor3.yaml")) == (
        2, "", "error: xor3.yaml: the config's data has features x1, x2, x3 and label 'y', the model was trained on "
               "features x1, x2 and label 'y' (hint: pass the config the model was trained from, or --data FILE "
               "with the model's columns)\n")
    result = xornet("evaluate", "--data", "configs/xor.yaml")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "basic_model.json on truth table xor (4 rows, loss binary_crossentropy)"


def test_data_that_is_a_directory_is_named_as_the_flag(models, xornet):
    assert error(xornet("evaluate", "--model", "models/bin/basic_model.json", "--data", "models")) == (
        2, "", "error: --data models: is a directory, expected a config (.yaml) or a CSV, Parquet or .npy file\n")


def test_a_semicolon_separated_file_gets_the_hint_training_gives(models, xornet):
    write("semi.csv", REG_CSV.replace(",", ";"))
    hint = ("semi.csv, line 1: the header 'x1;x2;x3;target' is one column: the file looks semicolon-separated, "
            "expected comma-separated CSV (hint: convert it, e.g. pandas.read_csv(FILE, sep=';', decimal=',')"
            ".to_csv(NEW, index=False))\n")
    assert error(xornet("evaluate", "--model", "models/reg/basic_model.json", "--data", "semi.csv")) == (
        2, "", "error: " + hint)
    write("semi.yaml", _config("semi.csv", "target", "mean_squared_error"))
    assert error(xornet("train", "semi.yaml")) == (2, "", f"error: {workdir_path('semi.csv')}" + hint[len("semi.csv"):])


def test_a_label_that_is_one_of_the_models_features_is_refused_as_training_refuses_it(models, xornet):
    assert error(xornet("evaluate", "--model", "models/reg/basic_model.json", "--data", "reg.csv", "--label", "x2")) == (
        2, "", "error: reg.csv: column 'x2' is both a feature and the label\n")
    write("both.yaml", "data:\n  path: reg.csv\n  features: [x1, x2, x3]\n  label: x2\n")
    assert error(xornet("train", "both.yaml")) == (2, "", f"error: {workdir_path('reg.csv')}: column 'x2' is both a "
                                                          "feature and the label\n")


def workdir_path(name):
    """Training names a config's data file by its full path."""
    return str(Path(name).resolve())


@pytest.mark.parametrize("hidden", ["tanh", "gelu"])  # the NumPy engine, and Keras (NumPy has no gelu here)
@pytest.mark.parametrize("units", [1, 3])
def test_the_loss_is_the_one_keras_model_evaluate_reports_even_for_confident_mistakes(workdir, xornet, hidden, units):
    """Keras computes cross-entropies from the logits a sigmoid or softmax keeps, unclipped: mistakes with
    probabilities rounded to 0 or 1 cost tens, not the 16.1 that clipping at 1e-7 would cap them at."""
    import json

    import keras
    import numpy as np

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(4, activation=hidden),
                              keras.layers.Dense(units, activation="sigmoid" if units == 1 else "softmax")])
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel * 200, bias])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype("float32") * 3
    y = rng.integers(0, max(units, 2), size=40)
    write("net.json", model.to_json())
    model.save_weights(str(workdir / "net.weights.h5"))
    write("rows.csv", "a,b,y\n" + "".join(f"{a!r},{b!r},{label}\n" for (a, b), label in zip(x.tolist(), y)))
    loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
    model.compile(loss=loss)
    labels = y.astype("float32").reshape(-1, 1)
    expected = model.evaluate(x, labels, verbose=0)
    clipped = float(np.mean(keras.losses.get(loss)(labels, model.predict(x, verbose=0))))
    result = xornet("evaluate", "-m", "net.json", "--data", "rows.csv", "--label", "y", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert expected > clipped + 5  # the test tells the two ways apart
    assert json.loads(result.stdout)["loss"] == pytest.approx(expected, rel=1e-5)


def test_two_named_classes_say_which_class_the_probability_and_the_scores_are_of(workdir, xornet):
    """One sigmoid over the labels 'stayed' and 'churned' (sorted: churned is 0): the probability is P(stayed)."""
    write("churn.csv", "a,b,big,y\n" + "".join(
        f"{row.rsplit(',', 1)[0]},{'stayed' if row.endswith('1') else 'churned'}\n" for row in BIN_CSV.splitlines()[1:]))
    write("churn.yaml", _config("churn.csv", "y", "binary_crossentropy"))
    assert xornet("train", "churn.yaml", "-q").exit_code == 0
    model = "models/chu/basic_model.json"
    table = xornet("predict", "-m", model, "--x", "0.1,0.2,300").stdout.splitlines()
    assert table[0] == "a b big      P(stayed)    class"
    (row,) = json.loads(xornet("predict", "-m", model, "--x", "0.1,0.2,300", "-f", "json").stdout)
    assert row["probabilities"] == {"churned": 1 - row["probability"], "stayed": row["probability"]}
    assert row["class"] == ("stayed" if row["probability"] > 0.5 else "churned")
    scores = xornet("evaluate", "-m", model, "--data", "churn.csv", "--label", "y").stdout.splitlines()
    assert [re.fullmatch(r"(\w+) +\d\.\d{4} \(positive class: stayed\)", line)[1] for line in scores[3:6]] == [
        "precision", "recall", "f1"]


@pytest.mark.parametrize("policy, note", [
    ("drop", "(45 rows, 5 rows dropped for missing values (data.missing: drop), loss binary_crossentropy)"),
    ("mean", "(50 rows, 5 cells filled for missing values (data.missing: mean), loss binary_crossentropy)"),
])
def test_evaluate_says_what_it_did_with_missing_cells_as_training_did(workdir, xornet, policy, note):
    rows = BIN_CSV.splitlines()
    write("gaps.csv", "\n".join(rows[:1] + [",".join(["", *row.split(",")[1:]]) if i % 10 == 3 else row
                                            for i, row in enumerate(rows[1:])]) + "\n")
    write("gaps.yaml", _config("gaps.csv", "y", "binary_crossentropy").replace("  label: y\n",
                                                                              f"  label: y\n  missing: {policy}\n"))
    assert xornet("train", "gaps.yaml", "-q").exit_code == 0
    scored = xornet("evaluate", "-m", "models/gap/basic_model.json", "--data", "gaps.csv")
    assert scored.stdout.splitlines()[0] == f"models/gap/basic_model.json on gaps.csv {note}"


def test_threshold_goes_with_one_sigmoid_output_only(models, xornet):
    refusal = ("error: --threshold 0.9: goes with one sigmoid output (the probability of class 1); this model gives "
               "values (a regression)\n")
    for args in (("evaluate", "-m", "models/reg/basic_model.json", "--data", "reg.csv"),
                 ("predict", "-m", "models/reg/basic_model.json", "--x", "1,2,3")):
        result = xornet(*args, "--threshold", "0.9")
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", refusal)
    assert xornet("evaluate", "-m", "models/bin/basic_model.json", "--data", "bin.csv", "--threshold", "0.9").exit_code == 0
    assert xornet("predict", "-m", "models/bin/basic_model.json", "--x", "0.1,0.2,300", "--threshold", "0.9").exit_code == 0
