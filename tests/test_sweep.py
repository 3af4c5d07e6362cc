"""`xornet sweep`: trials identified by what they train, studies kept apart, sizes checked, workers sharing a study."""

import csv
import io
import json
import socket
import subprocess
import sys

import pytest
import yaml

from conftest import write

SWEEP = ["sweep", "configs/seed.yaml", "--seeds", "3", "--target-loss", "0.1", "--out", "sw",
         "--set", "training.learning_rate=0.5"]


def report_rows(stdout):
    """The report table as {setting: [runs, 100% acc, loss<t, epochs med, epochs p90, final loss med]}."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        if not line.strip():
            break
        cells = line.split()
        rows[" ".join(cells[:-6])] = cells[-6:]
    return rows


def test_sweep_reports_per_setting(workdir, xornet):
    result = xornet("sweep", "configs/seed.yaml", "--seeds", "4", "--grid", "training.learning_rate=0.1,0.5",
                    "--set", "training.epochs=150", "--target-loss", "0.4")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["setting", "runs", "100%", "acc", "loss<0.4", "epochs", "med", "epochs", "p90",
                                "final", "loss", "med"]
    assert lines[1].startswith("training.learning_rate=0.1") and lines[2].startswith("training.learning_rate=0.5")
    study = result.stderr.split()[1].rstrip(":")
    assert study.startswith("seed-") and len(study) == len("seed-") + 8
    folder = workdir / "sweeps/seed" / study
    (summary,) = folder.glob("summary-*.csv")
    report_id = summary.stem.removeprefix("summary-")
    assert len(report_id) == 8
    assert lines[-1].startswith("8 of 8 runs done in ")
    assert lines[-1].endswith(f"wrote {summary}, {folder / f'convergence-{report_id}.png'}, "
                              f"{folder / f'config-{report_id}.yaml'}".replace(str(workdir) + "/", ""))
    with open(summary) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["training.learning_rate"] for row in rows] == ["0.1", "0.5"]
    assert all(row["runs"] == "4" for row in rows)
    assert (folder / f"convergence-{report_id}.png").stat().st_size > 10000
    # Each run equals a plain `xornet train` with that seed and setting.
    single = xornet("train", "configs/seed.yaml", "--seed", "2", "--epochs", "150", "--set", "training.learning_rate=0.5",
                    "--output-dir", "one", "-q")
    assert single.exit_code == 0
    from xornet.sweep import open_study

    trials = open_study(str(workdir / "sweeps/seed/study.log"), study).optuna.trials
    trial = next(t for t in trials if t.user_attrs["params"] == {"training.learning_rate": 0.5, "seed": 2})
    final = json.loads((workdir / "one/basic_run.json").read_text())["final"]["loss"]
    assert trial.value == pytest.approx(final, abs=1e-5)
    # Running it again reuses every run, and says why.
    again = xornet("sweep", "configs/seed.yaml", "--seeds", "4", "--grid", "training.learning_rate=0.1,0.5",
                   "--set", "training.epochs=150", "--target-loss", "0.4")
    assert again.stderr.splitlines() == [
        f"Sweep {study}: 8 runs (2 settings x 4 seeds), 0 to run, 1 worker, storage sweeps/seed/study.log",
        "reused 8 finished runs: same fingerprint (SHA-256 of the resolved config with its setting and seed, "
        "and of the data) as a planned run"]
    assert again.stdout.splitlines()[:3] == lines[:3]


def test_a_changed_config_runs_new_trials_and_keeps_both_reports(workdir, xornet):
    first = xornet(*SWEEP, "--set", "training.epochs=300")
    assert first.exit_code == 0, first.stderr
    before = report_rows(first.stdout)["(config as is)"]
    assert before[:5] == ["3", "100%", "100%", "152", "159"]  # most runs reach the target after epoch 150
    second = xornet(*SWEEP, "--set", "training.epochs=150")
    assert second.exit_code == 0, second.stderr
    assert second.stderr.splitlines()[1] == (
        "reused 0 finished runs: no finished run in the study trains the same resolved config")
    after = report_rows(second.stdout)["(config as is)"]
    assert after[:5] == ["3", "100%", "33%", "135", "135"]  # figures of the 150-epoch budget
    assert float(after[5]) > float(before[5])
    # Same name, 3 hidden units instead of 10: new runs, new figures.
    text = (workdir / "configs/seed.yaml").read_text().replace("units: 10", "units: 3")
    write("configs/seed3.yaml", text)
    third = xornet(*SWEEP[:1], "configs/seed3.yaml", *SWEEP[2:], "--set", "training.epochs=150")
    assert third.exit_code == 0, third.stderr
    assert "reused 0 finished runs" in third.stderr
    assert report_rows(third.stdout)["(config as is)"] != after
    studies = sorted(p.name for p in (workdir / "sw").iterdir() if p.is_dir())
    assert len(studies) == 3 and all(name.startswith("seed-") for name in studies)
    epochs = sorted(yaml.safe_load(next((workdir / "sw" / s).glob("config-*.yaml")).read_text())["training"]["epochs"]
                    for s in studies)
    assert epochs == [150, 150, 300]
    # A named study made for another config is refused (a study name reused by mistake) unless --force.
    named = xornet(*SWEEP, "--set", "training.epochs=300", "--study", "mine")
    assert named.exit_code == 0
    clash = xornet(*SWEEP, "--set", "training.epochs=150", "--study", "mine")
    assert clash.exit_code == 2
    assert clash.stderr.startswith("error: study 'mine' holds a sweep of another config (fingerprint ")
    assert xornet(*SWEEP, "--set", "training.epochs=150", "--study", "mine", "--force").exit_code == 0


def test_sizes_are_checked_before_anything_runs(workdir, xornet):
    big = xornet("sweep", "configs/seed.yaml", "--seeds", "1000000")
    assert (big.exit_code, big.stderr) == (2, "error: --seeds 1000000: expected at most 100,000 seeds, received "
                                              "1,000,000\n")
    values = ",".join(str(0.01 * i) for i in range(1, 501))
    grid = xornet("sweep", "configs/seed.yaml", "--seeds", "1000", "--grid", f"training.learning_rate={values}")
    assert (grid.exit_code, grid.stderr) == (2, "error: the sweep has 500,000 runs (500 settings x 1,000 seeds): "
                                                "expected at most 100,000 (hint: fewer --seeds or --grid values)\n")
    negative = xornet("sweep", "configs/seed.yaml", "--seeds", "-1")
    assert (negative.exit_code, negative.stderr) == (2, "error: --seeds -1: expected an integer >= 1, received -1 "
                                                        "(hint: see xornet sweep --help)\n")
    assert not (workdir / "sweeps").exists()


def test_progress_on_a_terminal_only():
    from xornet.sweep import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen, pipe = Terminal(), io.StringIO()
    for stream in (screen, pipe):
        progress = Progress(10, stream)
        progress.update(2)  # two reused runs
        progress.update(6)
        progress.close()
    assert pipe.getvalue() == ""
    shown = screen.getvalue().split("\r")[1:]
    assert shown[0].startswith("runs 2/10, 0.0 s\x1b[K")
    assert shown[1].startswith("runs 6/10, ") and " s left\x1b[K" in shown[1] and shown[1].endswith("\n")


def test_storage_passwords_are_not_printed():
    from xornet.sweep import shown_storage

    assert shown_storage("postgresql://me:s3cret@db:5432/sweeps") == "postgresql://me:***@db:5432/sweeps"
    assert shown_storage("postgresql://me@db/sweeps") == "postgresql://me@db/sweeps"
    assert shown_storage("sweeps/xor/study.log") == "sweeps/xor/study.log"


def test_two_workers_run_every_trial_exactly_once_and_a_sweep_resumes(workdir, xornet):
    from optuna.trial import TrialState

    from xornet.sweep import open_study

    log = workdir / "shared.log"
    args = ["configs/seed.yaml", "--seeds", "6", "--set", "training.epochs=20", "--storage", str(log), "--study", "s"]
    first = xornet("sweep", *args, "--grid", "training.learning_rate=0.1,0.2")
    assert first.exit_code == 0
    # A second command on the same study, run as two worker processes, adds a third setting.
    result = subprocess.run([sys.executable, "-m", "xornet", "sweep", *args, "--grid",
                             "training.learning_rate=0.1,0.2,0.3", "--jobs", "2"],
                            capture_output=True, text=True, cwd=workdir, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "18 runs (3 settings x 6 seeds), 6 to run, 2 workers" in result.stderr
    assert "reused 12 finished runs" in result.stderr
    study = open_study(str(log), "s").optuna
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    marks = [t.user_attrs["fingerprint"] for t in complete]
    assert len(marks) == 18 and len(set(marks)) == 18
    workers = {t.user_attrs["worker"] for t in complete if t.user_attrs["params"]["training.learning_rate"] == 0.3}
    assert len(workers) == 2  # both processes took trials
    # A trial left RUNNING by a killed worker on this machine is run again on resume.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    from xornet.config import load_config
    from xornet.sweep import plan_sweep

    planned = plan_sweep(load_config(workdir / "configs/seed.yaml", ["training.epochs=20"]), range(1),
                         {"training.learning_rate": [0.4]}).trials[0]
    trial = study.ask()
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.stdout.strip()}")
    for key, value in vars(planned).items():
        trial.set_user_attr(key, value)
    resumed = xornet("sweep", *args, "--grid", "training.learning_rate=0.4", "--seeds", "1")
    assert resumed.exit_code == 0
    assert "1 run (1 setting x 1 seed), 1 to run" in resumed.stderr
    redone = [t for t in study.trials if t.user_attrs.get("fingerprint") == planned.fingerprint]
    assert [t.state for t in redone] == [TrialState.FAIL, TrialState.COMPLETE]


def test_a_study_has_the_same_default_name_wherever_the_project_is(workdir, xornet):
    """Machines sharing a study have their checkouts in different folders: the default study names of sweep and
    tune come from the config with its data paths relative to the config's folder, not from absolute paths."""
    from xornet.config import load_config
    from xornet.tune import default_study_name

    rows = "a,b,y\n" + "0,0,0\n0,1,1\n1,0,1\n1,1,0\n" * 4
    config = ("name: gate\nseed: 1\ndata:\n  path: ../data/gate.csv\n  validation_path: ../data/gate.csv\n"
              "training:\n  epochs: 2\n")
    firsts = []
    for project in ("one", "elsewhere/two"):
        write(f"{project}/data/gate.csv", rows)
        write(f"{project}/configs/gate.yaml", config)
        result = xornet("sweep", f"{project}/configs/gate.yaml", "--seeds", "1", "--out", f"{project}/sweeps")
        assert result.exit_code == 0, result.stderr
        firsts.append(result.stderr.splitlines()[0].split(":")[0])
    assert firsts[0] == firsts[1] and firsts[0].startswith("Sweep gate-")
    names = {default_study_name(load_config(workdir / project / "configs/gate.yaml"), ["seed=int(1,9)"], "loss")
             for project in ("one", "elsewhere/two")}
    assert len(names) == 1


def test_a_sweep_of_runs_without_accuracy_shows_no_accuracy_share(workdir, xornet):
    write("line.csv", "a,t\n" + "".join(f"{i / 10:g},{3 * i / 10 + 1:g}\n" for i in range(20)))
    write("line.yaml", "data:\n  path: line.csv\nmodel:\n  layers:\n    - {type: Dense, units: 1}\n"
                       "training:\n  loss: mean_squared_error\n  metrics: []\n  epochs: 20\n")
    result = xornet("sweep", "line.yaml", "--seeds", "2", "--target-loss", "0.5", "--out", "sw")
    assert result.exit_code == 0, result.stderr
    assert report_rows(result.stdout)["(config as is)"][:2] == ["2", "-"]
    (summary,) = (workdir / "sw").glob("*/summary-*.csv")
    rows = list(csv.DictReader(io.StringIO(summary.read_text())))
    assert rows[0]["full_accuracy_share"] == ""
