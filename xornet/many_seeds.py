"""Many seeds of one setting trained at once, as a batch of independent networks in one compiled loop.

Each seed's weights are one slice of stacked variables (a Dense kernel of
shape (seeds, inputs, units)); the forward pass is a batched matmul, and the
loss, metrics and optimizer are Keras' own: the per-sample loss function the
model compiles, its activations, and its optimizer applied to the stacked
variables (SGD, Adam and RMSprop update every weight on its own, so one update
of the stack is every seed's own update). Weights start from the values
`build_model` gives each seed (the same initializers, seeded the same way).
tests/test_many_seeds.py proves each seed's per-epoch history, final metrics
and final weights equal its single run to 1e-5.

Supported: Dense and Activation layers, full-batch training (no
`training.batch_size` smaller than the data), the losses and metrics in
`LOSSES` and `METRICS` below, engine auto or fast. For anything else
`unsupported(config)` says why, and the sweep trains seed by seed.

Example:
    >>> runs = train_seeds(config, seeds=range(1000))
    >>> runs[0].history["loss"][-1]
    0.0213
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xornet.config import ActivationLayer, Config, DenseLayer

LOSSES = ("binary_crossentropy", "mean_squared_error", "mean_absolute_error")
METRICS = ("accuracy", "binary_accuracy", "mean_squared_error", "mean_absolute_error")
MAX_VALUES = 50_000_000  # history values (seeds x epochs x metrics) one compiled call may hold


@dataclass
class SeedRun:
    """One seed's run: its per-epoch history, final metrics and weights (as `model.get_weights()`), or its error."""

    seed: int
    history: dict[str, list[float]]
    final: dict[str, float]
    weights: list[np.ndarray]
    error: str | None = None


def unsupported(config: Config, rows: int) -> str | None:
    """Why `train_seeds` cannot train `config` on `rows` rows, or None when it can.

    Example:
        >>> unsupported(Config(), rows=4) is None
        True
    """
    training = config.training
    if training.engine == "keras":
        return "training.engine is keras"
    if training.batch_size is not None and training.batch_size < rows:
        return "mini-batches (training.batch_size below the number of rows)"
    if training.loss not in LOSSES:
        return f"loss {training.loss}"
    for metric in training.metrics:
        if metric not in METRICS:
            return f"metric {metric}"
    for index, layer in enumerate(config.model.layers):
        if not isinstance(layer, (DenseLayer, ActivationLayer)):
            return f"layer {index} ({layer.type})"
    if "accuracy" in training.metrics and _last_units(config) != 1:
        return "accuracy of a network with more than one output"
    return None


def _last_units(config: Config) -> int:
    return [layer for layer in config.model.layers if isinstance(layer, DenseLayer)][-1].units


def initial_weights(config: Config, width: int, seeds: list[int]) -> list:
    """The Dense kernels and biases `build_model(config, width, seed)` starts from, stacked over `seeds`.

    Keras gives each random initializer an integer seed from Python's random
    module when the initializer is made (kernel, then bias, layer by layer),
    after `keras.utils.set_random_seed(seed)` has seeded that module; the draw
    itself is stateless from that integer. So the integers are drawn here the
    same way, and the same initializers are called for all seeds at once
    (`tf.vectorized_map`), each with its integer.
    """
    import copy
    import random

    from keras.src.initializers.random_initializers import RandomInitializer
    from keras.src.backend import random_seed_dtype
    from keras.src.random.seed_generator import make_default_seed

    from xornet.backend import import_keras

    keras = import_keras()
    import tensorflow as tf

    class GivenSeed(keras.random.SeedGenerator):
        """A seed generator whose next seed is a given tensor (one network's [seed, 0])."""

        def __init__(self, seed):  # no state variable: nothing to advance
            self.given = seed

        def next(self, ordered=True):
            return self.given

    made, inputs = [], width  # (initializer, shape or None when unused), in the order Dense layers make them
    for layer in (layer for layer in config.model.layers if isinstance(layer, DenseLayer)):
        made.append((keras.initializers.get(layer.kernel_initializer), (inputs, layer.units)))
        made.append((keras.initializers.get(layer.bias_initializer), (layer.units,) if layer.use_bias else None))
        inputs = layer.units
    randomised = [isinstance(init, RandomInitializer) for init, _ in made]
    state = random.getstate()
    try:
        drawn = []
        for seed in seeds:
            random.seed(seed)  # as keras.utils.set_random_seed
            drawn.append([make_default_seed() if flag else 0 for flag in randomised])
    finally:
        random.setstate(state)
    weights = []
    for column, ((init, shape), flag) in enumerate(zip(made, randomised)):
        if shape is None:
            continue
        if not flag:
            weights.append(np.broadcast_to(np.asarray(init(shape, dtype="float32")), (len(seeds), *shape)).copy())
            continue
        pairs = tf.constant([[row[column], 0] for row in drawn], dtype=random_seed_dtype())

        def one(pair, init=init, shape=shape):
            clone = copy.copy(init)
            clone.seed = GivenSeed(pair)
            return clone(shape, dtype="float32")

        # One traced loop over the seeds; tracing tf.vectorized_map costs more than running this.
        draw = tf.function(lambda pairs, one=one: tf.map_fn(one, pairs, fn_output_signature=tf.float32),
                           autograph=False)
        weights.append(draw(pairs).numpy())
    return weights


def train_seeds(config: Config, seeds, dataset=None) -> list[SeedRun]:
    """Train `config` from every seed in `seeds` at once; one `SeedRun` per seed, in order."""
    from xornet.data import load_data

    dataset = dataset or load_data(config)
    seeds = list(seeds)
    reason = unsupported(config, len(dataset.x))
    if reason:
        raise ValueError(f"train_seeds does not support {reason}")
    per_call = max(1, MAX_VALUES // (config.training.epochs * (1 + len(config.training.metrics))))
    runs = []
    for start in range(0, len(seeds), per_call):
        runs += _train_group(config, seeds[start:start + per_call], dataset)
    return runs


def _train_group(config: Config, seeds: list[int], dataset) -> list[SeedRun]:
    from xornet.backend import import_keras
    from xornet.network import make_optimizer

    keras = import_keras()
    import tensorflow as tf

    starts = initial_weights(config, dataset.width, seeds)
    variables = [keras.Variable(start, name=f"stacked_{i}") for i, start in enumerate(starts)]
    x = tf.constant(dataset.x, tf.float32)
    y = tf.broadcast_to(tf.constant(dataset.y, tf.float32)[None], (len(seeds), *dataset.y.shape))
    network = _Network(config, keras)
    optimizer = make_optimizer(config.training)
    optimizer.build(variables)
    names = ["loss", *config.training.metrics]

    @tf.function(autograph=False, jit_compile=True)
    def run(epochs):
        def epoch(step, rows_out):
            with tf.GradientTape() as tape:
                predicted = network(x, variables)
                losses = network.loss(y, predicted)  # (seeds,)
                total = tf.reduce_sum(losses)  # seeds are independent: d total / d w_s = d loss_s / d w_s
            optimizer.apply(tape.gradient(total, variables), variables)
            row = tf.stack([losses, *network.metrics(y, predicted)])
            return step + 1, rows_out.write(step, row)

        start = (tf.constant(0), tf.TensorArray(tf.float32, size=epochs))
        return tf.while_loop(lambda step, _: step < epochs, epoch, start)[1].stack()

    values = run(tf.constant(config.training.epochs)).numpy().transpose(2, 1, 0).astype(float)  # seeds, metrics, epochs
    predicted = network(x, variables)
    final_values = tf.stack([network.loss(y, predicted), *network.metrics(y, predicted)]).numpy().T.astype(float)
    weights = [np.asarray(v.numpy()) for v in variables]
    finite = np.isfinite(values[:, 0, :])
    runs = []
    for index, seed in enumerate(seeds):
        history = dict(zip(names, values[index].tolist()))
        error = None
        if not finite[index].all():
            bad = int(np.argmin(finite[index]))
            error = f"training stopped at epoch {bad + 1}: the loss became {values[index, 0, bad]}"
            history = {name: column[:bad + 1] for name, column in history.items()}
        runs.append(SeedRun(seed, history, dict(zip(names, final_values[index].tolist())),
                            [w[index] for w in weights], error))
    return runs


class _Network:
    """The config's Dense/Activation stack over stacked weights, with Keras' activations, loss and metrics."""

    def __init__(self, config: Config, keras):
        self.layers = []
        for layer in config.model.layers:
            if isinstance(layer, DenseLayer):
                self.layers.append(("dense", layer.use_bias, keras.activations.get(layer.activation)))
            else:
                self.layers.append(("activation", False, keras.activations.get(layer.activation)))
        from keras.src.losses.losses import LossFunctionWrapper  # what compile() wraps a loss name in

        self.loss_fn = LossFunctionWrapper(keras.losses.get(config.training.loss), reduction="none")
        self.metric_fns = []
        for name in config.training.metrics:
            if name in ("accuracy", "binary_accuracy"):
                self.metric_fns.append(keras.metrics.binary_accuracy)
            else:
                self.metric_fns.append(keras.losses.get(name))  # what Keras' MeanSquaredError etc. average

    def __call__(self, x, variables):
        import tensorflow as tf

        h, index = x, 0
        for kind, use_bias, activation in self.layers:
            if kind == "dense":  # as keras.layers.Dense: matmul, add bias, activation
                h = tf.matmul(h, variables[index].value)
                index += 1
                if use_bias:
                    h = tf.add(h, variables[index].value[:, None, :])
                    index += 1
            h = activation(h)
        return h

    def loss(self, y, predicted):
        """Each seed's loss, reduced as Keras' "sum_over_batch_size": the sum over rows divided by the rows."""
        import tensorflow as tf

        values = self.loss_fn(y, predicted)  # (seeds, rows)
        return tf.reduce_sum(values, axis=1) / tf.cast(tf.shape(values)[1], tf.float32)

    def metrics(self, y, predicted) -> list:
        import tensorflow as tf

        values = [tf.cast(fn(y, predicted), tf.float32) for fn in self.metric_fns]
        return [tf.reduce_mean(v, axis=list(range(1, len(v.shape)))) for v in values]  # per seed, as keras' Mean
