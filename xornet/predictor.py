"""A saved model ready to predict: NumPy when the network allows, Keras otherwise.

Example:
    >>> predictor = load_predictor("models/basic_model.json")
    >>> predictor.predict(np.array([[0, 1]], "float32")).round(2).tolist()
    [[0.94]]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xornet.files.architecture import output_activation
from xornet.files.load import _model_files, read_architecture
from xornet.files.weights_h5 import layer_classes, read_weights_h5, set_weights_from

@dataclass
class Predictor:
    """A saved model ready to predict: call it on rows, get probabilities.

    Plain Dense/Activation/Dropout networks run in NumPy (no TensorFlow
    import); anything else runs in Keras.
    """

    predict: Callable[[np.ndarray], np.ndarray]
    input_width: int
    record: dict | None
    engine: str
    path: Path  # the architecture file found (a bare name is looked for in models/ too)
    # The input of the last sigmoid or softmax, from which Keras computes cross-entropies (None: it has none).
    logits: Callable[[np.ndarray], np.ndarray | None] = lambda x: None
    output_activation: str | None = None  # files.architecture.output_activation: "sigmoid", "linear", ...
    output_width: int = 1  # values per row


def load_predictor(model_path: str | Path, weights_path: str | Path | None = None) -> Predictor:
    """Load a saved model for prediction, with NumPy when the network allows it.

    Example:
        >>> predictor = load_predictor("models/basic_model.json")
        >>> predictor.predict(np.array([[0, 1]], "float32")).round(2).tolist()
        [[0.94]]
    """
    from xornet.numpy_inference import NumpyNetwork

    path, record, config, weights = _model_files(model_path, weights_path)
    layers = read_weights_h5(weights, layer_classes(config))
    network = NumpyNetwork.from_config(config, layers, weights)
    if network is not None:
        return Predictor(network, network.input_width, record, "numpy", Path(path), network.logits,
                         output_activation(config), network.output_width)
    from xornet.predicting import predict

    model = read_architecture(path, config)
    set_weights_from(model, layers, weights)
    return Predictor(lambda x: predict(model, x), int(model.input_shape[-1]), record, "keras", Path(path),
                     lambda x: _keras_logits(model, x), output_activation(config), int(model.output_shape[-1]))


def _keras_logits(model, x: np.ndarray) -> np.ndarray | None:
    """What a Keras model's last sigmoid or softmax is given (see NumpyNetwork.logits); None without one."""
    from xornet.backend import import_keras

    keras = import_keras()
    last = model.layers[-1]
    if getattr(getattr(last, "activation", None), "__name__", None) not in ("sigmoid", "softmax"):
        return None
    out = keras.ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    for layer in model.layers[:-1]:
        out = layer(out)
    if isinstance(last, keras.layers.Dense):
        out = keras.ops.matmul(out, last.kernel) + (last.bias if last.use_bias else 0)
    return keras.ops.convert_to_numpy(out)
