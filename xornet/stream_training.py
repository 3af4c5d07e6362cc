"""Training on streamed data (xornet/data/stream.py): Keras' own train_step over chunks read from a file.

Each epoch reads the training part of the file again, as a `tf.data.Dataset`
of chunks of whole batches prefetched in a background thread; one compiled
call trains a chunk's batches with `model.train_step`, as the fast engine
does for in-memory data. Validation rows are read again at the end of each
epoch and scored with `model.test_step`, so `val_*` figures, Keras'
EarlyStopping and ReduceLROnPlateau work as in memory. With training.engine
keras, Keras' own model.fit trains on the same batches instead.

Example:
    >>> result = train_stream(model, stream, config.training, seed=1, validation=True)
    >>> sorted(result.history)
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np

from xornet.backend import import_keras
from xornet.checkpoint import save_checkpoint
from xornet.config import Config, TrainingConfig
from xornet.data.stream import Stream, StreamSplits
from xornet.errors import InputError
from xornet.preprocessing import set_moments
from xornet.trainer import (RESUMABLE_CHANGES, ProgressFn, TrainResult, _apply_schedule, _build_state, _check_finite,
                            _fit_with_keras, _keras_callbacks, balanced_class_weight, check_monitors, choose_engine,
                            resolve_class_weight, restore_checkpoint, snapshot)

EVALUATE_ROWS = 65536  # rows per test_step call when scoring a part after training


def train_streamed(config: Config, splits: StreamSplits, seed: int, progress: ProgressFn | None, on_start,
                   checkpoint: Path | None = None, resume: bool = False):
    """One training attempt on a streamed file: build, adapt, train, score each part (an experiment `Run`)."""
    from xornet.experiment import Run
    from xornet.network import build_model, compile_model

    stream, dataset = splits.stream, splits.train
    preview = dataset.x.rows
    model = build_model(config, len(stream.inputs), seed, normalize_on=preview if config.data.normalize else None)
    if config.data.normalize:
        set_moments(model.get_layer("normalization"), stream.mean, stream.variance)  # as adapt would have
    compile_model(model, config.training)
    if on_start:
        on_start(dataset, model)
    result = train_stream(model, stream, config.training, seed, progress, validation=stream.counts["validation"] > 0,
                          checkpoint_path=checkpoint, resume=resume)
    final = evaluate_stream(model, stream, "train")
    held_out = {name: {"rows": stream.counts[name]} | evaluate_stream(model, stream, name)
                for name in ("validation", "test") if stream.counts[name]}
    probabilities = np.asarray(model(preview, training=False))
    return Run(config, seed, dataset, model, result, final, probabilities, None, splits=splits, held_out=held_out)




def train_stream(model, stream: Stream, training: TrainingConfig, seed: int = 0, progress: ProgressFn | None = None,
                 *, validation: bool = False, checkpoint_path: Path | None = None, resume: bool = False) -> TrainResult:
    """Train a compiled `model` on the training rows of `stream` for `training.epochs` epochs.

    `validation=True` scores the validation rows after each epoch (val_* in the history).
    With `checkpoint_path` and training.checkpoint_every, a checkpoint (the in-memory
    engine's file and format) is written every N epochs; `resume=True` continues
    from it. An epoch's shuffle is seeded by (seed, epoch), so a resumed run reads
    the rows in the order an uninterrupted one would.
    """
    import tensorflow as tf

    check_monitors(training, validation)
    keras_engine = choose_engine(training)[0] == "keras"
    if resume and keras_engine:
        raise InputError("resuming goes with training.engine auto or fast, received engine 'keras'")
    started = time.perf_counter()
    keras = import_keras()
    _apply_schedule(model, training)
    callbacks = _keras_callbacks(keras, training)
    class_weight = stream_class_weight(training.class_weight, stream)
    if keras_engine:
        history, stop = _fit_stream_with_keras(model, stream, training, progress, validation, class_weight, callbacks)
        return _result(history, stop, "keras (streamed)", callbacks, started, None)
    steps = _Steps(tf, model, training.batch_size)
    x0, y0 = next(iter(stream.shuffled("train", 1, 0, shuffle=False)))
    names = _build_state(model, tf.constant(x0), tf.constant(y0))
    history: dict[str, list[float]] = {}
    stop, epoch, resumed_from = None, 0, None
    model.stop_training = False
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    fingerprint = _fingerprint(model, stream, training, seed, validation)
    if resume:
        saved = restore_checkpoint(checkpoint_path, model, callbacks, fingerprint)
        history, epoch, stop, resumed_from = saved.history, saved.epoch, saved.stop_reason, saved.epoch
    chunks = iter(stream.dataset("train", training.batch_size, epoch, training.shuffle, class_weight,
                                 epochs=training.epochs - epoch))  # all epochs: no pause between two
    while epoch < training.epochs and stop is None:
        logs = _train_epoch(model, stream, training, steps, names, epoch, chunks, progress)
        if validation:
            model.reset_metrics()
            for x, y in stream.dataset("validation", training.batch_size, shuffle=False):
                steps.test(x, y)
            logs |= _logs(model, names, "val_")
        _check_finite(logs, epoch + 1)
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        epoch += 1
        if progress:
            progress(epoch, training.epochs, logs)
        if training.target_loss is not None and logs["loss"] < training.target_loss:
            stop = "target_loss"
        elif model.stop_training:
            stop = "early_stopping"
        if checkpoint_path is not None and training.checkpoint_every and epoch % training.checkpoint_every == 0:
            save_checkpoint(checkpoint_path, snapshot(model, callbacks, epoch, history, fingerprint, stop))
    for callback in callbacks:
        callback.on_train_end()
    return _result(history, stop or "completed", "fast (streamed)", callbacks, started, resumed_from)


def _result(history: dict, stop: str, engine: str, callbacks: list, started: float, resumed_from) -> TrainResult:
    early = next((c for c in callbacks if type(c).__name__ == "EarlyStopping"), None)
    best = early.best_epoch + 1 if early is not None and early.best is not None else None
    if early is not None and early.stopped_epoch > 0:  # model.fit's stop (the fast loop says so itself)
        stop = "early_stopping"
    reason = "data.stream: the file is read in record batches each epoch"
    return TrainResult(history, len(history["loss"]), stop, engine, reason, time.perf_counter() - started, best,
                       resumed_from)


def _fit_stream_with_keras(model, stream: Stream, training: TrainingConfig, progress: ProgressFn | None,
                           validation: bool, class_weight: dict[int, float] | None, callbacks: list):
    """training.engine keras: Keras' own model.fit over the stream's tf.data batches, each epoch's rows in the
    order the fast loop reads them (class weights as each row's sample weight)."""
    import tensorflow as tf

    def batches(chunks):  # chunks of whole batches -> the batches model.fit takes
        return chunks.flat_map(lambda *parts: tf.data.Dataset.from_tensor_slices(parts).batch(training.batch_size))

    train = batches(stream.dataset("train", training.batch_size, 0, training.shuffle, class_weight,
                                   epochs=training.epochs))
    held = None
    if validation:  # its length told: fit would warn that it "ran out of data" at the end of an unknown length
        steps = -(-stream.counts["validation"] // training.batch_size)
        held = batches(stream.dataset("validation", training.batch_size, shuffle=False))
        held = held.apply(tf.data.experimental.assert_cardinality(steps))
    return _fit_with_keras(model, train, None, training, progress, held, None, callbacks, rows=stream.counts["train"])


def _train_epoch(model, stream: Stream, training: TrainingConfig, steps: _Steps, names: list[str], epoch: int,
                 chunks, progress: ProgressFn | None) -> dict[str, float]:
    """One pass over the training rows: the next chunks_per_epoch `chunks`; the epoch's loss and metrics."""
    model.reset_metrics()
    done, total = 0, stream.counts["train"]
    for chunk in itertools.islice(chunks, stream.chunks_per_epoch("train", training.batch_size)):
        (steps.train if len(chunk) == 2 else steps.train_weighted)(*chunk)
        done += int(chunk[0].shape[0])
        if progress and done < total:
            progress(epoch + done / total, training.epochs, {})
    return _logs(model, names, "")


def stream_class_weight(setting, stream: Stream) -> dict[int, float] | None:
    """training.class_weight as {class id: weight}; "balanced" from the classes the scan pass counted.

    Example:
        >>> stream_class_weight("balanced", stream)  # 3 rows of class 0 for 1 of class 1
        {0: 0.6666666666666666, 1: 2.0}
    """
    if setting == "balanced":
        return balanced_class_weight(stream.class_counts)
    return resolve_class_weight(setting, np.zeros((0, 1)))


def _fingerprint(model, stream: Stream, training: TrainingConfig, seed: int, validation: bool) -> dict:
    """What a checkpoint must match to be resumed: as the in-memory engine's, plus the hashes of the training rows'
    numbers and of every value read."""
    counts, width = stream.counts, len(stream.inputs)
    shapes = [[counts["train"], width], [counts["train"], 1]]
    shapes += [[counts["validation"], width], [counts["validation"], 1]] if validation else []
    return {"data.stream": "streamed", "training": training.model_dump(mode="json", exclude=set(RESUMABLE_CHANGES)),
            "seed": seed, "data": shapes, "weights": [list(v.shape) for v in model.variables],
            "stream": stream.hashes["train"], "values": stream.values_hash}


def _logs(model, names: list[str], prefix: str) -> dict[str, float]:
    results = model.get_metrics_result()
    return {prefix + name: float(results[name]) for name in names}


class _Steps:
    """Compiled loops of Keras' train_step / test_step over the batches of one chunk of rows."""

    def __init__(self, tf, model, batch: int):
        self.tf, self.model, self.batch = tf, model, batch
        signature = [tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, 1], tf.float32)]
        weighted = [*signature, tf.TensorSpec([None], tf.float32)]  # + each row's class weight
        self.train = tf.function(lambda x, y: self._loop(model.train_step, x, y), input_signature=signature,
                                 autograph=False)
        self.train_weighted = tf.function(lambda x, y, w: self._loop(model.train_step, x, y, w),
                                          input_signature=weighted, autograph=False)
        self.test = tf.function(lambda x, y: self._loop(model.test_step, x, y), input_signature=signature,
                                autograph=False)

    def _loop(self, step, *parts):
        tf, batch = self.tf, self.batch
        count = (tf.shape(parts[0])[0] + batch - 1) // batch

        def one_batch(b):
            step(tuple(part[b * batch:(b + 1) * batch] for part in parts))
            return b + 1

        return tf.while_loop(lambda b: b < count, one_batch, [tf.constant(0)])


def evaluate_stream(model, stream: Stream, name: str) -> dict[str, float]:
    """Loss and metrics of `model` on part `name` of `stream` (one read of the file).

    Example:
        >>> evaluate_stream(model, stream, "validation")
        {'loss': 0.312, 'accuracy': 0.871}
    """
    import tensorflow as tf

    model.reset_metrics()
    for x, y in stream.shuffled(name, EVALUATE_ROWS, 0, shuffle=False):
        model.test_step((tf.constant(x), tf.constant(y)))
    results = {key: float(value) for key, value in model.get_metrics_result().items()}
    model.reset_metrics()
    return results
