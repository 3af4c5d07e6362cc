"""Names Keras resolves by string, and the largest network xornet builds or loads.

Plain constants, so that validating a config needs no TensorFlow and reading a
model file or a run record needs no pydantic (`xornet serve` starts without
it); `xornet.config` validates against them and tests/test_config.py checks
each list against Keras itself.

Example:
    >>> "binary_crossentropy" in LOSSES
    True
"""

ACTIVATIONS = (
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
    "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink",
    "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
)  # fmt: skip
LOSSES = (
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "mean_squared_error", "mean_absolute_error",
    "hinge", "squared_hinge", "log_cosh", "huber",
)  # fmt: skip
METRICS = (
    "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "mean_squared_error", "mean_absolute_error",
    "auc", "precision", "recall",
)  # fmt: skip
# Keras' short names for a loss or metric, read as the full name (the one Keras' history and files use).
SHORT_NAMES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "random_uniform", "random_normal", "truncated_normal", "zeros",
    "ones", "orthogonal",
)  # fmt: skip
OPTIMIZERS = ("sgd", "adam", "rmsprop")

# The largest network xornet builds or loads; a float32 copy of its weights takes 400 MB.
MAX_PARAMETERS = 100_000_000
