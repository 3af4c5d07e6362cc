"""Text summaries of networks: Keras' own table, plus what a run record adds.

Example:
    >>> from xornet.config import Config
    >>> print(config_summary(Config()))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from xornet.config import Config, DenseLayer

LINE_LENGTH = 72


def format_metrics(values: dict[str, float]) -> str:
    """"loss 0.0498, accuracy 100.0%": accuracies as percentages, the rest to 4 decimals."""
    return ", ".join(f"{k} {v * 100:.1f}%" if "accuracy" in k else f"{k} {v:.4f}" for k, v in values.items())


def model_summary(model) -> str:
    """Keras' `model.summary()` table as a string."""
    parts: list[str] = []
    model.summary(print_fn=lambda text, **_: parts.append(text), line_length=LINE_LENGTH)
    return "".join(parts).rstrip("\n")


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
    from xornet.data import _pick_columns
    from xornet.data.stream import _column_names

    return len(_pick_columns(_column_names(path), data.features, data.label, str(data.path))[0])


def saved_model_summary(model_path: Path, weights_path: Path | None = None) -> str:
    """The summary of a saved model, with its training facts when a run record is beside it.

    The files are found and checked by `load_model`, as predict, evaluate, plot and
    export check them (SHA-256 against the run record, architecture, HDF5 weights);
    an architecture file with no weights and no run record is shown as built.

    Example:
        >>> print(saved_model_summary(Path("models/basic_model.json")).splitlines()[-1])
        Trained by experiment xor with seed 42: 788 epochs, loss 0.0498, accuracy 100.0%
    """
    from xornet.files.load import load_model

    loaded = load_model(model_path, weights_path, weights_optional=True)
    lines = [f"Model file {loaded.model_path}", model_summary(loaded.model)]
    record = loaded.record
    if loaded.weights_path is None:
        lines.append("No weights file beside it: the architecture alone, untrained")
    elif record:
        final = format_metrics(record.get("final", {}))
        lines.append(
            f"Trained by experiment {record.get('experiment')} with seed {record.get('seed')}: "
            f"{record.get('epochs_run')} epochs, {final}"
        )
    return "\n".join(lines)
