"""Config validation: every error names file, line, key, expected and received; no TensorFlow needed."""

import subprocess
import sys

import pytest

from conftest import write
from xornet.config import ACTIVATIONS, INITIALIZERS, LOSSES, METRICS, Config, load_config, parse_override
from xornet.keras_names import SHORT_NAMES
from xornet.errors import InputError


def error_of(path, overrides=()):
    with pytest.raises(InputError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_defaults_are_the_reference_experiment():
    config = Config()
    assert [layer.type for layer in config.model.layers] == ["Dense", "Activation", "Dense", "Activation"]
    assert config.model.layers[0].units == 10 and config.model.layers[1].activation == "tanh"
    assert config.training.optimizer == "sgd" and config.training.learning_rate == 0.1
    assert config.training.loss == "binary_crossentropy" and config.training.metrics == ["accuracy"]
    assert (config.output.model_file, config.output.weights_file) == ("basic_model.json", "basic_weights.h5")


def test_shipped_configs_are_valid():
    from conftest import REPO

    names = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
    assert names == ["and.yaml", "breast_cancer.yaml", "diabetes.yaml", "iris.yaml", "or.yaml", "seed.yaml", "xor.yaml",
                     "xor_minibatch.yaml", "xor_sgd.yaml"]
    for name in names:
        load_config(REPO / "configs" / name)
    assert load_config(REPO / "configs/seed.yaml").training.epochs == 100
    assert load_config(REPO / "configs/xor_sgd.yaml").training.batch_size == 1
    assert load_config(REPO / "configs/xor_minibatch.yaml").training.batch_size == 2
    assert len(load_config(REPO / "configs/and.yaml").model.layers) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("training:\n  learnig_rate: 0.5\n",
         "c.yaml, line 2: unknown key training.learnig_rate (did you mean 'learning_rate'?); expected one of: "
         "optimizer, learning_rate, momentum, nesterov, loss, metrics, epochs, batch_size, shuffle, target_loss, restarts, tensorboard, engine, early_stopping, learning_rate_schedule, class_weight, checkpoint_every, devices"),
        ("name: x\ntraining:\n  epochs: -5\n",
         "c.yaml, line 3: training.epochs: expected a value greater than or equal to 1, received -5"),
        ("training:\n  learning_rate: 0\n",
         "c.yaml, line 2: training.learning_rate: expected a value greater than 0, received 0"),
        ("training:\n  epochs: ten\n",
         "c.yaml, line 2: training.epochs: expected a valid integer, unable to parse string as an integer, received 'ten'"),
        ("model:\n  layers:\n    - {type: Dense, units: 3}\n    - {type: Activation, activation: tahn}\n",
         "c.yaml, line 4: model.layers.1.activation: expected a Keras activation name (tanh, sigmoid, relu, celu, "
         "elu, exponential, ...), received 'tahn' (did you mean 'tanh'?)"),
        ("model:\n  layers:\n    - {type: Dens, units: 3}\n",
         "c.yaml, line 3: model.layers.0.type: expected one of Dense, Activation, Dropout, BatchNormalization, "
         "LeakyReLU, Flatten, received 'Dens' "
         "(did you mean 'Dense'?)"),
        ("model:\n  layers:\n    - {type: Dense, unit: 3}\n",
         "c.yaml, line 3: unknown key model.layers.0.unit (did you mean 'units'?); expected one of: type, units, "
         "activation, use_bias, input_dim, kernel_initializer, bias_initializer, name (and 1 more problem)"),
        ("training:\n  optimizer: adm\n",
         "c.yaml, line 2: training.optimizer: expected 'sgd', 'adam' or 'rmsprop', received 'adm' (did you mean 'adam'?)"),
        ("data:\n  stream: maybe\n", "c.yaml, line 2: data.stream: expected 'auto', true or false, received 'maybe'"),
        ("data:\n  path: d.csv\n  features: [a, b, a]\n",
         "c.yaml, line 3: data.features: 'a' is listed twice, expected each column once"),
        ("training:\n  loss: binary_crossentropi\n",
         "c.yaml, line 2: training.loss: expected 'binary_crossentropy', 'binary_focal_crossentropy', "
         "'categorical_crossentropy', 'sparse_categorical_crossentropy', 'mean_squared_error', 'mean_absolute_error', "
         "'hinge', 'squared_hinge', 'log_cosh' or 'huber', received 'binary_crossentropi' "
         "(did you mean 'binary_crossentropy'?)"),
        ("training:\n  epochs: 5\n  epochs: 6\n",
         "c.yaml, line 3: key training.epochs appears twice (first on line 2) (hint: keep one of them)"),
        ("training: [1, 2\n",
         "c.yaml, line 2, column 1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("- 1\n- 2\n", "c.yaml, line 1: expected a mapping of sections (name, data, model, training, output), received a list"),
        ("", "c.yaml: the config is empty, expected a mapping of sections (name, data, model, training, output)"),
        ("data:\n  table: xor\n  path: a.csv\n", "c.yaml, line 1: data: expected either data.table or data.path, received both"),
        ("training:\n  optimizer: adam\n  nesterov: true\n",
         "c.yaml, line 1: training: nesterov goes with optimizer sgd, received optimizer 'adam'"),
        ("output:\n  weights_file: w.bin\n",
         "c.yaml, line 2: output.weights_file: expected a name ending in .h5 or .hdf5, received 'w.bin'"),
        ("model:\n  layers:\n    - {type: Dense, units: 2}\n    - {type: Dense, units: 1, input_dim: 2}\n",
         "c.yaml, line 1: model: input_dim is allowed on the first layer only, received it on model.layers.1"),
        ("seed: -1\n", "c.yaml, line 1: seed: expected a value greater than or equal to 0, received -1"),
        ("name: my experiment\n", "c.yaml, line 1: name: expected letters, digits, '_', '.' or '-' (starting with a "
         "letter or digit: it names files and studies), received 'my experiment'"),
    ],
)
def test_bad_config_messages(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    write("c.yaml", text)
    assert error_of("c.yaml") == message


def test_missing_and_unreadable_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert error_of("nope.yaml") == "nope.yaml: config file not found (hint: check the path, or run `xornet config init`)"
    (tmp_path / "d.yaml").mkdir()
    assert error_of("d.yaml") == "d.yaml: is a directory, expected a YAML config file"
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe\x00")
    assert error_of("b.yaml") == "b.yaml: not a text file (not UTF-8 at byte 0), expected a YAML config"


def test_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("c.yaml", "name: x\n")
    config = load_config("c.yaml", ["training.learning_rate=0.5", "model.layers.0.units=4", "seed=null"])
    assert config.training.learning_rate == 0.5 and config.model.layers[0].units == 4 and config.seed is None
    assert config.overrides == ["training.learning_rate=0.5", "model.layers.0.units=4", "seed=null"]
    assert error_of("c.yaml", ["training.learning_rate=-1"]) == (
        "--set training.learning_rate=-1: training.learning_rate: expected a value greater than 0, received -1")
    assert error_of("c.yaml", ["training.lr=1"]) == (
        "--set training.lr=1: unknown key training.lr; expected one of: optimizer, learning_rate, momentum, nesterov, loss, "
        "metrics, epochs, batch_size, shuffle, target_loss, restarts, tensorboard, engine, early_stopping, learning_rate_schedule, class_weight, checkpoint_every, devices")
    assert error_of("c.yaml", ["model.layers.7.units=4"]) == (
        "--set model.layers.7.units=4: model.layers.7: index out of range (the list has 4 items)")
    assert error_of("c.yaml", ["epochs"]) == (
        "--set 'epochs': expected KEY=VALUE with a dotted key, for example training.learning_rate=0.5")
    assert error_of("c.yaml", ["model.layers=[{type: Dense, units: -1}]"]) == (  # inside the value it set
        "--set model.layers=[{type: Dense, units: -1}]: model.layers.0.units: expected a value greater than 0, "
        "received -1")
    assert parse_override("training.metrics=[accuracy, auc]") == (("training", "metrics"), ["accuracy", "auc"])
    # A fraction of 0 holds out no rows, as null does.
    assert load_config("c.yaml", ["data.validation=0", "data.test=0.0"]).data.model_dump(include={"validation", "test"}) == {
        "validation": None, "test": None}
    assert error_of("c.yaml", ["data.test=-0.1"]) == (
        "--set data.test=-0.1: data.test: expected a value greater than 0, received -0.1")


def test_data_paths_resolve_against_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("sub/c.yaml", "data:\n  path: d.csv\n")
    assert load_config("sub/c.yaml").data.path == str(tmp_path / "sub" / "d.csv")


def test_name_lists_match_keras():
    """The names checked without TensorFlow are the ones Keras resolves."""
    from xornet.backend import import_keras

    keras = import_keras()
    public = {name for name in dir(keras.activations)
              if not name.startswith("_") and name not in ("get", "serialize", "deserialize")}
    assert public <= set(ACTIVATIONS)
    for name in ACTIVATIONS:
        assert keras.activations.get(name) is not None
    for name in LOSSES:
        assert keras.losses.get(name) is not None
    for name in METRICS:
        assert keras.metrics.get(name) is not None
    for short, full in SHORT_NAMES.items():
        assert keras.losses.get(short) is keras.losses.get(full)
        assert keras.metrics.get(short).name == keras.metrics.get(full).name == full
    for name in INITIALIZERS:
        assert keras.initializers.get(name) is not None


def test_help_and_validation_do_not_import_tensorflow(tmp_path):
    from conftest import REPO

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from xornet.cli import app\n"
        "from xornet.config import load_config\n"
        f"load_config({str(REPO / 'configs/xor.yaml')!r})\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_keras_short_names_of_losses_and_metrics_read_as_their_full_names(workdir, xornet):
    result = xornet("config", "show", "configs/xor.yaml", "--set", "training.loss=mse", "--set", "training.metrics=[mae]")
    assert result.exit_code == 0, result.stderr
    assert "  loss: mean_squared_error\n  metrics:\n  - mean_absolute_error\n" in result.stdout
