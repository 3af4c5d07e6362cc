"""The HDF5 weights file: Keras 2's layout written, Keras 2's and Keras 3's read.

The layout written is Keras 2's (`layer_names` / `weight_names` attributes),
which Keras 3's `model.load_weights("basic_weights.h5")` and Keras 2 both read,
under any file name (Keras 3's own `save_weights` insists on `.weights.h5`).

Example:
    >>> write_weights_h5(model, Path("basic_weights.h5"))
    >>> [name for name, _ in read_weights_h5(Path("basic_weights.h5"), ["Dense", "Activation", "Dense"])]
    ['dense', 'dense_1']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xornet.errors import InputError

def write_weights_h5(model, path: Path) -> None:
    """Write `model`'s weights to `path` in Keras 2's HDF5 layout (not atomic by itself)."""
    import h5py
    import keras

    with h5py.File(path, "w") as f:
        # Fixed-length byte strings, as Keras 2's save_attributes_to_hdf5_group wrote them.
        f.attrs["layer_names"] = np.asarray([layer.name.encode("utf8") for layer in model.layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras.__version__.encode("utf8")
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}:0" for weight in layer.weights]
            group.attrs["weight_names"] = np.asarray([n.encode("utf8") for n in names]) if names else np.array([], "S1")
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight.numpy()))


def read_weights_h5(path: Path, layer_classes: list[str]) -> list[tuple[str, list[np.ndarray]]]:
    """Read HDF5 weights: [(stored layer name, [arrays])] for the layers that have weights, in order.

    Reads Keras 2's layout (`layer_names` / `weight_names` attributes, also
    inside a whole-model file's `model_weights` group) under any file name, and
    Keras 3's `.weights.h5` layout, whose groups are named after the layer
    classes (`layer_classes`: the architecture's layer class names, in order).
    """
    import h5py

    if not path.exists():
        raise InputError(f"{path}: weights file not found")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file, expected Keras weights (.h5)")
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            if "layer_names" in root.attrs:
                return _read_keras2_layout(root)
            if isinstance(f.get("layers"), h5py.Group):
                return _read_keras3_layout(f["layers"], layer_classes)
            raise InputError(f"{path}: HDF5 file without Keras weights (no layer_names attribute, no layers group)")
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: damaged HDF5 weights file ({exc})") from None


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _read_keras2_layout(root) -> list[tuple[str, list[np.ndarray]]]:
    layers = []
    for raw in root.attrs["layer_names"]:
        group = root[_text(raw)]
        weight_names = [_text(w) for w in group.attrs.get("weight_names", [])]
        if weight_names:
            layers.append((_text(raw), [np.asarray(group[w]) for w in weight_names]))
    return layers


def _read_keras3_layout(groups, layer_classes: list[str]) -> list[tuple[str, list[np.ndarray]]]:
    from xornet.network import snake_case

    counts: dict[str, int] = {}
    layers = []
    for class_name in layer_classes:
        base = snake_case(class_name)
        path = base if counts.get(base, 0) == 0 else f"{base}_{counts[base]}"
        counts[base] = counts.get(base, 0) + 1
        variables = groups.get(f"{path}/vars")
        if variables is not None and len(variables):
            layers.append((path, [np.asarray(variables[str(i)]) for i in range(len(variables))]))
    return layers


def layer_classes(config: dict) -> list[str]:
    """The layer class names of a Keras 3 Sequential architecture dict, without its InputLayer."""
    layers = config.get("config", {}).get("layers", [])
    return [layer.get("class_name") for layer in layers if layer.get("class_name") != "InputLayer"]


def set_weights_from(model, layers: list[tuple[str, list[np.ndarray]]], source: Path) -> None:
    """Put weights read by `read_weights_h5` into `model`, matching layers by order, as Keras does."""
    targets = [layer for layer in model.layers if layer.weights]
    if len(targets) != len(layers):
        raise InputError(
            f"{source}: the weights file has {len(layers)} layers with weights, the model has {len(targets)} "
            f"({', '.join(layer.name for layer in targets)})",
            hint="the weights belong to a different architecture",
        )
    for layer, (stored_name, values) in zip(targets, layers):
        check_weight_shapes(source, layer.name, stored_name, [tuple(w.shape) for w in layer.weights], values)
        layer.set_weights(values)
        if hasattr(layer, "finalize_state"):  # Normalization: recompute mean/variance from the loaded variables
            layer.finalize_state()


def check_weight_shapes(source: Path, layer_name: str, stored_name: str, expected: list[tuple],
                        values: list[np.ndarray]) -> None:
    """Raise a clear error when stored weights do not have the shapes a layer expects."""
    received = [tuple(v.shape) for v in values]
    if received != expected:
        raise InputError(
            f"{source}: layer {layer_name!r} (stored as {stored_name!r}) expects weights of shapes "
            f"{_shapes(expected)}, received {_shapes(received)}",
            hint="the weights belong to a different architecture",
        )


def _shapes(shapes) -> str:
    return ", ".join("(" + ", ".join(str(d) for d in s) + ")" for s in shapes)
