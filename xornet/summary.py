"""Text summaries of networks: Keras' own table, plus what a run record adds.

A config's network is built by `build_model`, as training builds it; a saved
model's table is drawn without TensorFlow when `keras_free_summary` can (proven
equal to Keras' own in tests/test_summary.py), else by Keras.

Example:
    >>> from xornet.config import Config
    >>> print(config_summary(Config()))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path

from xornet.config import Config, DenseLayer
from xornet.files.architecture import LAYER_WEIGHTS, layer_weights

LINE_LENGTH = 72


def format_metrics(values: dict[str, float]) -> str:
    """"loss 0.0498, accuracy 100.0%": accuracies as percentages, the rest to 4 decimals."""
    return ", ".join(f"{k} {v * 100:.1f}%" if "accuracy" in k else f"{k} {v:.4f}" for k, v in values.items())


def model_summary(model) -> str:
    """Keras' `model.summary()` table as a string."""
    parts: list[str] = []
    model.summary(print_fn=lambda text, **_: parts.append(text), line_length=LINE_LENGTH)
    return "".join(parts).rstrip("\n")


def _counted_as_keras_counts(layer: dict) -> bool:
    """A layer whose weights `LAYER_WEIGHTS` knows: float32, trainable, no options that add or remove weights."""
    options = layer["config"]
    dtype = options.get("dtype", "float32")
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":
        dtype = (dtype.get("config") or {}).get("name")
    return (layer["class_name"] in LAYER_WEIGHTS and dtype == "float32" and options.get("trainable", True) is True
            and isinstance(options.get("name"), str) and options.get("axis", -1) in (-1, 1, [-1], [1])
            and not options.get("renorm") and options.get("quantization_config") is None and not options.get("lora_rank")
            and options.get("mean") is None and options.get("variance") is None
            and (layer["class_name"] != "Dense" or isinstance(options.get("units"), int)))


def keras_free_summary(config: dict) -> str | None:
    """Keras' `model.summary()` table of a checked Sequential config (`check_architecture`), without TensorFlow.

    Drawn with rich exactly as `keras.src.utils.summary_utils.print_summary` draws a
    Sequential model; None when a layer has anything whose weights this does not
    count as Keras does (another dtype, trainable false, ...): Keras draws those.

    Example:
        >>> keras_free_summary(read_model_json(Path("models/basic_model.json"))).splitlines()[0]
        'Model: "xor"'
    """
    import rich.console
    import rich.markup
    import rich.table

    model, layers = config["config"], config["config"]["layers"]
    batch_shape = layers[0]["config"].get("batch_shape")
    if (not isinstance(model.get("name"), str) or model.get("trainable", True) is not True
            or layers[0]["class_name"] != "InputLayer" or not all(map(_counted_as_keras_counts, layers[1:]))
            or not (isinstance(batch_shape, list) and len(batch_shape) == 2 and isinstance(batch_shape[1], int))):
        return None
    number, symbol = "[color(34)]{}[/]".format, "[color(33)]{}[/]".format  # Keras' highlight_number, highlight_symbol
    widths = [int(0.45 * LINE_LENGTH), int(0.80 * LINE_LENGTH) - int(0.45 * LINE_LENGTH),
              LINE_LENGTH - int(0.80 * LINE_LENGTH)]
    columns = [rich.table.Column(name, justify=justify, width=width) for name, justify, width in
               zip(["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"], widths)]
    table = rich.table.Table(*columns, width=LINE_LENGTH, show_lines=True)
    weights = []
    for layer, made, width in layer_weights(config):
        weights += made
        name = rich.markup.escape(layer["config"]["name"]) + f" ({symbol(rich.markup.escape(layer['class_name']))})"
        count = sum(math.prod(shape) for shape, _, _ in made)
        table.add_row(name, f"([color(45)]None[/], {number(width)})", number(f"{count:,}"))
    console = rich.console.Console(highlight=False, force_terminal=False, color_system=None)
    console.begin_capture()
    console.print(f'[bold]Model: "{rich.markup.escape(model["name"])}"[/]')
    console.print(table)
    for label, trainable in ((" Total params: ", None), (" Trainable params: ", True), (" Non-trainable params: ", False)):
        chosen = [(shape, size) for shape, size, kind in weights if trainable is None or kind is trainable]
        count, size = sum(math.prod(shape) for shape, _ in chosen), sum(math.prod(shape) * b for shape, b in chosen)
        console.print(f"[bold]{label}[/]" + number(f"{count:,}") + f" ({_readable_size(size)})")
    return console.end_capture().rstrip("\n")


def _readable_size(size: float) -> str:
    """Keras' readable_memory_size: 164.00 B, 2.25 KB, ..."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"  # Keras divides once more before this last one


def config_summary(config: Config) -> str:
    """The summary of the network training builds for a config (`build_model`), with fresh weights.

    With `data.normalize` the Normalization layer comes first, as in training; it is
    adapted here on one row of zeros, which gives it the shapes (not the values) training gives it.
    """
    import numpy as np

    from xornet.network import build_model

    width = input_width(config)
    normalize_on = np.zeros((1, width), "float32") if config.data.normalize else None
    header = f"Experiment {config.name}" + (f" ({config.source})" if config.source and not config.source.startswith("<") else " (reference XOR experiment)")
    return header + "\n" + model_summary(build_model(config, width, normalize_on=normalize_on))


def input_width(config: Config) -> int:
    """The width of the rows training feeds the network, reading no more of the data than needed.

    model.layers.0.input_dim or the truth table's inputs when given; else the feature
    columns named in the file's header; categorical columns (one-hot, one column per
    category of the training rows) and .npy files need the data itself.

    Example:
        >>> input_width(load_config("configs/iris.yaml"))
        4
    """
    first, data = config.model.layers[0], config.data
    if isinstance(first, DenseLayer) and first.input_dim is not None:
        return first.input_dim
    if data.path is None:
        return data.inputs
    path = Path(data.path)
    if data.categorical or path.suffix.lower() not in (".csv", ".txt", ".parquet", ".pq") or not path.is_file():
        from xornet.data import load_data

        return load_data(config).width  # its errors name a missing file or an unknown suffix
    from xornet.data import column_names, pick_columns

    return len(pick_columns(column_names(path), data.features, data.label, str(data.path),
                            config.override_of("data.label"))[0])


def saved_model_summary(model_path: Path, weights_path: Path | None = None) -> str:
    """The summary of a saved model, with its training facts when a run record is beside it.

    The files are checked as predict checks them (SHA-256 against the run record,
    architecture, HDF5 weights and their shapes); an architecture file with no
    weights and no run record is shown as built. The table is drawn without
    TensorFlow when `keras_free_summary` can, else by Keras from the loaded model.

    Example:
        >>> print(saved_model_summary(Path("models/basic_model.json")).splitlines()[-1])
        Trained by experiment xor with seed 42: 788 epochs, loss 0.0498, accuracy 100.0%
    """
    from xornet.files.load import _model_files, load_model, weights_candidates
    from xornet.files.weights_h5 import layer_classes, read_weights_h5
    from xornet.numpy_inference import NumpyNetwork

    path, record, config, weights = _model_files(model_path, weights_path, weights_optional=True)
    checked = weights is None or NumpyNetwork.from_config(config, read_weights_h5(weights, layer_classes(config)),
                                                          weights) is not None  # predict's check of the weights
    table = keras_free_summary(config) if checked else None
    if table is None:
        table = model_summary(load_model(path, weights, weights_optional=True).model)
    lines = [f"Model file {path}", table]
    if weights is None:
        looked = ", ".join(p.name for p in weights_candidates(path, record))
        lines.append(f"No weights file beside it (looked for {looked}): the architecture alone, untrained; "
                     "pass --weights PATH for a weights file of another name")
    elif record:
        final = format_metrics(record.get("final", {}))
        lines.append(
            f"Trained by experiment {record.get('experiment')} with seed {record.get('seed')}: "
            f"{record.get('epochs_run')} epochs, {final}"
        )
    return "\n".join(lines)
