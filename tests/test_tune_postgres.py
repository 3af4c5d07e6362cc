"""`xornet tune --storage postgresql://...`: workers on a real PostgreSQL server split a study's trials, and a
killed worker's trial fails when its heartbeats stop (the server: tests/test_sweep_postgres.py's fixture)."""

import signal
import subprocess
import sys
import time

from optuna.trial import TrialState
from test_sweep_postgres import postgres  # noqa: F401 (the fixture)

from xornet.sweep import open_study

SEARCH = ["configs/xor.yaml", "--search", "training.learning_rate=loguniform(1e-2,1)",
          "--search", "model.layers.0.units=int(2,16)", "--out", "t"]


def params(trials):
    return [tuple(t.params.values()) for t in trials if t.params]


def test_jobs_on_postgresql_run_each_value_once_and_exactly_the_trials_asked(postgres, workdir, xornet):  # noqa: F811
    result = xornet("tune", *SEARCH, "--set", "training.epochs=20", "--storage", postgres, "--study", "jobs",
                    "--jobs", "2", "--trials", "6")
    assert result.exit_code == 0, result.stderr
    trials = open_study(postgres, "jobs").optuna.get_trials()
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 6
    assert len(set(params(trials))) == len(params(trials)) >= 6
    assert len({t.user_attrs["worker"] for t in trials}) == 2


def test_a_killed_workers_trial_fails_when_its_heartbeats_stop_and_a_rerun_completes(postgres, workdir,  # noqa: F811
                                                                                      xornet):
    args = ["tune", *SEARCH, "--set", "training.epochs=3000", "--storage", postgres, "--study", "killed",
            "--grace", "2", "--trials", "3"]
    worker = subprocess.Popen([sys.executable, "-m", "xornet", *args], cwd=workdir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    study = open_study(postgres, "killed").optuna
    deadline = time.monotonic() + 120
    while [(t.state, bool(t.params)) for t in study.get_trials()][:2] != [(TrialState.COMPLETE, True),
                                                                          (TrialState.RUNNING, True)]:
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never started its second trial"
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    again = xornet(*args)
    assert again.exit_code == 0, again.stderr
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.COMPLETE]
    assert len(set(params(trials))) == 4
    assert "\n3 complete, 0 pruned, 1 stopped (worker killed or interrupted) in " in again.stdout
