"""Property-based fuzzing (hypothesis, derandomized): run records and configs either load or fail with InputError.

The bulk calls the library directly (1,000 examples per structure); a few
examples also go through the CLI, which must print one `error: ` line.
"""

import copy
import json
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import REPO
from xornet.cli import app
from xornet.config import Config, load_config, validate_config
from xornet.data import all_binary_inputs
from xornet.errors import InputError
from xornet.files.record import read_record
from xornet.files.safe_write import sha256_of
from xornet.predictor import load_predictor

FUZZ = settings(derandomize=True, max_examples=1000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
FEW = settings(FUZZ, max_examples=25)

# JSON values of every kind, small enough to stay fast, including text JSON allows but UTF-8 does not.
json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(max_size=20) | st.sampled_from(["", ".", "..", "../x", "/etc/passwd", "a\x00b", "\ud800",
                                                          "basic_model.json", "basic_weights.h5", "0" * 64]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The shipped reference model, copied: (models directory, its run record, the true predictions)."""
    directory = tmp_path_factory.mktemp("fuzz") / "models"
    shutil.copytree(REPO / "models", directory)
    record = json.loads((directory / "basic_run.json").read_text())
    # The per-epoch history is hundreds of numbers no check reads: without it the mutations hit the keys that matter.
    del record["history"]
    (directory / "basic_run.json").write_text(json.dumps(record))
    truth = load_predictor(directory / "basic_model.json").predict(all_binary_inputs(2))
    return directory, record, truth


def key_paths(node, prefix=()):
    """Every key path in nested dicts and lists: ("files", "weights", "name"), ("attempts", 0), ..."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        yield prefix + (key,)
        yield from key_paths(value, prefix + (key,))


def mutate(document, changes):
    """Apply (path, value) changes to a deep copy; None as value deletes the key. Paths may no longer exist."""
    document = copy.deepcopy(document)
    for path, (delete, value) in changes:
        node = document
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)):
                if delete and isinstance(node, dict):
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = value
    return document


def mutations(document, values):
    paths = sorted(set(key_paths(document)), key=str)
    return st.lists(st.tuples(st.sampled_from(paths), st.tuples(st.booleans(), values)), min_size=1, max_size=3)


# --- run records ----------------------------------------------------------------------


def record_documents(record):
    """Whole random JSON values, and the real record with a few keys replaced or removed."""
    return json_values | mutations(record, json_values).map(lambda changes: mutate(record, changes))


def check_loads_or_refuses(directory, record, truth, document):
    (directory / "basic_run.json").write_text(json.dumps(document), encoding="utf-8", errors="surrogatepass")
    try:
        predictor = load_predictor(directory / "basic_model.json")
    except InputError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    # Loaded: the record vouched for exactly these files, and the answers are the model's own.
    files = predictor.record["files"]
    assert files["model"] == {"name": "basic_model.json", "sha256": record["files"]["model"]["sha256"]}
    assert files["weights"]["sha256"] == record["files"]["weights"]["sha256"]
    np.testing.assert_array_equal(predictor.predict(all_binary_inputs(2)), truth)


def test_fuzzed_run_records_load_or_fail_with_input_error(model_dir):
    directory, record, truth = model_dir

    @FUZZ
    @given(record_documents(record))
    def run(document):
        check_loads_or_refuses(directory, record, truth, document)

    run()


def test_fuzzed_run_records_cannot_point_at_other_files(model_dir):
    """Names and SHA-256 in `files` from a small set of real and hostile values: never a file unchecked."""
    directory, record, truth = model_dir
    names = st.sampled_from(["basic_model.json", "basic_weights.h5", "basic_run.json", "basic_history.csv",
                             "gone.h5", "../models/basic_weights.h5", str(directory / "basic_weights.h5"), "", None, 3])
    digests = st.sampled_from([record["files"]["model"]["sha256"], record["files"]["weights"]["sha256"],
                               sha256_of(directory / "basic_history.csv"), "0" * 64, "", None])
    entry = st.fixed_dictionaries({}, optional={"name": names, "sha256": digests})
    files = st.fixed_dictionaries({}, optional={"model": entry | json_values, "weights": entry | json_values,
                                                "history": names})

    @FUZZ
    @given(files)
    def run(entries):
        check_loads_or_refuses(directory, record, truth, dict(record, files=entries))

    run()


def test_fuzzed_run_records_through_the_cli(model_dir, monkeypatch):
    directory, record, _ = model_dir
    monkeypatch.chdir(directory.parent)
    runner = CliRunner()

    @FEW
    @given(record_documents(record))
    def run(document):
        (directory / "basic_run.json").write_text(json.dumps(document), encoding="utf-8", errors="surrogatepass")
        result = runner.invoke(app, ["predict", "--format", "json"], catch_exceptions=False)
        if result.exit_code == 0:
            assert len(json.loads(result.stdout)) == 4
        else:
            assert result.exit_code == 2 and result.stderr.startswith("error: models/basic_") , result.stderr
            assert result.stderr.count("\n") == 1

    run()


def test_fuzzed_records_read_back_as_checked(model_dir):
    """read_record returns a record only when its shape is right; dataset_of_record copes with any such record."""
    from xornet.data import dataset_of_record

    directory, record, _ = model_dir

    @FUZZ
    @given(mutations(record["config"], json_values).map(lambda changes: dict(record, config=mutate(record["config"], changes))))
    def run(document):
        (directory / "basic_run.json").write_text(json.dumps(document), encoding="utf-8", errors="surrogatepass")
        try:
            read = read_record(directory / "basic_model.json")
        except InputError:
            return
        assert json.dumps(read) == json.dumps(document)
        dataset_of_record(read)  # None or a dataset, never an exception

    run()


# --- configs --------------------------------------------------------------------------

XOR = yaml.safe_load((REPO / "configs/xor.yaml").read_text())
KNOWN_KEYS = sorted({str(p[-1]) for p in key_paths(Config().model_dump(mode="json"))} | {"type", "<<", "Dense"})
yaml_scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
                | st.sampled_from(["Dense", "Activation", "Dropout", "tanh", "sgd", "xor", "models", "a.json",
                                   "x.h5", "../x", "", "1e400", "a\x00b"]))
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8) | st.integers(-3, 3)
yaml_values = st.recursive(yaml_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    return tmp_path_factory.mktemp("configs") / "fuzz.yaml"


def loads_or_refuses(path: Path, text: str, overrides=()):
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path, overrides)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc), str(exc)
        return None
    assert isinstance(config, Config)
    return config


def dump(document) -> str:
    return yaml.dump(document, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)


def test_fuzzed_config_documents_load_or_fail_with_input_error(config_file):
    @FUZZ
    @given(st.dictionaries(keys, yaml_values, max_size=6) | yaml_values)
    def run(document):
        loads_or_refuses(config_file, dump(document))

    run()


def test_fuzzed_mutations_of_xor_yaml_load_or_fail_with_input_error(config_file):
    @FUZZ
    @given(mutations(XOR, yaml_values))
    def run(changes):
        config = loads_or_refuses(config_file, dump(mutate(XOR, changes)))
        if config is not None:  # what loads is valid: it survives validation again unchanged
            assert validate_config(config.resolved()).resolved() == config.resolved()

    run()


YAML_ALPHABET = string.ascii_lowercase[:6] + string.digits[:3] + " \n\t:-[]{},&*!|>#'\"?<.%@`\\\x00\x01\u00e9\ufeff"


def test_fuzzed_config_text_loads_or_fails_with_input_error(config_file):
    """Raw text: the xor config with characters inserted, deleted or replaced, and text from a YAML alphabet."""
    text = (REPO / "configs/xor.yaml").read_text()
    edit = st.tuples(st.integers(0, len(text)), st.integers(0, 3), st.text(YAML_ALPHABET, max_size=4))
    edits = st.lists(edit, min_size=1, max_size=4)

    def apply(changes):
        result = text
        for at, cut, insert in changes:
            at = min(at, len(result))
            result = result[:at] + insert + result[at + cut:]
        return result

    @FUZZ
    @given(edits.map(apply) | st.text(YAML_ALPHABET, max_size=80))
    def run(document):
        loads_or_refuses(config_file, document)

    run()


def test_fuzzed_set_overrides_load_or_fail_with_input_error(config_file):
    config_file.write_text((REPO / "configs/xor.yaml").read_text())
    paths = sorted({".".join(map(str, p)) for p in key_paths(XOR)} | {"model.layers.9.units", "training", "x.y"})
    override = st.tuples(st.sampled_from(paths) | st.text(max_size=10), yaml_values | st.text(YAML_ALPHABET, max_size=20))

    def as_text(pair):
        key, value = pair
        return f"{key}={value if isinstance(value, str) else json.dumps(value)}"

    @FUZZ
    @given(st.lists(override.map(as_text), min_size=1, max_size=3))
    def run(overrides):
        try:
            load_config(config_file, overrides)
        except InputError as exc:
            assert "\n" not in str(exc)

    run()


def test_fuzzed_configs_through_config_validate(config_file, monkeypatch):
    monkeypatch.chdir(config_file.parent)
    runner = CliRunner()

    @FEW
    @given(mutations(XOR, yaml_values))
    def run(changes):
        config_file.write_text(dump(mutate(XOR, changes)), encoding="utf-8", errors="surrogatepass")
        result = runner.invoke(app, ["config", "validate", config_file.name], catch_exceptions=False)
        assert (result.exit_code, result.stdout) in ((0, f"ok: {config_file.name}\n"), (2, "")), result.stderr
        assert result.exit_code == 0 or (result.stderr.startswith("error: fuzz.yaml") and result.stderr.count("\n") == 1)

    run()
