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

import io
import math
import re
from pathlib import Path

import numpy as np

from xornet.errors import InputError
from xornet.files.keras_archive import WEIGHTS_MEMBER, archive_member, is_keras_archive
from xornet.keras_names import MAX_PARAMETERS

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

    The file's structure is checked before any weight is read: no soft or
    external links, groups and datasets where they belong, names that are
    plain paths, real numbers only, at most `MAX_WEIGHT_VALUES` values in all.
    Weights holding NaN or infinity are refused.
    """
    import h5py

    if not path.exists():
        raise InputError(f"{path}: weights file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an HDF5 weights file (.h5)")
    if not path.is_file():  # a FIFO or device would block or never end
        raise InputError(f"{path}: is not a regular file, expected an HDF5 weights file (.h5)")
    source = path
    if is_keras_archive(path):  # a .keras file: its weights member, read in memory
        source = io.BytesIO(archive_member(path, WEIGHTS_MEMBER))
        path = Path(f"{path}:{WEIGHTS_MEMBER}")
    elif not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file, expected Keras weights (.h5)")
    try:
        with h5py.File(source, "r") as f:
            _check_objects(f, path)
            plan = _plan(f, path, layer_classes)
            _check_sizes(plan, path)
            layers = [(layer, [_read(dataset, path, layer, weight) for weight, dataset in weights])
                      for layer, weights in plan]
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise InputError(f"{path}: damaged HDF5 weights file ({exc})") from None
    return layers


# A weights file is a tree of a few groups and datasets; these bound what xornet will walk.
MAX_OBJECTS = 10_000
MAX_DEPTH = 32


def _check_objects(f, path: Path) -> None:
    """Walk the whole file without following links; refuse links and anything but groups and datasets."""
    import h5py

    seen, stack, count = set(), [(f, 0)], 0
    while stack:
        group, depth = stack.pop()
        for name in group:
            count += 1
            if count > MAX_OBJECTS:
                raise InputError(f"{path}: holds more than {MAX_OBJECTS} HDF5 objects; refusing to read it as weights")
            where = _join(group.name, name)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                target = f"{link.filename}:{link.path}"
                raise InputError(
                    f"{path}: HDF5 path {where!r} is an external link to "
                    f"{target if target.isprintable() else repr(target)}; refused: "
                    "the run record's SHA-256 check cannot cover another file"
                )
            if isinstance(link, h5py.SoftLink):
                raise InputError(f"{path}: HDF5 path {where!r} is a soft link to {link.path!r}; "
                                 "refused: a weights file holds only groups and datasets")
            if not isinstance(link, h5py.HardLink):
                raise InputError(f"{path}: HDF5 path {where!r} is a {type(link).__name__}; "
                                 "refused: a weights file holds only groups and datasets")
            node = group.get(name)
            if isinstance(node, h5py.Group):
                address = h5py.h5o.get_info(node.id).addr
                if address in seen:
                    continue
                seen.add(address)
                if depth + 1 > MAX_DEPTH:
                    raise InputError(f"{path}: HDF5 groups nested more than {MAX_DEPTH} deep at {where!r}")
                stack.append((node, depth + 1))
            elif not isinstance(node, h5py.Dataset):
                raise InputError(f"{path}: HDF5 path {where!r} is a {type(node).__name__}; "
                                 "refused: a weights file holds only groups and datasets")


def _plan(f, path: Path, layer_classes: list[str]) -> list[tuple[str, list[tuple[str, object]]]]:
    """[(layer name, [(weight name, dataset)])]: what will be read, every object's type checked."""
    import h5py

    if "layer_names" not in f.attrs and "model_weights" in f:
        return _plan_keras2(_member(f, "model_weights", h5py.Group, path), path)
    if "layer_names" in f.attrs:
        return _plan_keras2(f, path)
    if "layers" in f:
        return _plan_keras3(_member(f, "layers", h5py.Group, path), path, layer_classes)
    raise InputError(f"{path}: HDF5 file without Keras weights (no layer_names attribute, no layers group)")


def _plan_keras2(root, path: Path) -> list:
    import h5py

    plan = []
    for layer in _names(root, "layer_names", path):
        group = _member(root, layer, h5py.Group, path)
        weights = _names(group, "weight_names", path) if "weight_names" in group.attrs else []
        if weights:
            plan.append((layer, [(_weight_label(w), _member(group, w, h5py.Dataset, path)) for w in weights]))
    return plan


def _plan_keras3(groups, path: Path, layer_classes: list[str]) -> list:
    import h5py

    from xornet.network import snake_case

    counts: dict[str, int] = {}
    plan = []
    for class_name in layer_classes:
        if not isinstance(class_name, str) or not class_name.isidentifier():
            raise InputError(f"{path}: cannot find the weights of a layer of class {class_name!r}")
        base = snake_case(class_name)
        layer = base if counts.get(base, 0) == 0 else f"{base}_{counts[base]}"
        counts[base] = counts.get(base, 0) + 1
        if f"{layer}/vars" not in groups:
            continue
        variables = _member(groups, f"{layer}/vars", h5py.Group, path)
        if len(variables):
            plan.append((layer, [(str(i), _member(variables, str(i), h5py.Dataset, path))
                                 for i in range(len(variables))]))
    return plan


def _member(parent, name: str, kind, path: Path):
    """The group or dataset `name` under `parent`, or a clear error naming its HDF5 path."""
    where = _join(parent.name, name)
    node = parent.get(name)
    expected = "group" if kind.__name__ == "Group" else "dataset"
    if node is None:
        raise InputError(f"{path}: no HDF5 {expected} {where!r}, which the file's layout names")
    if not isinstance(node, kind):
        found = {"Group": "group", "Dataset": "dataset"}.get(type(node).__name__, type(node).__name__)
        raise InputError(f"{path}: HDF5 path {where!r} is a {found}, expected a {expected}")
    return node


def _join(parent: str, name: str) -> str:
    return f"{parent.rstrip('/')}/{name}"


MAX_NAMES = 10_000
MAX_NAME_BYTES = 1_000


def _names(node, attribute: str, path: Path) -> list[str]:
    """An attribute that lists names (`layer_names`, `weight_names`), its type and every name checked."""
    import h5py

    where = f"attribute {attribute!r} of HDF5 path {node.name!r}"
    info = node.attrs.get_id(attribute)
    if info.shape is None or len(info.shape) != 1:
        raise InputError(f"{path}: {where} has shape {info.shape}, expected a one-dimensional array of strings")
    if info.shape[0] == 0:  # Keras 2 writes a layer without weights as an empty float array
        return []
    if h5py.check_string_dtype(info.dtype) is None:
        raise InputError(f"{path}: {where} has type {_describe_dtype(info.dtype)}, expected an array of strings")
    if info.shape[0] > MAX_NAMES:
        raise InputError(f"{path}: {where} lists {info.shape[0]} names, more than the {MAX_NAMES} xornet reads")
    if info.dtype.itemsize > MAX_NAME_BYTES:
        raise InputError(f"{path}: {where} holds names of {info.dtype.itemsize:,} bytes each, "
                         f"more than the {MAX_NAME_BYTES} a layer or weight name may have")
    names = []
    for raw in node.attrs[attribute]:
        try:
            name = raw.decode("utf8") if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError:
            raise InputError(f"{path}: {where} holds a name that is not UTF-8 text: {raw!r}") from None
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in name:
            raise InputError(f"{path}: {where} holds the name {name!r}, expected a relative HDF5 path "
                             "(no empty, '.' or '..' parts)")
        names.append(name)
    return names


def _weight_label(name: str) -> str:
    """"dense/kernel:0" -> "kernel": the name a person knows a weight by."""
    return re.sub(r":\d+$", "", name.rsplit("/", 1)[-1])


MAX_WEIGHT_VALUES = MAX_PARAMETERS


def _check_sizes(plan: list, path: Path) -> None:
    """Refuse non-numeric datasets and declared shapes too large to read, before reading any."""
    total = 0
    for _, weights in plan:
        for _, dataset in weights:
            dtype = dataset.dtype
            if not _is_real_number(dtype):
                raise InputError(f"{path}: HDF5 dataset {dataset.name!r} has type {_describe_dtype(dtype)}, "
                                 "expected real numbers (float or integer)")
            if dataset.shape is None:
                raise InputError(f"{path}: HDF5 dataset {dataset.name!r} is empty (no shape), expected an array")
            size = math.prod(dataset.shape)
            total += size
            if total > MAX_WEIGHT_VALUES:
                before = "" if size > MAX_WEIGHT_VALUES else ", with the weights before it"
                raise InputError(
                    f"{path}: HDF5 dataset {dataset.name!r} declares shape {dataset.shape} ({size:,} values)"
                    f"{before}, more than the {MAX_WEIGHT_VALUES:,} values xornet reads from a weights file"
                )


def _is_real_number(dtype) -> bool:
    import h5py

    return (dtype.kind in "fiu" and dtype.fields is None and dtype.subdtype is None
            and h5py.check_enum_dtype(dtype) is None)


def _describe_dtype(dtype) -> str:
    import h5py

    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if h5py.check_vlen_dtype(dtype) is not None:
        return f"variable-length ({dtype})"
    if h5py.check_ref_dtype(dtype) is not None:
        return "object reference"
    if dtype.fields is not None:
        return "compound"
    if dtype.subdtype is not None:
        return f"array of {dtype.subdtype[0]} {dtype.subdtype[1]}"
    if h5py.check_enum_dtype(dtype) is not None:
        return "boolean" if dtype.kind == "b" else "enum"
    return {"b": "boolean", "c": "complex", "O": "object", "V": "opaque"}.get(dtype.kind, str(dtype))


def _read(dataset, path: Path, layer: str, weight: str) -> np.ndarray:
    """A weight's values, refused when any is NaN or infinite."""
    values = np.asarray(dataset[()])
    if values.dtype.kind == "f":
        nan = int(np.isnan(values).sum())
        inf = int(np.isinf(values).sum())
        if nan or inf:
            held = " and ".join(text for count, text in ((nan, f"{nan} NaN"), (inf, f"{inf} infinite")) if count)
            raise InputError(
                f"{path}: layer {layer!r} weight {weight!r} holds {held} value{'s' if nan + inf > 1 else ''} "
                f"(HDF5 dataset {dataset.name!r}); refusing to use these weights",
                hint="the file is damaged or training diverged; retrain the model",
            )
    return values


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
