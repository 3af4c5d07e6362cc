"""The installed `xornet` script, end to end in fresh processes (as a user runs it)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SCRIPT = Path(sys.executable).parent / "xornet"


def run(*args, cwd):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_installed_script_trains_and_predicts(tmp_path):
    assert SCRIPT.exists(), "install the package first: pip install -e '.[test]'"
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    trained = run(SCRIPT, "train", "configs/xor.yaml", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert trained.stderr == ""  # TensorFlow's start-up log lines are kept out of the way
    assert "Final on the training rows: loss 0.0498, accuracy 100.0%" in trained.stdout
    predicted = run(SCRIPT, "predict", "--model", "models/basic_model.json", "--format", "json", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert [row["class"] for row in json.loads(predicted.stdout)] == [0, 1, 1, 0]
    broken = run(SCRIPT, "train", "nope.yaml", cwd=tmp_path)
    assert (broken.returncode, broken.stdout) == (2, "")
    assert broken.stderr == "error: nope.yaml: config file not found (hint: check the path, or run `xornet config init`)\n"


def test_python_dash_m_and_version(tmp_path):
    result = run(sys.executable, "-m", "xornet", "--version", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "xornet 0.1.0\n")
    usage = run(sys.executable, "-m", "xornet", "train", cwd=tmp_path)
    assert (usage.returncode, usage.stderr) == (2, "error: xornet train: missing argument CONFIG, expected the "
                                                   "experiment config (YAML), received nothing (hint: usage: xornet "
                                                   "train [OPTIONS] CONFIG; see xornet train --help)\n")
