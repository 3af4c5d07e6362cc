"""Saving models: the overwrite guard, checked save journals, the save lock, output paths and a full disk."""

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, one_error, write
from xornet.cli import app
from xornet.config import Config, validate_config
from xornet.files import safe_write
from xornet.files.save import config_differences, save_run
from xornet.files.safe_write import save_lock, sha256_of

MODEL_FILES = ["basic_model.json", "basic_weights.h5", "basic_history.csv", "basic_run.json"]
HINT = "(hint: pass --force to replace it, or --output-dir DIR to write elsewhere)"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """configs/xor.yaml trained once into a directory of its own (copied by the tests that need it)."""
    out = tmp_path_factory.mktemp("reference") / "models"
    result = CliRunner().invoke(app, ["train", str(REPO / "configs/xor.yaml"), "--output-dir", str(out), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture
def models(workdir, reference):
    """A working directory whose models/ holds the trained reference experiment."""
    shutil.copytree(reference, workdir / "models")
    return workdir / "models"


def snapshot(root: Path) -> dict:
    """Every file, link and directory under root, with its content."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = ("link", os.readlink(path))
        elif path.is_dir():
            found[key] = ("dir",)
        else:
            found[key] = path.read_bytes()
    return found


def one_line_error(result, code=2):
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected failure" not in result.stderr
    return result.stderr[len("error: "):-1]


def matches_record(directory: Path, stem: str = "basic") -> bool:
    record = json.loads((directory / f"{stem}_run.json").read_text())
    files = record["files"]
    return all(sha256_of(directory / files[role]["name"]) == files[role]["sha256"] for role in ("model", "weights"))


# --- the overwrite guard ---------------------------------------------------------------------


def test_devices_and_checkpoints_do_not_make_another_experiment(models, xornet):
    result = xornet("train", "configs/xor.yaml", "-q", "--set", "training.devices=1", "--set",
                    "training.checkpoint_every=100", "--set", "training.engine=fast", "--epochs", "5")
    assert result.exit_code == 0, result.stderr


def test_a_different_architecture_is_refused_and_force_replaces_it(models, xornet):
    before = snapshot(models)
    result = xornet("train", "configs/xor.yaml", "--set", "model.layers.0.units=3")
    assert one_line_error(result) == (
        "models/basic_model.json already holds a model of a different experiment (model.layers.0.units: 10 -> 3); "
        f"refusing to overwrite it {HINT}")
    assert snapshot(models) == before
    forced = xornet("train", "configs/xor.yaml", "--set", "model.layers.0.units=3", "--force", "-q")
    assert forced.exit_code == 0, forced.stderr
    assert json.loads((models / "basic_run.json").read_text())["config"]["model"]["layers"][0]["units"] == 3


def test_a_history_or_record_of_no_model_is_not_overwritten_without_force(workdir, xornet):
    """Files of the names a run writes, that no run of this experiment wrote, are somebody's."""
    write("mine/basic_history.csv", "my notes\n")
    assert one_error(xornet("train", "configs/xor.yaml", "--output-dir", "mine")) == (
        "error: mine/basic_history.csv already holds a file with no run record (origin unknown); refusing to overwrite "
        "it with experiment 'xor' (hint: pass --force to replace it, or --output-dir DIR to write elsewhere)")
    assert Path("mine/basic_history.csv").read_text() == "my notes\n"
    write("other/basic_run.json", "precious\n")
    assert one_error(xornet("train", "configs/xor.yaml", "--output-dir", "other")) == (
        "error: other/basic_run.json: run record is not valid JSON (Expecting value: line 1 column 1 (char 0)), "
        "expected a run record; refusing to overwrite it (hint: pass --force to replace it, or --output-dir DIR to "
        "write elsewhere)")
    assert xornet("train", "configs/xor.yaml", "--output-dir", "other", "--force", "-q").exit_code == 0
    assert xornet("train", "configs/xor.yaml", "--output-dir", "other", "-q").exit_code == 0  # now its own files


def test_many_differences_are_listed_three_at_a_time(models, xornet):
    result = xornet("train", "configs/xor.yaml", "--set", "training.learning_rate=0.5", "--set", "training.metrics=[]",
                    "--set", "training.shuffle=false", "--set", "model.layers.1.activation=relu",
                    "--set", "output.weights_file=w.h5")
    assert one_line_error(result) == (
        "models/basic_model.json already holds a model of a different experiment (model.layers.1.activation: "
        "'tanh' -> 'relu'; training.learning_rate: 0.1 -> 0.5; training.metrics: ['accuracy'] -> []; and 2 more); "
        f"refusing to overwrite it {HINT}")


def test_a_rerun_may_change_seed_budget_engine_and_tensorboard(models, xornet):
    result = xornet("train", "configs/xor.yaml", "--seed", "5", "--epochs", "20", "-q",
                    "--set", "training.restarts=0", "--set", "training.target_loss=null",
                    "--set", "training.engine=keras", "--set", "training.tensorboard=tb")
    assert result.exit_code == 0, result.stderr
    record = json.loads((models / "basic_run.json").read_text())
    assert (record["seed"], record["epochs_run"]) == (5, 20) and matches_record(models)


def test_a_record_without_its_config_is_refused(models, xornet):
    record = json.loads((models / "basic_run.json").read_text())
    del record["config"]
    (models / "basic_run.json").write_text(json.dumps(record))
    assert one_line_error(xornet("train", "configs/xor.yaml")) == (
        "models/basic_model.json already holds a model whose run record models/basic_run.json does not say which "
        f"config made it; refusing to overwrite it {HINT}")
    (models / "basic_run.json").write_text("[" * 100_000)
    assert one_line_error(xornet("train", "configs/xor.yaml")) == (  # a damaged record is an error, never skipped
        f"models/basic_run.json: run record is nested too deeply to read; refusing to overwrite it {HINT}")


def test_a_record_from_an_older_xornet_is_completed_with_defaults():
    new = Config().resolved()
    old = json.loads(json.dumps(new))
    del old["training"]["momentum"], old["training"]["shuffle"], old["model"]["layers"][0]["use_bias"]
    assert config_differences(old, new) == []
    assert config_differences(old, new | {"name": "other"}) == ["name: 'xor' -> 'other'"]
    assert config_differences({"model": {"layers": [{"units": 1}]}}, {"model": {"layers": []}}) == [
        "model.layers.0.units: 1 -> (absent)", "model.layers: (absent) -> []"]  # no valid config: compared as it is
    assert config_differences({"a": True}, {"a": 1}) == ["a: true -> 1"]


def test_config_init_names_the_experiment_and_keeps_the_reference_model(models, xornet):
    before = snapshot(models)
    assert xornet("config", "init", "my first.yaml").stdout == "Wrote my first.yaml\n"
    text = Path("my first.yaml").read_text()
    assert "\nname: my_first                  # names the run" in text
    assert "\n  dir: models/my_first          # relative to the working directory" in text
    result = xornet("train", "my first.yaml", "--epochs", "5", "-q", "--set", "training.restarts=0")
    assert result.exit_code == 0, result.stderr
    assert snapshot(models) == {**before, **{k: v for k, v in snapshot(models).items() if k.startswith("my_first")}}
    assert sorted(p.name for p in (models / "my_first").iterdir()) == [".basic_saving.lock", *sorted(MODEL_FILES)]


# --- checked save journals -------------------------------------------------------------------

DECOY = ".basic_model.json.abcdefgh.tmp"  # a temporary file xornet could have made for basic_model.json


def hostile_journals(outside: Path) -> list:
    too_many = [[f".basic_model.json.abcdefg{i}.tmp", "basic_model.json"] for i in range(5)]
    return [
        ("garbage", b"not json {"),
        ("empty file", b""),
        ("binary", bytes(range(256))),
        ("null", b"null"),
        ("mapping", b'{"basic_model.json": "x"}'),
        ("number", b"42"),
        ("string", b'"basic_model.json"'),
        ("empty list", b"[]"),
        ("five entries", json.dumps(too_many).encode()),
        ("pair of one", b'[["basic_model.json"]]'),
        ("triple", json.dumps([[DECOY, "basic_model.json", "x"]]).encode()),
        ("numbers", b"[[1, 2]]"),
        ("null name", b'[[null, "basic_model.json"]]'),
        ("NaN", b'[[NaN, "basic_model.json"]]'),
        ("entry not a list", b'["basic_model.json"]'),
        ("relative source outside", b'[["../outside.txt", "basic_model.json"]]'),
        ("absolute source outside", json.dumps([[str(outside), "basic_model.json"]]).encode()),
        ("relative target outside", json.dumps([[DECOY, "../outside.txt"]]).encode()),
        ("absolute target outside", json.dumps([[DECOY, str(outside)]]).encode()),
        ("model file over weights", b'[["basic_model.json", "basic_weights.h5"]]'),
        ("record over model", b'[["basic_run.json", "basic_model.json"]]'),
        ("temp of one file onto another", json.dumps([[DECOY, "basic_weights.h5"]]).encode()),
        ("same target twice", json.dumps([[DECOY, "basic_model.json"], [DECOY, "basic_model.json"]]).encode()),
        ("another model's file", b'[[".other_model.json.abcdefgh.tmp", "other_model.json"]]'),
        ("temp in a subdirectory", b'[["sub/.basic_model.json.abcdefgh.tmp", "basic_model.json"]]'),
        ("temp with dot-dot", b'[[".basic_model.json.abcdefgh.tmp/..", "basic_model.json"]]'),
        ("temp of the wrong pattern", b'[[".basic_model.json.ABCDEFGH.tmp", "basic_model.json"]]'),
        ("temp that is a symlink", json.dumps([[".basic_model.json.linklink.tmp", "basic_model.json"]]).encode()),
        ("the journal itself as target", json.dumps([[DECOY, ".basic_saving.json"]]).encode()),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
        ("too big", b"[" + b" " * 100_000 + b"]"),
    ]


HOSTILE_IDS = [name for name, _ in hostile_journals(Path("/x"))]


@pytest.mark.parametrize("name", HOSTILE_IDS + ["journal is a directory", "journal is a symlink"])
def test_hostile_journals_are_refused_and_change_nothing(name, models, workdir, xornet):
    outside = workdir / "outside.txt"
    outside.write_text("outside")
    (models / DECOY).write_text("decoy")
    (models / ".other_model.json.abcdefgh.tmp").write_text("other decoy")
    (models / "sub").mkdir()
    (models / "sub" / DECOY).write_text("decoy in sub")
    (models / ".basic_model.json.linklink.tmp").symlink_to(outside)
    journal = models / ".basic_saving.json"
    if name == "journal is a directory":
        journal.mkdir()
    elif name == "journal is a symlink":
        write(workdir / "elsewhere.json", json.dumps([[DECOY, "basic_model.json"]]))
        journal.symlink_to(workdir / "elsewhere.json")
    else:
        journal.write_bytes(dict(hostile_journals(outside))[name])
    before = snapshot(workdir)
    for args in (["predict", "-m", "models/basic_model.json"], ["train", "configs/xor.yaml"]):
        message = one_line_error(xornet(*args))
        assert message.startswith("models/.basic_saving.json: "), message
        assert "refusing to replay this save journal, nothing was changed (hint: if no xornet save of " \
               "basic_model.json was interrupted, delete models/.basic_saving.json)" in message
        assert snapshot(workdir) == before


def test_hostile_journal_messages_say_what_is_wrong(models, workdir, xornet):
    journal = models / ".basic_saving.json"
    cases = {
        b"null": "expected a list of 1 to 4 [temporary, final] name pairs, received null",
        b'[["basic_model.json", "basic_weights.h5"]]':
            "entry 0: renames 'basic_model.json', expected a temporary file xornet made for basic_weights.h5 "
            "(.basic_weights.h5.XXXXXXXX.tmp)",
        b'[[".x.abcdefgh.tmp", "../outside.txt"]]':
            "entry 0: renames onto '../outside.txt', expected one of this model's files (basic_history.csv, "
            "basic_model.json, basic_run.json, basic_weights.h5)",
        b'[[1, 2]]': "entry 0: expected a [temporary, final] pair of file names, received a list of 2 items",
    }
    for text, problem in cases.items():
        journal.write_bytes(text)
        assert one_line_error(xornet("predict", "-m", "models/basic_model.json")) == (
            f"models/.basic_saving.json: {problem}; refusing to replay this save journal, nothing was changed "
            "(hint: if no xornet save of basic_model.json was interrupted, delete models/.basic_saving.json)")


def test_an_interrupted_save_with_its_own_weights_name_is_completed(models, workdir, xornet):
    """A save killed after writing its journal: the next command finishes it, custom weights name included."""
    assert xornet("train", "configs/xor.yaml", "--seed", "3", "--epochs", "30", "-q", "--output-dir", "new",
                  "--set", "training.restarts=0", "--set", "output.weights_file=w.h5").exit_code == 0
    target = workdir / "target"
    target.mkdir()
    staged = safe_write.stage({target / n: (lambda data: lambda temp: temp.write_bytes(data))(
        (workdir / "new" / n).read_bytes()) for n in ["basic_run.json", "w.h5", "basic_model.json"]})
    write(target / ".basic_saving.json", json.dumps([[t.name, f.name] for t, f in staged]))
    result = xornet("predict", "-m", "target/basic_model.json", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == [".basic_saving.lock", "basic_model.json", "basic_run.json",
                                                        "w.h5"]
    assert matches_record(target)


# --- hypothesis: any JSON value as a journal -------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20)
NAMES = st.sampled_from([
    *MODEL_FILES, DECOY, ".basic_weights.h5.abcdefgh.tmp", ".basic_run.json.zzzzzzzz.tmp", "../outside.txt",
    "/tmp/outside.txt", "..", ".", "", "sub/x", ".other_model.json.abcdefgh.tmp", "other_model.json",
    ".basic_saving.json", "w.h5", ".w.h5.abcdefgh.tmp"]) | st.text(max_size=30)
PAIRS = st.lists(st.lists(NAMES, min_size=1, max_size=3), min_size=0, max_size=6)


def journal_sandbox(root: Path) -> Path:
    """root/outside.txt, and root/models with four model files and temporary files that could be renamed."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "models").mkdir(parents=True)
    (root / "outside.txt").write_text("outside")
    for name in [*MODEL_FILES, "other_model.json", "w.h5"]:
        (root / "models" / name).write_text(f"old {name}")
    for name in [DECOY, ".basic_weights.h5.abcdefgh.tmp", ".basic_run.json.zzzzzzzz.tmp",
                 ".other_model.json.abcdefgh.tmp", ".w.h5.abcdefgh.tmp"]:
        (root / "models" / name).write_text(f"new {name}")
    return root / "models"


def replay_any(root: Path, journal_bytes: bytes) -> None:
    models = journal_sandbox(root)
    (models / ".basic_saving.json").write_bytes(journal_bytes)
    before = snapshot(root)
    try:
        safe_write.finish_interrupted_save(models / "basic_model.json")
    except safe_write.InputError as exc:
        assert "\n" not in str(exc)
        assert snapshot(root) == before
        return
    after = snapshot(root)
    outside = {k: v for k, v in before.items() if not k.startswith("models")}
    assert {k: v for k, v in after.items() if not k.startswith("models")} == outside
    for key, content in after.items():  # a model file changed only to the temporary file made for it
        if key in before and content != before[key] and key != "models/.basic_saving.lock":
            name = key.split("/", 1)[1]
            assert safe_write.temp_name_pattern(name).fullmatch(content.decode().removeprefix("new "))
    assert "models/.basic_saving.json" not in after


@settings(max_examples=1000, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=JSON | PAIRS)
def test_fuzzed_json_journals_raise_only_input_errors_and_touch_nothing_outside(value, tmp_path):
    replay_any(tmp_path / "sandbox", json.dumps(value).encode())


@settings(max_examples=1000, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=200))
def test_fuzzed_journal_bytes_raise_only_input_errors(data, tmp_path):
    replay_any(tmp_path / "sandbox", data)


# --- the save lock, concurrent saves, leftovers ----------------------------------------------


def test_a_save_waits_for_the_lock_then_says_busy(models, xornet, monkeypatch):
    before = snapshot(models)
    monkeypatch.setattr(safe_write, "LOCK_TIMEOUT_SECONDS", 0.3)
    from filelock import FileLock

    with FileLock(models / ".basic_saving.lock"):  # another process's save, as far as flock can tell
        result = xornet("train", "configs/xor.yaml", "--epochs", "5", "--set", "training.restarts=0", "-q")
    assert one_line_error(result, code=1) == (
        "models/basic_model.json: busy: another xornet process is saving this model (waited 0.3 s for "
        ".basic_saving.lock); nothing was written (hint: try again when it has finished, or write elsewhere with "
        "--output-dir DIR)")
    assert snapshot(models) == before


def test_temporary_files_of_a_killed_save_are_removed_by_the_next_save(models, xornet):
    leftovers = [".basic_weights.h5.k2x_9aq0.tmp", ".basic_run.json.aaaaaaaa.tmp", "..basic_saving.json.bbbbbbbb.tmp"]
    kept = [".basic_weights.h5.TOOLONGXX.tmp", ".other_model.json.abcdefgh.tmp", "notes.tmp", "basic_weights.h5.tmp"]
    for name in leftovers + kept:
        (models / name).write_text("x")
    assert xornet("train", "configs/xor.yaml", "-q").exit_code == 0
    assert sorted(p.name for p in models.iterdir()) == sorted([".basic_saving.lock", *MODEL_FILES, *kept])
    assert matches_record(models)


def test_library_saves_in_a_loop_from_two_threads_always_match_their_record(tmp_path):
    from xornet.experiment import train

    runs = [train(validate_config({"seed": seed, "training": {"epochs": 3, "restarts": 0}}), save=False)
            for seed in (1, 2)]
    records = [{"experiment": "xor", "config": run.config.resolved() | {"seed": run.seed}} for run in runs]
    failures = []

    def save_many(run, record):
        for _ in range(15):
            save_run(run.model, tmp_path, "basic_model.json", "basic_weights.h5", record, run.result.history)
            with save_lock(tmp_path / "basic_model.json"):
                if not matches_record(tmp_path):
                    failures.append("mismatch")

    threads = [threading.Thread(target=save_many, args=pair) for pair in zip(runs, records)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and matches_record(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".basic_saving.lock", *MODEL_FILES])


def train_three_at_once(workdir: Path, out: Path) -> list:
    command = [sys.executable, "-m", "xornet", "train", "configs/xor.yaml", "--output-dir", str(out), "-q",
               "--epochs", "5", "--set", "training.restarts=0", "--set", "seed=null"]
    processes = [subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    outputs = [p.communicate(timeout=900) for p in processes]  # reads both pipes while waiting: no pipe stall
    return [(p.returncode, *output) for p, output in zip(processes, outputs)]


def check_concurrent_round(workdir: Path, out: Path) -> None:
    for code, stdout, stderr in train_three_at_once(workdir, out):
        lines = [line for line in stderr.splitlines() if not line.startswith("warning: training did not converge")]
        assert code == 0 and lines == [] or code == 1 and len(lines) == 1 and ": busy: " in lines[0], stderr
    assert matches_record(out)
    assert sorted(p.name for p in out.iterdir()) == sorted([".basic_saving.lock", *MODEL_FILES])


def test_three_train_processes_into_one_directory(workdir):
    check_concurrent_round(workdir, workdir / "shared")


@pytest.mark.slow
def test_three_train_processes_into_one_directory_20_rounds(workdir):
    for _ in range(20):
        check_concurrent_round(workdir, workdir / "shared")


# --- output paths, checked before training -----------------------------------------------------


def test_output_paths_that_cannot_be_written_are_refused_before_training(workdir, xornet):
    write("afile", "x")

    def error(*args):
        return one_line_error(xornet("train", "configs/xor.yaml", *args))

    long = "d" * 300
    assert error("--output-dir", "afile") == "--output-dir afile: output.dir: afile is a file, expected a " \
                                             "directory to write basic_model.json in"
    assert error("--output-dir", "afile/sub") == "--output-dir afile/sub: output.dir: afile is a file, expected a " \
                                                 "directory to write basic_model.json in"
    assert error("--output-dir", "/proc/xornet") == (
        "--output-dir /proc/xornet: output.dir: /proc/xornet/basic_model.json is inside a system directory (/proc, /sys, /dev), expected a "
        "place for ordinary files")
    assert error("--output-dir", "/dev/shm/xornet").startswith(
        "--output-dir /dev/shm/xornet: output.dir: /dev/shm/xornet/basic_model.json is inside a system directory")
    assert error("--output-dir", long) == (
        f"--output-dir {long}: output.dir: the name 'dddddddddddddddddddd...dddddddddddd' is too long for the file system (300 bytes; "
        "at most 255 here)")
    assert error("--set", f"output.model_file={'m' * 250}.json") == (
        f"--set output.model_file={'m' * 250}.json: output.dir: the name 'mmmmmmmmmmmmmmmmmmmm...mmmmmmm.json' is too long for the file system (255 bytes; at "
        "most 241 here)")
    write("models/basic_model.json/x", "a directory where the model file goes")
    assert error() == "configs/xor.yaml: output.dir: models/basic_model.json is a directory, expected a file name"
    assert sorted(os.listdir()) == ["afile", "configs", "models"] and not Path("/proc/xornet").exists()


def test_nul_bytes_in_output_keys_are_refused_by_config_validate(workdir, xornet):
    nul = "the value holds a NUL character (\\0), which no name or path may hold"
    cases = {
        'output:\n  dir: "mo\\0dels"\n': f"line 2, column 8: output.dir: {nul}",
        'output:\n  model_file: "a\\0.json"\n': f"line 2, column 15: output.model_file: {nul}",
        'output:\n  weights_file: "w\\0.h5"\n': f"line 2, column 17: output.weights_file: {nul}",
        'output:\n  dir: ""\n': "line 2: output.dir: expected a directory path, received ''",
        'name: "x\\0y"\n': f"line 1, column 7: name: {nul}",
    }
    for text, problem in cases.items():
        write("nul.yaml", text)
        result = xornet("config", "validate", "nul.yaml")
        assert result.exit_code == 2 and result.stderr == f"error: nul.yaml, {problem}\n", result.stderr


def test_config_init_refuses_paths_it_cannot_write(workdir, xornet):
    assert one_line_error(xornet("config", "init", "configs")) == \
        "config init PATH: configs is a directory, expected a file name"
    assert one_line_error(xornet("config", "init", "/proc/x.yaml")) == (
        "config init PATH: /proc/x.yaml is inside a system directory (/proc, /sys, /dev), expected a place for "
        "ordinary files")
    assert one_line_error(xornet("config", "init", "configs/xor.yaml/x.yaml")) == (
        "config init PATH: configs/xor.yaml is a file, expected a directory to write x.yaml in")
    assert one_line_error(xornet("config", "init", "a\0b.yaml")) == (
        "config init PATH: 'a\\x00b.yaml' contains a NUL byte, expected a file path")
    assert one_line_error(xornet("config", "init", "x" * 250 + ".yaml")).endswith(
        "is too long for the file system (255 bytes; at most 241 here)")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs mounted in a temporary directory (needs root and permission to mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_read_only_output_dir_is_refused_before_training(tiny_disk, workdir, xornet):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    assert one_line_error(xornet("train", "configs/xor.yaml", "--output-dir", tiny_disk / "models")) == (
        f"--output-dir {tiny_disk / 'models'}: output.dir: cannot write in {tiny_disk} (not writable: permissions or a read-only file system)")


def test_a_full_disk_leaves_the_old_model_intact(tiny_disk, workdir, xornet):
    out = tiny_disk / "models"
    args = ["train", "configs/xor.yaml", "--output-dir", out, "-q", "--epochs", "5", "--set", "training.restarts=0"]
    assert xornet(*args).exit_code == 0
    before = snapshot(out)
    with open(tiny_disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    message = one_line_error(xornet(*args, "--seed", "9"), code=1)
    assert message.startswith(f"{out}/") and message.endswith(
        ": cannot write it: No space left on device; the previous file, if any, is untouched"), message
    assert snapshot(out) == before and matches_record(out)
    (tiny_disk / "filler").unlink()
    assert xornet("predict", "-m", out / "basic_model.json").exit_code == 0
