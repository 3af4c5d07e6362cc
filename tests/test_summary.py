"""`xornet summary`: it checks a saved model's files as predict does, and shows the network training builds."""

import shutil

import pytest

from conftest import REPO, write

SHA_ERROR = ("error: models/basic_weights.h5: does not match its run record models/basic_run.json (SHA-256 differs): "
             "the file was replaced or damaged after training "
             "(hint: retrain it or restore the file; delete the run record to use the file as it is)\n")
NOT_FOUND = ("error: model file not found: looked for nope.json and models/nope.json "
             "(hint: train one with `xornet train CONFIG`, or give the path of a saved model's .json (or .keras) file)\n")


def refused(result):
    return result.exit_code, result.stdout, result.stderr


def test_truncated_weights_are_refused_as_predict_refuses_them(trained, xornet):
    weights = trained / "models/basic_weights.h5"
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.truncate(1000)
    assert refused(xornet("summary", "models/basic_model.json")) == (2, "", SHA_ERROR)
    assert refused(xornet("predict", "--model", "models/basic_model.json")) == (2, "", SHA_ERROR)
    (trained / "models/basic_run.json").unlink()  # no record: the HDF5 reader finds the damage
    damaged = ("error: models/basic_weights.h5: damaged HDF5 weights file (Unable to synchronously open file "
               f"(truncated file: eof = 1000, sblock->base_addr = 0, stored_eof = {size}))\n")
    assert refused(xornet("summary", "models/basic_model.json")) == (2, "", damaged)
    assert refused(xornet("predict", "--model", "models/basic_model.json")) == (2, "", damaged)


def test_weights_changed_in_place_are_refused_as_predict_refuses_them(trained, xornet):
    weights = trained / "models/basic_weights.h5"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte different
    weights.write_bytes(bytes(data))
    assert refused(xornet("summary", "models/basic_model.json")) == (2, "", SHA_ERROR)
    assert refused(xornet("predict", "--model", "models/basic_model.json")) == (2, "", SHA_ERROR)
    assert refused(xornet("summary")) == (2, "", SHA_ERROR)  # the default model is checked the same way


def test_model_not_found_hint_fits_every_command(workdir, xornet):
    for args in (("summary", "nope.json"), ("predict", "--model", "nope.json"), ("evaluate", "--model", "nope.json"),
                 ("plot", "nope.json"), ("export", "nope.json", "out", "--to", "keras3")):
        assert refused(xornet(*args)) == (2, "", NOT_FOUND), args


@pytest.fixture
def with_data(workdir):
    shutil.copytree(REPO / "data", workdir / "data")
    return workdir


def total_params(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(" Total params: "))


@pytest.mark.parametrize("name, total", [("breast_cancer", " Total params: 574 (2.25 KB)"),
                                         ("iris", " Total params: 140 (564.00 B)")])
def test_config_summary_is_the_network_training_saves(with_data, xornet, name, total):
    config = xornet("summary", f"configs/{name}.yaml")
    assert config.exit_code == 0, config.stderr
    assert "│ normalization (Normalization) │" in config.stdout.splitlines()[5]  # the first layer, as in training
    assert total_params(config.stdout) == total
    assert xornet("train", f"configs/{name}.yaml", "--epochs", "1", "-q").exit_code == 0
    saved = xornet("summary", f"models/{name}/basic_model.json")
    assert saved.exit_code == 0, saved.stderr
    # The same table, Keras' own: only the first line (config or model file) and the last (training facts) differ.
    assert config.stdout.splitlines()[1:] == saved.stdout.splitlines()[1:-1]


def test_config_summary_reads_only_the_header(workdir, xornet):
    """The width comes from the header: a body that training would refuse is not read."""
    write("data/wide.csv", "a,b,c,label\n1,2,x,0\n")
    write("net.yaml", "name: wide\ndata: {path: data/wide.csv, normalize: true}\n"
                      "model: {layers: [{type: Dense, units: 1, activation: sigmoid}]}\n")
    result = xornet("summary", "net.yaml")
    assert result.exit_code == 0, result.stderr
    assert "│ normalization (Normalization) │ (None, 3)             │            7 │" in result.stdout
    assert total_params(result.stdout) == " Total params: 11 (48.00 B)"


def test_config_summary_widens_categorical_columns_as_training_does(workdir, xornet):
    rows = [f"{color},{i % 5},{i % 2}" for i, color in enumerate(["red", "green", "blue"] * 10)]
    write("data/colors.csv", "color,size,label\n" + "\n".join(rows) + "\n")
    write("net.yaml", "name: colors\nseed: 1\ndata: {path: data/colors.csv, categorical: [color], normalize: true}\n"
                      "model: {layers: [{type: Dense, units: 2, activation: relu}, "
                      "{type: Dense, units: 1, activation: sigmoid}]}\n"
                      "training: {epochs: 1}\n")
    config = xornet("summary", "net.yaml")
    assert config.exit_code == 0, config.stderr
    assert "│ normalization (Normalization) │ (None, 4)             │            9 │" in config.stdout
    assert xornet("train", "net.yaml", "-q").exit_code == 0
    saved = xornet("summary", "models/basic_model.json")
    assert config.stdout.splitlines()[1:] == saved.stdout.splitlines()[1:-1]


KERAS2 = REPO / "tests/fixtures/keras2"


def test_an_architecture_alone_is_shown_and_its_weights_can_be_named(xornet):
    alone = xornet("summary", KERAS2 / "xor20_model.json")
    assert alone.exit_code == 0, alone.stderr
    assert alone.stdout.endswith(" Total params: 41 (164.00 B)\n Trainable params: 41 (164.00 B)\n"
                                 " Non-trainable params: 0 (0.00 B)\n"
                                 "No weights file beside it (looked for xor20_weights.h5, xor20.weights.h5, "
                                 "xor20_model.h5): the architecture alone, untrained; pass --weights PATH for a "
                                 "weights file of another name\n")
    named = xornet("summary", KERAS2 / "xor20_model.json", "--weights", KERAS2 / "xor_weights.h5")
    assert named.exit_code == 0, named.stderr
    assert named.stdout.splitlines() == alone.stdout.splitlines()[:-1]  # the same table, without the note
    wrong = ("error: {}: layer 'dense_1' (stored as 'dense_5') expects weights of shapes (2, 10), (10), "
             "received (4, 6), (6) (hint: the weights belong to a different architecture)\n")
    for args in (("summary", KERAS2 / "xor20_model.json"), ("predict", "-m", KERAS2 / "xor20_model.json")):
        result = xornet(*args, "-w", KERAS2 / "softmax_weights.h5")
        assert refused(result) == (2, "", wrong.format(KERAS2 / "softmax_weights.h5")), args


def test_weights_a_run_record_names_may_not_be_missing(trained, xornet):
    (trained / "models/basic_weights.h5").unlink()
    missing = ("error: models/basic_model.json: no weights file found beside it: looked for models/basic_weights.h5, "
               "models/basic.weights.h5, models/basic_model.h5 (hint: pass --weights PATH)\n")
    assert refused(xornet("summary", "models/basic_model.json")) == (2, "", missing)
    assert refused(xornet("predict")) == (2, "", missing)
    assert refused(xornet("summary", "configs/xor.yaml", "-w", "w.h5")) == (
        2, "", "error: --weights goes with a saved model (.json or .keras), not with a config\n")


# --- the table without TensorFlow ------------------------------------------------------


def keras_models():
    """Sequential networks of every layer class xornet runs, with options that change the weights Keras makes."""
    import keras
    from keras import layers

    flat = keras.Input(shape=(3,))
    yield keras.Sequential([flat, layers.Normalization(), layers.BatchNormalization(center=False),
                            layers.Dense(4, use_bias=False, name="no_bias"), layers.LeakyReLU(),
                            layers.Dropout(0.5), layers.Flatten(), layers.BatchNormalization(scale=False),
                            layers.Dense(2, activation="softmax")], name="every_layer")
    yield keras.Sequential([flat, layers.Dense(2000, name="wide"), layers.Dense(3000, name="x" * 60),
                            layers.Activation("relu", name="in[brackets]")], name="big [one]")
    yield keras.Sequential([flat, layers.Dense(5, dtype="float64")], name="float64")  # read as float32, like predict
    frozen = keras.Sequential([flat, layers.Dense(5, name="frozen"), layers.Dense(1)], name="frozen")
    frozen.get_layer("frozen").trainable = False
    yield frozen


def drawn_as_keras_draws(paths) -> int:
    """How many of `paths` get a table without TensorFlow; each such table is asserted equal to Keras' own."""
    from xornet.files.load import read_architecture, read_model_json
    from xornet.summary import keras_free_summary, model_summary

    drawn = 0
    for path in paths:
        config = read_model_json(path)
        fast = keras_free_summary(config)
        if fast is not None:
            assert fast == model_summary(read_architecture(path, config)), path
            drawn += 1
    return drawn


def test_the_table_drawn_without_tensorflow_is_keras_own(tmp_path, xornet):
    paths = [REPO / "models/basic_model.json", *sorted(KERAS2.glob("*_model.json"))]
    for number, model in enumerate(keras_models()):
        paths.append(write(tmp_path / f"{number}.json", model.to_json()))
    assert drawn_as_keras_draws(paths) == len(paths) - 1  # all but the one with a frozen layer, which Keras draws
    frozen = xornet("summary", paths[-1])
    assert frozen.exit_code == 0, frozen.stderr
    assert " Trainable params: 6 (24.00 B)\n Non-trainable params: 20 (80.00 B)\n" in frozen.stdout


def test_the_table_of_real_users_files_is_keras_own():
    from wild_keras import wild_dir

    from xornet.errors import InputError
    from xornet.files.load import read_model_json

    readable = []
    for path in sorted(wild_dir().glob("*/model.json")):
        try:
            read_model_json(path)
            readable.append(path)
        except InputError:
            pass
    assert len(readable) == 21  # as the README says
    assert drawn_as_keras_draws(readable) == 21


def test_summary_of_a_saved_model_does_not_import_tensorflow(trained):
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from xornet.cli import app; "
            "result = CliRunner().invoke(app, ['summary', 'models/basic_model.json']); "
            "print(result.exit_code, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=trained, check=True)
    assert done.stdout == "0 False False\n"


def test_a_directory_is_named_as_one_with_what_summary_takes(trained, xornet):
    assert refused(xornet("summary", "models")) == (
        2, "", "error: TARGET models: is a directory; summary takes a config (.yaml) or a saved model (.json) "
               "(hint: xornet summary models/basic_model.json)\n")
    assert refused(xornet("summary", "configs")) == (
        2, "", "error: TARGET configs: is a directory; summary takes a config (.yaml) or a saved model (.json) "
               "(hint: xornet summary configs/and.yaml)\n")
