"""Streamed against in-memory training on big CSV and Parquet files, side by side in one run.

A synthetic file of 8 float features and a 0/1 label (written in chunks, in a
temporary directory that is deleted afterwards); Dense(32, relu), Dense(32,
relu), Dense(1, sigmoid); Adam; batch 256. Each `xornet train` runs in its
own process, with `data.stream: false` (in memory) and `data.stream: true`;
its peak memory is the child's own max RSS (os.wait4). Printed: peak memory,
training throughput (rows x epochs / the run record's train_seconds) and the
whole command's wall time, with the streamed/in-memory ratios, and the 1M vs
10M peak-memory ratio of the streamed runs (the target: within 10%). The
runs of the two modes alternate, --repeat times each (default 2), and each
mode's fastest training and highest peak memory are kept: other processes on
a shared machine slow one run, not the fastest of several.

    python bench/stream_speed.py                        # 1M and 10M rows, CSV and Parquet (many minutes)
    python bench/stream_speed.py --rows 1000000         # one size
    python bench/stream_speed.py --rows 1000000,10000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from measuring import run_measured, tabular_config
FEATURES = 8
CHUNK_ROWS = 1_000_000

def write_files(directory: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """A CSV and/or Parquet file of `rows` synthetic rows, written CHUNK_ROWS at a time."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    names = [f"f{i}" for i in range(FEATURES)] + ["y"]
    schema = pa.schema([(name, pa.float32()) for name in names])
    paths = {kind: directory / f"rows_{rows}.{kind}" for kind in formats}
    writers = {}
    if "csv" in paths:
        writers["csv"] = pacsv.CSVWriter(paths["csv"], schema)
    if "parquet" in paths:
        writers["parquet"] = pq.ParquetWriter(paths["parquet"], schema)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=FEATURES)
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        x = rng.normal(size=(n, FEATURES)).astype("float32")
        y = ((x @ weights + rng.normal(scale=0.5, size=n)) > 0).astype("float32")
        table = pa.table([pa.array(x[:, i]) for i in range(FEATURES)] + [pa.array(y)], schema=schema)
        for writer in writers.values():
            writer.write_table(table)
    for writer in writers.values():
        writer.close()
    return paths


def run_train(directory: Path, data: Path, stream: bool, epochs: int) -> dict:
    """`xornet train` in its own process: wall seconds, peak RSS (MB) and train_seconds of its record."""
    out = directory / f"out_{data.suffix[1:]}_{'stream' if stream else 'memory'}"
    config = directory / f"{out.name}.yaml"
    config.write_text(tabular_config(data, out, epochs, stream))
    wall, peak_mib, _ = run_measured([sys.executable, "-m", "xornet", "train", str(config), "-q", "--force"],
                                     stdout=subprocess.DEVNULL, cwd=directory)
    record = json.loads((out / "basic_run.json").read_text())
    return {"wall": wall, "peak_mb": peak_mib, "train_seconds": record["train_seconds"],
            "loss": record["final"]["loss"], "engine": record["engine"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=lambda text: [int(n) for n in text.split(",")], nargs="+",
                        default=[[1_000_000, 10_000_000]], help="row counts, e.g. 1000000,10000000")
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"], choices=["csv", "parquet"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each mode, alternating; the fastest counts")
    args = parser.parse_args()
    args.rows = [rows for group in args.rows for rows in group]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start (other processes slow the runs)")
    print(f"{'rows':>10} {'format':>7} {'mode':>7} {'peak MB':>8} {'train s':>8} {'rows/s':>10} {'wall s':>7} "
          f"{'final loss':>10}")
    peaks: dict[tuple[str, int], float] = {}
    ratios = []
    with tempfile.TemporaryDirectory(prefix="xornet_stream_bench_") as temp:
        directory = Path(temp)
        for rows in args.rows:
            paths = write_files(directory, rows, args.formats)
            for kind, path in paths.items():
                results = {}
                for _ in range(args.repeat):
                    for stream in (False, True):
                        mode = "stream" if stream else "memory"
                        r = run_train(directory, path, stream, args.epochs)
                        r["speed"] = rows * args.epochs / r["train_seconds"]
                        print(f"{rows:>10} {kind:>7} {mode:>7} {r['peak_mb']:>8.0f} {r['train_seconds']:>8.2f} "
                              f"{r['speed']:>10,.0f} {r['wall']:>7.1f} {r['loss']:>10.4f}", flush=True)
                        best = results.setdefault(mode, r)
                        best["peak_mb"] = max(best["peak_mb"], r["peak_mb"])
                        best["speed"], best["wall"] = max(best["speed"], r["speed"]), min(best["wall"], r["wall"])
                memory, streamed = results["memory"], results["stream"]
                peaks[(kind, rows)] = streamed["peak_mb"]
                ratios.append(f"{rows:>10} {kind:>7}: streamed/in-memory highest peak memory "
                              f"{streamed['peak_mb'] / memory['peak_mb']:.2f}, fastest training rows/s "
                              f"{streamed['speed'] / memory['speed']:.2f} (target >= 0.70), whole command "
                              f"{memory['wall'] / streamed['wall']:.2f}x the speed (fastest of each)")
                print(ratios[-1], flush=True)
            for path in paths.values():
                path.unlink()
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("\n".join(ratios))
    for kind in args.formats:
        sizes = sorted(rows for k, rows in peaks if k == kind)
        if len(sizes) > 1:
            small, large = peaks[(kind, sizes[0])], peaks[(kind, sizes[-1])]
            print(f"{kind}: streamed highest peak memory at {sizes[-1]:,} rows / at {sizes[0]:,} rows: "
                  f"{large / small:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
