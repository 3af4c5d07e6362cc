"""Convergence at scale: a 100-seed sweep of the XOR net, and configs/xor.yaml's restarts over 100 seeds.

Run:  python bench/convergence.py            (about two minutes on 2 cores)

1. `xornet sweep configs/xor.yaml --seeds 100 --grid training.epochs=100,1000 --jobs 2`:
   the share of random starts that reach 100% accuracy after 100 and after
   1,000 epochs (the classic tutorial's warning, measured), and the time the
   1,000-epoch runs took: wall time of the whole command, and the trials'
   summed training time divided by the 2 workers.
2. configs/xor.yaml as shipped (target loss 0.05, up to 3 restarts) trained
   from seeds 0..99 in one process: how many converge and after how many attempts.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def sweep_part(work: Path) -> None:
    import optuna
    from optuna.trial import TrialState

    command = [sys.executable, "-m", "xornet", "sweep", "configs/xor.yaml", "--seeds", "100",
               "--grid", "training.epochs=100,1000", "--target-loss", "0.1", "--jobs", "2"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    print("$ xornet sweep configs/xor.yaml --seeds 100 --grid training.epochs=100,1000 --target-loss 0.1 --jobs 2")
    print(result.stdout)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from xornet.sweep import _study

    study = _study(str(work / "sweeps/xor/study.log"), "xor")
    seconds = collections.defaultdict(float)
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        epochs = trial.user_attrs["params"]["training.epochs"]
        seconds[epochs] += (trial.datetime_complete - trial.datetime_start).total_seconds()
    print(f"whole command (200 runs, 2 workers): {wall:.1f} s")
    for epochs, total in sorted(seconds.items()):
        print(f"  {epochs:>5}-epoch runs: {total:.1f} s of training summed over 100 seeds, "
              f"{total / 2:.1f} s on 2 workers")


def restarts_part() -> None:
    import xornet

    config = xornet.load_config(REPO / "configs/xor.yaml")
    attempts = collections.Counter()
    converged = 0
    start = time.perf_counter()
    for seed in range(100):
        config.seed = seed
        run = xornet.train(config, save=False)
        converged += bool(run.converged)
        attempts[len(run.attempts)] += 1
    print(f"\nconfigs/xor.yaml with restarts, seeds 0..99: {converged} of 100 converged "
          f"(loss < {config.training.target_loss} and 100% accuracy) in {time.perf_counter() - start:.1f} s")
    for count, runs in sorted(attempts.items()):
        print(f"  {runs:>3} seeds needed {count} attempt{'s' if count > 1 else ''}")


def main():
    work = Path(tempfile.mkdtemp())
    shutil.copytree(REPO / "configs", work / "configs")
    try:
        sweep_part(work)
    finally:
        shutil.rmtree(work)
    restarts_part()


if __name__ == "__main__":
    main()
