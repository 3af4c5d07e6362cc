"""`xornet predict` of a model with a categorical column and data.missing: mean: every input path (CSV file,
Parquet, stdin, --x, .npy) is encoded by the run record the same way, through the real CLI."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from conftest import one_error, parquet, write

HEADER = "f1,f2,f3,animal,region"
ROW = "1.5,-0.9,-0.4,red fox,east"
ENCODED = "f1,f2,f3,region=east,region=north,region=south"
MISSING_REGION = ("missing value, expected one of its categories (east, north, south) (hint: fill it in)")


def cls_csv(rows=300, seed=0):
    """f1, f2, f3 (numbers), animal (the label: 3 classes), region (categorical), a few blank f2 cells."""
    rng = random.Random(seed)
    animals, lines = ["red fox", "blue jay", "green frog"], [HEADER]
    for i in range(rows):
        a = rng.randrange(3)
        f2 = "" if i % 50 == 7 else f"{-a + rng.gauss(0, 0.5):.3f}"
        lines.append(f"{a + rng.gauss(0, 0.5):.3f},{f2},{rng.gauss(0, 1):.3f},{animals[a]},"
                     f"{rng.choice(['north', 'south', 'east'])}")
    return "\n".join(lines) + "\n"


CONFIG = """name: cls
seed: 1
data:
  path: ../cls.csv
  label: animal
  categorical: [region]
  validation: 0.2
  normalize: true
  missing: mean
model:
  layers:
    - {type: Dense, units: 16, activation: relu}
    - {type: Dense, units: 3, activation: softmax}
training:
  optimizer: adam
  learning_rate: 0.01
  loss: sparse_categorical_crossentropy
  epochs: 5
output:
  dir: models/cls
"""


@pytest.fixture
def cls_model(workdir, xornet):
    """A 3-class model with a categorical column (region) and data.missing: mean, trained through the CLI."""
    write("cls.csv", cls_csv())
    write("configs/cls.yaml", CONFIG)
    result = xornet("train", "configs/cls.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    return "models/cls/basic_model.json"


def ok(result):
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result.stdout


def test_every_input_path_one_hot_encodes_the_categorical_column(cls_model, xornet):
    write("pc2.csv", f"{HEADER}\n{ROW}\n")
    from_file = ok(xornet("predict", "--model", cls_model, "--input", "pc2.csv", "--format", "csv"))
    lines = from_file.splitlines()
    assert lines[0] == (f"{ENCODED},probability_blue jay,probability_green frog,probability_red fox,class")
    assert lines[1].startswith("1.5,-0.9,-0.4,1,0,0,")
    assert ok(xornet("predict", "--model", cls_model, "--input", "-", "--format", "csv", input=f"{HEADER}\n{ROW}\n")) \
        == from_file
    assert ok(xornet("predict", "--model", cls_model, "--input", "-", "--format", "csv",
                     input="1.5,-0.9,-0.4,east\n")) == from_file  # no header: the training features in order
    assert ok(xornet("predict", "--model", cls_model, "--x", "1.5,-0.9,-0.4,east", "--format", "csv")) == from_file
    parquet("pc2.parquet", {"f1": [1.5], "f2": [-0.9], "f3": [-0.4], "animal": ["red fox"], "region": ["east"]})
    assert ok(xornet("predict", "--model", cls_model, "--input", "pc2.parquet", "--format", "csv")) == from_file
    table = ok(xornet("predict", "--model", cls_model, "--input", "-", input=f"{HEADER}\n{ROW}\n")).splitlines()
    assert table[0].startswith("f1 f2 f3 region=east region=north region=south  ")
    assert table[1].startswith("1.5 -0.9 -0.4 1 0 0  ")


def test_columns_are_taken_by_name_and_a_header_missing_a_feature_is_refused(cls_model, xornet):
    """Another order of the same names predicts the same; one name that differs is refused (it was taken by
    position, putting f2's values under f1), in a CSV file, stdin, Parquet and a served CSV body."""
    write("pc2.csv", f"{HEADER}\n{ROW}\n")
    expected = ok(xornet("predict", "--model", cls_model, "--input", "pc2.csv", "--format", "csv"))
    write("swapped.csv", "f2,f1,region,f3\n-0.9,1.5,east,-0.4\n")
    assert ok(xornet("predict", "--model", cls_model, "--input", "swapped.csv", "--format", "csv")) == expected
    refusal = ("no column named 'f1', expected the training features (f1, f2, f3, region), received f2, F1, f3, region "
               "(hint: name the columns as the features are named, or leave the header out to give the values in the "
               "training order)")
    write("renamed.csv", "f2,F1,f3,region\n-0.9,1.5,-0.4,east\n")
    assert one_error(xornet("predict", "--model", cls_model, "--input", "renamed.csv")) == (
        f"error: renamed.csv, line 1: {refusal}")
    assert one_error(xornet("predict", "--model", cls_model, "--input", "-", input=Path("renamed.csv").read_text())) \
        == f"error: <stdin>, line 1: {refusal}"
    parquet("renamed.parquet", {"f2": [-0.9], "F1": [1.5], "f3": [-0.4], "region": ["east"]})
    assert one_error(xornet("predict", "--model", cls_model, "--input", "renamed.parquet")) == (
        f"error: renamed.parquet: {refusal}")


def test_a_missing_cell_is_filled_with_the_training_mean_on_every_path(cls_model, xornet):
    fill = json.loads(Path("models/cls/basic_run.json").read_text())["data"]["fill"]["f2"]
    expected_f2 = float(np.format_float_positional(np.float32(fill), unique=True, trim="-"))
    write("pm.csv", f"{HEADER}\n{ROW}\n1.5,,-0.4,red fox,east\n")
    from_file = json.loads(ok(xornet("predict", "-m", cls_model, "-i", "pm.csv", "-f", "json")))
    assert [row["input"] for row in from_file] == [[1.5, -0.9, -0.4, 1, 0, 0], [1.5, expected_f2, -0.4, 1, 0, 0]]
    assert from_file[0]["probabilities"] != from_file[1]["probabilities"]
    assert json.loads(ok(xornet("predict", "-m", cls_model, "-i", "-", "-f", "json",
                                input=Path("pm.csv").read_text()))) == from_file
    assert json.loads(ok(xornet("predict", "-m", cls_model, "--x", "1.5,-0.9,-0.4,east", "--x", "1.5,,-0.4,east",
                                "-f", "json"))) == from_file
    parquet("pm.parquet", {"f1": [1.5, 1.5], "f2": [-0.9, None], "f3": [-0.4, -0.4], "region": ["east", "east"]})
    assert json.loads(ok(xornet("predict", "-m", cls_model, "-i", "pm.parquet", "-f", "json"))) == from_file
    csv = ok(xornet("predict", "-m", cls_model, "-i", "pm.csv", "-f", "csv")).splitlines()
    assert csv[2].startswith(f"1.5,{expected_f2},-0.4,1,0,0,")  # the filled cell as the model took it


def test_every_cell_training_takes_as_missing_is_missing_for_predict_too(cls_model, xornet):
    """NA, NaN, null, None, N/A: the readers' missing cells, filled (or refused, for a category) as a blank one;
    a headerless first line with one is data, not a header."""
    expected = json.loads(ok(xornet("predict", "-m", cls_model, "--x", "1.5,,-0.4,east", "-f", "json")))[0]
    for marker in ("NA", "NaN", "nan", "null", "NULL", "None", "N/A", " NA "):
        for text in (f"{HEADER}\n1.5,{marker},-0.4,red fox,east\n", f"1.5,{marker},-0.4,east\n"):
            answer = json.loads(ok(xornet("predict", "-m", cls_model, "-i", "-", "-f", "json", input=text)))
            assert answer[0]["probabilities"] == expected["probabilities"], (marker, text)
        assert json.loads(ok(xornet("predict", "-m", cls_model, "--x", f"1.5,{marker},-0.4,east", "-f", "json"))) == [
            expected | {"input": [1.5, expected["input"][1], -0.4, 1, 0, 0]}]
    assert one_error(xornet("predict", "-m", cls_model, "-i", "-", input="1.5,-0.9,-0.4,NA\n")) == (
        f"error: <stdin>, line 1, column 4: {MISSING_REGION}")


def test_a_missing_category_and_an_unknown_one_are_refused_on_every_path(cls_model, xornet):
    write("bad.csv", f"{HEADER}\n{ROW}\n1.5,-0.9,-0.4,red fox,\n")
    assert one_error(xornet("predict", "-m", cls_model, "-i", "bad.csv")) == (
        f"error: bad.csv, line 3, column 'region': {MISSING_REGION}")
    assert one_error(xornet("predict", "-m", cls_model, "-i", "-", input=Path("bad.csv").read_text())) == (
        f"error: <stdin>, line 3, column 'region': {MISSING_REGION}")
    assert one_error(xornet("predict", "-m", cls_model, "--x", "1,2,3,east", "--x", "1.5,-0.9,-0.4,")) == (
        f"error: --x, row 2, column 4: {MISSING_REGION}")
    parquet("bad.parquet", {"f1": [1.5], "f2": [-0.9], "f3": [-0.4], "region": [None]})
    assert one_error(xornet("predict", "-m", cls_model, "-i", "bad.parquet")) == (
        f"error: bad.parquet, row 1, column 'region': {MISSING_REGION}")
    unknown = ("unknown category 'west', the training rows have: east, north, south "
               "(hint: train with data.unknown: ignore to give unseen categories their own column)")
    # rows without a header name their columns by number, whatever the error
    assert one_error(xornet("predict", "-m", cls_model, "-i", "-", input="1.5,-0.9,-0.4,west\n")) == (
        f"error: <stdin>, line 1, column 4: {unknown}")
    assert one_error(xornet("predict", "-m", cls_model, "--x", "1.5,-0.9,-0.4,west")) == (
        f"error: --x, row 1, column 4: {unknown}")
    assert one_error(xornet("predict", "-m", cls_model, "-i", "-", input=f"{HEADER}\n1.5,-0.9,-0.4,fox,west\n")) == (
        f"error: <stdin>, line 2, column 'region': {unknown}")
    assert one_error(xornet("predict", "-m", cls_model, "--x", "1.5,-0.9,-0.4,1,0,0")) == (
        "error: --x, row 1: expected 4 comma-separated values (the training features f1, f2, f3, region), received 6")
    assert one_error(xornet("predict", "-m", cls_model, "--x", "1.5,x,-0.4,east")) == (
        "error: --x, row 1, column 2: expected a number, received 'x'")


def test_a_model_trained_with_missing_error_refuses_a_blank_cell_on_every_path(trained, xornet):
    missing = ("missing value, expected a number (hint: fill it in: the model was trained with data.missing: error, "
               "which keeps no value to fill it with; a model trained with data.missing: mean or zero fills it)")
    write("pm.csv", "x1,x2\n0,1\n1,\n")
    assert one_error(xornet("predict", "-i", "pm.csv")) == f"error: pm.csv, line 3, column 'x2': {missing}"
    assert one_error(xornet("predict", "-i", "-", input="x1,x2\n0,1\n1,\n")) == (
        f"error: <stdin>, line 3, column 'x2': {missing}")
    parquet("pm.parquet", {"x1": [0.0, 1.0], "x2": [1.0, None]})
    assert one_error(xornet("predict", "-i", "pm.parquet")) == f"error: pm.parquet, row 2, column 'x2': {missing}"
    np.save("pm.npy", np.array([[0, 1], [1, np.nan]], "float32"))
    assert one_error(xornet("predict", "-i", "pm.npy")) == f"error: pm.npy, row 2, column 'x2': {missing}"


def test_the_table_view_echoes_inputs_as_written(trained, xornet):
    expected = "640422650.4 1  "
    assert ok(xornet("predict", "--x", "640422650.4,1")).splitlines()[1].startswith(expected)
    write("big.csv", "x1,x2\n640422650.4,1\n")
    assert ok(xornet("predict", "-i", "big.csv")).splitlines()[1].startswith(expected)
    assert ok(xornet("predict", "-i", "-", input="640422650.4,1\n")).splitlines()[1].startswith(expected)
    assert ok(xornet("predict", "-i", "big.csv", "-f", "csv")).splitlines()[1].startswith("640422650.4,1,")
    # From a binary file (no text), the inputs are shown as the model took them.
    np.save("big.npy", np.array([[640422650.4, 1]]))
    assert ok(xornet("predict", "-i", "big.npy")).splitlines()[1].startswith("640422656 1  ")


def test_csv_rows_of_a_categorical_model_stream_in_chunks_with_exact_line_numbers():
    import io

    from xornet.errors import InputError
    from xornet.prediction_inputs import iter_csv_inputs

    recorded = {"features": ["a", "c"], "categorical": {"c": ["p", "q"]}, "inputs": ["a", "c=p", "c=q"],
                "fill": {"a": 0.5}}
    text = "c,a\n" + "".join(f"{'pq'[i % 2]},{i}.0\n" for i in range(6))  # 6 bytes a line
    chunks = list(iter_csv_inputs(io.BytesIO(text.encode()), 3, "in.csv", recorded, chunk_bytes=13))
    assert [values.tolist() for values, _ in chunks] == [[[0, 1, 0], [1, 0, 1]], [[2, 1, 0], [3, 0, 1]],
                                                         [[4, 1, 0], [5, 0, 1]]]
    assert [texts.to_pylist() for _, texts in chunks][1] == ["2.0,1,0", "3.0,0,1"]
    blank = text.replace("q,3.0\n", "q,\n\n")  # a missing number is filled, a blank line skipped
    values = [row for chunk, _ in iter_csv_inputs(io.BytesIO(blank.encode()), 3, "in.csv", recorded, chunk_bytes=13)
              for row in chunk.tolist()]
    assert values[3] == [0.5, 0, 1] and len(values) == 6
    with pytest.raises(InputError, match=r"^in.csv, line 7, column 'c': unknown category 'r', the training rows "
                                         r"have: p, q"):
        list(iter_csv_inputs(io.BytesIO(text.replace("q,5.0", "r,5.0").encode()), 3, "in.csv", recorded,
                             chunk_bytes=13))


def test_a_categorical_column_of_numbers_matches_by_value_across_csv_and_parquet(workdir, xornet):
    """pandas writes 3.0 in a CSV where a Parquet file holds 3: one category, whichever file trained the model."""
    rng = random.Random(2)
    rows = [(round(rng.gauss(0, 1), 3), rng.choice([1, 2, 3])) for _ in range(120)]
    write("rooms.csv", "f,rooms,y\n" + "".join(f"{f},{r:.1f},{int(f > 0) ^ (r == 2)}\n" for f, r in rows))
    parquet("rooms.parquet", {"f": [f for f, _ in rows], "rooms": [r for _, r in rows],
                              "y": [int(f > 0) ^ (r == 2) for f, r in rows]})
    for source in ("csv", "parquet"):
        write(f"configs/{source}.yaml", f"name: {source}\nseed: 1\ndata: {{path: ../rooms.{source}, label: y, "
                                        f"categorical: [rooms]}}\ntraining: {{epochs: 3}}\noutput: {{dir: {source}}}\n")
        assert xornet("train", f"configs/{source}.yaml", "-q").exit_code == 0
        model = f"{source}/basic_model.json"
        from_csv = ok(xornet("evaluate", "-m", model, "--data", "rooms.csv", "--label", "y"))
        assert ok(xornet("evaluate", "-m", model, "--data", "rooms.parquet", "--label", "y")) == from_csv.replace(
            "rooms.csv", "rooms.parquet")
        one = [ok(xornet("predict", "-m", model, "--x", f"0.5,{rooms}", "-f", "json")) for rooms in ("3", "3.0")]
        assert json.loads(one[0])[0]["probability"] == json.loads(one[1])[0]["probability"]


def test_threshold_is_refused_for_several_classes(cls_model, xornet):
    assert one_error(xornet("predict", "--model", cls_model, "--x", "1.5,-0.9,-0.4,east", "--threshold", "0.9")) == (
        "error: --threshold 0.9: goes with one sigmoid output (the probability of class 1); this model gives 3 "
        "probabilities, one per class (the class is the most probable)")
