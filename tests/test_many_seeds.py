"""Many seeds trained at once equal each seed's own run (xornet's fast trainer, which equals model.fit)."""

import numpy as np
import pytest
import yaml

from xornet.config import load_config, validate_config
from xornet.experiment import train
from xornet.many_seeds import initial_weights, train_seeds, unsupported


def single(config, seed):
    one = config.model_copy(deep=True)
    one.seed = seed
    return train(one, save=False)


@pytest.mark.parametrize("overrides", [
    ["training.epochs=200", "training.learning_rate=0.5"],  # the XOR net, full-batch SGD
    ["training.epochs=60", "training.optimizer=adam", "training.learning_rate=0.05",
     "training.metrics=[accuracy,mean_squared_error]"],
])
def test_each_seed_equals_its_single_run(overrides):
    config = load_config("configs/seed.yaml", overrides)
    seeds = [0, 1, 7, 123456]
    runs = train_seeds(config, seeds)
    assert [run.seed for run in runs] == seeds
    for run in runs:
        expected = single(config, run.seed)
        assert run.error is None and list(run.history) == list(expected.result.history)
        for name, values in expected.result.history.items():
            np.testing.assert_allclose(run.history[name], values, atol=1e-5, rtol=0)
        assert run.final.keys() == expected.final.keys()
        np.testing.assert_allclose(list(run.final.values()), list(expected.final.values()), atol=1e-5, rtol=0)
        for got, want in zip(run.weights, expected.model.get_weights(), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_initial_weights_equal_a_built_model():
    from xornet.network import build_model

    text = ("model:\n  layers:\n"
            "    - {type: Dense, units: 5, input_dim: 3, kernel_initializer: he_normal, use_bias: false,"
            " bias_initializer: random_uniform}\n"
            "    - {type: Activation, activation: relu}\n"
            "    - {type: Dense, units: 2, bias_initializer: random_normal}\n")
    config = validate_config(yaml.safe_load(text))
    stacked = initial_weights(config, 3, [3, 99])
    for index, seed in enumerate([3, 99]):
        built = build_model(config, 3, seed).get_weights()
        assert [w.shape for w in built] == [(3, 5), (5, 2), (2,)]
        for got, want in zip(stacked, built, strict=True):
            np.testing.assert_array_equal(got[index], want)


def test_what_is_not_supported_says_why():
    base = ["training.epochs=5"]
    assert unsupported(load_config("configs/xor.yaml", base), 4) is None
    assert unsupported(load_config("configs/xor_minibatch.yaml", base), 4) is not None
    assert unsupported(load_config("configs/xor.yaml", [*base, "training.batch_size=2"]), 4) == (
        "mini-batches (training.batch_size below the number of rows)")
    assert unsupported(load_config("configs/xor.yaml", [*base, "training.engine=keras"]), 4) == (
        "training.engine is keras")
    assert unsupported(load_config("configs/xor.yaml", [*base, "training.metrics=[auc]"]), 4) == "metric auc"
    assert unsupported(load_config("configs/xor.yaml", [*base, "training.loss=hinge"]), 4) == "loss hinge"
    dropout = load_config("configs/xor.yaml", [*base, "model.layers.1={type: Dropout, rate: 0.1}"])
    assert unsupported(dropout, 4) == "layer 1 (Dropout)"
