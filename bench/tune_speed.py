"""`xornet tune` against KerasTuner's RandomSearch: same data, space, trials and epochs, side by side.

Run:  python bench/tune_speed.py [--trials 10] [--epochs 50]      (pip install 'xornet[bench]')

Data: scikit-learn's breast cancer table (569 rows, 30 features, shipped
inside the package), standardised, written as a CSV that xornet reads. The
network: Dense(units) -> relu -> Dense(1) -> sigmoid, Adam, binary
cross-entropy, full batch. Space: learning rate log-uniform in [1e-4, 1e-1],
units an integer in [2, 64]. Both searches run in this process after
TensorFlow is imported; each is timed around its search call.

Until xornet's configs have a validation split, both searches minimise the
training loss (KerasTuner objective "loss"; `--metric loss`), and the figure
compared is the best trial's final training loss.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIG = """name: cancer
seed: 0
data: {{path: {csv}, label: y}}
model:
  layers:
    - {{type: Dense, units: 16, input_dim: 30}}
    - {{type: Activation, activation: relu}}
    - {{type: Dense, units: 1}}
    - {{type: Activation, activation: sigmoid}}
training: {{optimizer: adam, learning_rate: 0.01, epochs: {epochs}, metrics: [accuracy]}}
"""


def write_data(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer()
    x = ((table.data - table.data.mean(axis=0)) / table.data.std(axis=0)).astype("float32")
    y = table.target.astype("float32").reshape(-1, 1)
    path = folder / "cancer.csv"
    header = ",".join(f"f{i}" for i in range(x.shape[1])) + ",y"
    np.savetxt(path, np.hstack([x, y]), delimiter=",", header=header, comments="", fmt="%.7g")
    return path, x, y


def xornet_part(folder: Path, csv: Path, trials: int, epochs: int) -> tuple[float, float]:
    from xornet.config import load_config
    from xornet.tune import open_tune_study, parse_search, search

    (folder / "cancer.yaml").write_text(CONFIG.format(csv=csv, epochs=epochs))
    config = load_config(folder / "cancer.yaml")
    space = parse_search(["training.learning_rate=loguniform(1e-4,1e-1)", "model.layers.0.units=int(2,64)"])
    study = open_tune_study(str(folder / "study.log"), "bench", seed=0, trials=trials)
    start = time.perf_counter()
    search(study, config, space, "loss", trials)
    return time.perf_counter() - start, study.best_value


def keras_tuner_part(folder: Path, x, y, trials: int, epochs: int) -> tuple[float, float]:
    import keras
    import keras_tuner

    def build(hp):
        model = keras.Sequential([
            keras.Input(shape=(x.shape[1],)),
            keras.layers.Dense(hp.Int("units", 2, 64)),
            keras.layers.Activation("relu"),
            keras.layers.Dense(1),
            keras.layers.Activation("sigmoid"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")),
                      loss="binary_crossentropy", metrics=["accuracy"])
        return model

    tuner = keras_tuner.RandomSearch(build, objective="loss", max_trials=trials, seed=0, overwrite=True,
                                     directory=str(folder), project_name="kt")
    start = time.perf_counter()
    tuner.search(x, y, epochs=epochs, batch_size=len(x), verbose=0)
    seconds = time.perf_counter() - start
    best = tuner.oracle.get_best_trials(1)[0]
    return seconds, best.metrics.get_last_value("loss")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    from xornet.backend import import_keras

    import_keras()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        csv, x, y = write_data(folder)
        ours = xornet_part(folder, csv, args.trials, args.epochs)
        theirs = keras_tuner_part(folder, x, y, args.trials, args.epochs)
    print(f"breast cancer (569 rows, 30 features), {args.trials} trials x {args.epochs} epochs, full batch")
    print(f"{'':34}{'wall time':>10}{'best loss':>11}")
    print(f"{'xornet tune (TPE, median pruner)':34}{ours[0]:>8.1f} s{ours[1]:>11.4f}")
    print(f"{'KerasTuner RandomSearch':34}{theirs[0]:>8.1f} s{theirs[1]:>11.4f}")
    print(f"xornet tune: {theirs[0] / ours[0]:.1f}x less wall time, best loss "
          f"{'at least as good' if ours[1] <= theirs[1] else 'worse'}")


if __name__ == "__main__":
    main()
