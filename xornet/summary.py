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
    """The summary of the network a config describes, built with fresh weights but not trained."""
    from xornet.network import build_model

    first = config.model.layers[0]
    if isinstance(first, DenseLayer) and first.input_dim is not None:
        width = first.input_dim
    else:
        from xornet.data import load_data

        width = load_data(config).width
    header = f"Experiment {config.name}" + (f" ({config.source})" if config.source and not config.source.startswith("<") else " (reference XOR experiment)")
    return header + "\n" + model_summary(build_model(config, width))


def saved_model_summary(model_path: Path) -> str:
    """The summary of a saved model, with its training facts when a run record is beside it."""
    from xornet.files.load import find_model_file, read_architecture, read_model_json
    from xornet.files.record import read_record, verify_against_record

    path = find_model_file(model_path)
    record = read_record(path)
    verify_against_record(path, record)
    model = read_architecture(path, read_model_json(path))  # the reader predict, evaluate and export use
    lines = [f"Model file {path}", model_summary(model)]
    if record:
        final = format_metrics(record.get("final", {}))
        lines.append(
            f"Trained by experiment {record.get('experiment')} with seed {record.get('seed')}: "
            f"{record.get('epochs_run')} epochs, {final}"
        )
    return "\n".join(lines)
