"""training.class_weight through `xornet train`: a key must name one of the task's classes."""

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TRAIN = ["train", "configs/breast_cancer.yaml", "-q", "--set", "training.epochs=2"]


@pytest.fixture
def cancer(workdir):
    (workdir / "data").mkdir()
    shutil.copy(REPO / "data/breast_cancer.csv", workdir / "data/breast_cancer.csv")
    return workdir


@pytest.mark.parametrize("setting, received", [("{0: 1.0, 7: 30.0}", "7"), ("{-1: 2.0}", "-1"),
                                               ("{2: 1.0}", "2"), ("{wolf: 2.0}", "'wolf'")])
def test_class_weight_refuses_a_class_the_binary_task_does_not_have(cancer, xornet, setting, received):
    result = xornet(*TRAIN, "--set", f"training.class_weight={setting}")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", f"error: training.class_weight: unknown class {received}; expected a class id (0 or 1) or one of "
               "benign, malignant\n")
    assert not (cancer / "models").exists()


def test_class_weight_of_the_classes_there_are_trains(cancer, xornet):
    result = xornet(*TRAIN, "--set", "training.class_weight={0: 1.0, 1: 3.0, malignant: 3.0}")
    assert (result.exit_code, result.stderr) == (0, "")


def test_class_weight_ids_of_a_softmax_model_go_up_to_its_units(workdir, xornet):
    softmax = ["train", "configs/xor.yaml", "-q", "--set", "training.epochs=2", "--set", "model.layers.2.units=3",
               "--set", "model.layers.3.activation=softmax", "--set", "training.loss=sparse_categorical_crossentropy"]
    assert xornet(*softmax, "--set", "training.class_weight={2: 2.0}").exit_code == 0
    result = xornet(*softmax, "--set", "training.class_weight={3: 2.0}", "--force")
    assert (result.exit_code, result.stderr) == (
        2, "error: training.class_weight: unknown class 3; expected a class id (0 to 2)\n")


def test_class_weight_without_a_space_after_the_colon_says_yaml_needs_one(workdir, xornet):
    result = xornet("train", "configs/xor.yaml", "--set", "training.class_weight={0:1}")
    assert (result.exit_code, result.stderr) == (
        2, "error: --set training.class_weight={0:1}: training.class_weight: expected balanced or a mapping "
           "{class: weight} (for example {0: 1.0, 1: 3.0}); the weight of class '0:1' must be a number >= 0, "
           "received None; YAML needs a space after the colon: {0: 1}\n")
