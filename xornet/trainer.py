"""Training a compiled Keras model on in-memory data, many epochs per compiled call.

`model.fit` spends ~40 ms per epoch on set-up (a new data iterator, callbacks)
that a 4-row XOR epoch does not need. The fast engine runs whole chunks of
epochs inside one `tf.function`, calling Keras' own `model.train_step` (the
same loss, metrics and optimizer update as `fit`), so its per-epoch numbers are
the ones `fit` reports (tests/test_trainer.py proves it). Between chunks it
reports progress, and it stops early on a target loss or a NaN/inf loss.

Example:
    >>> result = train_model(model, x, y, config.training, seed=1)
    >>> result.history["loss"][-1] < 0.1
    True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from xornet.backend import import_keras
from xornet.config import TrainingConfig
from xornet.errors import TrainingError

ProgressFn = Callable[[int, int, dict], None]
"""Called as progress(epochs_done, epochs_total, last_epoch_logs) between chunks."""

CHUNK_SECONDS = 0.25  # how long one compiled call may run before progress is reported


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and why it stopped."""

    history: dict[str, list[float]]
    epochs_run: int
    stop_reason: str  # "completed" or "target_loss"
    engine: str
    engine_reason: str
    seconds: float


def choose_engine(training: TrainingConfig) -> tuple[str, str]:
    """Pick the engine for a run: ("fast" | "keras", why)."""
    if training.engine == "keras":
        return "keras", "asked for in training.engine"
    if training.engine == "fast":
        return "fast", "asked for in training.engine"
    return "fast", "auto: in-memory data"


def train_model(model, x: np.ndarray, y: np.ndarray, training: TrainingConfig, seed: int = 0,
                progress: ProgressFn | None = None) -> TrainResult:
    """Train a compiled `model` on `x`, `y` for `training.epochs` epochs."""
    engine, reason = choose_engine(training)
    started = time.perf_counter()
    if engine == "keras":
        history, stop = _fit_with_keras(model, x, y, training, progress)
    else:
        history, stop = _fit_fast(model, x, y, training, seed, progress)
    epochs = len(history["loss"])
    return TrainResult(history, epochs, stop, engine, reason, time.perf_counter() - started)


def _check_finite(logs: dict, epoch: int) -> None:
    loss = logs["loss"]
    if not math.isfinite(loss):
        raise TrainingError(
            f"training stopped at epoch {epoch}: the loss became {loss}",
            hint="lower training.learning_rate, or check the data for very large values",
        )


def _fit_fast(model, x, y, training: TrainingConfig, seed: int, progress: ProgressFn | None):
    import_keras()
    import tensorflow as tf

    rows = x.shape[0]
    batch = rows if training.batch_size is None else min(training.batch_size, rows)
    batches = math.ceil(rows / batch)
    shuffle = training.shuffle and batches > 1
    target = training.target_loss if training.target_loss is not None else -1.0
    xt, yt = tf.constant(x, dtype="float32"), tf.constant(y, dtype="float32")

    names = _build_state(model, xt[:batch], yt[:batch])

    def one_epoch(epoch):
        if batches == 1:
            model.train_step((xt, yt))
            return
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(
                tf.range(rows), seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]))
        else:
            order = tf.range(rows)

        def one_batch(b):
            index = order[b * batch:(b + 1) * batch]
            model.train_step((tf.gather(xt, index), tf.gather(yt, index)))
            return b + 1

        tf.while_loop(lambda b: b < batches, one_batch, [tf.constant(0)])

    # Plain tf.while_loop rather than autograph: converting the Python loop (and
    # Keras' train_step with it) costs about half a second per run.
    @tf.function(autograph=False)
    def run_epochs(first_epoch, count):
        def more(step, rows_out, go):
            return tf.logical_and(step < count, go)

        def epoch(step, rows_out, go):
            model.reset_metrics()
            one_epoch(first_epoch + step)
            logs = model.get_metrics_result()
            row = tf.stack([tf.cast(logs[name], tf.float32) for name in names])
            go = tf.logical_and(tf.math.is_finite(row[0]), row[0] >= target)
            return step + 1, rows_out.write(step, row), go

        start = (tf.constant(0), tf.TensorArray(tf.float32, size=0, dynamic_size=True), tf.constant(True))
        _, rows_out, _ = tf.while_loop(more, epoch, start)
        return rows_out.stack()

    history: dict[str, list[float]] = {name: [] for name in names}
    done, chunk, stop = 0, min(training.epochs, 50), "completed"
    while done < training.epochs:
        count = min(chunk, training.epochs - done)
        tick = time.perf_counter()
        values = run_epochs(tf.constant(done, tf.int32), tf.constant(count, tf.int32)).numpy()
        elapsed = time.perf_counter() - tick
        for column, name in enumerate(names):
            history[name].extend(float(v) for v in values[:, column])
        done += len(values)
        logs = {name: history[name][-1] for name in names}
        _check_finite(logs, done)
        if progress:
            progress(done, training.epochs, logs)
        if len(values) < count:
            stop = "target_loss"
            break
        if done > count:  # the first call includes tracing; size chunks from the later ones
            chunk = max(10, int(count * CHUNK_SECONDS / max(elapsed, 1e-6)))
        else:
            chunk = count * 4
    return history, stop


def _fit_with_keras(model, x, y, training: TrainingConfig, progress: ProgressFn | None):
    keras = import_keras()

    class Report(keras.callbacks.Callback):
        stopped_on_target = False

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            _check_finite(logs, epoch + 1)
            if progress and ((epoch + 1) % 10 == 0 or epoch + 1 == training.epochs):
                progress(epoch + 1, training.epochs, logs)
            if training.target_loss is not None and logs["loss"] < training.target_loss:
                self.stopped_on_target = True
                self.model.stop_training = True

    report = Report()
    fitted = model.fit(
        x, y, epochs=training.epochs, batch_size=training.batch_size or len(x),
        shuffle=training.shuffle, verbose=0, callbacks=[report],
    )
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    return history, "target_loss" if report.stopped_on_target else "completed"


def _build_state(model, x, y) -> list[str]:
    """Create the optimizer and metric variables; return the metric names ("loss" first).

    Variables cannot be created inside a compiled loop. The forward pass runs
    with training=False, so it changes no weights and draws no dropout noise.
    """
    model.optimizer.build(model.trainable_variables)
    predicted = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=predicted)
    model.compute_metrics(x, y, predicted, sample_weight=None)
    model.reset_metrics()
    return list(model.get_metrics_result().keys())


def evaluate_model(model, x: np.ndarray, y: np.ndarray, batch_size: int = 65536) -> dict[str, float]:
    """Loss and metrics of `model` on `x`, `y` with its current weights (no dropout).

    Example:
        >>> evaluate_model(model, x, y)
        {'loss': 0.0412, 'accuracy': 1.0}
    """
    import_keras()
    import tensorflow as tf

    _build_state(model, tf.constant(x[:1]), tf.constant(y[:1]))
    for start in range(0, len(x), batch_size):  # eager: cheaper than tracing for a few batches
        model.test_step((tf.constant(x[start:start + batch_size]), tf.constant(y[start:start + batch_size])))
    results = {name: float(value) for name, value in model.get_metrics_result().items()}
    model.reset_metrics()
    return results
