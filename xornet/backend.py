"""Importing TensorFlow and Keras, quietly and only when a command needs them.

TensorFlow's C++ start-up prints log lines (oneDNN, CUDA probing) straight to
file descriptor 2, which no Python setting silences. `import_keras` hides them
while importing unless `XORNET_DEBUG` is set, and shows them if the import fails.

Example:
    >>> keras = import_keras()
    >>> keras.__version__ >= "3"
    True
"""

from __future__ import annotations

import os
import sys
import tempfile

_keras = None


def import_keras():
    """Import TensorFlow and Keras once, with TensorFlow as Keras' backend; return `keras`."""
    global _keras
    if _keras is not None:
        return _keras
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("XORNET_DEBUG"):
        _keras = _import()
        return _keras
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            _keras = _import()
        except Exception:  # an import that failed: show why (a Ctrl-C is not a failure to explain)
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return _keras


def _import():
    import tensorflow as tf
    import keras

    if keras.backend.backend() != "tensorflow":
        from xornet.errors import XornetError

        raise XornetError(
            f"xornet needs Keras' TensorFlow backend, received KERAS_BACKEND={keras.backend.backend()!r}",
            hint="unset KERAS_BACKEND or set it to tensorflow",
        )
    from xornet.devices import split_cpu

    split_cpu(tf)  # XORNET_CPU_DEVICES, a testing aid: before devices start
    tf.config.list_logical_devices()  # device start-up logs here, while fd 2 is captured
    # Each run traces its own training function; TensorFlow's "retracing" warning
    # about that is expected, not a problem to report.
    tf.get_logger().setLevel("ERROR")
    return keras
