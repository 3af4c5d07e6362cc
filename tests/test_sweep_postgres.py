"""`xornet sweep --storage postgresql://...` against a real PostgreSQL server started for these tests.

The fixture makes a throwaway cluster with initdb/pg_ctl in a temporary
directory, listening on a free loopback port (as the postgres user when the
tests run as root: initdb refuses root), and stops it at the end. Without
PostgreSQL's binaries (apt-get install postgresql) the tests are skipped.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """The URL of a fresh PostgreSQL server on 127.0.0.1 (trust authentication, user xornet)."""
    if not BINARIES:
        pytest.skip("no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed (pip install 'xornet[postgresql]')")
    bin_dir = Path(BINARIES[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="xornet-pg-"))
    as_user = []
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    quiet = {"check": True, "capture_output": True}
    subprocess.run([*as_user, bin_dir / "initdb", "-D", base / "data", "-U", "xornet", "--auth=trust", "--no-sync"],
                   **quiet)
    subprocess.run([*as_user, bin_dir / "pg_ctl", "-D", base / "data", "-l", base / "server.log", "-w", "start",
                    "-o", f"-p {port} -h 127.0.0.1 -k {base} -F"], **quiet)
    try:
        yield f"postgresql://xornet@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, bin_dir / "pg_ctl", "-D", base / "data", "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(base, ignore_errors=True)


def sweep_command(url, study, *extra):
    return [sys.executable, "-m", "xornet", "sweep", "configs/seed.yaml", "--storage", url, "--study", study, *extra]


def table(stdout):
    """The report without its last line (which holds the wall time)."""
    return stdout.splitlines()[:-1]


def complete_by_fingerprint(url, study):
    from optuna.trial import TrialState

    from xornet.sweep import open_study

    counts = {}
    for trial in open_study(url, study).optuna.trials:
        if trial.state == TrialState.COMPLETE:
            counts[trial.user_attrs["fingerprint"]] = counts.get(trial.user_attrs["fingerprint"], 0) + 1
    return counts


def test_two_commands_share_a_study_and_report_like_one_process(postgres, workdir, xornet):
    args = ["--seeds", "3", "--grid", "training.learning_rate=0.2,0.5", "--set", "training.epochs=60",
            "--target-loss", "0.5"]
    workers = [subprocess.Popen(sweep_command(postgres, "shared", *args, "--out", f"out{i}"), cwd=workdir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert complete_by_fingerprint(postgres, "shared") == dict.fromkeys(complete_by_fingerprint(postgres, "shared"), 1)
    assert len(complete_by_fingerprint(postgres, "shared")) == 6  # 2 settings x 3 seeds, each run exactly once
    alone = xornet("sweep", "configs/seed.yaml", *args, "--out", "alone")  # one process, journal file
    assert alone.exit_code == 0, alone.stderr
    assert table(outputs[0][0]) == table(outputs[1][0]) == table(alone.stdout)
    assert table(alone.stdout)[1].startswith("training.learning_rate=0.2")


def test_a_killed_workers_trial_runs_again_after_its_heartbeats_stop(postgres, workdir, xornet):
    from optuna.trial import TrialState

    from xornet.sweep import open_study

    args = ["--seeds", "2", "--set", "training.epochs=400", "--grace", "3"]
    worker = subprocess.Popen(sweep_command(postgres, "killed", *args), cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    study = open_study(postgres, "killed", grace=3).optuna
    deadline = time.monotonic() + 120
    while not study.get_trials(states=(TrialState.RUNNING,)) and worker.poll() is None:
        assert time.monotonic() < deadline, "the worker never started a trial"
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)  # mid-trial: it holds both seeds and is training them
    worker.wait()
    held = study.get_trials(states=(TrialState.RUNNING,))
    assert len(held) == 2
    started = time.monotonic()
    again = xornet("sweep", "configs/seed.yaml", "--storage", postgres, "--study", "killed", *args)
    assert again.exit_code == 0, again.stderr
    assert "2 runs (1 setting x 2 seeds), 2 to run" in again.stderr
    assert time.monotonic() - started >= 3  # it waited for the grace period before running them again
    assert table(again.stdout)[1].split()[:2] == ["(config", "as"] and table(again.stdout)[1].split()[3] == "2"
    states = {t.number: t.state for t in study.get_trials()}
    assert [states[t.number] for t in held] == [TrialState.FAIL, TrialState.FAIL]
    assert sorted(complete_by_fingerprint(postgres, "killed").values()) == [1, 1]
    assert {t.user_attrs["fingerprint"] for t in held} == set(complete_by_fingerprint(postgres, "killed"))


def test_a_worker_killed_right_after_claiming_a_trial_leaves_a_heartbeat_to_go_stale(postgres, workdir, monkeypatch):
    """Killed between claiming a trial (RUNNING) and its first beat, a worker would leave a trial no other
    worker could ever find dead: the heartbeat is recorded before the claim."""
    import optuna
    from optuna.trial import TrialState

    from xornet import sweep
    from xornet.config import load_config

    plan = sweep.plan_sweep(load_config(workdir / "configs/seed.yaml", ["training.epochs=5"]), range(1), {})
    study = sweep.open_study(postgres, "claimed", grace=2)
    sweep.enqueue(plan, study)

    def killed(*_args):
        raise KeyboardInterrupt  # the worker dies right after the trial turned RUNNING

    monkeypatch.setattr(study.storage, "set_trial_user_attr", killed)
    with pytest.raises(KeyboardInterrupt):
        sweep._take(study, plan, share=1)
    assert [t.state for t in study.optuna.get_trials()] == [TrialState.RUNNING]
    time.sleep(3)  # past the grace period
    optuna.storages.fail_stale_trials(study.optuna)
    assert [t.state for t in study.optuna.get_trials()] == [TrialState.FAIL]
