"""`xornet tune`: a TPE search whose best config `xornet train` takes unchanged, resumable, with clear errors."""

import csv
import json
import math
import shutil
from pathlib import Path

import yaml

from xornet.config import load_config

REPO = Path(__file__).resolve().parent.parent

SEARCH = ["tune", "configs/seed.yaml", "--search", "training.learning_rate=loguniform(1e-2,1)",
          "--search", "model.layers.0.units=int(2,16)", "--set", "training.epochs=60", "--out", "t"]


def test_tune_writes_the_best_config_a_table_and_a_plot_and_resumes(workdir, xornet):
    result = xornet(*SEARCH, "--trials", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Tune seed-tune-")
    assert ": 3 trials, metric loss (minimised), 1 worker, storage t/study.log\n" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["trial", "training.learning_rate", "model.layers.0.units", "loss"]
    best_line = lines[1].split()
    with open(workdir / "t/trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["trial"] for row in rows] == ["0", "1", "2"] and {row["state"] for row in rows} == {"complete"}
    best_row = min(rows, key=lambda row: float(row["loss"]))
    assert best_line[0] == best_row["trial"] and float(best_line[-1]) == round(float(best_row["loss"]), 4)
    best = load_config(workdir / "t/best.yaml")
    assert best.model.layers[0].units == int(best_row["model.layers.0.units"])
    assert best.training.learning_rate == float(best_row["training.learning_rate"])
    assert best.training.epochs == 60 and yaml.safe_load((workdir / "t/best.yaml").read_text())["name"] == "seed"
    assert best.output.dir == "t/model"  # beside the search, not over the base config's model
    assert (workdir / "t/trials.png").stat().st_size > 5000
    trained = xornet("train", "t/best.yaml", "-q", "--output-dir", "best")
    assert trained.exit_code == 0, trained.stderr
    again = xornet(*SEARCH, "--trials", "4")  # resumes: one more trial
    assert again.exit_code == 0, again.stderr
    with open(workdir / "t/trials.csv") as handle:
        assert [row["trial"] for row in csv.DictReader(handle)] == ["0", "1", "2", "3"]
    study = (workdir / "t/best.yaml").read_text().splitlines()[0].rsplit(" ", 1)[1]
    assert study.startswith("seed-tune-") and again.stderr.startswith(f"Tune {study}: ")

    other = [*SEARCH[:-1], "other", "--trials", "1"]  # another space, another study: its own --out, or --force
    other[other.index("model.layers.0.units=int(2,16)")] = "model.layers.0.units=int(2,8)"
    other[-3] = "t"
    refused = xornet(*other)
    assert (refused.exit_code, refused.stderr.split(", not of ")[0]) == (2, f"error: --out t: holds the results of study {study}")
    assert refused.stderr.endswith("(another config, search space or metric) (hint: pass --out DIR for this search, "
                                   "or --force to replace them)\n")
    assert xornet(*other, "--force").exit_code == 0
    assert (workdir / "t/best.yaml").read_text().splitlines()[0] != f"# xornet tune: the best trial of study {study}"


def test_tune_errors_are_one_clear_line(workdir, xornet):
    bad = xornet("tune", "configs/seed.yaml", "--search", "training.learning_rate=normal(0,1)")
    assert (bad.exit_code, bad.stderr) == (2, "error: --search 'training.learning_rate=normal(0,1)': expected "
                                              "KEY=KIND(...) with KIND one of loguniform, uniform, int, choice, for "
                                              "example training.learning_rate=loguniform(1e-3,1)\n")
    backwards = xornet("tune", "configs/seed.yaml", "--search", "model.layers.0.units=int(8,2)")
    assert backwards.exit_code == 2 and "expected two numbers LOW < HIGH, received [8, 2]" in backwards.stderr
    wrong_key = xornet("tune", "configs/seed.yaml", "--search", "training.learning_rat=uniform(0.1,1)")
    assert wrong_key.exit_code == 2 and wrong_key.stderr.startswith(
        "error: --search training.learning_rat: unknown key training.learning_rat (did you mean 'learning_rate'?); ")
    no_val = xornet(*SEARCH, "--trials", "1", "--metric", "val_loss")  # refused before any trial, nothing written
    assert (no_val.exit_code, no_val.stderr) == (
        2, "error: --metric val_loss: the config has no validation split (data.validation or data.validation_path) "
           "(hint: use --metric loss)\n")
    assert not (workdir / "t").exists()
    no_seed = xornet(*SEARCH, "--trials", "1", "--set", "seed=null")
    assert (no_seed.exit_code, no_seed.stderr) == (
        2, "error: configs/seed.yaml: seed is null, so every trial would draw its own split and initial weights and "
           "trials would not be compared on the same rows (hint: set seed: 42 in the config, or --set seed=42)\n")
    no_metric = xornet(*SEARCH, "--trials", "1", "--metric", "auc")
    assert (no_metric.exit_code, no_metric.stderr) == (  # refused before any trial
        2, "error: --metric auc: the training history has no auc (it has loss, accuracy) (hint: use --metric loss)\n")
    assert not (workdir / "t").exists()


CANCER = ["tune", "configs/breast_cancer.yaml", "--metric", "val_loss", "--set", "training.epochs=20", "--out", "t"]
UNITS = ["--search", "model.layers.0.units=int(2,32)"]


def _cancer_workdir(workdir):
    (workdir / "data").mkdir()
    shutil.copy(REPO / "data/breast_cancer.csv", workdir / "data/breast_cancer.csv")


def test_tune_scores_a_trial_by_the_weights_early_stopping_keeps(workdir, xornet):
    # configs/breast_cancer.yaml stops early on val_loss and restores the best weights: a trial's val_loss is
    # its best epoch's (KerasTuner's rule), which is the validation loss of the model `xornet train` keeps.
    _cancer_workdir(workdir)
    result = xornet(*CANCER, "--search", "training.learning_rate=loguniform(1e-3,1e-1)", *UNITS, "--trials", "2")
    assert result.exit_code == 0, result.stderr
    with open(workdir / "t/trials.csv") as handle:
        best_row = min(csv.DictReader(handle), key=lambda row: float(row["val_loss"]))
    best = yaml.safe_load((workdir / "t/best.yaml").read_text())
    assert (best["data"]["path"], best["output"]["dir"]) == ("../data/breast_cancer.csv", "t/model")  # portable
    trained = xornet("train", "t/best.yaml", "-q")
    assert trained.exit_code == 0, trained.stderr
    record = json.loads((workdir / "t/model/basic_run.json").read_text())
    with open(workdir / "t/model/basic_history.csv") as handle:
        val_losses = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    assert abs(float(best_row["val_loss"]) - min(val_losses)) < 1e-6
    assert abs(float(best_row["val_loss"]) - record["held_out"]["validation"]["loss"]) < 1e-5
    assert val_losses[-1] > min(val_losses) + 1e-3  # the last epoch's would be another (worse) number
    assert int(best_row["epochs"]) == len(val_losses)


def test_tune_prunes_only_trials_that_stopped_improving_and_never_in_the_first_fifth(workdir, xornet):
    from optuna.trial import TrialState

    from xornet.sweep import open_study

    _cancer_workdir(workdir)
    result = xornet(*CANCER, "--search", "training.learning_rate=loguniform(1e-4,1)", *UNITS, "--trials", "8")
    assert result.exit_code == 0, result.stderr
    study = open_study("t/study.log", result.stderr.split(":")[0].removeprefix("Tune ")).optuna
    pruned = [t.intermediate_values for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(max(scores) >= 20 // 5 for scores in pruned)
    for scores in pruned:  # patience 2 (a tenth of 20 epochs): its last 3 epochs beat none before
        last = max(scores)
        assert min(scores[last - 2], scores[last - 1], scores[last]) > min(scores[s] for s in range(1, last - 2))


def test_diverging_trials_count_against_trials_and_are_summed_up_without_a_traceback(workdir, xornet):
    """A trial whose loss becomes NaN or inf fails and counts: a space where every trial diverges still ends."""
    diverging = ["tune", "configs/xor.yaml", "--set", "training.epochs=20", "--trials", "3"]
    mixed = xornet(*diverging, "--search", "training.learning_rate=loguniform(1e37,3e38)", "--out", "mixed")
    assert mixed.exit_code == 0, mixed.stderr
    assert "Traceback" not in mixed.stderr and "failed" not in mixed.stderr
    with open(workdir / "mixed/trials.csv") as handle:
        states = [row["state"] for row in csv.DictReader(handle)]
    assert states == ["complete", "fail", "fail"]
    assert "\n1 complete, 0 pruned, 2 diverged (the loss became NaN or inf) in " in mixed.stdout
    every = xornet(*diverging, "--search", "training.learning_rate=loguniform(1e38,3e38)", "--out", "every")
    assert (every.exit_code, every.stderr.splitlines()[-1]) == (
        1, "error: no trial completed: 3 diverged (the loss became NaN or inf) "
           "(hint: narrow the search (a lower learning rate) or run more --trials)")
    assert "Traceback" not in every.stderr


def test_tpe_samples_half_of_a_small_budget_at_random_before_it_models_the_good_trials(tmp_path):
    import optuna

    from xornet.tune import open_tune_study, parse_search, suggest

    space = parse_search(["training.learning_rate=loguniform(1e-3,1)", "model.layers.0.units=int(2,64)"])

    def params(study, trials):
        def score(trial):
            values = suggest(trial, space)
            return abs(math.log10(values["training.learning_rate"]) + 2) + values["model.layers.0.units"] / 64
        study.optimize(score, n_trials=trials)
        return [t.params for t in study.trials]

    for trials, startup in ((10, 5), (50, 10)):
        tuned = params(open_tune_study(str(tmp_path / f"{trials}.log"), "s", 7, trials, 20), startup + 1)
        random = params(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7)), startup + 1)
        assert tuned[:startup] == random[:startup] and tuned[startup] != random[startup]


def test_tune_maximises_accuracy_like_metrics_as_keras_does_and_minimises_losses(workdir, xornet):
    """Keras' mode="auto" rule: val_accuracy is maximised (its metric's direction is up), val_loss minimised;
    the table, the best trial line, best.yaml and the study all follow it."""
    from xornet.sweep import open_study
    from xornet.tune import metric_direction

    assert [metric_direction(m) for m in ("loss", "val_loss", "accuracy", "val_accuracy", "val_auc", "precision",
                                          "recall", "mean_squared_error", "val_mean_absolute_error")] == [
        "minimize", "minimize", "maximize", "maximize", "maximize", "maximize", "maximize", "minimize", "minimize"]
    _cancer_workdir(workdir)
    search = ["tune", "configs/breast_cancer.yaml", "--search", "training.learning_rate=loguniform(0.001,0.1)",
              "--trials", "3", "--set", "training.epochs=10", "--metric", "val_accuracy"]
    result = xornet(*search, "--out", "t")
    assert result.exit_code == 0, result.stderr
    assert ": 3 trials, metric val_accuracy (maximised), 1 worker, " in result.stderr
    with open(workdir / "t/trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    scores = [float(row["val_accuracy"]) for row in rows]
    assert max(scores) > min(scores)  # else the test could not tell the best from the worst
    table = [line.split() for line in result.stdout.splitlines()[1:4]]
    assert [float(line[-1]) for line in table] == sorted((round(v, 4) for v in scores), reverse=True)
    best_row = rows[int(table[0][0])]
    assert float(best_row["val_accuracy"]) == max(scores)
    assert f"; best trial {best_row['trial']}: val_accuracy {max(scores):.4f}; wrote " in result.stdout
    assert load_config(workdir / "t/best.yaml").training.learning_rate == float(best_row["training.learning_rate"])

    (workdir / "old").mkdir()
    open_study("old/study.log", "s")  # a study made to minimise (as xornet did for every metric) is not reused
    reopened = xornet(*search, "--out", "old", "--study", "s")
    assert (reopened.exit_code, reopened.stderr) == (
        2, "error: --metric val_accuracy: study s in old/study.log was created to minimize its metric, but "
           "val_accuracy is to maximize (Keras' rule for val_accuracy) (hint: pass --study NAME for a new study, "
           "or --out DIR for a new search)\n")


def test_tune_refuses_a_metric_the_history_does_not_have_before_any_trial(workdir, xornet):
    _cancer_workdir(workdir)
    result = xornet(*CANCER[:3], "nosuch", *CANCER[4:], *UNITS, "--trials", "1")
    assert (result.exit_code, result.stderr) == (
        2, "error: --metric nosuch: the training history has no nosuch (it has loss, accuracy, val_loss, "
           "val_accuracy) (hint: use --metric loss)\n")
    assert not (workdir / "t").exists()


def test_tune_of_epochs_reported_part_way_scores_whole_epochs(workdir, xornet, monkeypatch):
    """Long epochs report progress part way, without logs (here: streamed in record batches of 200 rows)."""
    import numpy as np

    from xornet.data import stream as streaming

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 2))
    rows = "".join(f"{a:.4f},{b:.4f},{int(a + b > 0)}\n" for a, b in x)
    (workdir / "rows.csv").write_text("a,b,y\n" + rows)
    (workdir / "long.yaml").write_text(
        "name: long\nseed: 1\ndata: {path: rows.csv, label: y, validation: 0.2, stream: true}\n"
        "model:\n  layers:\n    - {type: Dense, units: 4, activation: tanh}\n"
        "    - {type: Dense, units: 1, activation: sigmoid}\n"
        "training: {optimizer: adam, epochs: 3, batch_size: 32}\noutput: {dir: out}\n")
    monkeypatch.setattr(streaming, "READ_ROWS", 200)  # five chunks an epoch: progress part way through each
    result = xornet("tune", "long.yaml", "--search", "training.learning_rate=loguniform(1e-3,1e-1)", "--trials", "2",
                    "--metric", "val_loss", "--out", "t")
    assert result.exit_code == 0, result.stderr
    with open(workdir / "t/trials.csv") as handle:
        trials = list(csv.DictReader(handle))
    assert [(t["state"], t["epochs"]) for t in trials] == [("complete", "3")] * 2


def test_the_table_shows_the_best_ten_trials_and_says_how_many_it_leaves_out():
    import optuna

    from xornet.tune import format_table

    study = optuna.create_study()
    for number in range(12):
        study.add_trial(optuna.trial.create_trial(value=1 / (number + 1), user_attrs={"params": {"lr": number / 10}}))
    lines = format_table(study, {"lr": None}, "loss").splitlines()
    assert lines[0].split() == ["trial", "lr", "loss"] and lines[1].split() == ["11", "1.1", "0.0833"]
    assert len(lines) == 12 and lines[-1] == "(the best 10 of 12 complete trials; trials.csv lists every trial)"
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED))
    assert format_table(study, {"lr": None}, "loss").splitlines()[-1].startswith("(the best 10 of 12 complete")
