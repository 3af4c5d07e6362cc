"""`xornet tune` against KerasTuner's RandomSearch: same rows, network, space, trials and epochs, side by side.

Run:  python bench/tune_speed.py [--trials 50] [--epochs 50] [--seeds 42 1 2]   (pip install 'xornet[bench]')

Data: the shipped breast cancer table (data/breast_cancer.csv, 569 rows, 30
features) as configs/breast_cancer.yaml splits it: for each seed, xornet's
seeded, stratified split (xornet.data.load_splits) gives the train, validation
and test rows, and KerasTuner gets exactly those arrays. Both models are
Normalization (adapted on the training rows, inside the model) -> Dense(units,
relu) -> Dense(1, sigmoid); Adam, binary cross-entropy, batch 32, at most
--epochs epochs with EarlyStopping(val_loss, patience 10,
restore_best_weights). Space (the issue's example): learning rate
log-uniform in [1e-3, 1], units an integer in [2, 64]. Both minimise the
validation loss (`xornet tune --metric val_loss`; KerasTuner objective
"val_loss").

The figure compared is the best trial's validation loss at its best epoch:
KerasTuner's own rule, and xornet's when early stopping restores the best
weights, so on both sides it is the loss of the weights the trial keeps.
The test loss of each side's best model is printed as a check (not compared:
neither search sees the test rows).

Both run in this process after TensorFlow is imported; xornet is the real
`xornet tune` command (run in-process, including writing best.yaml, the
table and the plot), KerasTuner is timed around `tuner.search`. The seed
sets the split, xornet's sampler and weights, and KerasTuner's sampler and
weights (keras.utils.set_random_seed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIG = REPO / "configs" / "breast_cancer.yaml"
SPACE = ["training.learning_rate=loguniform(1e-3,1)", "model.layers.0.units=int(2,64)"]  # the example


def xornet_part(folder: Path, seed: int, trials: int, epochs: int) -> dict:
    """`xornet tune` in this process; its best trial's val_loss, and the test loss of that trial's config."""
    from typer.testing import CliRunner

    from xornet.cli.app import app
    from xornet.config import load_config
    from xornet.experiment import train
    from xornet.sweep import open_study

    out = folder / f"xornet-{seed}"
    args = ["tune", str(CONFIG), "--metric", "val_loss", "--trials", str(trials), "--out", str(out),
            "--set", f"seed={seed}", "--set", f"training.epochs={epochs}"] + [a for s in SPACE for a in ("--search", s)]
    start = time.perf_counter()
    result = CliRunner().invoke(app, args)
    seconds = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"xornet tune failed ({result.exit_code}):\n{result.output}")
    study = open_study(str(out / "study.log"), _study_name(result.output)).optuna
    states = [t.state.name for t in study.trials]
    best = load_config(out / "best.yaml")
    run = train(best, save=False)  # the same seeds as the trial: its kept weights again
    return {"seconds": seconds, "val_loss": study.best_value, "test_loss": run.held_out["test"]["loss"],
            "note": f"{states.count('PRUNED')} pruned, {states.count('FAIL')} failed",
            "params": study.best_trial.params}


def _study_name(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("Tune ")).split(":")[0][len("Tune "):]


def keras_tuner_part(folder: Path, seed: int, splits, trials: int, epochs: int) -> dict:
    import keras
    import keras_tuner

    (x, y), (xv, yv), (xt, yt) = ((part.x, part.y) for part in (splits.train, splits.validation, splits.test))

    def build(hp):
        normalization = keras.layers.Normalization(axis=-1)
        normalization.adapt(x)  # the training rows only
        model = keras.Sequential([
            keras.Input(shape=(x.shape[1],)),
            normalization,
            keras.layers.Dense(hp.Int("units", 2, 64), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1.0, sampling="log")),
                      loss="binary_crossentropy", metrics=["accuracy"])
        return model

    keras.utils.set_random_seed(seed)
    tuner = keras_tuner.RandomSearch(build, objective="val_loss", max_trials=trials, seed=seed, overwrite=True,
                                     directory=str(folder), project_name=f"kt-{seed}")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    start = time.perf_counter()
    tuner.search(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32, callbacks=[stop], verbose=0)
    seconds = time.perf_counter() - start
    best = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]  # KerasTuner's checkpoint of the best epoch
    test_loss = model.evaluate(xt, yt, verbose=0)[0]
    return {"seconds": seconds, "val_loss": best.score, "test_loss": test_loss, "note": "",
            "params": dict(best.hyperparameters.values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="trials on each side [50: xornet tune's default]")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    args = parser.parse_args()
    from xornet.backend import import_keras
    from xornet.config import load_config
    from xornet.data import load_splits

    import_keras()
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        for seed in args.seeds:
            splits = load_splits(load_config(CONFIG, [f"seed={seed}"]), seed)
            ours = xornet_part(Path(temp), seed, args.trials, args.epochs)
            theirs = keras_tuner_part(Path(temp), seed, splits, args.trials, args.epochs)
            rows.append((seed, splits, ours, theirs))
            _print_seed(seed, splits, ours, theirs)
    print(f"\nbreast cancer (data/breast_cancer.csv), {args.trials} trials x at most {args.epochs} epochs, batch 32, "
          "early stopping (val_loss, patience 10, best weights restored); val_loss = best trial at its best epoch")
    print(f"{'seed':>4}  {'xornet s':>9}{'KerasTuner s':>13}{'speed-up':>9}  {'xornet val':>10}{'KT val':>8}  "
          f"{'xornet test':>11}{'KT test':>8}  val_loss at least as good")
    for seed, _, ours, theirs in rows:
        speedup = theirs["seconds"] / ours["seconds"]
        print(f"{seed:>4}  {ours['seconds']:>9.1f}{theirs['seconds']:>13.1f}{speedup:>8.1f}x"
              f"  {ours['val_loss']:>10.4f}{theirs['val_loss']:>8.4f}  {ours['test_loss']:>11.4f}"
              f"{theirs['test_loss']:>8.4f}  {'yes' if ours['val_loss'] <= theirs['val_loss'] else 'NO'}")
    wins = sum(ours["val_loss"] <= theirs["val_loss"] for _, _, ours, theirs in rows)
    faster = sum(ours["seconds"] < theirs["seconds"] for _, _, ours, theirs in rows)
    print(f"xornet tune: validation loss at least as good in {wins} of {len(rows)}, less wall time in {faster} "
          f"of {len(rows)}")


def _print_seed(seed: int, splits, ours: dict, theirs: dict) -> None:
    from xornet.data.splits import rows_hash

    print(f"seed {seed}: rows train {len(splits.train.x)}, validation {len(splits.validation.x)} "
          f"(sha256 {rows_hash(splits.validation.rows)[:12]}), test {len(splits.test.x)}", flush=True)
    for name, part in (("xornet tune (TPE, pruner)", ours), ("KerasTuner RandomSearch", theirs)):
        params = ", ".join(f"{k.split('.')[-1]}={v:.4g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                           for k, v in part["params"].items())
        print(f"  {name:33}{part['seconds']:>7.1f} s  val_loss {part['val_loss']:.4f}  test_loss "
              f"{part['test_loss']:.4f}  best: {params}{'  (' + part['note'] + ')' if part['note'] else ''}",
              flush=True)


if __name__ == "__main__":
    main()
