"""Prediction on large CSV inputs: `xornet predict` against a plain Keras script, in one run.

Run:  python bench/predict_speed.py            (1,000,000 rows; also 100,000 for the memory check)
      python bench/predict_speed.py --rows 200000

Both read the same CSV of inputs, predict with the shipped model
(models/basic_model.json + basic_weights.h5) and write CSV predictions to a
file. The plain script is what a Keras user would write: `np.loadtxt`, then
`model.predict` with its default batch size, then `np.savetxt`. Printed: rows
per second and peak memory (resident set) of each process, and the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from measuring import REPO, run_measured

PLAIN_KERAS = """
import sys
import numpy as np
import keras
model = keras.models.model_from_json(open(sys.argv[1]).read())
model.load_weights(sys.argv[2])
x = np.loadtxt(sys.argv[3], delimiter=",", dtype="float32", ndmin=2)
p = model.predict(x, verbose=0)
np.savetxt(sys.argv[4], np.hstack([x, p, (p > 0.5).astype("float32")]), delimiter=",", fmt="%g")
"""


def write_inputs(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    np.savetxt(path, rng.random((rows, 2), dtype="float32"), delimiter=",", fmt="%.4f")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    model = REPO / "models/basic_model.json"
    weights = REPO / "models/basic_weights.h5"
    xornet = str(Path(sys.executable).parent / "xornet")
    work = Path(tempfile.mkdtemp())
    script = work / "plain_keras_predict.py"
    script.write_text(PLAIN_KERAS)
    sizes = sorted({args.rows // 10, args.rows})
    results = {}
    for rows in sizes:
        inputs = work / f"in_{rows}.csv"
        write_inputs(inputs, rows)
        results[rows] = {
            "xornet predict": run_measured([xornet, "predict", "-m", str(model), "-w", str(weights),
                                            "--input", str(inputs), "--format", "csv"], subprocess.DEVNULL)[:2],
        }
        if rows == args.rows:
            results[rows]["plain keras script"] = run_measured(
                [sys.executable, str(script), str(model), str(weights), str(inputs), str(work / "out.csv")],
                subprocess.DEVNULL)[:2]
    print(f"{'rows':>9}  {'way':<20} {'seconds':>8} {'rows/s':>10} {'peak MiB':>9}")
    for rows, ways in results.items():
        for way, (seconds, peak) in ways.items():
            print(f"{rows:>9}  {way:<20} {seconds:>8.2f} {rows / seconds:>10,.0f} {peak:>9.0f}")
    big = results[args.rows]
    (ours, our_peak), (theirs, their_peak) = big["xornet predict"], big["plain keras script"]
    print(f"\nxornet predict: {theirs / ours:.1f}x the rows per second of the plain Keras script at {args.rows:,} rows; "
          f"peak memory {our_peak:.0f} MiB vs {their_peak:.0f} MiB")
    small_peak = results[sizes[0]]["xornet predict"][1]
    print(f"xornet predict peak memory: {small_peak:.0f} MiB at {sizes[0]:,} rows, {our_peak:.0f} MiB at "
          f"{args.rows:,} rows ({our_peak / small_peak:.2f}x for {args.rows // sizes[0]}x the rows)")


if __name__ == "__main__":
    main()
