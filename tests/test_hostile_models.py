"""Hostile architecture JSON: whatever the file holds, loading it ends in a model or in one InputError line.

Property-based (hypothesis, derandomized): real architectures from the corpus and the fixtures, mutated at
a random place, and arbitrary JSON of Keras' shape and of no shape at all, go through the loading funnel
(`read_model_json`), and what it accepts goes on to the NumPy predictor, the Keras 2 export translation and,
when small, Keras itself.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from wild_keras import WILD
from xornet.errors import InputError
from xornet.files.architecture import parameter_count
from xornet.files.load import read_architecture, read_model_json
from xornet.keras2 import to_keras2
from xornet.numpy_inference import NumpyNetwork

SEEDS = sorted(WILD.glob("*/model.json")) + sorted((REPO / "tests/fixtures/keras2").glob("*_model.json"))
ARCHITECTURES = [json.loads(path.read_text()) for path in SEEDS] + [json.loads((REPO / "models/basic_model.json").read_text())]
FUZZ = settings(derandomize=True, max_examples=1000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KERAS_BUILD_LIMIT = 5000  # parameters; bigger accepted models are checked without building them in Keras
BUILT: set = set()

CLASS_NAMES = ["Dense", "Activation", "Dropout", "InputLayer", "BatchNormalization", "LeakyReLU", "Flatten",
               "Sequential", "LSTM", "Lambda", "Conv2D", "function", "VarianceScaling", "L2", ""]
KEYS = ["class_name", "config", "module", "registered_name", "name", "units", "output_dim", "activation",
        "use_bias", "bias", "rate", "p", "batch_input_shape", "batch_shape", "input_dim", "layers", "axis",
        "epsilon", "momentum", "center", "scale", "negative_slope", "alpha", "kernel_initializer", "init",
        "W_constraint", "kernel_regularizer", "dtype", "build_input_shape", "function_type", "compile_config"]
SCALARS = (st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0, 1, 2, 10**9, 2**63, -1, 1e308])
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(CLASS_NAMES)
           | st.sampled_from(["relu", "tanh", "gelu", "keras.layers", "builtins", "os", "a/b", "..", "x>y", "lambda",
                              "channels_first"])
           | st.text(max_size=8))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5), max_leaves=12)


def funnel(config, tmp_path: Path) -> None:
    """Load `config` as a model file; what is accepted must predict in NumPy, translate back, and build."""
    path = tmp_path / "model.json"
    try:
        path.write_text(json.dumps(config, allow_nan=True))
        checked = read_model_json(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    layers = checked["config"]["layers"]
    width = layers[0]["config"]["batch_shape"][1]
    weights, current = [], width
    for layer in layers[1:]:
        options = layer["config"]
        if layer["class_name"] == "Dense":
            shapes = [(current, options["units"])] + ([(options["units"],)] if options.get("use_bias", True) else [])
            current = options["units"]
        elif layer["class_name"] == "BatchNormalization":
            shapes = [(current,)] * (2 + options.get("center", True) + options.get("scale", True))
        else:
            continue
        weights.append((options["name"], [np.ones(shape, "float32") for shape in shapes]))
    count = parameter_count(checked)
    assert count == sum(w.size for _, values in weights for w in values)
    assert len(weights) == sum(layer["class_name"] in ("Dense", "BatchNormalization", "Normalization") for layer in layers)
    if count > 10**6:
        return
    network = NumpyNetwork.from_config(checked, weights, path)
    if network is not None:
        assert network(np.zeros((2, width), "float32")).shape == (2, current)
    to_keras2(checked, str(path))
    text = json.dumps(checked, sort_keys=True)
    if count <= KERAS_BUILD_LIMIT and text not in BUILT:  # Keras takes 0.3 s a model: each accepted form once
        BUILT.add(text)
        try:
            model = read_architecture(path, checked)
        except InputError as exc:  # Keras refused a value xornet passed on: must still be one line
            assert "\n" not in str(exc)
            return
        assert model.count_params() == count


def mutate(data, node):
    """Replace, delete or add one thing somewhere inside `node` (a copy), chosen by hypothesis."""
    if isinstance(node, (dict, list)) and node and data.draw(st.integers(0, 7)) < 7:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        copy = dict(node) if isinstance(node, dict) else list(node)
        copy[key] = mutate(data, node[key])
        return copy
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "delete" and isinstance(node, (dict, list)) and node:
        copy = dict(node) if isinstance(node, dict) else list(node)
        del copy[data.draw(st.sampled_from(list(copy) if isinstance(copy, dict) else list(range(len(copy)))))]
        return copy
    if action == "add" and isinstance(node, dict):
        return {**node, data.draw(st.sampled_from(KEYS)): data.draw(JSON)}
    if action == "add" and isinstance(node, list):
        return node + [data.draw(JSON)]
    return data.draw(JSON)


@pytest.mark.skipif(not WILD.is_dir(), reason=f"the corpus of real Keras files is absent: no {WILD}")
@FUZZ
@given(data=st.data())
def test_mutated_real_architectures(data, tmp_path_factory):
    config = data.draw(st.sampled_from(ARCHITECTURES))
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.integers(0, 7)) < 7:  # mostly inside the layers, where a mutation gets furthest
            config = {**config, "config": mutate(data, config["config"])}
        else:
            config = mutate(data, config)
        if not isinstance(config, dict) or "config" not in config:
            break
    funnel(config, tmp_path_factory.mktemp("m"))


LAYER = st.fixed_dictionaries({"class_name": st.sampled_from(CLASS_NAMES[:8]) | SCALARS},
                              optional={"config": st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6) | JSON,
                                        "module": st.sampled_from(["keras.layers", "keras", "os"])})
SEQUENTIAL = st.fixed_dictionaries({
    "class_name": st.just("Sequential"),
    "config": st.lists(LAYER, max_size=5) | st.fixed_dictionaries({"layers": st.lists(LAYER, max_size=5)},
                                                                  optional={"name": JSON, "build_input_shape": JSON})},
    optional={"module": st.sampled_from(["keras", "builtins"]), "compile_config": JSON})


@FUZZ
@given(config=JSON | SEQUENTIAL)
def test_arbitrary_json(config, tmp_path_factory):
    funnel(config, tmp_path_factory.mktemp("a"))


def test_the_fuzzers_reach_models_that_load(tmp_path):
    """A fuzzer that never gets past the first check would prove nothing: the seeds themselves load."""
    loaded = 0
    for config in ARCHITECTURES:
        (tmp_path / "m.json").write_text(json.dumps(config))
        try:
            read_model_json(tmp_path / "m.json")
            loaded += 1
        except InputError:
            pass
    assert loaded >= 20 and not math.isnan(loaded)
