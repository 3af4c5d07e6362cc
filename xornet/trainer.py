"""Training a compiled Keras model on in-memory data, in compiled chunks of epochs or batches.

`model.fit` spends ~40 ms per epoch on set-up (a new data iterator, callbacks)
that a 4-row XOR epoch does not need. The fast engine runs chunks of training
inside one `tf.function`, calling Keras' own `model.train_step` (and
`test_step` for validation data), so its per-epoch numbers are the ones `fit`
reports (tests/test_trainer.py and tests/test_trainer_features.py prove it).
A chunk is many short epochs, or part of one long epoch, sized to return in
about CHUNK_SECONDS, so progress and Ctrl-C answer at any data size. Keras' own
EarlyStopping and ReduceLROnPlateau callbacks are driven between epochs (a
chunk is then one epoch), learning-rate schedules are Keras' own, class
weights become sample weights as `fit` makes them, and every N epochs a
checkpoint (xornet/checkpoint.py) lets a killed run continue exactly.

Example:
    >>> result = train_model(model, x, y, config.training, seed=1, validation=(xv, yv))
    >>> result.history["val_loss"][-1] < 0.1
    True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xornet.backend import import_keras
from xornet.checkpoint import Checkpoint, check_same_run, load_checkpoint, save_checkpoint
from xornet.config import TrainingConfig
from xornet.data.encoding import ALIGNMENT
from xornet.data.splits import values_hash
from xornet.devices import check_fit_split, run_step
from xornet.errors import InputError, TrainingError

SHARED_BYTES = 1 << 24  # arrays from this size on are shared with TensorFlow, not copied
ProgressFn = Callable[[float, int, dict], None]
"""Called as progress(epochs_done, epochs_total, last_epoch_logs) between compiled calls.

epochs_done is fractional (2.25) when a long epoch is reported part way."""

CHUNK_SECONDS = 0.25  # how long one compiled call may run before progress is reported
FIRST_CALL_ROWS = 65536  # rows the first (untimed) call may train on, at most 64 batches
CALLBACK_STATE = {"EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
                  "ReduceLROnPlateau": ("wait", "cooldown_counter", "best")}
RESUMABLE_CHANGES = ("epochs", "checkpoint_every", "restarts", "tensorboard")  # may differ on --resume


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and why it stopped."""

    history: dict[str, list[float]]
    epochs_run: int
    stop_reason: str  # "completed", "target_loss" or "early_stopping"
    engine: str
    engine_reason: str
    seconds: float
    best_epoch: int | None = None  # early stopping's best epoch (from 1), when it monitored one
    resumed_from: int | None = None  # the checkpoint's epoch, when resumed


def choose_engine(training: TrainingConfig) -> tuple[str, str]:
    """Pick the engine for a run: ("fast" | "keras", why)."""
    if training.engine == "keras":
        return "keras", "asked for in training.engine"
    if training.engine == "fast":
        return "fast", "asked for in training.engine"
    return "fast", "auto: in-memory data"


def train_model(model, x: np.ndarray, y: np.ndarray, training: TrainingConfig, seed: int = 0,
                progress: ProgressFn | None = None, *,
                validation: tuple[np.ndarray, np.ndarray] | None = None,
                class_names: list[str] | None = None,
                checkpoint_path: Path | None = None, resume: bool = False) -> TrainResult:
    """Train a compiled `model` on `x`, `y` for `training.epochs` epochs.

    `validation=(xv, yv)` adds val_<metric> to the history, as `model.fit(validation_data=...)`
    does. `class_names` resolves class_weight keys that are class names. With
    `checkpoint_path` and training.checkpoint_every, a checkpoint is written every N
    epochs; `resume=True` continues from it.

    Example:
        >>> result = train_model(model, x, y, config.training, seed=1, validation=(xv, yv))
        >>> sorted(result.history)
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    engine, reason = choose_engine(training)
    check_monitors(training, validation is not None)
    if resume and engine == "keras":
        raise InputError("resuming goes with training.engine auto or fast, received engine 'keras'")
    started = time.perf_counter()
    keras = import_keras()
    _apply_schedule(model, training)
    callbacks = _keras_callbacks(keras, training)
    class_weight = resolve_class_weight(training.class_weight, y, class_names, max(2, model.output_shape[-1]))
    if engine == "keras":
        history, stop = _fit_with_keras(model, x, y, training, progress, validation, class_weight, callbacks)
        resumed_from = None
    else:
        weights = None if class_weight is None else sample_weights(y, class_weight)
        run = _FastRun(model, x, y, weights, validation, training, seed, progress, callbacks, checkpoint_path)
        resumed_from = run.restore(checkpoint_path) if resume else None
        history, stop = run.fit()
    early = next((c for c in callbacks if type(c).__name__ == "EarlyStopping"), None)
    best = early.best_epoch + 1 if early is not None and early.best is not None else None
    if early is not None and early.stopped_epoch > 0:
        stop = "early_stopping"
    epochs = len(history["loss"])
    return TrainResult(history, epochs, stop, engine, reason, time.perf_counter() - started, best, resumed_from)


def check_monitors(training: TrainingConfig, has_validation: bool) -> None:
    """Raise InputError when early stopping or reduce-on-plateau watch val_* without validation data.

    Needs no TensorFlow, so a command can check before training.
    """
    schedule = training.learning_rate_schedule
    sections = {"early_stopping": training.early_stopping,
                "learning_rate_schedule": schedule if schedule and schedule.type == "reduce_on_plateau" else None}
    for key, section in sections.items():
        monitor = getattr(section, "monitor", None) or ("val_loss" if section is not None else None)
        if monitor and monitor.startswith("val_") and not has_validation:
            raise InputError(f"training.{key}.monitor is {monitor!r} but there is no validation data",
                             hint="set data.validation (for example 0.2), or monitor loss")


def _apply_schedule(model, training: TrainingConfig) -> None:
    """Give the optimizer a Keras LearningRateSchedule when the config asks for one."""
    schedule = training.learning_rate_schedule
    if schedule is None or schedule.type == "reduce_on_plateau":
        return
    keras = import_keras()
    make = {"exponential_decay": keras.optimizers.schedules.ExponentialDecay,
            "cosine_decay": keras.optimizers.schedules.CosineDecay}[schedule.type]
    model.optimizer.learning_rate = make(training.learning_rate, **schedule.keras_arguments())


def _keras_callbacks(keras, training: TrainingConfig) -> list:
    """Keras' own EarlyStopping / ReduceLROnPlateau objects for the config (both engines drive them)."""
    callbacks = []
    if training.early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(**training.early_stopping.model_dump()))
    schedule = training.learning_rate_schedule
    if schedule is not None and schedule.type == "reduce_on_plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(**schedule.keras_arguments()))
    return callbacks


def class_labels(y: np.ndarray) -> np.ndarray:
    """Integer class of each row, as Keras reads labels for class_weight (argmax of one-hot, else rounded)."""
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
    return np.round(y).astype("int32")


def resolve_class_weight(setting, y: np.ndarray, class_names: list[str] | None = None,
                         classes: int | None = None) -> dict[int, float] | None:
    """training.class_weight as {class id: weight}; "balanced" as scikit-learn defines it. With `classes` (the
    model's: 2 for one sigmoid unit), a class id must be one of 0 .. classes - 1.

    Example:
        >>> resolve_class_weight("balanced", np.array([[0], [0], [0], [1]]))
        {0: 0.6666666666666666, 1: 2.0}
    """
    if setting is None:
        return None
    if setting == "balanced":
        return balanced_class_weight(dict(zip(*np.unique(class_labels(y), return_counts=True))))
    resolved = {}
    for key, weight in setting.items():
        if class_names and str(key) in class_names:
            resolved[class_names.index(str(key))] = float(weight)
        elif (isinstance(key, int) or str(key).lstrip("-").isdigit()) and (classes is None or 0 <= int(key) < classes):
            resolved[int(key)] = float(weight)
        else:
            ids = "" if classes is None else f" ({'0 or 1' if classes == 2 else f'0 to {classes - 1}'})"
            raise InputError(f"training.class_weight: unknown class {key!r}; expected a class id{ids}"
                             + (f" or one of {', '.join(class_names)}" if class_names else ""))
    return resolved


def balanced_class_weight(counts: dict[int, int]) -> dict[int, float]:
    """scikit-learn's "balanced" weights from the rows of each class: rows / (classes * rows of the class).

    Example:
        >>> balanced_class_weight({0: 3, 1: 1})
        {0: 0.6666666666666666, 1: 2.0}
    """
    rows = sum(int(n) for n in counts.values())
    return {int(c): rows / (len(counts) * int(n)) for c, n in sorted(counts.items())}


def sample_weights(y: np.ndarray, class_weight: dict[int, float]) -> np.ndarray:
    """Each row's weight from its class, as model.fit(class_weight=...) computes it (1.0 for unlisted classes)."""
    labels = class_labels(y)
    classes = np.unique(labels)
    table = np.array([class_weight.get(int(c), 1.0) for c in classes], dtype="float32")
    return table[np.searchsorted(classes, labels)]


def _check_finite(logs: dict, epoch: int) -> None:
    loss = logs["loss"]
    if not math.isfinite(loss):
        raise TrainingError(
            f"training stopped at epoch {epoch}: the loss became {loss}",
            hint="lower training.learning_rate, or check the data for very large values",
        )


class _Pace:
    """How many batches one compiled call may run so that it returns within CHUNK_SECONDS."""

    def __init__(self, batch_rows: int):
        self.steps = max(1, min(64, FIRST_CALL_ROWS // batch_rows))
        self.timed = False

    def update(self, steps: int, seconds: float, traced: bool) -> None:
        if traced:  # the call included tracing; grow until a clean timing
            if not self.timed:
                self.steps *= 4
            return
        self.steps = max(1, int(steps * CHUNK_SECONDS / max(seconds, 1e-6)))
        self.timed = True


class _FastRun:
    """The fast engine: Keras' own train_step/test_step in compiled loops over batches and epochs.

    A compiled call runs whole epochs when they are short, or a range of one
    epoch's batches when they are long, so that it returns within about
    CHUNK_SECONDS (progress and Ctrl-C answer between calls). The numbers do not
    depend on how calls are cut (tests/test_trainer_features.py).
    """

    def __init__(self, model, x, y, weights, validation, training: TrainingConfig, seed: int,
                 progress: ProgressFn | None, callbacks: list, checkpoint_path: Path | None):
        import tensorflow as tf

        self.tf, self.model, self.training, self.seed = tf, model, training, seed
        self.progress, self.callbacks, self.checkpoint_path = progress, callbacks, checkpoint_path
        self.rows = x.shape[0]
        self.batch = self.rows if training.batch_size is None else min(training.batch_size, self.rows)
        self.batches = math.ceil(self.rows / self.batch)
        self.shuffle = training.shuffle and self.batches > 1
        self.data = [_tensor(tf, x), _tensor(tf, y)]
        if weights is not None:
            self.data.append(tf.constant(weights, dtype="float32"))
        self.validation = None if validation is None else [_tensor(tf, a) for a in validation]
        self.names = _build_state(model, self.data[0][:self.batch], self.data[1][:self.batch])
        self.columns = self.names + ([f"val_{name}" for name in self.names] if validation is not None else [])
        self.history: dict[str, list[float]] = {name: [] for name in self.columns}
        self.epoch, self.stop = 0, None
        self.fingerprint = {
            "data.stream": "in memory",  # a streamed run's rows and split are others: never resumed here
            "training": training.model_dump(mode="json", exclude=set(RESUMABLE_CHANGES)), "seed": seed,
            "data": [list(x.shape), list(y.shape)] + ([list(a.shape) for a in validation] if validation else []),
            "weights": [list(v.shape) for v in model.variables],
        }
        if checkpoint_path is not None:  # other rows of the same shapes (an edited file) must not resume either
            self.fingerprint["values"] = values_hash(x, y) + (values_hash(*validation) if validation else "")
        self.run_epochs = tf.function(self._run_epochs, autograph=False)
        self.run_one_epoch = tf.function(self._run_one_epoch, autograph=False)
        self.run_batches = tf.function(self._run_batches, autograph=False)
        self.finish_epoch = tf.function(self._epoch_logs, autograph=False)
        model.stop_training = False
        for callback in callbacks:
            callback.set_model(model)
            callback.on_train_begin()

    # --- graph code (plain tf.while_loop: autograph on train_step costs ~0.5 s per run) ---

    def _order(self, epoch):
        """The row order of an epoch: a shuffle seeded by (seed, epoch), so any chunking gives the same."""
        tf = self.tf
        if not self.shuffle:
            return tf.range(self.rows)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.random.experimental.stateless_shuffle(tf.range(self.rows), seed=seed)

    def _train_batches(self, order, start, stop):
        tf = self.tf
        if self.batches == 1:
            run_step(self.model, self.model.train_step, tuple(self.data))
            return

        def one_batch(b):
            index = order[b * self.batch:(b + 1) * self.batch]
            run_step(self.model, self.model.train_step, tuple(tf.gather(part, index) for part in self.data))
            return b + 1

        tf.while_loop(lambda b: b < stop, one_batch, [start])

    def _epoch_logs(self):
        """The epoch's metrics, then (as fit does) the validation metrics, as one float32 row."""
        tf = self.tf
        logs = self.model.get_metrics_result()
        row = [tf.cast(logs[name], tf.float32) for name in self.names]
        if self.validation is not None:
            xv, yv = self.validation
            self.model.reset_metrics()
            size, batch = int(xv.shape[0]), self.batch

            def one_batch(b):
                run_step(self.model, self.model.test_step, (xv[b * batch:(b + 1) * batch], yv[b * batch:(b + 1) * batch]))
                return b + 1

            tf.while_loop(lambda b: b < math.ceil(size / batch), one_batch, [tf.constant(0)])
            logs = self.model.get_metrics_result()
            row += [tf.cast(logs[name], tf.float32) for name in self.names]
        return tf.stack(row)

    def _run_epochs(self, first_epoch, count, target):
        tf = self.tf

        def epoch(step, rows_out, go):
            self.model.reset_metrics()
            self._train_batches(self._order(first_epoch + step), tf.constant(0), tf.constant(self.batches))
            row = self._epoch_logs()
            loss = tf.cast(row[0], tf.float64)
            go = tf.logical_and(tf.math.is_finite(loss), tf.logical_not(loss < target))
            return step + 1, rows_out.write(step, row), go

        start = (tf.constant(0), tf.TensorArray(tf.float32, size=0, dynamic_size=True), tf.constant(True))
        _, rows_out, _ = tf.while_loop(lambda step, rows_out, go: tf.logical_and(step < count, go), epoch, start)
        return rows_out.stack()

    def _run_one_epoch(self, epoch):
        """One epoch without the epochs loop: a quarter of the call cost when callbacks need every epoch."""
        self.model.reset_metrics()
        self._train_batches(self._order(epoch), self.tf.constant(0), self.tf.constant(self.batches))
        return self.tf.expand_dims(self._epoch_logs(), 0)

    def _run_batches(self, order, start, stop):
        self._train_batches(order, start, stop)
        return stop

    # --- the Python side: chunks, callbacks, checkpoints, progress ---

    def fit(self) -> tuple[dict[str, list[float]], str]:
        tf, epochs = self.tf, self.training.epochs
        target = tf.constant(self.training.target_loss if self.training.target_loss is not None else -1.0, tf.float64)
        pace, position, logs = _Pace(self.batch), 0, self._last_logs()
        per_epoch = bool(self.callbacks)
        while self.epoch < epochs and self.stop is None:
            if position == 0 and pace.steps >= self.batches:
                count = 1 if per_epoch else min(pace.steps // self.batches, epochs - self.epoch, self._to_checkpoint())
                if count == 1:
                    values, seconds, traced = _timed(self.run_one_epoch, tf.constant(self.epoch))
                else:
                    values, seconds, traced = _timed(self.run_epochs, tf.constant(self.epoch), tf.constant(count),
                                                     target)
                pace.update(len(values) * self.batches, seconds, traced)
                for row in values.numpy():
                    logs = self._end_epoch(row)
            else:
                if position == 0:
                    self.model.reset_metrics()
                    order = self._order(self.epoch)  # once per epoch, not once per call
                stop = min(self.batches, position + pace.steps)
                _, seconds, traced = _timed(self.run_batches, order, tf.constant(position), tf.constant(stop))
                pace.update(stop - position, seconds, traced)
                position = stop % self.batches
                if position == 0:
                    logs = self._end_epoch(self.finish_epoch().numpy())
            if self.progress:
                self.progress(self.epoch + position / self.batches if position else self.epoch, epochs, logs)
        for callback in self.callbacks:
            callback.on_train_end()
        return self.history, self.stop or "completed"

    def _end_epoch(self, row) -> dict:
        logs = {name: float(value) for name, value in zip(self.columns, row)}
        _check_finite(logs, self.epoch + 1)
        for callback in self.callbacks:
            callback.on_epoch_end(self.epoch, logs)  # ReduceLROnPlateau adds learning_rate to logs
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)
        self.epoch += 1
        if self.training.target_loss is not None and logs["loss"] < self.training.target_loss:
            self.stop = "target_loss"
        elif self.model.stop_training:
            self.stop = "early_stopping"
        every = self.training.checkpoint_every
        if self.checkpoint_path is not None and every and self.epoch % every == 0:
            save_checkpoint(self.checkpoint_path, self._snapshot())
        return logs

    def _to_checkpoint(self) -> int:
        every = self.training.checkpoint_every
        return every - self.epoch % every if self.checkpoint_path is not None and every else self.training.epochs

    def _last_logs(self) -> dict:
        return {name: values[-1] for name, values in self.history.items() if values}

    def _snapshot(self) -> Checkpoint:
        return snapshot(self.model, self.callbacks, self.epoch, self.history, self.fingerprint, self.stop)

    def restore(self, path: Path | None) -> int:
        """Continue from the checkpoint at `path`; return its epoch."""
        saved = restore_checkpoint(path, self.model, self.callbacks, self.fingerprint)
        self.history, self.epoch, self.stop = saved.history, saved.epoch, saved.stop_reason
        return saved.epoch


def snapshot(model, callbacks: list, epoch: int, history: dict, fingerprint: dict, stop: str | None) -> Checkpoint:
    """A training run's state after `epoch` epochs: weights, optimizer, callbacks' counters, history."""
    states, arrays = {}, {}
    for callback in callbacks:
        kind = type(callback).__name__
        states[kind] = {key: _plain(getattr(callback, key)) for key in CALLBACK_STATE[kind]}
        if getattr(callback, "best_weights", None) is not None:
            arrays[f"{kind}.best_weights"] = callback.best_weights
    return Checkpoint(epoch, history, fingerprint, [np.asarray(v) for v in model.variables],
                      [np.asarray(v) for v in model.optimizer.variables], states, arrays, stop)


def restore_checkpoint(path: Path | None, model, callbacks: list, fingerprint: dict) -> Checkpoint:
    """Give `model`, its optimizer and `callbacks` the state saved at `path`, after checking it is of
    this run (`fingerprint`); return the checkpoint (its epoch, history, stop reason)."""
    if path is None:
        raise InputError("resuming needs a checkpoint path", hint="set training.checkpoint_every")
    saved = load_checkpoint(path)
    check_same_run(path, saved.fingerprint, fingerprint)
    for variable, value in zip(model.variables, saved.model):
        variable.assign(value)
    for variable, value in zip(model.optimizer.variables, saved.optimizer):
        variable.assign(value)
    for callback in callbacks:
        kind = type(callback).__name__
        for key, value in saved.callbacks.get(kind, {}).items():
            setattr(callback, key, value)
        if f"{kind}.best_weights" in saved.arrays:
            callback.best_weights = saved.arrays[f"{kind}.best_weights"]
    return saved


def _plain(value):
    """A callback counter as JSON data (Keras keeps some as NumPy or tensor scalars)."""
    if value is None or isinstance(value, (int, float)):
        return value
    value = np.asarray(value).item()
    return value


def _timed(function, *args):
    """Call a tf.function; return (result, seconds, whether it traced)."""
    traces = function.experimental_get_tracing_count()
    tick = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - tick, function.experimental_get_tracing_count() > traces


def _fit_with_keras(model, x, y, training: TrainingConfig, progress: ProgressFn | None, validation,
                    class_weight, callbacks, rows: int | None = None):
    # x may be a tf.data.Dataset of the batches of every epoch, `rows` rows an epoch, and y None (data.stream)
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
    rows = len(x) if rows is None else rows
    check_fit_split(model, min(training.batch_size or rows, rows))
    fitted = model.fit(
        x, y, epochs=training.epochs, batch_size=training.batch_size or rows if y is not None else None,
        steps_per_epoch=None if y is not None else -(-rows // training.batch_size),
        shuffle=training.shuffle and y is not None, verbose=0, callbacks=[report, *callbacks],
        validation_data=validation, class_weight=class_weight,
    )
    names = list(fitted.history)
    # The fast engine's column order: loss, metrics, val_loss, val_metrics, learning_rate.
    order = sorted(names, key=lambda n: (n == "learning_rate", n.startswith("val_"), n not in ("loss", "val_loss"),
                                         names.index(n)))
    history = {name: [float(v) for v in fitted.history[name]] for name in order}
    return history, "target_loss" if report.stopped_on_target else "completed"


def _build_state(model, x, y) -> list[str]:
    """Create the optimizer and metric variables; return the metric names ("loss" first).

    Variables cannot be created inside a compiled loop. The forward pass runs
    with training=False, so it changes no weights and draws no dropout noise.
    """
    with model.distribute_strategy.scope():  # a distributed model's state is mirrored / per replica
        return _build_state_here(model, x, y)


def _build_state_here(model, x, y) -> list[str]:
    model.optimizer.build(model.trainable_variables)
    predicted = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=predicted)
    model.compute_metrics(x, y, predicted, sample_weight=None)
    model.reset_metrics()
    return list(model.get_metrics_result().keys())


def _tensor(tf, array: np.ndarray):
    """A float32 tensor of `array`; a big C-order, aligned (`aligned_empty`) float32 array is shared, not copied.

    tf.constant copies through a second buffer, holding twice the array at its
    peak: for a table of millions of rows, that is most of the training run's
    memory. Sharing goes through DLPack; the fast engine only reads its data
    tensors (gathering batches from them), so the array is never written to.
    """
    if (isinstance(array, np.ndarray) and array.dtype == np.float32 and array.flags.c_contiguous
            and array.ctypes.data % ALIGNMENT == 0 and array.nbytes >= SHARED_BYTES):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array, dtype="float32")


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
        rows = (tf.constant(x[start:start + batch_size]), tf.constant(y[start:start + batch_size]))
        run_step(model, model.test_step, rows)
    results = {name: float(value) for name, value in model.get_metrics_result().items()}
    model.reset_metrics()
    return results
