"""`xornet tune` with several workers on one study, killed workers and Ctrl-C: every trial its own values, exactly
--trials finished trials, a killed worker's trial failed and run again, and a Ctrl-C that says how to go on."""

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

from optuna.trial import TrialState

from xornet.sweep import open_study

SEARCH = ["configs/xor.yaml", "--search", "training.learning_rate=loguniform(1e-2,1)",
          "--search", "model.layers.0.units=int(2,16)", "--study", "s", "--out", "t"]
QUICK = ["--set", "training.epochs=20"]


def tune_process(workdir, *args):
    return subprocess.Popen([sys.executable, "-m", "xornet", "tune", *SEARCH, *args], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def trials_of(storage="t/study.log"):
    if not storage.startswith("postgresql") and not Path(storage).exists():  # the worker has not made it yet
        return []
    return open_study(storage, "s").optuna.get_trials()


def params(trials):
    return [tuple(t.params.values()) for t in trials if t.params]


def wait_for(condition, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the worker never got there"
        time.sleep(0.1)


def second_trial_training():
    """Trial 0 complete, trial 1 running with its values drawn."""
    return [(t.state, bool(t.params)) for t in trials_of()][:2] == [(TrialState.COMPLETE, True),
                                                                    (TrialState.RUNNING, True)]


def test_one_worker_draws_the_values_it_always_drew_from_the_seed(workdir, xornet):
    result = xornet("tune", *SEARCH, *QUICK, "--trials", "5")
    assert result.exit_code == 0, result.stderr
    with open(workdir / "t/trials.csv") as handle:
        rows = [(row["training.learning_rate"], row["model.layers.0.units"]) for row in csv.DictReader(handle)]
    assert rows == [  # xornet 0.x before several workers split a study: TPESampler(seed=42), one random stream
        ("0.05611516415334506", "16"), ("0.29106359131330695", "10"), ("0.8597392498054096", "5"),
        ("0.02962338736801955", "2"), ("0.6738804521378654", "2")]


def test_two_workers_on_one_journal_file_run_each_value_once_and_exactly_the_trials_asked(workdir):
    workers = [tune_process(workdir, *QUICK, "--trials", "6") for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = trials_of()
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 6
    assert all(t.state != TrialState.RUNNING for t in trials)
    assert len(set(params(trials))) == len(params(trials)) >= 6  # no trial repeats another's values
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers ran trials


def test_a_killed_workers_trial_fails_and_a_rerun_runs_the_budget_with_new_values(workdir, xornet):
    worker = tune_process(workdir, "--set", "training.epochs=3000", "--trials", "3")
    wait_for(second_trial_training, worker)
    worker.send_signal(signal.SIGKILL)  # mid-trial: trial 1 stays "running" in the study
    worker.wait()
    killed = [t for t in trials_of() if t.state == TrialState.RUNNING]
    assert [t.number for t in killed] == [1]
    again = xornet("tune", *SEARCH, "--set", "training.epochs=3000", "--trials", "3")
    assert again.exit_code == 0, again.stderr
    trials = trials_of()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.COMPLETE]
    assert len(set(params(trials))) == 4  # the re-run's trials do not repeat trial 0's values (nor the killed one's)
    with open(workdir / "t/trials.csv") as handle:
        assert [row["state"] for row in csv.DictReader(handle)] == ["complete", "stopped", "complete", "complete"]
    assert "\n3 complete, 0 pruned, 1 stopped (worker killed or interrupted) in " in again.stdout


def test_ctrl_c_says_how_many_trials_are_kept_and_how_to_continue(workdir, xornet):
    worker = tune_process(workdir, "--set", "training.epochs=3000", "--trials", "4")
    wait_for(second_trial_training, worker)
    worker.send_signal(signal.SIGINT)
    stdout, stderr = worker.communicate(timeout=60)
    done = sum(t.state == TrialState.COMPLETE for t in trials_of())
    assert (worker.returncode, stdout, stderr.splitlines()[-1]) == (
        130, "", (f"error: interrupted after {done} of 4 trials; the study s is kept in t/study.log: run the same "
                  "command to continue"))
    assert "Traceback" not in stderr and trials_of()[-1].state == TrialState.FAIL  # the interrupted trial
    again = xornet("tune", *SEARCH, "--set", "training.epochs=3000", "--trials", "4")
    assert again.exit_code == 0, again.stderr
    assert sum(t.state == TrialState.COMPLETE for t in trials_of()) == 4


def test_a_ctrl_c_that_a_library_turned_into_another_error_is_still_an_interruption(workdir, xornet, monkeypatch):
    """Seen once: TensorFlow, interrupted as a trial started, raised "TypeError: Failed to convert elements of
    (None,) to Tensor" instead of KeyboardInterrupt, and tune said "error: unexpected failure: TypeError ..."."""
    import os

    from xornet import experiment

    def train_interrupted_in_tensorflow(*_args, **_kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
            time.sleep(10)
        except KeyboardInterrupt:
            raise TypeError("Failed to convert elements of (None,) to Tensor.") from None

    monkeypatch.setattr(experiment, "train", train_interrupted_in_tensorflow)
    result = xornet("tune", *SEARCH, *QUICK, "--trials", "2")
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        130, ("error: interrupted after 0 of 2 trials; the study s is kept in t/study.log: run the same command "
              "to continue"))
    assert [t.state for t in trials_of()] == [TrialState.FAIL]


def test_a_trial_that_does_not_follow_its_workers_last_one_draws_from_its_own_seed(tmp_path):
    """What the sampler relies on: a TPESampler seeded with s draws its random start as RandomSampler(seed=s)
    does (Optuna's behaviour); a fresh sampler (a second worker, a resumed search) starting at trial 3 draws from
    trial_seed(seed, 3), and goes on with that stream."""
    import optuna

    from xornet.tune import open_tune_study, parse_search, suggest
    from xornet.tune_sampler import trial_seed

    space = parse_search(["training.learning_rate=loguniform(1e-3,1)", "model.layers.0.units=int(2,64)"])

    def drawn(study, trials):
        study.optimize(lambda trial: suggest(trial, space)["training.learning_rate"], n_trials=trials)
        return [tuple(t.params.values()) for t in study.trials]

    storage = str(tmp_path / "study.log")
    first = drawn(open_tune_study(storage, "s", 7, trials=20), 3)  # random start: 10 trials
    resumed = drawn(open_tune_study(storage, "s", 7, trials=20), 2)
    assert resumed[:3] == first == drawn(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7)), 3)
    own = drawn(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=trial_seed(7, 3))), 2)
    assert resumed[3:] == own and not set(own) & set(first)


def test_a_trial_started_just_after_another_worker_took_the_last_place_gives_way(workdir):
    """The race that the count before each trial cannot see: another worker starts the last trial between this
    worker's count and its own start. (Staged here: two workers rarely finish a trial at the same moment.)"""
    import threading

    from xornet.config import load_config
    from xornet.sweep import worker_id
    from xornet.tune import open_tune_study, parse_search, search, trials_csv

    space = parse_search(["training.learning_rate=loguniform(1e-2,1)"])
    study = open_tune_study(str(workdir / "study.log"), "s", 42, trials=1, epochs=20)
    ask, finish = study.ask, []

    def another_worker_first(*args, **kwargs):
        study.ask = ask
        other = ask()  # trial 0, of a live worker on this machine; it finishes 2 s later
        other.set_user_attr("worker", worker_id())
        finish.append(threading.Timer(2, lambda: study.tell(other, 0.5)))
        finish[0].start()
        return ask(*args, **kwargs)

    study.ask = another_worker_first
    search(study, load_config("configs/xor.yaml", ["training.epochs=20"]), space, "loss", 1)
    finish[0].join()
    assert [(t.state, "surplus" in t.user_attrs) for t in study.trials] == [(TrialState.COMPLETE, False),
                                                                             (TrialState.FAIL, True)]
    assert [row.split(",")[:2] for row in trials_csv(study, space, "loss").splitlines()[1:]] == [["0", "complete"]]


def test_a_trial_whose_worker_was_killed_as_it_started_fails_after_the_grace_period(workdir, xornet):
    """Killed between creating its trial and recording its pid, a worker leaves a running trial without a worker;
    after the grace period (60 s) it is failed (it stayed running, and may hold the budget's last place)."""
    import datetime

    import optuna

    (workdir / "t").mkdir()
    study = open_study("t/study.log", "s").optuna
    study.add_trial(optuna.trial.FrozenTrial(
        number=0, state=TrialState.RUNNING, datetime_start=datetime.datetime.now() - datetime.timedelta(seconds=61),
        params={}, distributions={}, user_attrs={}, system_attrs={}, intermediate_values={}, value=None,
        datetime_complete=None, trial_id=0))
    result = xornet("tune", *SEARCH, *QUICK, "--trials", "2")
    assert result.exit_code == 0, result.stderr
    assert [t.state for t in trials_of()] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
