"""Shared fixtures: run the real CLI in-process (TensorFlow is imported once per session)."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xornet.cli import app

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory holding a copy of configs/ (models/ starts empty)."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def xornet():
    """Call the CLI: xornet("train", "configs/xor.yaml") -> click Result (stdout, stderr, exit_code)."""
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def trained(workdir, xornet):
    """A working directory where configs/xor.yaml has been trained into models/."""
    result = xornet("train", "configs/xor.yaml", "--quiet")
    assert result.exit_code == 0, result.stderr
    return workdir


def write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_error(result, code=2):
    """The one line a refused command printed (exit `code`, nothing on stdout, no traceback), without "\n"."""
    assert (result.exit_code, result.stdout) == (code, ""), (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr.strip()


def parquet(path, columns):
    """Write {name: values} as a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
