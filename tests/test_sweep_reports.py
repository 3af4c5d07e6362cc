"""`xornet sweep` reports: one set of files per sweep (never another grid's), repeated grid values merged, and a
fingerprint per setting row."""

import csv

from xornet.sweep import open_study

BASE = ["sweep", "configs/seed.yaml", "--seeds", "2", "--set", "training.epochs=20", "--target-loss", "0.5",
        "--out", "sw"]


def study_of(result):
    """The study name from the first stderr line `Sweep NAME: ...`."""
    line = next(line for line in result.stderr.splitlines() if line.startswith("Sweep "))
    return line.split()[1].rstrip(":")


def wrote(result):
    """The files the last stdout line says were written."""
    return result.stdout.splitlines()[-1].split("; wrote ")[1].split(", ")


def rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_sweep_of_another_grid_keeps_the_earlier_report(workdir, xornet):
    first = xornet(*BASE, "--grid", "training.learning_rate=0.1,0.5")
    assert first.exit_code == 0, first.stderr
    study = study_of(first)
    summary, picture, config = wrote(first)
    report_id = summary.removeprefix(f"sw/{study}/summary-").removesuffix(".csv")
    assert len(report_id) == 8
    assert [picture, config] == [f"sw/{study}/convergence-{report_id}.png", f"sw/{study}/config-{report_id}.yaml"]
    # The same runs in another order: the same report, written to the same files.
    again = xornet(*BASE, "--grid", "training.learning_rate=0.5,0.1")
    assert again.stderr.splitlines()[0] == (
        f"Sweep {study}: 4 runs (2 settings x 2 seeds), 0 to run, 1 worker, storage sw/study.log")
    assert wrote(again) == [summary, picture, config]
    kept = (workdir / summary).read_text()
    assert [row["training.learning_rate"] for row in rows(summary)] == ["0.5", "0.1"]
    # Another grid: the same study (it reuses the 0.5 runs), a report of its own settings in new files.
    other = xornet(*BASE, "--grid", "training.learning_rate=0.2,0.5")
    assert other.exit_code == 0, other.stderr
    assert other.stderr.splitlines() == [
        f"Sweep {study}: 4 runs (2 settings x 2 seeds), 2 to run, 1 worker, storage sw/study.log",
        ("reused 2 finished runs: same fingerprint (SHA-256 of the resolved config with its setting and seed, and of "
         "the data) as a planned run")]
    (other_summary, _, _) = wrote(other)
    assert other_summary != summary
    assert [row["training.learning_rate"] for row in rows(other_summary)] == ["0.2", "0.5"]
    assert (workdir / summary).read_text() == kept
    other_id = other_summary.removeprefix(f"sw/{study}/summary-").removesuffix(".csv")
    assert sorted(p.name for p in (workdir / "sw" / study).iterdir()) == sorted(
        f"{stem}-{rid}{suffix}" for rid in (report_id, other_id)
        for stem, suffix in [("summary", ".csv"), ("convergence", ".png"), ("config", ".yaml")])
    # Another target loss is another report too (the figures differ), from the same runs.
    target = xornet(*BASE, "--grid", "training.learning_rate=0.2,0.5", "--target-loss", "0.6")
    assert "0 to run" in target.stderr and wrote(target)[0] not in (summary, other_summary)


def test_repeated_grid_values_are_merged_with_a_note(workdir, xornet):
    result = xornet(*BASE, "--grid", "training.learning_rate=0.1,0.10,0.1")
    assert result.exit_code == 0, result.stderr
    study = study_of(result)
    assert result.stderr.splitlines() == [
        "note: --grid training.learning_rate=0.1,0.10,0.1: 0.10 gives the same config as 0.1: merged into one setting",
        "note: --grid training.learning_rate=0.1,0.10,0.1: 0.1 is repeated: merged into one setting",
        f"Sweep {study}: 2 runs (1 setting x 2 seeds), 2 to run, 1 worker, storage sw/study.log",
        "reused 0 finished runs: no finished run in the study trains the same resolved config"]
    table = result.stdout.splitlines()
    assert table[1].startswith("training.learning_rate=0.1 ") and table[2] == ""
    trials = open_study(str(workdir / "sw/study.log"), study).optuna.trials
    assert [(t.state.name, t.user_attrs["params"]["seed"]) for t in trials] == [("COMPLETE", 0), ("COMPLETE", 1)]
    # The merged sweep is the sweep of its one value: the same report files, every run reused.
    single = xornet(*BASE, "--grid", "training.learning_rate=0.1")
    assert "reused 2 finished runs" in single.stderr and wrote(single) == wrote(result)
    # A KEY given in two --grid options: its values are added up, repeats merged.
    split = xornet(*BASE, "--grid", "training.learning_rate=0.1", "--grid", "training.learning_rate=0.5,0.1")
    assert split.stderr.splitlines()[:2] == [
        ("note: --grid training.learning_rate=0.1 --grid training.learning_rate=0.5,0.1: 0.1 is repeated: merged "
         "into one setting"),
        f"Sweep {study}: 4 runs (2 settings x 2 seeds), 2 to run, 1 worker, storage sw/study.log"]


def test_each_report_row_has_the_fingerprint_of_its_own_config(workdir, xornet):
    result = xornet(*BASE, "--grid", "training.learning_rate=0.1,0.5")
    assert result.exit_code == 0, result.stderr
    by_rate = {row["training.learning_rate"]: row["config_fingerprint"] for row in rows(wrote(result)[0])}
    assert len(set(by_rate.values())) == 2 and all(len(mark) == 64 for mark in by_rate.values())
    # It is the `setting` attribute of the row's runs in the study ...
    for trial in open_study(str(workdir / "sw/study.log"), study_of(result)).optuna.trials:
        assert trial.user_attrs["setting"] == by_rate[str(trial.user_attrs["params"]["training.learning_rate"])]
    # ... and the fingerprint of the same config reached with --set instead of --grid.
    alone = xornet(*BASE, "--set", "training.learning_rate=0.5")
    assert alone.exit_code == 0, alone.stderr
    assert [row["config_fingerprint"] for row in rows(wrote(alone)[0])] == [by_rate["0.5"]]
