"""The model a server holds: loaded once, verified against its run record, and described.

The files' SHA-256 are taken when the model is loaded; `files_on_disk` tells
whether the files still match them, so a server can say it keeps serving the
verified version after someone replaced a file.

Example:
    >>> served = load_served_model("models/basic_model.json")
    >>> served.predictor.engine, served.describe()["input"]["width"]
    ('numpy', 2)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from datetime import UTC, datetime
from pathlib import Path

from xornet.errors import InputError
from xornet.files.architecture import layer_weights
from xornet.files.load import find_model_file, find_weights_file, read_model_json
from xornet.files.names import record_path
from xornet.files.record import read_record
from xornet.files.safe_write import sha256_of
from xornet.predicting import input_names, prediction_labels
from xornet.prediction_inputs import input_encoding
from xornet.predictor import Predictor, load_predictor

TASKS = {
    "binary_crossentropy": "binary classification",
    "binary_focal_crossentropy": "binary classification",
    "hinge": "binary classification",
    "squared_hinge": "binary classification",
    "categorical_crossentropy": "multi-class classification",
    "sparse_categorical_crossentropy": "multi-class classification",
}
RECORD_FACTS = ("experiment", "created", "config_file", "seed", "epochs_run", "stop_reason", "converged",
                "final", "train_seconds", "data", "versions")


@dataclass
class ServedModel:
    """A loaded predictor with the files it came from and their SHA-256 when loaded."""

    predictor: Predictor
    model_path: Path
    weights_path: Path
    sha256: dict[str, str]
    layers: list[dict]
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def record(self) -> dict:
        return self.predictor.record or {}

    @cached_property
    def labels(self) -> dict:
        """Class names and regression or not, from the run record, as `xornet predict` labels its rows."""
        return prediction_labels(self.record, self.predictor.output_activation)

    @cached_property
    def encoding(self) -> dict | None:
        """How a request's raw feature columns become the model's inputs (the run record's "data" section), as
        `xornet predict` encodes them; None without a record naming the features."""
        return input_encoding(self.record, self.predictor.input_width)

    def inputs(self) -> dict:
        """What GET /model says of the inputs: the model's `width` and input `names` (one-hot columns named
        "region=east"), and the raw `features` a request's row holds, with the `categories` of categorical ones.

        Example:
            >>> load_served_model("models/basic_model.json").inputs()
            {'width': 2, 'names': ['x1', 'x2'], 'features': ['x1', 'x2'], 'categories': {}}
        """
        width, encoding = self.predictor.input_width, self.encoding
        names = input_names(width, (encoding.get("inputs") or encoding["features"]) if encoding else None)
        return {"width": width, "names": names, "features": encoding["features"] if encoding else names,
                "categories": (encoding.get("categorical") or {}) if encoding else {}}

    @property
    def paths(self) -> dict[str, Path]:
        return {"model": self.model_path, "weights": self.weights_path, "record": record_path(self.model_path)}

    def verified(self) -> bool:
        """True when the run record holds the SHA-256 of both files and they matched when loaded."""
        files = self.record.get("files") or {}
        return all(isinstance(files.get(role), dict) and files[role].get("sha256") == self.sha256[role]
                   for role in ("model", "weights"))

    def files_on_disk(self) -> dict[str, dict]:
        """Each file's path, SHA-256 when loaded, and whether the file on disk still has it."""
        return {role: {"path": str(path), "sha256": self.sha256.get(role),
                       "matches_disk": _sha256_or_none(path) == self.sha256.get(role)}
                for role, path in self.paths.items()}

    def describe(self, reload_on_change: bool = False) -> dict:
        """What GET /model shows: architecture, inputs, task, class names, run facts, files.

        Example:
            >>> load_served_model("models/basic_model.json").describe()["task"]
            'binary classification'
        """
        record = self.record
        files = self.files_on_disk()
        changed = [role for role, entry in files.items() if not entry["matches_disk"]]
        return {
            "model": str(self.model_path),
            "engine": self.predictor.engine,
            "layers": self.layers,
            "parameters": sum(layer["params"] or 0 for layer in self.layers),
            "input": self.inputs(),
            "outputs": self.layers[-1]["output_width"] if self.layers else None,
            "task": self.task(),
            "class_names": self.labels["class_names"],
            "run": {key: record[key] for key in RECORD_FACTS if key in record} or None,
            "verified": self.verified(),
            "loaded_at": self.loaded_at,
            "files": files,
            "serving": (f"the files as loaded at {self.loaded_at}"
                        + (", verified against the run record" if self.verified() else ", without a run record to verify them")
                        if not changed else
                        f"the version loaded at {self.loaded_at}: {', '.join(changed)} changed on disk since, "
                        + ("and is not used until it loads (reload_error says why if it cannot)" if reload_on_change else
                           "and is not used (restart, or serve with --reload-on-change)")),
        }

    def task(self) -> str:
        """binary classification, multi-class classification or regression, from the loss (else the last activation)."""
        config = self.record.get("config")
        loss = ((config or {}).get("training") or {}).get("loss") if isinstance(config, dict) else None
        if loss is not None:
            return TASKS.get(loss, "regression")
        last = self.predictor.output_activation
        return {"sigmoid": "binary classification", "softmax": "multi-class classification"}.get(last, "regression")


def load_served_model(model_path: str | Path, weights_path: str | Path | None = None) -> ServedModel:
    """Load a model once, verified against its run record (`load_predictor` checks the SHA-256).

    The files are hashed before and after loading; if they changed meanwhile
    (a save in progress), loading fails rather than serving a mix.

    Example:
        >>> load_served_model("models/basic_model.json").verified()
        True
    """
    path = find_model_file(model_path)
    weights = Path(weights_path) if weights_path is not None else find_weights_file(path, read_record(path))
    files = {"model": path, "weights": weights, "record": record_path(path)}
    before = {role: _sha256_or_none(file) for role, file in files.items()}
    predictor = load_predictor(path, weights)
    layers = describe_layers(read_model_json(path))
    after = {role: _sha256_or_none(file) for role, file in files.items()}
    if before != after:
        raise InputError(f"{path}: the model files changed while they were being loaded", hint="try again")
    return ServedModel(predictor, path, weights, after, layers)


def describe_layers(config: dict) -> list[dict]:
    """One dict per layer: name, type, units, activation, output width and parameter count, from the checked
    architecture (`files.architecture.layer_weights`, which the weights file was checked against on loading).

    Example:
        >>> [layer["params"] for layer in describe_layers(read_model_json(Path("models/basic_model.json")))]
        [30, 0, 11, 0]
    """
    layers = []
    for layer, made, width in layer_weights(config):
        options = layer["config"]
        activation = options.get("activation")
        layers.append({"name": options.get("name"), "type": layer["class_name"], "units": options.get("units"),
                       "activation": activation.get("config") if isinstance(activation, dict) else activation,
                       "output_width": width, "params": sum(math.prod(shape) for shape, _, _ in made)})
    return layers


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_of(path) if os.path.isfile(path) else None
    except OSError:
        return None
