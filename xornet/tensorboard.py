"""TensorBoard scalars for a run's per-epoch history (`training.tensorboard: DIR`).

Example:
    >>> write_scalars(Path("tb/xor"), {"loss": [0.7, 0.6], "accuracy": [0.5, 0.75]})
    # then: tensorboard --logdir tb
"""

from __future__ import annotations

from pathlib import Path

from xornet.backend import import_keras


def write_scalars(directory: Path, history: dict[str, list[float]]) -> None:
    """Write one scalar per metric per epoch (step = epoch number, from 1) as TensorBoard event files.

    Training metrics go to `directory`, validation metrics (val_loss, ...) to
    `directory/validation` under the same tags (epoch_loss, ...), as Keras'
    TensorBoard callback does, so TensorBoard draws both curves in one chart.
    """
    import_keras()
    import tensorflow as tf

    validation = {name[len("val_"):]: values for name, values in history.items() if name.startswith("val_")}
    training = {name: values for name, values in history.items() if not name.startswith("val_")}
    for folder, scalars in ((directory, training), (directory / "validation", validation)):
        if not scalars:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        writer = tf.summary.create_file_writer(str(folder))
        with writer.as_default():
            for name, values in scalars.items():
                for epoch, value in enumerate(values, start=1):
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
        writer.flush()
        writer.close()
