"""`xornet export` never writes over the files of the model it exports."""

import shutil
from pathlib import Path

import pytest


def _hashes(folder):
    return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}


@pytest.fixture
def copied(trained):
    """copy/: a copy of the trained XOR model's folder."""
    shutil.copytree("models", "copy")
    return Path("copy")


@pytest.mark.parametrize("to", ["keras2", "keras3"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_into_the_models_own_folder_is_refused(copied, xornet, to, force):
    before = _hashes(copied)
    result = xornet("export", "copy/basic_model.json", "copy", "--to", to, *force)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("error: export would overwrite copy/basic_model.json, one of the model's own files "
                             "(hint: export into another folder than copy)\n")
    assert _hashes(copied) == before
    assert xornet("predict", "--model", "copy/basic_model.json", "--x", "0,1").exit_code == 0


def test_the_same_file_by_another_spelling_or_a_link_is_refused(copied, xornet):
    Path("link").symlink_to("copy")
    result = xornet("export", "link/basic_model.json", "./x/../copy", "--to", "keras2", "--force")
    assert result.exit_code == 2
    assert result.stderr == ("error: export would overwrite link/basic_model.json (as x/../copy/basic_model.json),"
                             " one of the model's own files (hint: export into another folder than x/../copy)\n")
    assert not Path("x").exists()


@pytest.mark.parametrize("to, name", [("keras", "basic.keras"), ("tflite", "basic.tflite"), ("onnx", "basic.onnx")])
def test_weights_named_as_the_export_are_refused_for_every_format(copied, xornet, to, name):
    shutil.copy("copy/basic_weights.h5", f"copy/{name}")
    result = xornet("export", "models/basic_model.json", "copy", "--to", to, "--weights",
                    f"copy/{name}", "--force")
    assert result.exit_code == 2
    assert result.stderr == (f"error: export would overwrite copy/{name}, one of the model's own files "
                             "(hint: export into another folder than copy)\n")


def test_a_savedmodel_directory_holding_the_model_is_refused(trained, xornet):
    shutil.copytree("models", "out/basic_savedmodel")
    result = xornet("export", "out/basic_savedmodel/basic_model.json", "out", "--to", "savedmodel", "--force")
    assert result.exit_code == 2
    assert result.stderr == ("error: export would overwrite out/basic_savedmodel/basic_model.json (as "
                             "out/basic_savedmodel), one of the model's own files (hint: export into another folder "
                             "than out)\n")
    assert xornet("predict", "--model", "out/basic_savedmodel/basic_model.json", "--x", "0,1").exit_code == 0


def test_a_format_that_writes_none_of_the_models_files_may_go_beside_it(copied, xornet):
    result = xornet("export", "copy/basic_model.json", "copy", "--to", "keras")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Wrote copy/basic.keras\n"
    assert xornet("predict", "--model", "copy/basic_model.json", "--x", "0,1").exit_code == 0
