"""The fast trainer computes exactly what Keras' model.fit computes."""

import numpy as np
import pytest

from xornet.config import TrainingConfig, validate_config
from xornet.data import truth_table
from xornet.network import build_model, compile_model
from xornet.trainer import evaluate_model, train_model


def fresh_model(seed, training, layers=None):
    config = validate_config({"model": {"layers": layers}} if layers else {})
    model = build_model(config, 2, seed)
    compile_model(model, training)
    return model


def assert_same_as_keras_fit(training, x, y, seed=5, layers=None):
    reference = fresh_model(seed, training, layers)
    fitted = reference.fit(x, y, epochs=training.epochs, batch_size=training.batch_size or len(x),
                           shuffle=False, verbose=0)
    ours = fresh_model(seed, training, layers)
    result = train_model(ours, x, y, training, seed=seed)
    assert sorted(result.history) == sorted(fitted.history)
    for name in fitted.history:
        np.testing.assert_allclose(result.history[name], fitted.history[name], rtol=1e-5, atol=1e-7)
    for mine, theirs in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    return result


@pytest.mark.parametrize("batch_size", [None, 2, 1])
def test_matches_model_fit(batch_size):
    data = truth_table("xor")
    training = TrainingConfig(epochs=60, batch_size=batch_size, shuffle=False)
    result = assert_same_as_keras_fit(training, data.x, data.y)
    assert result.engine == "fast" and result.epochs_run == 60 and result.stop_reason == "completed"


def test_matches_model_fit_with_momentum_and_uneven_batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(11, 2)).astype("float32")
    y = (x[:, :1] * x[:, 1:] > 0).astype("float32")
    training = TrainingConfig(epochs=25, batch_size=4, shuffle=False, momentum=0.9, nesterov=True)
    assert_same_as_keras_fit(training, x, y)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_matches_model_fit_other_optimizers(optimizer):
    data = truth_table("xor")
    training = TrainingConfig(epochs=30, optimizer=optimizer, learning_rate=0.01, shuffle=False)
    assert_same_as_keras_fit(training, data.x, data.y)


def test_target_loss_stops_at_the_first_epoch_below_it():
    data = truth_table("xor")
    full = train_model(fresh_model(3, TrainingConfig(epochs=800)), data.x, data.y, TrainingConfig(epochs=800), seed=3)
    target = 0.3
    first_below = next(i for i, loss in enumerate(full.history["loss"]) if loss < target) + 1
    training = TrainingConfig(epochs=800, target_loss=target)
    stopped = train_model(fresh_model(3, training), data.x, data.y, training, seed=3)
    assert stopped.stop_reason == "target_loss" and stopped.epochs_run == first_below
    assert stopped.history["loss"] == full.history["loss"][:first_below]


def test_shuffled_minibatches_are_reproducible_and_differ_from_unshuffled():
    data = truth_table("xor")
    shuffled = TrainingConfig(epochs=40, batch_size=2, shuffle=True)
    first = train_model(fresh_model(4, shuffled), data.x, data.y, shuffled, seed=4)
    second = train_model(fresh_model(4, shuffled), data.x, data.y, shuffled, seed=4)
    assert first.history == second.history
    plain = TrainingConfig(epochs=40, batch_size=2, shuffle=False)
    assert train_model(fresh_model(4, plain), data.x, data.y, plain, seed=4).history != first.history


def test_progress_is_reported_between_chunks():
    data = truth_table("xor")
    calls = []
    training = TrainingConfig(epochs=500)
    train_model(fresh_model(1, training), data.x, data.y, training, seed=1,
                progress=lambda done, total, logs: calls.append((done, total, sorted(logs))))
    assert calls[-1] == (500, 500, ["accuracy", "loss"])
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls) and len(calls) >= 2


def test_keras_engine_gives_the_same_history():
    data = truth_table("xor")
    fast = TrainingConfig(epochs=30, shuffle=False)
    slow = TrainingConfig(epochs=30, shuffle=False, engine="keras")
    a = train_model(fresh_model(2, fast), data.x, data.y, fast, seed=2)
    b = train_model(fresh_model(2, slow), data.x, data.y, slow, seed=2)
    assert b.engine == "keras"
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)


def test_evaluate_matches_keras_evaluate():
    data = truth_table("xor")
    training = TrainingConfig(epochs=50)
    model = fresh_model(6, training)
    train_model(model, data.x, data.y, training, seed=6)
    expected = model.evaluate(data.x, data.y, verbose=0, return_dict=True)
    got = evaluate_model(model, data.x, data.y)
    assert list(got) == ["loss", "accuracy"]
    for name in got:
        assert got[name] == pytest.approx(expected[name], rel=1e-6)
