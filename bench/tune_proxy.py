"""A cheap proxy for tune quality: `xornet tune`'s sampler and pruner against random search on the same engine.

Run:  python bench/tune_proxy.py CANDIDATE [--trials 10] [--epochs 50] [--seeds 101 102 ...] [--out results.jsonl]

Each seed sets the split and the weights (as in bench/tune_speed.py, on the
same breast cancer data and search space); every candidate trains through
xornet's own objective (`xornet.tune.objective`), so the only difference
between candidates is how trials are sampled and pruned. `random` is
Optuna's RandomSampler without pruning: random search at equal trials and
epochs. `tune` is whatever `open_tune_study` builds now; the other
candidates are settings under study (`tune_quarter`: tune's before TPE's
startup became half of a small budget). Use seeds that bench/tune_speed.py does
not report, so that settings are not fitted to its table.

One JSON line per seed goes to --out: the best complete trial's val_loss
("val_loss"), the best val_loss of any trial including a pruned one's best
epoch before it was pruned ("val_loss_any"), the epochs trained and seconds.
`--summary` compares the candidates found in --out, seed by seed, with `random`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIG = REPO / "configs" / "breast_cancer.yaml"
SPACE = ["training.learning_rate=loguniform(1e-3,1)", "model.layers.0.units=int(2,64)"]


def candidate_study(name: str, seed: int, trials: int, epochs: int, patience: int):
    """(sampler, pruner) of a candidate, in a fresh in-memory study."""
    import optuna

    from xornet.tune import open_tune_study

    if name == "tune":
        folder = tempfile.mkdtemp()
        return open_tune_study(str(Path(folder) / "study.log"), "proxy", seed, trials, epochs)
    nop = optuna.pruners.NopPruner()
    if name == "random":
        return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), pruner=nop)
    quarter, half = min(10, max(2, trials // 4)), min(10, max(2, trials // 2))
    tpe = dict(seed=seed, multivariate=True, constant_liar=True)
    current_pruner = optuna.pruners.PatientPruner(
        optuna.pruners.MedianPruner(n_startup_trials=quarter, n_warmup_steps=max(1, epochs // 5)),
        patience=max(1, epochs // 10))
    candidates = {
        # tune's settings before TPE's startup became half of a small budget
        "tune_quarter": lambda: (optuna.samplers.TPESampler(n_startup_trials=quarter, **tpe), current_pruner),
        # TPE without pruning: what pruning costs
        "tpe_quarter_nopruning": lambda: (optuna.samplers.TPESampler(n_startup_trials=quarter, **tpe), nop),
        "tpe_half_nopruning": lambda: (optuna.samplers.TPESampler(n_startup_trials=half, **tpe), nop),
        "tpe_half": lambda: (optuna.samplers.TPESampler(n_startup_trials=half, **tpe), current_pruner),
        # prune only after early stopping's patience could have acted, and only a trial as stale as half of it
        # (at 50 epochs and patience 10 that is tune's pruner: warm-up 10, patience 5)
        "tpe_quarter_late": lambda: (optuna.samplers.TPESampler(n_startup_trials=quarter, **tpe),
                                     _late_pruner(quarter, epochs, patience)),
        "tpe_half_late": lambda: (optuna.samplers.TPESampler(n_startup_trials=half, **tpe),
                                  _late_pruner(half, epochs, patience)),
    }
    sampler, pruner = candidates[name]()
    return optuna.create_study(sampler=sampler, pruner=pruner)


def _late_pruner(startup: int, epochs: int, patience: int):
    import optuna

    median = optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=max(1, epochs // 5, patience))
    return optuna.pruners.PatientPruner(median, patience=max(1, epochs // 10, patience // 2))


def run(name: str, seed: int, trials: int, epochs: int) -> dict:
    import optuna
    from optuna.trial import TrialState

    from xornet.config import load_config
    from xornet.tune import parse_search, search

    config = load_config(CONFIG, [f"seed={seed}", f"training.epochs={epochs}"])
    space = parse_search(SPACE)
    study = candidate_study(name, seed, trials, epochs, config.training.early_stopping.patience)
    start = time.perf_counter()
    search(study, config, space, "val_loss", trials)
    seconds = time.perf_counter() - start
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    done = study.get_trials(deepcopy=False)
    complete = [t.value for t in done if t.state == TrialState.COMPLETE]
    pruned = [min(t.intermediate_values.values()) for t in done
              if t.state == TrialState.PRUNED and t.intermediate_values]
    return {"candidate": name, "seed": seed, "trials": trials, "epochs": epochs, "val_loss": min(complete),
            "val_loss_any": min(complete + pruned), "pruned": len(pruned),
            "epochs_trained": sum(max(t.intermediate_values, default=0) for t in done), "seconds": round(seconds, 2)}


def summary(path: Path, trials: int) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["trials"] == trials]
    random = {r["seed"]: r for r in rows if r["candidate"] == "random"}
    print(f"{trials} trials; wins = seeds where the candidate's val_loss <= random search's (same engine)")
    print(f"{'candidate':24}{'seeds':>6}{'mean val':>10}{'random':>9}{'wins':>6}{'mean any':>10}{'wins any':>9}"
          f"{'epochs':>8}{'seconds':>9}")
    for name in dict.fromkeys(r["candidate"] for r in rows):
        mine = {r["seed"]: r for r in rows if r["candidate"] == name and r["seed"] in random}
        if not mine:
            continue
        seeds = sorted(mine)
        mean = statistics.mean(mine[s]["val_loss"] for s in seeds)
        mean_any = statistics.mean(mine[s]["val_loss_any"] for s in seeds)
        base = statistics.mean(random[s]["val_loss"] for s in seeds)
        wins = sum(mine[s]["val_loss"] <= random[s]["val_loss"] for s in seeds)
        wins_any = sum(mine[s]["val_loss_any"] <= random[s]["val_loss"] for s in seeds)
        epochs = statistics.mean(mine[s]["epochs_trained"] for s in seeds)
        seconds = statistics.mean(mine[s]["seconds"] for s in seeds)
        print(f"{name:24}{len(seeds):>6}{mean:>10.4f}{base:>9.4f}{wins:>6}{mean_any:>10.4f}{wins_any:>9}"
              f"{epochs:>8.0f}{seconds:>9.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="*")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(101, 121)))
    parser.add_argument("--out", type=Path, default=Path("/tmp/tune_proxy.jsonl"))
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if args.candidates:
        from xornet.backend import import_keras

        import_keras()
        for seed in args.seeds:
            for name in args.candidates:
                row = run(name, seed, args.trials, args.epochs)
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    if args.summary or not args.candidates:
        summary(args.out, args.trials)


if __name__ == "__main__":
    main()
