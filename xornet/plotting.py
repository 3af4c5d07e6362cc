"""Pictures of a run: loss and accuracy curves (training and validation together), and for two-input models the decision surface.

matplotlib runs with its non-interactive Agg backend; nothing opens a window.

Example:
    >>> plot_run(Path("models/basic_model.json"), Path("xor.png"))
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from xornet.files.names import history_path
from xornet.files.safe_write import atomic_write
from xornet.predictor import Predictor
from xornet.data import Dataset
from xornet.errors import InputError


PICTURE_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "webp", "tif", "tiff", "eps")  # matplotlib's savefig formats


def picture_format(path: Path, where: str) -> str:
    """The savefig format a picture's file name asks for (its suffix); refuse a suffix matplotlib cannot write.

    `where` starts the error message, e.g. "--out x.gifv".

    Example:
        >>> picture_format(Path("xor.svg"), "--out xor.svg")
        'svg'
    """
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in PICTURE_FORMATS:
        received = f"'.{suffix}'" if suffix else "no suffix"
        raise InputError(f"{where}: expected a file name ending in .{', .'.join(PICTURE_FORMATS)}, received {received}",
                         hint="the suffix picks the picture format")
    return suffix


def read_history(path: Path) -> dict[str, list[float]]:
    """A run's per-epoch history CSV as {metric: values}."""
    if not path.exists():
        raise InputError(f"{path}: history file not found", hint="train the model with xornet to record one")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [name for name in (rows[0].keys() if rows else []) if name != "epoch"]
    return {name: [float(row[name]) for row in rows] for name in names}


def plot_run(model_path: Path, out: Path, predictor: Predictor, dataset: Dataset | None) -> Path:
    """Draw the history curves (and the decision surface for two inputs) into `out`, in the format its suffix names."""
    picture = picture_format(out, str(out))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history_path(model_path).exists():  # a model from plain Keras, say: name the model the user gave
        raise InputError(f"{model_path}: no training history to plot ({history_path(model_path)} not found)",
                         hint="plot draws the curves `xornet train` records beside the model it saves")
    history = read_history(history_path(model_path))
    trained = [name for name in history if not name.startswith("val_")]
    curves = [name for name in trained if name == "loss"] + [name for name in trained if name != "loss"]
    surface = predictor.input_width == 2
    panels = len(curves) + int(surface)
    figure, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 4), squeeze=False)
    axes = axes[0]
    for axis, name in zip(axes, curves):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], color="tab:blue" if name == "loss" else "tab:green", label="training")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], color="tab:orange", label="validation")
            axis.legend()
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(f"{name} per epoch")
        axis.grid(alpha=0.3)
    if surface:
        _decision_surface(axes[-1], predictor, dataset)
    experiment = (predictor.record or {}).get("experiment")
    figure.suptitle(f"experiment {experiment} ({model_path})" if experiment else str(model_path))
    figure.tight_layout()
    atomic_write(out, lambda temp: figure.savefig(temp, format=picture, dpi=100))
    plt.close(figure)
    return out


def _decision_surface(axis, predictor: Predictor, dataset: Dataset | None) -> None:
    low, high = -0.25, 1.25
    if dataset is not None:
        low = min(low, float(dataset.x.min()) - 0.25)
        high = max(high, float(dataset.x.max()) + 0.25)
    grid = np.linspace(low, high, 201, dtype="float32")
    xx, yy = np.meshgrid(grid, grid)
    probabilities = predictor.predict(np.column_stack([xx.ravel(), yy.ravel()]))
    values = probabilities[:, 0] if probabilities.shape[1] == 1 else probabilities.argmax(axis=1)
    image = axis.contourf(xx, yy, values.reshape(xx.shape), levels=20, cmap="RdBu_r", alpha=0.8)
    axis.figure.colorbar(image, ax=axis, label="probability of class 1" if probabilities.shape[1] == 1 else "class")
    if dataset is not None:
        axis.scatter(dataset.x[:, 0], dataset.x[:, 1], c=dataset.y[:, 0], cmap="RdBu_r", edgecolors="black",
                     s=80, vmin=0, vmax=max(1, float(dataset.y.max())))
    names = dataset.feature_names if dataset is not None else ["x1", "x2"]
    axis.set_xlabel(names[0])
    axis.set_ylabel(names[1])
    axis.set_title("decision surface")
