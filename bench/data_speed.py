"""Reading, training and predicting on big CSV files: xornet against plain pandas + Keras, side by side.

The issue's setup: a synthetic CSV of 8 numeric features and a 0/1 label;
Dense(32, relu), Dense(32, relu), Dense(1, sigmoid); Adam; batch 256; 5 epochs.
Each competitor runs in its own process; its wall time and peak memory (the
child's own max RSS, from os.wait4) are printed with the ratios.

    python bench/data_speed.py                 # 10k, 100k, 1M and 10M rows (several minutes)
    python bench/data_speed.py --rows 100000   # a quick run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from measuring import run_measured, tabular_config
FEATURES = 8

# Each read prints its time and its peak memory growth: the peak resident memory
# (reset just before, through /proc/self/clear_refs) less the memory resident before.
# A first read of the file's first 1,000 rows loads the readers' code and threads,
# so that the growth is the data's.
GROWTH = """
def status(field):
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(field))
def start():
    open("/proc/self/clear_refs", "w").write("5")  # resets the peak to what is resident now
    return status("VmRSS"), time.perf_counter()
def stop(before):
    print(time.perf_counter() - before[1], status("VmHWM") - before[0])
"""

READ_XORNET = """
import sys, time
from xornet.data import load_file
""" + GROWTH + """
load_file(sys.argv[2], label="y")
before = start()
data = load_file(sys.argv[1], label="y")
stop(before)
"""

READ_PANDAS = """
import sys, time
import pandas as pd
""" + GROWTH + """
pd.read_csv(sys.argv[2])
before = start()
frame = pd.read_csv(sys.argv[1])
x = frame.drop(columns="y").to_numpy("float32"); y = frame["y"].to_numpy("float32")
stop(before)
"""

TRAIN_PLAIN = """
import sys
import pandas as pd
import keras
frame = pd.read_csv(sys.argv[1])
x = frame.drop(columns="y").to_numpy("float32"); y = frame["y"].to_numpy("float32")
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input(shape=(x.shape[1],)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=256, epochs=5, verbose=0)
open(sys.argv[2] + "/plain_model.json", "w").write(model.to_json())
model.save_weights(sys.argv[2] + "/plain.weights.h5")
"""

PREDICT_PLAIN = """
import sys
import pandas as pd
import keras
model = keras.models.model_from_json(open(sys.argv[2]).read())
model.load_weights(sys.argv[3])
frame = pd.read_csv(sys.argv[1]).drop(columns="y")
p = model.predict(frame.to_numpy("float32"), batch_size=65536, verbose=0)
frame["probability"] = p[:, 0]
frame["class"] = (p[:, 0] > 0.5).astype(int)
frame.to_csv(sys.argv[4], index=False)
"""


def make_csv(path: Path, rows: int) -> None:
    """8 features of different scales and a label that depends on them (written by pyarrow, in blocks)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(FEATURES)] + ["y"]
    schema = pa.schema([(n, pa.float32()) for n in names[:-1]] + [("y", pa.int8())])
    path.write_text(",".join(names) + "\n")
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "ab") as sink, pacsv.CSVWriter(sink, schema, write_options=options) as out:
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            x = (rng.normal(size=(n, FEATURES)) * np.logspace(0, 2, FEATURES)).round(4).astype("float32")
            y = (x[:, 0] + x[:, 1] / 10 > 0).astype("int8")
            out.write_table(pa.table([*(x[:, i] for i in range(FEATURES)), y], names=names))


def row(label: str, ours: tuple, theirs: tuple) -> str:
    return (f"{label:<28} {ours[0]:>9.2f} s {ours[1]:>8.0f} MiB   {theirs[0]:>9.2f} s {theirs[1]:>8.0f} MiB"
            f"   {theirs[0] / ours[0]:>6.2f}x  {ours[1] / theirs[1]:>5.2f}")


def bench(rows: int, work: Path, train: bool, predict: bool, repeats: int) -> None:
    csv = work / f"rows_{rows}.csv"
    if not csv.exists():
        make_csv(csv, rows)
    py = sys.executable
    print(f"\n{rows:,} rows ({csv.stat().st_size / 2**20:.0f} MiB CSV, float32 features {rows * FEATURES * 4 / 2**20:.0f} MiB)")
    print(f"{'':<28} {'xornet':>22}   {'plain pandas + Keras':>24}   {'speed-up':>7}  {'memory':>5}")
    head = work / "head.csv"
    with open(csv) as source:
        head.write_text("".join(source.readline() for _ in range(1001)))
    # Reading takes a fraction of a second, where this shared machine's noise is as large as the gap:
    # the two readers take turns `repeats` times and each figure is the median of its runs.
    runs = {"ours": [], "theirs": []}
    for _ in range(repeats):
        runs["ours"].append(run_measured([py, "-c", READ_XORNET, str(csv), str(head)]))
        runs["theirs"].append(run_measured([py, "-c", READ_PANDAS, str(csv), str(head)]))
    inner = [tuple(np.median([(float(run[2].split()[0]), float(run[2].split()[1]) / 2**20) for run in runs[side]],
                             axis=0)) for side in ("ours", "theirs")]
    whole = [tuple(np.median([run[:2] for run in runs[side]], axis=0)) for side in ("ours", "theirs")]
    print(row("read CSV (the read itself)", *inner) + f"  (median of {repeats} turns each; memory: peak growth)")
    print(row("read CSV (whole process)", *whole))
    features, data = rows * FEATURES * 4 / 2**20, rows * (FEATURES + 1) * 4 / 2**20
    for name, (_, growth) in zip(("xornet", "pandas"), inner):
        print(f"{'':<28} {name} grows by {growth / features:.2f}x the float32 feature array ({features:.0f} MiB), "
              f"{growth / data:.2f}x features and label ({data:.0f} MiB)")
    if not train:
        return
    out = work / f"out_{rows}"
    out.mkdir(exist_ok=True)
    config = work / f"bench_{rows}.yaml"
    config.write_text(tabular_config(csv, out))
    ours = run_measured([py, "-m", "xornet", "train", str(config), "--force", "--quiet"])
    theirs = run_measured([py, "-c", textwrap.dedent(TRAIN_PLAIN), str(csv), str(out)])
    print(row("train, whole command", ours, theirs))
    if not predict:
        return
    with open(work / "ours.csv", "w") as sink:
        ours = run_measured([py, "-m", "xornet", "predict", "-m", str(out / "basic_model.json"), "-i", str(csv),
                        "--format", "csv"], stdout=sink)
    theirs = run_measured([py, "-c", PREDICT_PLAIN, str(csv), str(out / "plain_model.json"),
                      str(out / "plain.weights.h5"), str(work / "theirs.csv")])
    print(row("predict CSV -> CSV", ours, theirs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000,10000000",
                        help="comma-separated row counts [default: 10k, 100k, 1M, 10M]")
    parser.add_argument("--read-only", action="store_true", help="only reading (no training or predicting)")
    parser.add_argument("--no-predict", action="store_true", help="skip the predict comparison")
    parser.add_argument("--dir", type=Path, default=None, help="where to keep the CSV files [default: a temp dir]")
    parser.add_argument("--repeats", type=int, default=5, help="turns each reader takes; medians are shown [5]")
    options = parser.parse_args()
    print("time and peak RSS per process; speed-up = plain time / xornet time; memory = xornet peak / plain peak")
    with tempfile.TemporaryDirectory() as temp:
        work = options.dir or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        for rows in (int(r) for r in options.rows.split(",")):
            bench(rows, work, not options.read_only, not options.read_only and not options.no_predict,
                  options.repeats)


if __name__ == "__main__":
    main()
