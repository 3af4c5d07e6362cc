"""Preprocessing that lives inside the saved model, so plain Keras reproduces predictions from raw features.

Example:
    >>> layer = normalization_layer(x_train)  # a keras.layers.Normalization adapted on x_train
    >>> model = keras.Sequential([keras.Input(shape=(8,)), layer, keras.layers.Dense(1)])
"""

from __future__ import annotations

import numpy as np

from xornet.backend import import_keras

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization divides by max(sqrt(variance), this)


def normalization_layer(rows: np.ndarray, name: str = "normalization"):
    """A Keras `Normalization` layer holding the mean and variance of `rows` (the training split only):
    (x - mean) / sqrt(variance), with variance 1 for a constant column (`set_moments`).

    The moments are summed in float64 (`moments`), as the streamed reader sums them: `adapt` on a float32
    array sums each column in float32, whose variances fall 0.1% short at a million rows. Its mean, variance
    and count are ordinary (non-trainable) weights, saved in the weights file and restored by `load_weights`.
    """
    keras = import_keras()
    layer = keras.layers.Normalization(axis=-1, name=name)
    layer.build((None, rows.shape[1]))
    set_moments(layer, *moments(rows))
    return layer


def moments(x: np.ndarray, rows_at_once: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and variance (of the population, as Keras' `adapt`), summed in float64 a block of rows
    at a time: exact to float64's precision at any row count, without a float64 copy of `x`.

    Example:
        >>> moments(np.array([[1, 10], [3, 10]], "float32"))
        (array([ 2., 10.]), array([1., 0.]))
    """
    total = np.zeros(x.shape[1])
    for start in range(0, len(x), rows_at_once):
        total += x[start:start + rows_at_once].sum(axis=0, dtype=np.float64)
    mean = total / len(x)
    squares = np.zeros(x.shape[1])
    for start in range(0, len(x), rows_at_once):
        deviations = x[start:start + rows_at_once] - mean
        squares += np.einsum("ij,ij->j", deviations, deviations)
    return mean, squares / len(x)


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
    layer.adapt_mean.assign(mean)
    layer.adapt_variance.assign(np.where(constant(mean, variance), np.float32(1), variance))
    layer.finalize_state()


def unscalable_column(mean: np.ndarray, variance: np.ndarray) -> tuple[int, str] | None:
    """The first column a `Normalization` layer cannot scale, and why: its variance overflows float32 (values
    near 1e20 and beyond), or it varies, but by less than the 1e-7 that Keras divides by at least (values near
    1e-8 and below: they would come out near zero); None when every column can be scaled.

    Example:
        >>> unscalable_column(np.array([0.0, 0.0]), np.array([1.0, 1e-40]))
        (1, 'its values vary by too little to normalize (standard deviation 1e-20, below the 1e-07 that ...
    """
    std = np.sqrt(variance)
    for column in range(len(variance)):
        if variance[column] > np.finfo(np.float32).max:
            return column, "too large to normalize (the column's variance overflows float32)"
        if 0 < std[column] < KERAS_EPSILON and not constant(mean[column], variance[column]):
            return column, (f"its values vary by too little to normalize (standard deviation {std[column]:.2g}, "
                            f"below the {KERAS_EPSILON:g} that Keras' Normalization divides by at least)")
    return None


def constant(mean, variance):
    """Whether a column (or each, for arrays) holds one value, as its moments show it: its standard deviation is
    0, or within float32's rounding of its mean.

    Example:
        >>> constant(np.array([5.0, 0.0, 0.0]), np.array([0.0, 0.0, 4.0])).tolist()
        [True, True, False]
    """
    mean, variance = np.asarray(mean, dtype="float32"), np.asarray(variance, dtype="float32")
    return np.sqrt(variance) <= 1e-6 * np.abs(mean)
