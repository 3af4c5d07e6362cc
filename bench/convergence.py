"""Many seeds of the XOR net: all at once (xornet.many_seeds) against one run per seed (the fast trainer).

Run:  python bench/convergence.py [--seeds 1000] [--epochs 1000] [--single 20] [--sweep] [--restarts]

1. 1,000 seeds x 1,000 epochs of configs/xor.yaml's network (full-batch SGD,
   lr 0.1, as a sweep trains it: no early stop) in one `train_seeds` call,
   against `xornet.train` seed by seed (what `xornet sweep` did before) on the
   first --single seeds, extrapolated to all seeds. Both after TensorFlow is
   imported; both figures and their ratio per seed, side by side, plus the
   largest difference between the two paths' loss curves on the shared seeds.
2. --sweep: the whole `xornet sweep configs/xor.yaml --seeds 1000
   --set training.epochs=1000` command as a user runs it (TensorFlow import and
   the Optuna journal's fsync'd writes included).
3. --restarts: configs/xor.yaml as shipped (target loss 0.05, up to 3
   restarts) trained from seeds 0..99: how many converge, after how many attempts.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def many_seeds_part(seeds: int, epochs: int, single: int) -> None:
    import xornet
    from xornet.backend import import_keras
    from xornet.many_seeds import train_seeds
    from xornet.sweep import plan_sweep

    import_keras()
    base = xornet.load_config(REPO / "configs/xor.yaml", [f"training.epochs={epochs}"])
    config = plan_sweep(base, [0], {}).config_for({"seed": 0})  # as a sweep trains it
    start = time.perf_counter()
    runs = train_seeds(config, range(seeds))
    together = time.perf_counter() - start
    start = time.perf_counter()
    curves = []
    for seed in range(single):
        one = config.model_copy(deep=True)
        one.seed = seed
        curves.append(xornet.train(one, save=False).result.history["loss"])
    alone = (time.perf_counter() - start) / single
    gap = max(float(np.max(np.abs(np.array(c) - runs[i].history["loss"]))) for i, c in enumerate(curves))
    converged = sum(run.final.get("accuracy") == 1.0 for run in runs)
    print(f"XOR net, {epochs} epochs of full-batch SGD per seed ({converged} of {seeds} seeds end at 100% accuracy)")
    print(f"{'':28}{'per seed':>12}{f'{seeds} seeds':>14}")
    print(f"{'all seeds at once':28}{together / seeds * 1000:>9.1f} ms{together:>12.1f} s")
    print(f"{'one run per seed':28}{alone * 1000:>9.1f} ms{alone * seeds:>12.1f} s  (measured on {single} seeds)")
    print(f"at once is {alone * seeds / together:.0f}x faster per seed; "
          f"largest loss difference on the {single} shared seeds: {gap:.1e}")


def sweep_part(seeds: int, epochs: int) -> None:
    work = Path(tempfile.mkdtemp())
    shutil.copytree(REPO / "configs", work / "configs")
    command = [sys.executable, "-m", "xornet", "sweep", "configs/xor.yaml", "--seeds", str(seeds),
               "--set", f"training.epochs={epochs}"]
    try:
        start = time.perf_counter()
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(work)
    print(f"\n$ xornet sweep configs/xor.yaml --seeds {seeds} --set training.epochs={epochs}")
    print(result.stderr + result.stdout)
    print(f"whole command: {wall:.1f} s")


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--single", type=int, default=20, help="seeds trained one by one for the comparison")
    parser.add_argument("--sweep", action="store_true", help="also time the whole xornet sweep command")
    parser.add_argument("--restarts", action="store_true", help="also train xor.yaml with restarts from 100 seeds")
    args = parser.parse_args()
    many_seeds_part(args.seeds, args.epochs, args.single)
    if args.sweep:
        sweep_part(args.seeds, args.epochs)
    if args.restarts:
        restarts_part()


if __name__ == "__main__":
    main()
