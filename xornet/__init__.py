"""xornet: train, save and use small Keras networks from YAML experiment configs.

Importing xornet does not import TensorFlow; the functions that need it do.

Example:
    >>> import xornet
    >>> run = xornet.train(xornet.load_config("configs/xor.yaml"))
    >>> loaded = xornet.load("models/basic_model.json")
    >>> xornet.predict(loaded.model, [[0, 1]])
"""

__version__ = "0.1.0"

# The public names load their modules on first use, so `import xornet` (and with
# it every `xornet` command's start-up, `--help` included) stays cheap.
_PUBLIC = {
    "Config": ("xornet.config", "Config"),
    "load_config": ("xornet.config", "load_config"),
    "InputError": ("xornet.errors", "InputError"),
    "TrainingError": ("xornet.errors", "TrainingError"),
    "XornetError": ("xornet.errors", "XornetError"),
    "Run": ("xornet.experiment", "Run"),
    "train": ("xornet.experiment", "train"),
    "load": ("xornet.files.load", "load_model"),
    "predict": ("xornet.predicting", "predict"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'xornet' has no attribute {name!r}")
    import importlib

    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
