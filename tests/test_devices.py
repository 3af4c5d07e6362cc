"""training.devices: data-parallel training on 2 CPU logical devices equals 1 device on the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
CASES = ["xor:fast:null:1", "xor:fast:null:2", "xor:fast:2:1", "xor:fast:2:2", "xor:fast:3:1", "xor:fast:3:2",
         "xor:keras:null:1", "xor:keras:null:2", "xor:keras:2:1", "xor:keras:2:2", "xor:keras:3:2",
         "iris:fast:16:1", "iris:fast:16:2", "iris:keras:16:1", "iris:keras:16:2"]


@pytest.fixture(scope="module")
def runs():
    """Each case's per-epoch losses and final weights, trained with the CPU split into 2 devices."""
    env = dict(os.environ, XORNET_CPU_DEVICES="2")
    done = subprocess.run([sys.executable, str(REPO / "tests" / "devices_compare.py"), *CASES],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {run["case"]: run for run in json.loads(done.stdout)}


def assert_same(a, b):
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(a["val_loss"] or [], b["val_loss"] or [], rtol=0, atol=1e-5)
    for wa, wb in zip(a["weights"], b["weights"], strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-5)


@pytest.mark.parametrize("engine", ["fast", "keras"])
@pytest.mark.parametrize("batch", ["null", "2"])
def test_two_devices_train_as_one(runs, engine, batch):
    one, two = runs[f"xor:{engine}:{batch}:1"], runs[f"xor:{engine}:{batch}:2"]
    assert (one["devices"], two["devices"]) == ([], ["CPU:0", "CPU:1"])
    assert len(two["loss"]) == 5
    assert_same(one, two)


def test_an_uneven_split(runs):
    """Batch 3 on 2 replicas is 2 + 1 rows, each replica's mean loss halved (Keras' loss scaling):
    not one device's mean over 3 rows, so each replica trains on its own rows. fit refuses to start."""
    assert runs["xor:fast:3:2"]["devices"] == ["CPU:0", "CPU:1"]
    assert np.max(np.abs(np.array(runs["xor:fast:3:2"]["loss"]) - runs["xor:fast:3:1"]["loss"])) > 1e-4
    assert runs["xor:keras:3:2"]["error"] == (
        "training.engine keras cannot split a first batch of 3 rows evenly across 2 devices (Keras' fit needs "
        "equal shares to start) (hint: use a batch_size that is a multiple of 2, or engine auto)")


def test_shuffled_batches_with_a_short_last_one_and_validation(runs):
    """iris: 90 training rows in batches of 16 (the last 10 rows: 5 + 5), shuffled, normalized, adam,
    val_loss every epoch, after building the xor models in the same process: 2 devices equal 1."""
    assert len(runs["iris:fast:16:2"]["val_loss"]) == 5
    assert_same(runs["iris:fast:16:1"], runs["iris:fast:16:2"])
    assert_same(runs["iris:keras:16:1"], runs["iris:keras:16:2"])


def test_devices_setting_is_checked(workdir, xornet):
    config = Path("configs/xor.yaml")
    config.write_text(config.read_text().replace("  optimizer: sgd", "  devices: two\n  optimizer: sgd"))
    result = xornet("config", "validate", config)
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: configs/xor.yaml, line 17: training.devices: expected 'auto' or a "
                                     "whole number of devices >= 1, received 'two'")


def test_more_devices_than_the_machine_has(workdir, xornet):
    result = xornet("train", "configs/xor.yaml", "--set", "training.devices=3", "--epochs", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: training.devices is 3 but this machine has 1 CPU device(s) "
                                     "(hint: use training.devices: auto, or a smaller number)")


def test_auto_is_one_device_without_gpus(workdir, xornet):
    result = xornet("train", "configs/xor.yaml", "--set", "training.devices=auto", "--epochs", "5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(Path("models/basic_run.json").read_text())
    assert record["devices"] == [] and record["config"]["training"]["devices"] == "auto"
