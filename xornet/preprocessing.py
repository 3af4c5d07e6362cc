"""Preprocessing that lives inside the saved model, so plain Keras reproduces predictions from raw features.

Example:
    >>> layer = normalization_layer(x_train)  # a keras.layers.Normalization adapted on x_train
    >>> model = keras.Sequential([keras.Input(shape=(8,)), layer, keras.layers.Dense(1)])
"""

from __future__ import annotations

import numpy as np

from xornet.backend import import_keras


def normalization_layer(rows: np.ndarray, name: str = "normalization"):
    """A Keras `Normalization` layer adapted on `rows` (the training split only): (x - mean) / sqrt(variance).

    Its mean, variance and count are ordinary (non-trainable) weights, saved in
    the weights file and restored by `load_weights`.
    """
    keras = import_keras()
    layer = keras.layers.Normalization(axis=-1, name=name)
    layer.adapt(np.asarray(rows, dtype="float32"))
    return layer


def too_large_to_normalize(x: np.ndarray) -> int | None:
    """The first column of `x` whose variance overflows float32 (values near 1e20 and beyond), where a
    `Normalization` layer would hold an infinite variance; None when every column fits.

    Example:
        >>> too_large_to_normalize(np.array([[0, 1e30], [1, 0]], "float32"))
        1
    """
    with np.errstate(over="ignore"):
        variance = np.var(x, axis=0, dtype=np.float64)
    too_large = np.flatnonzero(variance > np.finfo(np.float32).max)
    return int(too_large[0]) if too_large.size else None
