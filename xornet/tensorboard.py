"""TensorBoard scalars for a run's per-epoch history (`training.tensorboard: DIR`).

Example:
    >>> write_scalars(Path("tb/xor"), {"loss": [0.7, 0.6], "accuracy": [0.5, 0.75]})
    # then: tensorboard --logdir tb
"""

from __future__ import annotations

from pathlib import Path

from xornet.backend import import_keras


def write_scalars(directory: Path, history: dict[str, list[float]]) -> None:
    """Write one scalar per metric per epoch (step = epoch number, from 1) as a TensorBoard event file."""
    import_keras()
    import tensorflow as tf

    directory.mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(directory))
    with writer.as_default():
        for name, values in history.items():
            for epoch, value in enumerate(values, start=1):
                tf.summary.scalar(f"epoch_{name}", value, step=epoch)
    writer.flush()
    writer.close()
