"""Hostile model files, run records and configs: each ends in one clear `error: ` line and exit 2.

The weights cases start from the shipped reference weights (Keras 2 layout,
written by xornet), change one thing with h5py and run `xornet predict` on it.
"""

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import REPO, write


@pytest.fixture
def model_dir(workdir):
    """A working directory with the shipped reference model copied into models/."""
    shutil.copytree(REPO / "models", workdir / "models")
    return workdir


def assert_one_error(result, *fragments):
    """Exit 2, nothing on stdout, one `error: ` line on stderr holding every fragment."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected failure" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


# --- HDF5 weights ---------------------------------------------------------------------

KERNEL = "/dense/dense/kernel:0"
BIAS = "/dense/dense/bias:0"


def replace_dataset(f, where, data=None, **options):
    del f[where]
    f.create_dataset(where, data=data, **options)


def set_values(where, *changes):
    def change(f):
        values = np.array(f[where])
        for index, value in changes:
            values.flat[index] = value
        f[where][...] = values
    return change


def set_attr(holder, name, value):
    def change(f):
        f[holder].attrs[name] = value
    return change


def keras3_layout(change=None):
    """The reference weights in Keras 3's `.weights.h5` layout (layers/<name>/vars/<i>), then `change`."""
    def build(f):
        values = {name: [np.array(f[f"/{name}/{name}/{w}:0"]) for w in ("kernel", "bias")] for name in ("dense", "dense_1")}
        for key in list(f):
            del f[key]
        del f.attrs["layer_names"]
        for name, arrays in values.items():
            for i, array in enumerate(arrays):
                f.create_dataset(f"layers/{name}/vars/{i}", data=array)
        if change:
            change(f)
    return build


def nested_groups(depth):
    def change(f):
        f.create_group("/".join(f"g{i}" for i in range(depth)))
    return change


def many_groups(count):
    def change(f):
        for i in range(count):
            f.create_group(f"extra{i}")
    return change


def enum_dtype():
    return h5py.enum_dtype({"zero": 0, "one": 1}, basetype="i1")


HDF5_CASES = {
    # Values that produce garbage.
    "nan_kernel": (set_values(KERNEL, (0, np.nan), (3, np.nan), (7, np.nan)),
                   "models/basic_weights.h5: layer 'dense' weight 'kernel' holds 3 NaN values"),
    "inf_bias": (set_values(BIAS, (2, np.inf)), "layer 'dense' weight 'bias' holds 1 infinite value (HDF5 dataset"),
    "minus_inf_output": (set_values("/dense_1/dense_1/kernel:0", (0, -np.inf)),
                         "layer 'dense_1' weight 'kernel' holds 1 infinite value"),
    "nan_and_inf": (set_values(BIAS, (0, np.nan), (1, np.inf)), "holds 1 NaN and 1 infinite values"),
    # Datasets of the wrong type.
    "string_kernel": (lambda f: replace_dataset(f, KERNEL, np.array([b"a", b"b"])),
                      f"HDF5 dataset '{KERNEL}' has type string, expected real numbers"),
    "vlen_string_kernel": (lambda f: replace_dataset(f, KERNEL, ["a", "b"], dtype=h5py.string_dtype()),
                           "has type string, expected real numbers"),
    "compound_kernel": (lambda f: replace_dataset(f, KERNEL, np.zeros(3, [("a", "f4"), ("b", "i4")])),
                        "has type compound"),
    "vlen_float_kernel": (lambda f: replace_dataset(f, KERNEL, shape=(2,), dtype=h5py.vlen_dtype("f4")),
                          "has type variable-length"),
    "reference_kernel": (lambda f: replace_dataset(f, KERNEL, shape=(2,), dtype=h5py.ref_dtype),
                         "has type object reference"),
    "bool_kernel": (lambda f: replace_dataset(f, KERNEL, np.ones((2, 10), bool)), "has type boolean"),
    "complex_kernel": (lambda f: replace_dataset(f, KERNEL, np.ones((2, 10), complex)), "has type complex"),
    "enum_kernel": (lambda f: replace_dataset(f, KERNEL, np.zeros((2, 10), "i1"), dtype=enum_dtype()),
                    "has type enum"),
    "opaque_kernel": (lambda f: replace_dataset(f, KERNEL, np.zeros(2, "V8")), "has type opaque"),
    "array_dtype_kernel": (lambda f: replace_dataset(f, KERNEL, shape=(2,), dtype=np.dtype(("f4", (10,)))),
                           "has type array of float32 (10,)"),
    "empty_dataspace_kernel": (lambda f: replace_dataset(f, KERNEL, h5py.Empty("f4")),
                               f"HDF5 dataset '{KERNEL}' is empty (no shape)"),
    # Sizes declared before anything is read.
    "huge_declared_shape": (lambda f: replace_dataset(f, KERNEL, shape=(10**6, 10**6), dtype="f4", chunks=(10, 10)),
                            f"HDF5 dataset '{KERNEL}' declares shape (1000000, 1000000) (1,000,000,000,000 values), "
                            "more than the 100,000,000 values"),
    "huge_in_total": (lambda f: replace_dataset(f, BIAS, shape=(10**8,), dtype="f4", chunks=(1000,)),
                      f"HDF5 dataset '{BIAS}' declares shape (100000000,) (100,000,000 values), with the weights before it, "
                      "more than the 100,000,000 values xornet reads from a weights file"),
    "wrong_shape": (lambda f: replace_dataset(f, KERNEL, np.zeros((3, 10), "f4")),
                    "layer 'dense' (stored as 'dense') expects weights of shapes (2, 10), (10), received (3, 10), (10)"),
    # Groups and datasets where the other belongs, or missing.
    "layer_group_is_dataset": (lambda f: replace_dataset(f, "/dense", np.zeros(3)),
                               "HDF5 path '/dense' is a dataset, expected a group"),
    "weight_is_group": (lambda f: (f.__delitem__(KERNEL), f.create_group(KERNEL)),
                        f"HDF5 path '{KERNEL}' is a group, expected a dataset"),
    "layer_group_missing": (lambda f: f.__delitem__("/dense"), "no HDF5 group '/dense', which the file's layout names"),
    "weight_missing": (lambda f: f.__delitem__(BIAS), f"no HDF5 dataset '{BIAS}'"),
    "model_weights_is_dataset": (lambda f: (f.attrs.__delitem__("layer_names"), f.create_dataset("model_weights", data=[1])),
                                 "HDF5 path '/model_weights' is a dataset, expected a group"),
    "no_keras_layout": (lambda f: f.attrs.__delitem__("layer_names"), "HDF5 file without Keras weights"),
    # Links: the SHA-256 of the file cannot vouch for what they point to.
    "soft_link_kernel": (lambda f: (f.__delitem__(KERNEL), f.__setitem__(KERNEL, h5py.SoftLink(BIAS))),
                         f"HDF5 path '{KERNEL}' is a soft link to '{BIAS}'"),
    "dangling_soft_link": (lambda f: f.__setitem__("elsewhere", h5py.SoftLink("/nowhere")),
                           "HDF5 path '/elsewhere' is a soft link"),
    "external_link_kernel": (lambda f: (f.__delitem__(KERNEL), f.__setitem__(KERNEL, h5py.ExternalLink("other.h5", "/k"))),
                             f"HDF5 path '{KERNEL}' is an external link to other.h5:/k; refused: the run record's "
                             "SHA-256 check cannot cover another file"),
    "external_link_unused": (lambda f: f.__setitem__("spare", h5py.ExternalLink("/etc/passwd", "/")),
                             "HDF5 path '/spare' is an external link to /etc/passwd:/"),
    "external_link_odd_name": (lambda f: f.__setitem__("spare", h5py.ExternalLink("a\nb.h5", "/")),
                               "HDF5 path '/spare' is an external link to 'a\\nb.h5:/'; refused"),
    "named_datatype": (lambda f: f.__setitem__("type", np.dtype("f4")), "HDF5 path '/type' is a Datatype"),
    "groups_too_deep": (nested_groups(40), "HDF5 groups nested more than 32 deep"),
    "too_many_objects": (many_groups(10_001), "holds more than 10000 HDF5 objects"),
    # Attributes of the wrong type or holding names that are not plain paths.
    "layer_names_ints": (set_attr("/", "layer_names", np.arange(4)),
                         "attribute 'layer_names' of HDF5 path '/' has type int64, expected an array of strings"),
    "layer_names_floats": (set_attr("/", "layer_names", np.ones(2)), "has type float64, expected an array of strings"),
    "layer_names_scalar": (set_attr("/", "layer_names", "dense"), "has shape (), expected a one-dimensional array"),
    "layer_names_2d": (set_attr("/", "layer_names", np.array([[b"dense"]])), "has shape (1, 1)"),
    "layer_names_compound": (set_attr("/", "layer_names", np.zeros(2, [("a", "i4")])), "has type compound"),
    "weight_names_ints": (set_attr("/dense", "weight_names", np.arange(2)),
                          "attribute 'weight_names' of HDF5 path '/dense' has type int64"),
    "layer_name_dotdot": (set_attr("/", "layer_names", np.array([b"..", b"dense_1"])),
                          "holds the name '..', expected a relative HDF5 path"),
    "layer_name_absolute": (set_attr("/", "layer_names", np.array([b"/dense", b"dense_1"])), "holds the name '/dense'"),
    "weight_name_empty_part": (set_attr("/dense", "weight_names", np.array([b"dense//kernel:0", b"dense/bias:0"])),
                               "holds the name 'dense//kernel:0'"),
    "layer_name_not_utf8": (set_attr("/", "layer_names", np.array([b"\xff\xfe", b"dense_1"])), "not UTF-8 text"),
    "layer_names_too_long": (set_attr("/", "layer_names", np.array([b"d" * 5000, b"dense_1"])),
                             "holds names of 5,000 bytes each, more than the 1000"),
    "too_many_layer_names": (set_attr("/", "layer_names", np.array([b"d"] * 10_001)), "lists 10001 names"),
    # Keras 3's layout, damaged.
    "keras3_nan": (keras3_layout(set_values("/layers/dense/vars/0", (1, np.nan))),
                   "layer 'dense' weight '0' holds 1 NaN value"),
    "keras3_vars_is_dataset": (keras3_layout(lambda f: replace_dataset(f, "/layers/dense/vars", np.zeros(2))),
                               "HDF5 path '/layers/dense/vars' is a dataset, expected a group"),
    "keras3_var_missing": (keras3_layout(lambda f: f.move("/layers/dense/vars/1", "/layers/dense/vars/5")),
                           "no HDF5 dataset '/layers/dense/vars/1'"),
    "keras3_layers_is_dataset": (keras3_layout(lambda f: replace_dataset(f, "/layers", np.zeros(2))),
                                 "HDF5 path '/layers' is a dataset, expected a group"),
}


@pytest.mark.parametrize("change, message", HDF5_CASES.values(), ids=HDF5_CASES.keys())
def test_hostile_weights_are_refused_by_predict(model_dir, xornet, change, message):
    (model_dir / "models/basic_run.json").unlink()  # the record's SHA-256 would catch the change first
    with h5py.File(model_dir / "models/basic_weights.h5", "r+") as f:
        change(f)
    assert_one_error(xornet("predict", "--model", "models/basic_model.json"), "error: models/basic_weights.h5: ", message)


@pytest.mark.parametrize("content, message", [
    (b"", "not an HDF5 file"),
    (b"layer_names = dense\n", "not an HDF5 file"),
    ("truncated", "damaged HDF5 weights file"),
], ids=["empty", "text", "truncated"])
def test_weights_that_are_not_hdf5_are_refused(model_dir, xornet, content, message):
    weights = model_dir / "models/basic_weights.h5"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if content == "truncated" else content)
    (model_dir / "models/basic_run.json").unlink()
    assert_one_error(xornet("predict", "--model", "models/basic_model.json"), message)


def test_weights_that_are_a_directory_are_refused(model_dir, xornet):
    (model_dir / "dir.h5").mkdir()
    assert_one_error(xornet("predict", "--model", "models/basic_model.json", "--weights", "dir.h5"),
                     "dir.h5: is a directory, expected an HDF5 weights file")


def test_nan_weights_are_refused_by_every_command_that_loads_them(model_dir, xornet):
    (model_dir / "models/basic_run.json").unlink()
    with h5py.File(model_dir / "models/basic_weights.h5", "r+") as f:
        set_values(KERNEL, (4, np.nan))(f)
    expected = ("error: models/basic_weights.h5: layer 'dense' weight 'kernel' holds 1 NaN value (HDF5 dataset "
                f"'{KERNEL}'); refusing to use these weights (hint: the file is damaged or training diverged; "
                "retrain the model)\n")
    for args in (("predict", "--x", "0,1", "--format", "json"),
                 ("export", "models/basic_model.json", "out", "--to", "keras2"),
                 ("evaluate", "--data", "configs/xor.yaml"),
                 ("plot", "models/basic_model.json")):
        result = xornet(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected), args
    assert not (model_dir / "out").exists() and not (model_dir / "models/basic_plot.png").exists()


def test_integer_weights_and_hard_link_loops_are_accepted(model_dir, xornet):
    """Integers are real numbers, and a loop of hard links is walked once: neither is refused."""
    (model_dir / "models/basic_run.json").unlink()
    with h5py.File(model_dir / "models/basic_weights.h5", "r+") as f:
        replace_dataset(f, BIAS, np.arange(10, dtype="i4"))
        f["dense/loop"] = f["dense"]
    result = xornet("predict", "--x", "0,1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert 0 <= json.loads(result.stdout)[0]["probability"] <= 1


# --- run records ----------------------------------------------------------------------

MISSING = object()


def at(key, value=MISSING):
    """A change to a record: set the dotted `key` to `value`, or delete it when no value is given."""
    def change(record):
        *parents, last = key.split(".")
        node = record
        for part in parents:
            node = node[part]
        if value is MISSING:
            del node[last]
        else:
            node[last] = value
        return record
    return change


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


HINT = "(hint: retrain the model, restore the record, or delete models/basic_run.json to use the model files unchecked)"

RECORD_CASES = {
    "null": (lambda r: None, "run record holds null, expected a mapping of keys"),
    "list": (lambda r: [r], "run record holds a list, expected a mapping"),
    "number": (lambda r: 7, "run record holds 7, expected a mapping"),
    "no_files": (at("files"), "run record has no key files, which holds the SHA-256 of the model files"),
    "files_null": (at("files", None), "run record key files: expected a mapping, received null"),
    "files_list": (at("files", []), "key files: expected a mapping, received a list"),
    "weights_entry_null": (at("files.weights", None), "key files.weights: expected a mapping, received null"),
    "weights_entry_string": (at("files.weights", "basic_weights.h5"), "key files.weights: expected a mapping"),
    "no_weights_sha256": (at("files.weights.sha256"), "has no key files.weights.sha256"),
    "no_model_entry": (at("files.model"), "has no key files.model"),
    "model_name_number": (at("files.model.name", 42),
                          "key files.model.name: expected a file name without a directory, received 42"),
    "weights_name_dotdot": (at("files.weights.name", "../basic_weights.h5"),
                            "key files.weights.name: expected a file name without a directory, received '../basic_weights.h5'"),
    "weights_name_absolute": (at("files.weights.name", "/etc/passwd"), "received '/etc/passwd'"),
    "weights_name_parent": (at("files.weights.name", ".."), "received '..'"),
    "weights_name_backslash": (at("files.weights.name", "..\\basic_weights.h5"), "expected a file name without a directory"),
    "weights_name_nul": (at("files.weights.name", "basic\x00.h5"), "expected a file name without a directory"),
    "sha256_not_hex": (at("files.model.sha256", "xyz"), "key files.model.sha256: expected 64 hexadecimal digits, received 'xyz'"),
    "sha256_number": (at("files.weights.sha256", 12345), "key files.weights.sha256: expected 64 hexadecimal digits"),
    "sha256_empty": (at("files.weights.sha256", ""), "expected 64 hexadecimal digits, received ''"),
    "history_name_path": (at("files.history", "../x.csv"), "key files.history: expected a file name"),
    "other_model_file": (at("files.model.name", "other_model.json"),
                         "run record describes the model file 'other_model.json', not 'basic_model.json'"),
    "weights_named_missing": (at("files.weights.name", "gone.h5"),
                              "run record names the weights 'gone.h5', which are missing; refusing to use "
                              "models/basic_weights.h5 unchecked"),
    "experiment_number": (at("experiment", 42), "key experiment: expected a string, received 42"),
    "seed_string": (at("seed", "42"), "key seed: expected an integer or null, received '42'"),
    "seed_bool": (at("seed", True), "key seed: expected an integer or null, received True"),
    "final_strings": (at("final", {"loss": "low"}), "key final: expected a mapping of metric names to numbers"),
    "config_list": (at("config", [1]), "key config: expected a mapping, received a list"),
    "config_training_null": (at("config.training", None), "key config.training: expected a mapping, received null"),
    "config_loss_unknown": (at("config.training.loss", "rm -rf"), "key config.training.loss: expected a Keras loss name"),
    "data_string": (at("data", "xor"), "key data: expected a mapping, received 'xor'"),
    "features_string": (at("data.features", "x1,x2"), "key data.features: expected a list of column names or null"),
    "features_numbers": (at("data.features", [1, 2]), "key data.features: expected a list of column names"),
    "label_bool": (at("data.label", False), "key data.label: expected a column name or null, received False"),
    "deep_unknown_key": (at("notes", nested(100)), "run record is nested more than 64 levels deep at key notes."),
    "lone_surrogate": (at("experiment", "\ud800"), "key experiment holds text that is not valid Unicode"),
    "lone_surrogate_key": (at("\udfff", 1), "key '\\udfff' holds text that is not valid Unicode"),
}


@pytest.mark.parametrize("change, message", RECORD_CASES.values(), ids=RECORD_CASES.keys())
def test_malformed_run_record_is_an_error_naming_record_and_key(model_dir, xornet, change, message):
    path = model_dir / "models/basic_run.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    result = xornet("predict", "--model", "models/basic_model.json")
    assert_one_error(result, "error: models/basic_run.json: ", message)


@pytest.mark.parametrize("content, message", [
    (b"", "run record is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    (b"{'files': 1}", "run record is not valid JSON"),
    (b"\xff\xfe{}", "run record is not UTF-8 text (byte 0)"),
    (b"[" * 100_000 + b"]" * 100_000, "run record is nested too deeply to read"),
    (b" " * 10_000_001 + b"{}", "run record is 10,000,003 bytes, more than the 10,000,000 a run record may have"),
], ids=["empty", "python_dict", "not_utf8", "json_recursion", "too_big"])
def test_unreadable_run_record_is_an_error(model_dir, xornet, content, message):
    (model_dir / "models/basic_run.json").write_bytes(content)
    assert_one_error(xornet("predict", "--model", "models/basic_model.json"), message, HINT)


def test_special_files_are_refused_without_blocking(model_dir, xornet):
    """A FIFO would block a reader for ever; /dev/zero never ends."""
    os.mkfifo(model_dir / "fifo")
    os.replace(model_dir / "fifo", model_dir / "models/basic_run.json")
    assert_one_error(xornet("predict"), "error: models/basic_run.json: run record is not a regular file")
    (model_dir / "models/basic_run.json").unlink()
    assert_one_error(xornet("predict", "--weights", "/dev/zero"), "error: /dev/zero: is not a regular file")
    assert_one_error(xornet("config", "validate", "/dev/zero"),
                     "error: /dev/zero: the config is more than the 1,000,000 bytes a config may have")


def test_run_record_that_is_a_directory_or_dangling_link_is_an_error(model_dir, xornet):
    record = model_dir / "models/basic_run.json"
    record.unlink()
    record.mkdir()
    assert_one_error(xornet("predict"), "error: models/basic_run.json: run record is a directory")
    record.rmdir()
    record.symlink_to(model_dir / "nowhere.json")
    assert_one_error(xornet("predict"), "error: models/basic_run.json: run record cannot be read: No such file")


def test_malformed_run_record_stops_every_command_that_reads_it(model_dir, xornet):
    """summary, evaluate, plot, export and train (without --force) read the record; none skips it."""
    path = model_dir / "models/basic_run.json"
    path.write_text(json.dumps(at("files.weights", None)(json.loads(path.read_text()))))
    expected = f"error: models/basic_run.json: run record key files.weights: expected a mapping, received null {HINT}\n"
    for args in (("summary", "models/basic_model.json"),
                 ("evaluate", "--data", "configs/xor.yaml"),
                 ("plot", "models/basic_run.json"),
                 ("export", "models/basic_model.json", "out", "--to", "keras3")):
        result = xornet(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected), args
    train = xornet("train", "configs/xor.yaml", "--epochs", "1", "-q")  # the files are not its to replace: --force
    assert (train.exit_code, train.stderr) == (
        2, "error: models/basic_run.json: run record key files.weights: expected a mapping, received null; refusing to "
           "overwrite it (hint: pass --force to replace it, or --output-dir DIR to write elsewhere)\n")


def test_record_check_cannot_be_bypassed_from_python(model_dir):
    """verify_against_record checks the record it is given, so a hand-made record cannot skip the SHA-256."""
    from xornet.errors import InputError
    from xornet.files.record import verify_against_record

    model = Path("models/basic_model.json")
    for record in ({}, {"files": None}, {"files": {"model": {"name": "basic_model.json"}}}):
        with pytest.raises(InputError, match="models/basic_run.json: run record has no key files|expected a mapping"):
            verify_against_record(model, record, Path("models/basic_weights.h5"))


# --- configs --------------------------------------------------------------------------


def laughs(levels=9):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        name, previous = chr(97 + i), chr(96 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def block_nesting(depth):
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"


TWO_LAYERS = "model:\n  layers:\n    - {{type: Dense, units: {units}{extra}}}\n    - {{type: Dense, units: 1}}\n"

CONFIG_CASES = {
    "billion_laughs": (laughs(), "x.yaml, line 6, column 4: aliases (*name) expand this to more than 100,000 values; "
                                 "refusing to expand it"),
    "recursive_alias": ("data: &a [1, *a]\n", "x.yaml, line 1, column 7: an alias refers to a value that contains it"),
    "recursive_mapping_alias": ("model: &m {layers: *m}\n", "a recursive alias"),
    "deep_flow_nesting": ("model: " + "[" * 1000 + "]" * 1000 + "\n",
                          "x.yaml, line 1, column 57: nested more than 50 levels deep"),
    "very_deep_flow_nesting": ("a: " + "{x: " * 100_000 + "1" + "}" * 100_000 + "\n", "nested more than 50 levels deep"),
    "deep_block_nesting": (block_nesting(200), "x.yaml, line 50, column 99: nested more than 50 levels deep"),
    "nul_byte": ("name: xor\noutput:\n  dir: a\0b\n", "x.yaml, line 3, column 9: NUL byte in the text, expected YAML text"),
    "nul_escape": ('name: xor\noutput:\n  dir: "a\\0b"\n',
                   "x.yaml, line 3, column 8: output.dir: the value holds a NUL character (\\0)"),
    "nul_escape_in_key": ('"na\\0me": xor\n', "the value holds a NUL character"),
    "control_character": ("name: x\x01y\n", "x.yaml, line 1, column 8: character U+0001 is not allowed in YAML"),
    "too_big": ("# " + "x" * 1_000_000 + "\n", "x.yaml: the config is more than the 1,000,000 bytes a config may have"),
    "list_as_key": ("? [a, b]\n: 1\n", "x.yaml, line 1, column 3: expected a plain key (a name), received a list"),
    "restarts_bound": ("training:\n  restarts: 5000\n",
                       "x.yaml, line 2: training.restarts: expected a value less than or equal to 1000, received 5000"),
    "units_bound": (TWO_LAYERS.format(units=10**12, extra=""),
                    "model.layers.0.units: expected a value less than or equal to 100000000, received 1000000000000"),
    "input_dim_bound": (TWO_LAYERS.format(units=1, extra=", input_dim: 10000000000"),
                        "model.layers.0.input_dim: expected a value less than or equal to 100000000"),
    "parameter_count": (TWO_LAYERS.format(units=100_000, extra=", input_dim: 2000"),
                        "x.yaml, line 1: model: the network has 200,200,001 parameters (with 2000 inputs), more than "
                        "the 100,000,000 xornet builds; use fewer units"),
    "parameter_count_table": ("data: {inputs: 16}\n" + TWO_LAYERS.format(units=10_000_000, extra=""),
                              "the network has 180,000,001 parameters (with 16 inputs)"),
    "parameter_count_deep": ("model:\n  layers:\n" + "    - {type: Dense, units: 5000}\n" * 6,
                             "the network has 125,040,000 parameters (with 2 inputs)"),
    "parameter_count_file": ("data: {path: d.csv}\n" + TWO_LAYERS.format(units=60_000_000, extra=""),
                             "the network has 180,000,001 parameters (at least, the data file's width not yet known)"),
}


@pytest.mark.parametrize("text, message", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_hostile_config_is_refused_by_config_validate(workdir, xornet, text, message):
    (workdir / "x.yaml").write_text(text, encoding="utf-8")
    assert_one_error(xornet("config", "validate", "x.yaml"), "error: x.yaml", message)


SET_CASES = {
    "deep": ("model.layers=" + "[" * 100 + "]" * 100, "the value, line 1, column 51: nested more than 50 levels deep"),
    "laughs": ("data=" + laughs().replace("\n", ", ").join("{}"), "aliases (*name) expand this to more than 100,000"),
    "recursive": ("model.layers=&a [*a]", "the value, line 1, column 1: an alias refers to a value that contains it"),
    "nul_escape": ('output.dir="a\\0b"', "output.dir: the value holds a NUL character"),
    "duplicate_key": ("model.layers.0={type: Dense, type: Dense}", "key model.layers.0.type appears twice"),
    "syntax": ("model.layers=[", "--set 'model.layers=[': the value, line 1, column 2: YAML syntax error"),
    "restarts": ("training.restarts=1001", "--set training.restarts=1001: training.restarts: expected a value less "
                                           "than or equal to 1000, received 1001"),
    "units": ("model.layers.0.units=100000000", "model: the network has 400,000,001 parameters (with 2 inputs)"),
}


@pytest.mark.parametrize("setting, message", SET_CASES.values(), ids=SET_CASES.keys())
def test_hostile_set_value_is_refused_by_train(workdir, xornet, setting, message):
    assert_one_error(xornet("train", "configs/xor.yaml", "--set", setting), message)
    assert not (workdir / "models").exists()


def test_huge_network_is_refused_before_it_is_built(workdir, xornet):
    big = write("big.yaml", TWO_LAYERS.format(units=100_000, extra=", input_dim: 2000"))
    expected = ("error: big.yaml, line 1: model: the network has 200,200,001 parameters (with 2000 inputs), more than "
                "the 100,000,000 xornet builds; use fewer units\n")
    for args in (("summary", big), ("train", big), ("config", "show", big),
                 ("summary", "--set", "model.layers.0.units=50000000")):
        result = xornet(*args)
        assert result.exit_code == 2 and result.stdout == "", args
        assert result.stderr == (expected if args[-1] == big else
                                 "error: --set model.layers.0.units=50000000: model: the network has 200,000,001 "
                                 "parameters (with 2 inputs), more than the 100,000,000 xornet builds; use fewer units\n")


def test_anchors_and_merge_keys_within_limits_still_work(workdir, xornet):
    write("anchors.yaml", "model:\n  layers:\n    - {type: Dense, units: 4, input_dim: 2}\n"
                          "    - &act {type: Activation, activation: tanh}\n"
                          "    - &hidden {type: Dense, units: 3, activation: tanh}\n"
                          "    - {<<: *hidden, units: 5}\n    - *act\n"
                          "    - {type: Dense, units: 1, activation: sigmoid}\n")
    result = xornet("config", "show", "anchors.yaml")
    assert result.exit_code == 0, result.stderr
    assert [line.strip() for line in result.stdout.splitlines() if "units:" in line] == \
        ["units: 4", "units: 3", "units: 5", "units: 1"]
