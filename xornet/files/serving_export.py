"""Writing a saved model for serving engines: a TensorFlow SavedModel, a TFLite file, an ONNX file.

- "savedmodel": Keras' `model.export` (what TF Serving loads), a `serving_default`
  signature taking one float32 input named `inputs` (rows x width), giving `output_0`;
- "tflite": the TensorFlow Lite converter run on that SavedModel; input `serving_default_inputs:0`;
- "onnx": tf2onnx (an optional dependency: `pip install 'xornet[onnx]'`), input `inputs`.

Files are written to a temporary name beside the target and renamed into place;
a SavedModel directory likewise, so a reader never sees half of one.

Example:
    >>> export_for_serving(load_model("models/basic_model.json"), "savedmodel", Path("out"))
    [PosixPath('out/basic_savedmodel')]
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from xornet.errors import InputError, XornetError
from xornet.files.load import LoadedModel
from xornet.files.export import check_export, export_paths
from xornet.files.safe_write import atomic_write

SERVING_FORMATS = ("savedmodel", "tflite", "onnx")
INPUT_NAME = "inputs"
ONNX_OPSET = 17


def export_for_serving(loaded: LoadedModel, to: str, directory: Path, force: bool = False) -> list[Path]:
    """Write a loaded model as "savedmodel" (a directory), "tflite" or "onnx" (one file). Returns the paths written.

    Example:
        >>> export_for_serving(load_model("models/basic_model.json"), "tflite", Path("out"))
        [PosixPath('out/basic.tflite')]
    """
    if to not in SERVING_FORMATS:
        raise InputError(f"--to: expected one of {', '.join(SERVING_FORMATS)}, received {to!r}")
    check_export(loaded.model_path, to, directory, force)
    (target,) = export_paths(loaded.model_path, to, directory)
    model = loaded.model
    if to == "savedmodel":
        _replace_directory(target, lambda temp: write_savedmodel(model, temp))
    elif to == "tflite":
        tflite = tflite_bytes(model)
        atomic_write(target, lambda temp: temp.write_bytes(tflite))
    else:
        onnx = onnx_bytes(model)
        atomic_write(target, lambda temp: temp.write_bytes(onnx))
    return [target]


def _input_signature(model):
    import tensorflow as tf

    return [tf.TensorSpec([None, int(model.input_shape[-1])], tf.float32, name=INPUT_NAME)]


def write_savedmodel(model, path: Path) -> None:
    """Keras' own SavedModel export with a `serving_default` signature whose input is named `inputs`."""
    model.export(str(path), format="tf_saved_model", verbose=False, input_signature=_input_signature(model))


def tflite_bytes(model) -> bytes:
    """The model converted by `tf.lite.TFLiteConverter` (from its SavedModel), as bytes."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="xornet-tflite-") as temp:
        write_savedmodel(model, Path(temp) / "savedmodel")
        return tf.lite.TFLiteConverter.from_saved_model(str(Path(temp) / "savedmodel")).convert()


def onnx_bytes(model) -> bytes:
    """The model converted by tf2onnx from a `tf.function` of its forward pass, as bytes.

    tf2onnx's `from_keras` does not read Keras 3 models; its `from_function` does.
    """
    try:
        import tf2onnx
    except ImportError as exc:
        raise XornetError(f"--to onnx needs tf2onnx, which cannot be imported ({exc})",
                          hint="pip install 'xornet[onnx]', which installs tf2onnx and onnxruntime") from None
    import tensorflow as tf

    from xornet.backend import import_keras

    for layer in model.layers:
        if isinstance(layer, import_keras().layers.Normalization):
            # Keras holds the adapted mean and variance as tensors, which tf2onnx would turn into inputs of the
            # graph that a caller must feed; as NumPy arrays they are traced into it as constants.
            layer.mean, layer.variance = np.asarray(layer.mean), np.asarray(layer.variance)
    signature = _input_signature(model)
    forward = tf.function(lambda inputs: model(inputs, training=False), input_signature=signature)
    try:
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=ONNX_OPSET)
    except Exception as exc:  # the converter's own failures come in many types
        raise XornetError(f"--to onnx: tf2onnx {tf2onnx.__version__} could not convert the model with TensorFlow "
                          f"{tf.__version__}: {type(exc).__name__}: {exc}") from None
    return proto.SerializeToString()


def _replace_directory(target: Path, write: Callable[[Path], None]) -> None:
    """Write a directory under a temporary name beside `target`, then rename it onto `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = None
    try:
        write(temp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        if old is not None and not target.exists():
            os.replace(old / target.name, target)  # put the previous export back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
