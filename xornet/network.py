"""Building and compiling the Keras network a config describes.

Example:
    >>> from xornet.config import Config
    >>> model = build_model(Config(), input_width=2)
    >>> model.count_params()
    41
"""

from __future__ import annotations

import re

from xornet.backend import import_keras
from xornet.config import (ActivationLayer, BatchNormalizationLayer, Config, DenseLayer, DropoutLayer, FlattenLayer,
                           LeakyReLULayer, TrainingConfig)


def snake_case(name: str) -> str:
    """Keras' object names from class names (its `to_snake_case`): BatchNormalization -> batch_normalization,
    LeakyReLU -> leaky_re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_names(config: Config) -> list[str]:
    """The layer names Keras would give in a fresh session: dense, activation, dense_1, ...

    Naming them explicitly keeps names stable however many models a process builds.
    """
    counts: dict[str, int] = {}
    names = []
    for layer in config.model.layers:
        if layer.name:
            names.append(layer.name)
            continue
        base = snake_case(layer.type)
        seen = counts.get(base, 0)
        counts[base] = seen + 1
        names.append(base if seen == 0 else f"{base}_{seen}")
    return names


def build_model(config: Config, input_width: int, seed: int | None = None, normalize_on=None):
    """A `keras.Sequential` for `config`, its weights initialised from `seed`.

    With `normalize_on` (the training rows), a `Normalization` layer adapted on
    them comes first, so the saved model takes raw features.
    """
    keras = import_keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape=(input_width,))]
    if normalize_on is not None:
        from xornet.preprocessing import normalization_layer

        layers.append(normalization_layer(normalize_on))
    for spec, name in zip(config.model.layers, layer_names(config)):
        if isinstance(spec, DenseLayer):
            layers.append(
                keras.layers.Dense(
                    spec.units,
                    activation=spec.activation,
                    use_bias=spec.use_bias,
                    kernel_initializer=spec.kernel_initializer,
                    bias_initializer=spec.bias_initializer,
                    name=name,
                )
            )
        elif isinstance(spec, ActivationLayer):
            layers.append(keras.layers.Activation(spec.activation, name=name))
        elif isinstance(spec, DropoutLayer):
            layers.append(keras.layers.Dropout(spec.rate, name=name))
        elif isinstance(spec, BatchNormalizationLayer):
            layers.append(keras.layers.BatchNormalization(momentum=spec.momentum, epsilon=spec.epsilon,
                                                          center=spec.center, scale=spec.scale, name=name))
        elif isinstance(spec, LeakyReLULayer):
            layers.append(keras.layers.LeakyReLU(negative_slope=spec.negative_slope, name=name))
        elif isinstance(spec, FlattenLayer):
            layers.append(keras.layers.Flatten(name=name))
    return keras.Sequential(layers, name=config.name)


def make_optimizer(training: TrainingConfig):
    """The Keras optimizer object for a training section."""
    keras = import_keras()
    if training.optimizer == "sgd":
        return keras.optimizers.SGD(
            learning_rate=training.learning_rate, momentum=training.momentum, nesterov=training.nesterov
        )
    if training.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=training.learning_rate, momentum=training.momentum)
    return keras.optimizers.Adam(learning_rate=training.learning_rate)


def compile_model(model, training: TrainingConfig) -> None:
    """Compile `model` with the config's optimizer, loss and metrics, as `model.fit` would use them."""
    model.compile(optimizer=make_optimizer(training), loss=training.loss, metrics=list(training.metrics))
