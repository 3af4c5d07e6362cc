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
