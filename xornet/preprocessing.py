"""Preprocessing that lives inside the saved model, so plain Keras reproduces predictions from raw features.

Example:
    >>> layer = normalization_layer(x_train)  # a keras.layers.Normalization adapted on x_train
    >>> model = keras.Sequential([keras.Input(shape=(8,)), layer, keras.layers.Dense(1)])
"""

from __future__ import annotations

import numpy as np

from xornet.backend import import_keras


def normalization_layer(rows: np.ndarray, name: str = "normalization"):
    """A Keras `Normalization` layer adapted on `rows` (the training split only): (x - mean) / sqrt(variance),
    with variance 1 for a constant column (`set_moments`).

    Its mean, variance and count are ordinary (non-trainable) weights, saved in
    the weights file and restored by `load_weights`.
    """
    keras = import_keras()
    layer = keras.layers.Normalization(axis=-1, name=name)
    layer.adapt(np.asarray(rows, dtype="float32"))
    set_moments(layer, layer.adapt_mean.numpy(), layer.adapt_variance.numpy())
    return layer


def set_moments(layer, mean: np.ndarray, variance: np.ndarray) -> None:
    """Give an adapted `Normalization` layer this mean and variance, with 1 as the variance of a constant column.

    Keras divides by max(sqrt(variance), 1e-7): a column that holds one value
    in every training row (such as data.unknown's column for unseen categories)
    would turn any other value into millions. Such a column is centred, not
    scaled, as scikit-learn's StandardScaler does.

    Example:
        >>> set_moments(layer, np.array([0.0, 2.0]), np.array([0.0, 4.0]))
        >>> layer.adapt_variance.numpy().tolist()
        [1.0, 4.0]
    """
    mean, variance = np.asarray(mean, dtype="float32"), np.asarray(variance, dtype="float32")
    constant = np.sqrt(variance) <= np.maximum(1e-7, 1e-6 * np.abs(mean))  # float32 moments of one repeated value
    layer.adapt_mean.assign(mean)
    layer.adapt_variance.assign(np.where(constant, np.float32(1), variance))
    layer.finalize_state()


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
