"""data.stream: files read in record batches, split by a hash of the row number, normalized in one pass."""

import json
import re

import numpy as np
import pytest

from tests.conftest import write
from xornet.config import load_config
from xornet.data import stream as streaming
from xornet.data.splits import rows_hash
from xornet.data.stream import open_stream, split_codes, wants_stream


def make_rows(rows=1200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)).astype("float32") * np.array([1, 10, 100, 0.1], "float32") + [0, 5, 50, 0]
    y = (x[:, 0] + x[:, 1] / 10 > 0.5).astype("float32")
    return x, y


def write_data(name, x, y):
    import pyarrow as pa

    columns = {f"f{i}": x[:, i] for i in range(x.shape[1])} | {"label": y}
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), name)
    else:
        rows = [",".join(f"{v:.6g}" for v in row) for row in np.column_stack([x, y])]
        write(name, ",".join(columns) + "\n" + "\n".join(rows) + "\n")


def config(name, data, extra=""):
    return write(f"{name}.yaml", f"""name: {name}
seed: 3
data:
  path: {data}
  label: label
{extra}model:
  layers:
    - {{type: Dense, units: 8, activation: tanh}}
    - {{type: Dense, units: 1, activation: sigmoid}}
training:
  optimizer: adam
  learning_rate: 0.02
  loss: binary_crossentropy
  metrics: [accuracy]
  epochs: 3
  batch_size: 32
output:
  dir: out_{name}
""")


@pytest.mark.parametrize("data", ["rows.csv", "rows.parquet"])
def test_streamed_run_saves_a_model_plain_keras_reproduces(workdir, xornet, data):
    import keras

    x, y = make_rows()
    write_data(data, x, y)
    config("big", data, "  validation: 0.2\n  test: 0.1\n  normalize: true\n  stream: true\n")
    result = xornet("train", "big.yaml")
    assert result.exit_code == 0, result.stderr
    record = json.loads((workdir / "out_big/basic_run.json").read_text())
    codes = split_codes(np.arange(len(x)), 0.2, 0.1, seed=3)
    counts = [int(np.count_nonzero(codes == c)) for c in range(3)]
    assert f"{counts[0]} training rows ({counts[1]} validation, {counts[2]} test), 4 inputs" in result.stdout
    assert "engine fast (streamed)" in result.stdout
    assert f"On the validation rows ({counts[1]}): loss " in result.stdout
    assert record["engine"] == "fast (streamed)" and record["epochs_run"] == 3
    assert [record["data"]["splits"][name]["rows"] for name in ("train", "validation", "test")] == counts
    assert sorted(record["history"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    model = keras.models.model_from_json((workdir / "out_big/basic_model.json").read_text())
    model.load_weights(workdir / "out_big/basic_weights.h5")
    assert model.layers[0].__class__.__name__ == "Normalization"
    loss = keras.losses.BinaryCrossentropy()
    for code, name in ((0, "train"), (1, "validation"), (2, "test")):
        part = codes == code
        plain = float(loss(y[part, None], model(x[part])))
        stored = record["final"] if name == "train" else record["held_out"][name]
        assert plain == pytest.approx(stored["loss"], abs=1e-5), name
        assert record["data"]["splits"][name]["sha256"] == rows_hash(np.flatnonzero(part))
    assert record["held_out"]["validation"]["loss"] == pytest.approx(record["history"]["val_loss"][-1], abs=1e-6)


def test_hash_split_is_deterministic_disjoint_and_covers_every_row(workdir, monkeypatch):
    rows = np.arange(200_000)
    codes = split_codes(rows, 0.2, 0.1, seed=7)
    assert np.array_equal(codes, split_codes(rows, 0.2, 0.1, seed=7))
    assert not np.array_equal(codes, split_codes(rows, 0.2, 0.1, seed=8))
    assert [np.mean(codes == c) for c in range(3)] == pytest.approx([0.7, 0.2, 0.1], abs=0.005)
    parts = [np.flatnonzero(codes == c) for c in range(3)]
    assert np.array_equal(split_codes(rows[1000:2000], 0.2, 0.1, seed=7), codes[1000:2000])  # batch-independent

    x, y = make_rows(3000)
    write_data("rows.csv", x, y)
    config("split", "rows.csv", "  validation: 0.2\n  test: 0.1\n")
    cfg = load_config("split.yaml")
    monkeypatch.setattr(streaming, "READ_ROWS", 256)  # many record batches
    stream = open_stream(cfg, seed=7, scan=False)
    read = {name: np.concatenate([rows for rows, _, _ in stream.part(name)]) for name in ("train", "validation", "test")}
    assert np.array_equal(np.sort(np.concatenate(list(read.values()))), np.arange(3000))
    for c, name in enumerate(("train", "validation", "test")):
        assert np.array_equal(read[name], parts[c][parts[c] < 3000])
    in_order = np.concatenate([xs for _, xs, _ in stream.part("train")])
    epoch = [np.concatenate([xs for xs, _ in stream.shuffled("train", 64, epoch=0)]) for _ in range(2)]
    assert np.array_equal(epoch[0], epoch[1]) and not np.array_equal(epoch[0], in_order)  # seeded shuffle
    assert np.array_equal(np.sort(epoch[0], axis=0), np.sort(in_order, axis=0))  # every row once


@pytest.mark.parametrize("buffer", [1, 300, 5000])  # rows the shuffle buffer holds; chunks of 96 rows
def test_bounded_shuffle_gives_every_row_once_in_whole_chunks(workdir, monkeypatch, buffer):
    x, y = make_rows(3000)
    write_data("rows.parquet", x, y)
    config("shuffle", "rows.parquet", "  validation: 0.2\n  stream: true\n")
    monkeypatch.setattr(streaming, "READ_ROWS", 256)
    monkeypatch.setattr(streaming, "SHUFFLE_ROWS", buffer)
    stream = open_stream(load_config("shuffle.yaml"), seed=7, scan=False)
    in_order = np.concatenate([np.column_stack([xs, ys]) for _, xs, ys in stream.part("train")])
    epochs = [[np.column_stack(chunk) for chunk in stream.shuffled("train", 96, epoch)] for epoch in (0, 0, 1)]
    assert [len(chunk) for chunk in epochs[0]] == [96] * (len(in_order) // 96) + [len(in_order) % 96]
    first, again, second = (np.concatenate(chunks) for chunks in epochs)
    assert np.array_equal(first, again) and not np.array_equal(first, second)  # seeded by (seed, epoch)
    assert np.array_equal(np.sort(first, axis=0), np.sort(in_order, axis=0))  # every row once
    index = {value: i for i, value in enumerate(in_order[:, 0])}
    read_at = np.array([index[value] for value in first[:, 0]])  # each output row's place in the file order
    assert np.all(read_at < np.arange(len(read_at)) + buffer + 2 * 96)  # bounded: never from far ahead
    moved = np.mean(np.abs(read_at - np.arange(len(read_at))))  # how far rows travel: as far as the buffer lets
    assert moved > {1: 20, 300: 150, 5000: 600}[buffer]  # (5000 > the 2400 rows: a full shuffle, about n / 3)


def test_one_pass_normalization_equals_numpy_on_the_training_rows(workdir, monkeypatch):
    x, y = make_rows(5000, seed=1)
    write_data("rows.parquet", x, y)
    config("norm", "rows.parquet", "  validation: 0.25\n  normalize: true\n  stream: true\n")
    monkeypatch.setattr(streaming, "READ_ROWS", 333)
    stream = open_stream(load_config("norm.yaml"), seed=3)
    train = x[split_codes(np.arange(len(x)), 0.25, None, seed=3) == 0].astype("float64")
    assert stream.counts["train"] == len(train)
    np.testing.assert_allclose(stream.mean, train.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stream.variance, train.var(axis=0), rtol=1e-5, atol=1e-5)


def test_auto_streams_when_the_file_exceeds_the_memory_share(workdir, xornet):
    x, y = make_rows(300)
    write_data("rows.csv", x, y)
    config("auto", "rows.csv", "  stream_memory_share: 1.0e-9\n")
    config("small", "rows.csv")
    assert wants_stream(load_config("auto.yaml")) and not wants_stream(load_config("small.yaml"))
    result = xornet("train", "auto.yaml")
    assert result.exit_code == 0, result.stderr
    assert "engine fast (streamed)" in result.stdout
    assert json.loads((workdir / "out_auto/basic_run.json").read_text())["data"]["stream"] is True


def train_with_a_test_split(workdir, xornet, name, rows):
    """`name`.yaml streams rows.csv (`rows` rows, 20% of them test rows), trained: (x, y, its run record)."""
    x, y = make_rows(rows)
    write_data("rows.csv", x, y)
    config(name, "rows.csv", "  test: 0.2\n  stream: true\n")
    assert xornet("train", f"{name}.yaml", "-q").exit_code == 0
    return x, y, json.loads((workdir / f"out_{name}/basic_run.json").read_text())


def test_streamed_test_split_is_evaluated_by_the_same_hash(workdir, xornet):
    _, _, record = train_with_a_test_split(workdir, xornet, "ev", 800)
    scores = json.loads(xornet("evaluate", "-m", "out_ev/basic_model.json", "-f", "json").stdout)
    assert scores["rows"] == record["held_out"]["test"]["rows"]
    assert scores["loss"] == pytest.approx(record["held_out"]["test"]["loss"], abs=1e-5)


def test_streaming_refuses_what_it_does_not_support_in_one_line(workdir, xornet):
    write("gaps.csv", "a,b,label\n1,2,0\n3,,1\n")
    config("gaps", "gaps.csv", "  stream: true\n")
    result = xornet("train", "gaps.yaml")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {workdir / 'gaps.csv'}, line 3, column 'b': missing value (1 missing cell in the "
                             "file) (hint: fill it in, or set data.missing: drop, mean or zero)\n")
    write("inf.csv", "a,b,label\n1,2,0\n3,1e39,1\n")
    config("inf", "inf.csv", "  stream: true\n")
    result = xornet("train", "inf.yaml")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {workdir / 'inf.csv'}, line 3, column 'b': expected a finite number, received "
                             "'1e39' (hint: training takes finite float32 numbers (up to about 3.4e38): fix or rescale "
                             "the column, or leave it out with data.features)\n")


STREAMED = "error: {where}: {what} is not supported with streamed data (data.stream: true) (hint: {hint})\n"


FULL_BATCH_HINT = ("a full batch holds every training row in memory at once, which streaming avoids: set "
                   "training.batch_size, e.g. 256, or data.stream: false")


def test_config_validate_refuses_a_full_batch_with_streamed_data(workdir, xornet):
    write("rows.csv", "f0,label\n1,0\n")
    write("big.yaml", config("big", "rows.csv", "  stream: true\n").read_text().replace("batch_size: 32", "batch_size: null"))
    result = xornet("config", "validate", "big.yaml")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == STREAMED.format(where="big.yaml, line 17", what="training.batch_size null (full batch)",
                                            hint=FULL_BATCH_HINT)


@pytest.mark.parametrize("stream, why", [
    ("true", "data.stream: true"),
    ("auto\n  stream_memory_share: 1.0e-9", "data.stream: auto, and the file is larger than "
     "data.stream_memory_share 1e-09 of the available memory"),
])
def test_set_refusals_name_the_set_and_come_before_any_training_output(workdir, xornet, stream, why):
    x, y = make_rows(50)
    write_data("rows.csv", x, y)
    config("big", "rows.csv", f"  stream: {stream}\n")
    result = xornet("train", "big.yaml", "--set", "training.batch_size=null")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: --set training.batch_size=null: training.batch_size null (full batch) is not "
                             f"supported with streamed data ({why}) (hint: {FULL_BATCH_HINT})\n")


TEXT_CELL_HINT = ("streamed data (data.stream) reads every cell as a number, but a data.categorical column's: add a "
                  "text column to data.categorical to one-hot encode it")
NUMBER_LABEL_HINT = ("(hint: a streamed label holds class names when its first row does, else numbers; "
                     "data.stream: false reads a label of numbers and names as class names)")


def test_a_bad_streamed_cell_is_named_by_line_column_and_value(workdir, xornet):
    import pyarrow as pa
    import pyarrow.parquet as pq

    write("txt.csv", "f0,label\n1,0\n2,1\n3,cat\n")
    config("txt", "txt.csv", "  stream: true\n")
    result = xornet("train", "txt.yaml")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: {workdir / 'txt.csv'}, line 4, column 'label': expected a number, received "
                             f"'cat' {NUMBER_LABEL_HINT}\n")
    write("cell.csv", "f0,label\n1,0\n2,1\n3 x,1\n")
    config("cell", "cell.csv", "  stream: true\n")
    result = xornet("train", "cell.yaml")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: {workdir / 'cell.csv'}, line 4, column 'f0': expected a number, received '3 x' "
                             f"(hint: {TEXT_CELL_HINT})\n")
    pq.write_table(pa.table({"f0": ["a", "b"], "label": [0.0, 1.0]}), "txt.parquet")
    config("pq", "txt.parquet", "  stream: true\n")
    result = xornet("train", "pq.yaml")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: {workdir / 'txt.parquet'}: column 'f0': expected numbers, received Parquet "
                             f"type string (hint: {TEXT_CELL_HINT})\n")


def three_classes(rows=900):
    x, _ = make_rows(rows, seed=4)
    names = np.where(x[:, 0] > 0.5, "high", np.where(x[:, 0] < -0.5, "low", "mid"))
    return x, names


@pytest.mark.parametrize("data", ["kinds.csv", "kinds.parquet"])
def test_a_streamed_label_of_class_names_trains_predicts_and_evaluates_as_in_memory(workdir, xornet, data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    x, names = three_classes()
    columns = {f"f{i}": x[:, i] for i in range(4)} | {"label": names}
    if data.endswith(".parquet"):
        pq.write_table(pa.table(columns), data)
    else:
        write(data, "f0,f1,f2,f3,label\n" + "".join(f"{a:.6g},{b:.6g},{c:.6g},{d:.6g},{n}\n"
                                                    for (a, b, c, d), n in zip(x, names)))
    text = config("kinds", data, "  test: 0.2\n  normalize: true\n  stream: true\n").read_text()
    write("kinds.yaml", text.replace("units: 1, activation: sigmoid", "units: 3, activation: softmax")
          .replace("loss: binary_crossentropy", "loss: sparse_categorical_crossentropy"))
    result = xornet("train", "kinds.yaml")
    assert result.exit_code == 0, result.stderr
    assert "engine fast (streamed)" in result.stdout
    first = result.stdout.split("target\n")[1].splitlines()[0]
    assert first.split()[-1] in ("high", "low", "mid")  # the preview's target is a class name
    record = json.loads((workdir / "out_kinds/basic_run.json").read_text())
    assert record["data"]["classes"] == ["high", "low", "mid"] and record["data"]["text_label"] is True
    codes = split_codes(np.arange(len(x)), None, 0.2, seed=3)
    result = xornet("evaluate", "--model", "out_kinds/basic_model.json")
    assert result.exit_code == 0, result.stderr
    assert f"on the test rows of {data} ({int(np.count_nonzero(codes == 2))} rows" in result.stdout
    support = {name: int(np.count_nonzero(names[codes == 2] == name)) for name in ("high", "low", "mid")}
    for name, count in support.items():
        assert re.search(rf"^{name} .* {count}$", result.stdout, re.M), (name, result.stdout)
    write("one.csv", "f0,f1,f2,f3\n2,5,50,0\n")
    result = xornet("predict", "--model", "out_kinds/basic_model.json", "--input", "one.csv", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].endswith(",high")
    result = xornet("train", "kinds.yaml", "--force", "--set", "model.layers.1.units=2")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: {workdir / data}: the label 'label' has 3 classes (high, low, mid), but the model "
                             "ends in 2 softmax units with loss sparse_categorical_crossentropy (hint: end the model "
                             "with Dense(3, activation softmax) and use loss sparse_categorical_crossentropy)\n")


def test_streamed_early_stopping_is_keras_own_callback_on_val_loss(workdir, xornet):
    x, y = make_rows(600)
    write_data("rows.csv", x, y)
    config("early", "rows.csv", "  validation: 0.3\n  stream: true\n")
    text = (workdir / "early.yaml").read_text().replace("epochs: 3", "epochs: 200\n  learning_rate: 0.3\n"
                                                        "  early_stopping: {monitor: val_loss, patience: 2}")
    write("early.yaml", text.replace("  learning_rate: 0.02\n", ""))
    assert xornet("train", "early.yaml", "-q").exit_code == 0
    record = json.loads((workdir / "out_early/basic_run.json").read_text())
    losses = record["history"]["val_loss"]
    assert record["stop_reason"] == "early_stopping" and record["epochs_run"] == len(losses) < 200
    best = int(np.argmin(losses))
    assert len(losses) == best + 3  # patience 2: two epochs without a better val_loss, as Keras counts


@pytest.mark.parametrize("setting", ["balanced", "{0: 1.0, 1: 4.0}"])
def test_streamed_class_weight_equals_fit_on_the_same_batches(workdir, xornet, monkeypatch, setting):
    import keras

    from xornet.network import build_model, compile_model

    x, _ = make_rows(1000, seed=2)
    y = (x[:, 0] > 1.0).astype("float32")  # about one row in six is a 1
    write_data("rows.parquet", x, y)
    text = config("cw", "rows.parquet", "  stream: true\n").read_text()
    write("cw.yaml", text.replace("epochs: 3", f"epochs: 3\n  shuffle: false\n  class_weight: {setting}"))
    monkeypatch.setattr(streaming, "READ_ROWS", 200)  # record batches and chunks that cut the file unevenly
    result = xornet("train", "cw.yaml", "-q")
    assert result.exit_code == 0, result.stderr
    record = json.loads((workdir / "out_cw/basic_run.json").read_text())
    ones = int(y.sum())
    weights = {0: len(y) / (2 * (len(y) - ones)), 1: len(y) / (2 * ones)} if setting == "balanced" else {0: 1.0, 1: 4.0}
    cfg = load_config("cw.yaml")
    reference = build_model(cfg, 4, seed=3)
    compile_model(reference, cfg.training)
    history = reference.fit(x, y[:, None], epochs=3, batch_size=32, shuffle=False, verbose=0,
                            class_weight=weights).history
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(record["history"][name], history[name], atol=1e-5, rtol=0)
    model = keras.models.model_from_json((workdir / "out_cw/basic_model.json").read_text())
    model.load_weights(workdir / "out_cw/basic_weights.h5")
    for saved, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(saved, expected, atol=1e-5, rtol=0)


def test_evaluate_of_a_streamed_run_refuses_a_data_file_whose_test_values_changed(workdir, xornet):
    x, y, record = train_with_a_test_split(workdir, xornet, "chg", 600)
    assert len(record["data"]["splits"]["test"]["values_sha256"]) == 64
    assert xornet("evaluate", "--model", "out_chg/basic_model.json").exit_code == 0  # evaluate checks the hash
    write_data("rows.csv", -x, y)  # the same rows, other values
    result = xornet("evaluate", "--model", "out_chg/basic_model.json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: out_chg/basic_model.json: the test rows of rows.csv hold other values than when "
                             "the run scored them (the file changed since training) (hint: pass --data FILE to score "
                             "the file as it is now)\n")
