"""Data-parallel training over the devices of one machine (`training.devices: auto | N`).

With N > 1 the model is built and compiled inside a `tf.distribute.MirroredStrategy`
scope over N devices (the GPUs, or CPU logical devices); both engines then split
each global batch across the replicas, and Keras' own `train_step` scales each
replica's loss by 1/N so that the summed gradients are those of the global batch.
`auto` means every GPU when there is one, else 1 device (the CPU). One device
means no strategy at all: the plain single-device code path.

Keras 3 does not work with `MultiWorkerMirroredStrategy` (keras-team/keras#20585),
so there is no multi-machine mode; several machines share work through one
sweep/tune storage instead.

Testing aid: `XORNET_CPU_DEVICES=N` splits the CPU into N logical devices when
TensorFlow starts (it must be set before the first xornet import of TensorFlow).

Example:
    >>> with strategy_scope(config.training):
    ...     model = build_model(config, 2)
    >>> device_names(model)
    ['CPU:0', 'CPU:1']
"""

from __future__ import annotations

import contextlib
import functools
import os

from xornet.errors import InputError

CPU_DEVICES_VARIABLE = "XORNET_CPU_DEVICES"


def split_cpu(tf) -> None:
    """Split the CPU into XORNET_CPU_DEVICES logical devices; call before TensorFlow initialises devices."""
    value = os.environ.get(CPU_DEVICES_VARIABLE)
    if not value:
        return
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{CPU_DEVICES_VARIABLE} must be a whole number >= 1, received {value!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(value))


def training_devices(setting: int | str) -> list[str]:
    """The devices `training.devices` asks for: N GPUs if there are N, else N CPU logical devices.

    Example:
        >>> training_devices("auto")  # a machine without GPUs
        ['/device:CPU:0']
    """
    from xornet.backend import import_keras

    import_keras()  # TensorFlow starts here, after XORNET_CPU_DEVICES splits the CPU
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if setting == "auto":
        return gpus or cpus[:1]
    available = gpus or cpus
    if setting > len(available):
        kind = "GPU" if gpus else "CPU"
        raise InputError(f"training.devices is {setting} but this machine has {len(available)} {kind} device(s)",
                         hint="use training.devices: auto, or a smaller number")
    return available[:setting]


def make_strategy(setting: int | str):
    """A MirroredStrategy over the devices of `training.devices`, or None for a single device."""
    devices = training_devices(setting)
    return None if len(devices) == 1 else _mirrored(tuple(devices))


@functools.cache
def _mirrored(devices: tuple[str, ...]):
    """One strategy per device set and process: a second MirroredStrategy's collective ops can
    collide with the first's (a shape mismatch when the next model has other weight shapes)."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))


def strategy_scope(training):
    """The scope to build and compile the model in: the strategy's, or a no-op for one device."""
    strategy = make_strategy(training.devices)
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def device_names(model) -> list[str]:
    """The devices `model` trains on, as CPU:0 / GPU:1; [] when it is not distributed (TensorFlow's default device).

    Example:
        >>> device_names(model)
        ['CPU:0', 'CPU:1']
    """
    strategy = model._distribute_strategy  # set by Keras when built inside a strategy scope
    if strategy is None:
        return []
    return [name.rsplit("device:", 1)[-1] for name in strategy.extended.worker_devices]


def check_fit_split(model, first_batch_rows: int) -> None:
    """Raise InputError when `model.fit` would split its first batch unevenly across replicas.

    Keras 3.15's fit builds a distributed model by averaging the replicas' first
    batches, which fails on unequal shapes (the fast engine has no such limit).
    """
    replicas = model.distribute_strategy.num_replicas_in_sync
    if first_batch_rows % replicas:
        raise InputError(f"training.engine keras cannot split a first batch of {first_batch_rows} rows evenly "
                         f"across {replicas} devices (Keras' fit needs equal shares to start)",
                         hint=f"use a batch_size that is a multiple of {replicas}, or engine auto")


def run_step(model, step, data: tuple):
    """Run `step` (model.train_step or test_step) on one global batch, split across the model's replicas.

    As `model.fit`'s distributed dataset splits a batch of k rows: replica i of n
    takes rows [i * ceil(k / n), (i + 1) * ceil(k / n)), so only the last replicas
    may have fewer rows (7 rows on 3 devices: 3, 3, 1).
    """
    strategy = model.distribute_strategy
    if strategy.num_replicas_in_sync == 1:
        return step(data)
    import tensorflow as tf

    def replica_step(*parts):
        context = tf.distribute.get_replica_context()
        replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
        replicas = context.num_replicas_in_sync
        share = (tf.shape(parts[0])[0] + replicas - 1) // replicas
        return step(tuple(part[replica * share:(replica + 1) * share] for part in parts))

    return strategy.run(replica_step, args=data)
