"""Errors a new user meets first: Click's usage errors as one line, errors that name the flag typed,
config init and validate, refusals that come before TensorFlow loads, sweep --seeds, plot formats.
Everything through the real CLI, with exact stderr and exit codes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, write


def one_error(result, message):
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {message}\n")


# --- 1. Click's usage errors: one line, what was expected and what was received ------------

TRAIN_OPTIONS = ("--epochs, --seed, --output-dir, --set, --force, --resume, --quiet, -q, --format, -f, "
                 "--fail-if-not-converged, --debug")
COMMANDS = "train, predict, summary, evaluate, plot, sweep, tune, export, serve, config"
USAGE_ERRORS = {
    "bad integer": (["train", "configs/xor.yaml", "--epochs", "ten"],
                    "--epochs ten: expected an integer, received 'ten' (hint: see xornet train --help)"),
    "bad number": (["evaluate", "--threshold", "high"],
                   "--threshold high: expected a number, received 'high' (hint: see xornet evaluate --help)"),
    "bad choice": (["export", "models/basic_model.json", "out", "--to", "pytorch"],
                   "--to pytorch: expected one of keras2, keras3, keras, savedmodel, tflite, onnx, received 'pytorch' "
                   "(hint: see xornet export --help)"),
    "bad choice, short flag": (["train", "configs/xor.yaml", "-f", "yaml"],
                               "-f yaml: expected one of text, json, received 'yaml' (hint: see xornet train --help)"),
    "out of range": (["sweep", "configs/xor.yaml", "--seeds", "0"],
                     "--seeds 0: expected an integer >= 1, received 0 (hint: see xornet sweep --help)"),
    "unknown option to plot": (["plot", "--model", "models/basic_model.json"],
                               "--model: xornet plot has no such option, expected one of --out, -o, --debug, "
                               "received '--model' (hint: usage: xornet plot [OPTIONS] MODEL; see xornet plot --help)"),
    "unknown option to summary": (["summary", "--model", "models/basic_model.json"],
                                  "--model: xornet summary has no such option, expected one of --set, --weights, -w, --debug, received "
                                  "'--model' (hint: usage: xornet summary [OPTIONS] [TARGET]; see xornet summary --help)"),
    "unknown option to export": (["export", "--model", "models/basic_model.json"],
                                 "--model: xornet export has no such option, expected one of --to, --weights, -w, "
                                 "--force, --debug, received '--model' (hint: usage: xornet export [OPTIONS] MODEL DIR; "
                                 "see xornet export --help)"),
    "unknown option, close to one": (["config", "show", "configs/xor.yaml", "--sett", "seed=1"],
                                     "--sett: xornet config show has no such option, expected one of --set, --debug, "
                                     "received '--sett' (hint: did you mean --set? see xornet config show --help)"),
    "unknown option of train": (["train", "configs/xor.yaml", "--fast"],
                                f"--fast: xornet train has no such option, expected one of {TRAIN_OPTIONS}, received "
                                "'--fast' (hint: usage: xornet train [OPTIONS] CONFIG; see xornet train --help)"),
    "missing argument": (["train"],
                         "xornet train: missing argument CONFIG, expected the experiment config (YAML), received "
                         "nothing (hint: usage: xornet train [OPTIONS] CONFIG; see xornet train --help)"),
    "missing required option": (["export", "models/basic_model.json", "out"],
                                "xornet export: missing option --to, expected one of keras2, keras3, keras, savedmodel, "
                                "tflite, onnx, received nothing (hint: usage: xornet export [OPTIONS] MODEL DIR; "
                                "see xornet export --help)"),
    "missing value": (["evaluate", "--threshold"],
                      "--threshold: expected a number after it, received nothing (hint: see xornet evaluate --help)"),
    "missing value of a subcommand": (["config", "show", "configs/xor.yaml", "--set"],
                                      "--set: expected a value <key=value> after it, received nothing "
                                      "(hint: see xornet config show --help)"),
    "extra argument": (["train", "configs/xor.yaml", "configs/and.yaml"],
                       "xornet train: too many arguments, expected xornet train [OPTIONS] CONFIG, received extra "
                       "'configs/and.yaml' (hint: quote a value that holds spaces; see xornet train --help)"),
    "unknown command": (["trian", "configs/xor.yaml"],
                        f"xornet: no such command, expected one of {COMMANDS}, received 'trian' "
                        "(hint: did you mean train? see xornet --help)"),
    "missing command": (["--debug"],
                        f"xornet: missing command, expected one of {COMMANDS}, received nothing (hint: see xornet --help)"),
}


@pytest.mark.parametrize("args,message", USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_usage_errors_are_one_line(workdir, xornet, args, message):
    one_error(xornet(*args), message)


def test_help_is_still_help(xornet):
    result = xornet("plot", "--help")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: xornet plot [OPTIONS] {MODEL}\n\n  Draw loss and accuracy per epoch")
    bare = xornet("config")  # a group without a command shows its help, as before
    assert bare.exit_code == 2 and "Commands:\n  show " in bare.stdout + bare.stderr


PROBE = """
import sys
{setup}
from xornet.cli import main
sys.argv = ["xornet", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    print(exit.code, "tensorflow" in sys.modules)
"""


def run_cli(*args, cwd, setup=""):
    """Run the console entry point in a fresh process; prints its exit code and whether TensorFlow was imported."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", PROBE.format(setup=setup), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_usage_error_from_the_console_script_without_tensorflow(tmp_path):
    bad = run_cli("train", "configs/xor.yaml", "--epochs", "ten", cwd=tmp_path)
    assert (bad.stdout, bad.stderr) == ("2 False\n", "error: --epochs ten: expected an integer, received 'ten' "
                                                     "(hint: see xornet train --help)\n")
    helped = run_cli("--help", cwd=tmp_path)
    assert helped.stdout.startswith("Usage: xornet [OPTIONS] COMMAND [ARGS]...") and helped.stdout.endswith("0 False\n")


# --- 2. errors name the flag the user typed --------------------------------------------------

TRAINING_KEYS = ("optimizer, learning_rate, momentum, nesterov, loss, metrics, epochs, batch_size, shuffle, target_loss, "
                 "restarts, tensorboard, engine, early_stopping, learning_rate_schedule, class_weight, checkpoint_every, "
                 "devices")


def test_sweep_grid_errors_name_the_grid_option(workdir, xornet):
    one_error(xornet("sweep", "configs/xor.yaml", "--grid", "training.epoch=10,20"),
              f"--grid training.epoch=10,20: unknown key training.epoch (did you mean 'epochs'?); "
              f"expected one of: {TRAINING_KEYS}")
    one_error(xornet("sweep", "configs/xor.yaml", "--grid", "training.epochs=0,10"),
              "--grid training.epochs=0,10: training.epochs: expected a value greater than or equal to 1, received 0")
    one_error(xornet("sweep", "configs/xor.yaml", "--grid", "model.layers.7.units=1,2"),
              "--grid model.layers.7.units=1,2: model.layers.7: index out of range (the list has 4 items)")
    one_error(xornet("sweep", "configs/xor.yaml", "--grid", "training.epochs=[1,2"),
              "--grid training.epochs=[1,2: the value '[1', line 1, column 3: YAML syntax error: expected ',' or ']', "
              "but got '<stream end>'")
    one_error(xornet("sweep", "configs/xor.yaml", "--grid", "training..epochs=1,2"),
              "--grid training..epochs=1,2: expected KEY=V1,V2,... with a dotted KEY, for example "
              "training.learning_rate=0.05,0.1")
    assert not (workdir / "sweeps").exists()


def test_output_dir_errors_name_where_it_came_from(workdir, xornet):
    write("afile", "not a directory")
    one_error(xornet("train", "configs/xor.yaml", "--output-dir", "afile"),
              "--output-dir afile: output.dir: afile is a file, expected a directory to write basic_model.json in")
    one_error(xornet("train", "configs/xor.yaml", "--set", "output.dir=afile"),
              "--set output.dir=afile: output.dir: afile is a file, expected a directory to write basic_model.json in")
    write("configs/afile.yaml", (workdir / "configs/xor.yaml").read_text().replace("dir: models", "dir: afile"))
    one_error(xornet("train", "configs/afile.yaml"),
              "configs/afile.yaml: output.dir: afile is a file, expected a directory to write basic_model.json in")


def test_evaluate_label_errors_name_the_label_flag(trained, xornet):
    write("rows.csv", "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    one_error(xornet("evaluate", "-m", "models/basic_model.json", "--data", "rows.csv", "--label", "z"),
              "--label z: rows.csv: no column named 'z'; the file has columns: x1, x2, y")
    one_error(xornet("evaluate", "-m", "models/basic_model.json", "--data", "rows.csv", "-l", "Y"),
              "--label Y: rows.csv: no column named 'Y'; the file has columns: x1, x2, y")
    assert xornet("evaluate", "-m", "models/basic_model.json", "--data", "rows.csv", "--label", "y").exit_code == 0


# --- 3. config init lists every key; config validate checks the data file ------------------


def schema_keys(model):
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        yield name
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from schema_keys(field.annotation)


def test_config_init_names_every_key_and_layer_type(workdir, xornet):
    from xornet.config import LAYER_CLASSES, Config

    assert xornet("config", "init", "mine.yaml").stdout == "Wrote mine.yaml\n"
    text = (workdir / "mine.yaml").read_text()
    missing = [key for key in schema_keys(Config) if not re.search(rf"^[ #]*{key}:", text, re.MULTILINE)]
    assert missing == []
    assert "  devices: 1                    # train data-parallel on N devices" in text
    layers = text[text.index("  layers:"):text.index("    - {type: Dense")]
    for kind, layer in LAYER_CLASSES.items():
        assert kind in layers
        assert all(field in layers for field in layer.model_fields if field not in ("type", "name")), kind
    assert "any layer may have a name" in layers
    assert xornet("config", "validate", "mine.yaml").stdout == "ok: mine.yaml\n"


def test_config_validate_refuses_a_missing_data_file(workdir, xornet):
    write("configs/missing.yaml", "data:\n  path: nothere.csv\n")
    write("configs/good.yaml", "data:\n  path: rows.csv\n  test_path: held/out.csv\n")
    write("configs/rows.csv", "a,b,y\n0,1,1\n")
    (workdir / "configs/folder.csv").mkdir()
    write("configs/folder.yaml", "data:\n  path: folder.csv\n")
    result = xornet("config", "validate", "configs/missing.yaml", "configs/good.yaml", "configs/folder.yaml",
                    "configs/xor.yaml")
    assert (result.exit_code, result.stdout) == (2, "ok: configs/xor.yaml\n")
    hint = "(hint: a path in a config is relative to the config's folder)"
    assert result.stderr == (
        f"error: configs/missing.yaml: data.path: file not found: configs/nothere.csv {hint}\n"
        f"error: configs/good.yaml: data.test_path: file not found: configs/held/out.csv {hint}\n"
        "error: configs/folder.yaml: data.path: configs/folder.csv is a directory, expected a .csv, .parquet or .npy "
        "data file\n")
    result = xornet("train", "configs/good.yaml", "--set", "data.path=nothere.csv")
    assert (result.exit_code, result.stderr) == (2, "error: --set data.path=nothere.csv: file not found: "
                                                 "configs/nothere.csv (hint: a path given with --set is relative to "
                                                 "the config's folder)\n")


def test_config_validate_takes_debug_as_every_command_does(workdir, xornet):
    write("configs/missing.yaml", "data:\n  path: nothere.csv\n")
    result = xornet("config", "validate", "configs/missing.yaml", "--debug")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.endswith("error: configs/missing.yaml: data.path: file not found: configs/nothere.csv "
                                  "(hint: a path in a config is relative to the config's folder)\n")
    one_error(xornet("config", "show", "configs/xor.yaml", "--bogus"),
              "--bogus: xornet config show has no such option, expected one of --set, --debug, received '--bogus' "
              "(hint: usage: xornet config show [OPTIONS] CONFIG; see xornet config show --help)")


# --- 4. export refuses before TensorFlow loads -----------------------------------------------


def test_export_refusals_come_before_tensorflow(trained, xornet):
    assert xornet("export", "models/basic_model.json", "out", "--to", "keras3").exit_code == 0
    again = run_cli("export", "models/basic_model.json", "out", "--to", "keras3", cwd=trained)
    assert (again.stdout, again.stderr) == (
        "2 False\n", "error: out/basic_model.json already exists; refusing to overwrite it (hint: pass --force to "
                     "replace it)\n")
    onnx = run_cli("export", "models/basic_model.json", "out", "--to", "onnx", cwd=trained,
                   setup="sys.modules['tf2onnx'] = None  # as if tf2onnx were not installed")
    assert (onnx.stdout, onnx.stderr) == (
        "1 False\n", "error: --to onnx needs tf2onnx, which is not installed (hint: pip install 'xornet[onnx]', "
                     "which installs tf2onnx and onnxruntime)\n")
    assert sorted(p.name for p in (trained / "out").iterdir()) == ["basic.weights.h5", "basic_model.json"]


# --- 5. sweep --seeds and counts ------------------------------------------------------------


def test_sweep_counts_are_singular_for_one(workdir, xornet):
    values = ",".join(str(i) for i in range(1, 401))
    one_error(xornet("sweep", "configs/xor.yaml", "--seeds", "1", "--grid", f"training.epochs={values}",
                     "--grid", f"training.batch_size={values}"),
              "the sweep has 160,000 runs (160,000 settings x 1 seed): expected at most 100,000 "
              "(hint: fewer --seeds or --grid values)")


# --- 6. plot writes the format its file name asks for ---------------------------------------

MAGIC = {"x.png": b"\x89PNG", "x.jpg": b"\xff\xd8\xff", "x.svg": b"<?xml", "x.pdf": b"%PDF"}


def test_plot_writes_the_format_of_its_suffix(trained, xornet):
    for name, magic in MAGIC.items():
        assert xornet("plot", "models/basic_model.json", "--out", name).stdout == f"Wrote {name}\n"
        assert Path(name).read_bytes().startswith(magic), name
    formats = ".png, .svg, .pdf, .jpg, .jpeg, .webp, .tif, .tiff, .eps"
    one_error(xornet("plot", "models/basic_model.json", "--out", "x.gifv"),
              f"--out x.gifv: expected a file name ending in {formats}, received '.gifv' "
              "(hint: the suffix picks the picture format)")
    one_error(xornet("plot", "models/basic_model.json", "-o", "picture"),
              f"--out picture: expected a file name ending in {formats}, received no suffix "
              "(hint: the suffix picks the picture format)")
    assert not Path("x.gifv").exists() and not Path("picture").exists()


def test_plot_of_a_model_without_history_names_the_model(trained, xornet):
    (trained / "models/basic_history.csv").unlink()  # as plain Keras files come, with no xornet history
    one_error(xornet("plot", "models/basic_model.json", "--out", "x.png"),
              "models/basic_model.json: no training history to plot (models/basic_history.csv not found) (hint: plot "
              "draws the curves `xornet train` records beside the model it saves)")
    assert not Path("x.png").exists()


def test_picture_formats_are_ones_matplotlib_writes():
    from matplotlib.backend_bases import FigureCanvasBase

    from xornet.plotting import PICTURE_FORMATS

    assert set(PICTURE_FORMATS) <= set(FigureCanvasBase.get_supported_filetypes())


def test_evaluate_names_the_model_file_it_found(trained, xornet):
    one_error(xornet("evaluate"), "models/basic_model.json: the run has no test split to score (data.test or "
              "data.test_path in its config) (hint: pass --data FILE (and --label COLUMN) to score a file)")


@pytest.mark.parametrize("stream", ["true", "false"])
def test_config_validate_reads_the_data_files_header(workdir, xornet, stream):
    write("configs/s.csv", "a,b,y\n1,2,0\n")
    write("configs/s.yaml", f"data:\n  path: s.csv\n  label: yy\n  stream: {stream}\ntraining:\n  batch_size: 2\n")
    one_error(xornet("config", "validate", "configs/s.yaml"),
              f"{workdir / 'configs/s.csv'}: data.label: no column named 'yy' (did you mean 'y'?); the file has "
              "columns: a, b, y")
    write("configs/c.yaml", f"data:\n  path: s.csv\n  categorical: [b, colour]\n  stream: {stream}\n"
                            "training:\n  batch_size: 2\n")
    one_error(xornet("config", "validate", "configs/c.yaml"),
              f"{workdir / 'configs/s.csv'}: data.categorical: 'colour' is not one of the feature columns (a, b)")
    write("configs/good.yaml", f"data:\n  path: s.csv\n  features: [b]\n  stream: {stream}\ntraining:\n  batch_size: 2\n")
    assert xornet("config", "validate", "configs/good.yaml").stdout == "ok: configs/good.yaml\n"


def test_a_misspelt_label_set_on_the_command_line_names_the_set(workdir, xornet):
    write("configs/rows.csv", "a,b,y\n0,1,1\n1,0,1\n")
    write("configs/rows.yaml", "data:\n  path: rows.csv\n")
    for stream in ("false", "true"):
        one_error(xornet("train", "configs/rows.yaml", "--set", "data.label=yy", "--set", f"data.stream={stream}",
                         "--set", "training.batch_size=2"),
                  f"--set data.label=yy: {workdir / 'configs/rows.csv'}: no column named 'yy' (did you mean 'y'?); "
                  "the file has columns: a, b, y")


def test_a_data_file_given_as_the_config_gets_a_hint(workdir, xornet):
    write("rows.csv", "a,b,y\n0,1,1\n")
    hint = "(hint: a data file goes in a config as data.path: `xornet config init` writes a starter config)"
    one_error(xornet("train", "rows.csv"), "rows.csv, line 1: expected a mapping of sections (name, data, model, "
                                           f"training, output), received a str {hint}")
    Path("rows.parquet").write_bytes(b"PAR1\x15\x04\x15\xff\xfe")
    one_error(xornet("train", "rows.parquet"), "rows.parquet: not a text file (not UTF-8 at byte 7), expected a YAML "
                                               f"config {hint}")
