"""Ctrl-C during `xornet sweep`: one line says what was kept and how to continue; the same command continues."""

import os
import signal
import subprocess
import sys
import time

import pytest
from test_sweep_postgres import postgres  # noqa: F401 (the fixture: a throwaway PostgreSQL server)

ARGS = ["configs/seed.yaml", "--seeds", "2", "--set", "training.epochs=100", "--out", "sw", "--study", "s",
        "--grid", "training.learning_rate=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2"]


def interrupt_after_a_run(workdir, study, *args):
    """Start `xornet sweep *args` and, once a run has finished, Ctrl-C it as a terminal does: SIGINT to the whole
    process group (the command and its workers)."""
    from optuna.trial import TrialState

    command = [sys.executable, "-m", "xornet", "sweep", *args]
    sweep = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    deadline = time.monotonic() + 180
    while not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        assert sweep.poll() is None and time.monotonic() < deadline, "no run finished"
        time.sleep(0.05)
    os.killpg(sweep.pid, signal.SIGINT)
    return sweep


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_keeps_the_finished_runs_and_the_same_command_continues(workdir, xornet, jobs):
    from optuna.trial import TrialState

    from xornet.sweep import open_study

    (workdir / "sw").mkdir()
    study = open_study(str(workdir / "sw/study.log"), "s").optuna  # opened once: watching it must be quick
    sweep = interrupt_after_a_run(workdir, study, *ARGS, "--jobs", str(jobs))
    stdout, stderr = sweep.communicate(timeout=120)
    trials = study.get_trials()
    kept = sum(t.state == TrialState.COMPLETE for t in trials)
    assert 0 < kept < 24
    assert (sweep.returncode, stdout) == (130, "")
    assert stderr.splitlines() == [
        f"Sweep s: 24 runs (12 settings x 2 seeds), 24 to run, {jobs} worker{'s' * (jobs > 1)}, storage sw/study.log",
        "reused 0 finished runs: no finished run in the study trains the same resolved config",
        (f"error: interrupted: {kept} of 24 runs finished and kept in study s (storage sw/study.log); no report "
         "written (hint: run the same command again to continue; it reuses the finished runs)")]
    # The runs it held went back into the queue at once (none left claimed by a stopped process).
    assert TrialState.RUNNING not in {t.state for t in trials}
    assert not list((workdir / "sw").glob("s/summary-*.csv"))
    again = xornet("sweep", *ARGS)
    assert again.exit_code == 0, again.stderr
    assert again.stderr.splitlines()[1].startswith(f"reused {kept} finished run{'s' * (kept > 1)}: ")
    assert again.stdout.splitlines()[-1].startswith("24 of 24 runs done in ")


def test_after_ctrl_c_on_a_database_its_runs_run_again_without_waiting_for_the_grace_period(  # noqa: F811
        postgres, workdir, xornet):
    from optuna.trial import TrialState

    from xornet.sweep import open_study

    args = [*ARGS[:ARGS.index("--out")], *ARGS[ARGS.index("--grid"):], "--storage", postgres, "--study", "ctrl-c",
            "--grace", "600"]
    study = open_study(postgres, "ctrl-c").optuna
    sweep = interrupt_after_a_run(workdir, study, *args)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130 and "error: interrupted: " in stderr, stderr
    assert TrialState.RUNNING not in {t.state for t in study.get_trials()}  # not held until heartbeats go stale
    started = time.monotonic()
    again = xornet("sweep", *args)
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[-1].startswith("24 of 24 runs done in ")
    assert time.monotonic() - started < 300  # the trials of a silent worker would wait --grace 600 s
