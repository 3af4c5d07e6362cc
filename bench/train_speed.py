"""Training speed: plain Keras `model.fit`, xornet's trainer and a NumPy loop, side by side.

Run:  python bench/train_speed.py            (about a minute: model.fit is slow)
      python bench/train_speed.py --quick    (skips model.fit at 1,000 epochs)

All three train the reference XOR network from the same initial weights on the
same data with full-batch SGD (learning rate 0.1). Printed per way and epoch
count: seconds per epoch, the ratio to xornet, and the largest loss difference
from `model.fit`. Then the whole `xornet train configs/xor.yaml` command against
`python -c "import tensorflow"`, alternated, medians of several runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from xornet.config import Config, TrainingConfig  # noqa: E402
from xornet.data import truth_table  # noqa: E402
from xornet.network import build_model, compile_model  # noqa: E402
from xornet.trainer import train_model  # noqa: E402

SEED = 42


def fresh_model(training):
    model = build_model(Config(), 2, SEED)
    compile_model(model, training)
    return model


def numpy_loop(weights, x, y, epochs, learning_rate=0.1):
    """The same maths by hand: tanh hidden layer, sigmoid output, binary cross-entropy, SGD."""
    w1, b1, w2, b2 = (w.astype("float32").copy() for w in weights)
    losses = np.empty(epochs, dtype="float32")
    n = np.float32(len(x))
    eps = np.float32(1e-7)
    for epoch in range(epochs):
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        p = 1 / (1 + np.exp(-z))
        pc = np.clip(p, eps, 1 - eps)
        losses[epoch] = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        dz = (p - y) / n
        dh = (dz @ w2.T) * (1 - h * h)
        w2 -= learning_rate * (h.T @ dz)
        b2 -= learning_rate * dz.sum(axis=0)
        w1 -= learning_rate * (x.T @ dh)
        b1 -= learning_rate * dh.sum(axis=0)
    return losses


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def train_loop_bench(fit_epochs, epoch_counts):
    data = truth_table("xor")
    x, y = data.x, data.y
    initial = fresh_model(TrainingConfig()).get_weights()
    rows = []
    fit_losses = {}
    for epochs in epoch_counts:
        training = TrainingConfig(epochs=epochs, shuffle=False)
        model = fresh_model(training)
        xornet_time, result = timed(lambda: train_model(model, x, y, training, seed=SEED))
        ours = np.array(result.history["loss"])
        numpy_time, numpy_losses = timed(lambda: numpy_loop(initial, x, y, epochs))
        fit_time = None
        if epochs in fit_epochs:
            model = fresh_model(training)
            fit_time, fitted = timed(lambda: model.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=0))
            fit_losses[epochs] = np.array(fitted.history["loss"])
        reference = fit_losses.get(epochs)
        diff = lambda losses: float(np.max(np.abs(losses - reference) / np.abs(reference))) if reference is not None else None
        rows.append((epochs, "keras model.fit", fit_time, None))
        rows.append((epochs, "xornet trainer", xornet_time, diff(ours)))
        rows.append((epochs, "numpy loop", numpy_time, diff(numpy_losses)))
        rows[-3:] = [(e, way, t, d, xornet_time) for e, way, t, d in rows[-3:]]
    print(f"{'epochs':>7}  {'way':<16} {'ms/epoch':>9} {'vs xornet':>10}  {'max rel. loss diff vs fit':>26}")
    for epochs, way, seconds, loss_diff, xornet_time in rows:
        if seconds is None:
            continue
        per_epoch = seconds / epochs * 1000
        ratio = seconds / xornet_time
        shown = "(reference)" if way == "keras model.fit" else ("-" if loss_diff is None else f"{loss_diff:.2e}")
        print(f"{epochs:>7}  {way:<16} {per_epoch:>9.4f} {ratio:>9.2f}x  {shown:>26}")


def whole_command_bench(repeats):
    python = sys.executable
    script = Path(python).parent / "xornet"
    work = Path(tempfile.mkdtemp())
    shutil.copytree(REPO / "configs", work / "configs")
    commands = {
        "xornet train configs/xor.yaml": [str(script), "train", "configs/xor.yaml", "--quiet", "--force"],
        'python -c "import tensorflow"': [python, "-c", "import tensorflow"],
    }
    times = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=work, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    shutil.rmtree(work)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\nwhole command, median of {repeats} alternated runs:")
    for name, value in medians.items():
        print(f"  {name:<32} {value:6.2f} s")
    train, imports = medians.values()
    print(f"  difference: {train - imports:+.2f} s (xornet train beyond importing TensorFlow)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip model.fit at 1,000 epochs")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each whole command")
    args = parser.parse_args()
    fit_epochs = {100} if args.quick else {100, 1000}
    train_loop_bench(fit_epochs, [100, 1000, 10000])
    whole_command_bench(args.repeats)


if __name__ == "__main__":
    main()
