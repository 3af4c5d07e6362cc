"""xornet: train, save and use small Keras networks from YAML experiment configs.

Importing xornet does not import TensorFlow; the functions that need it do.

Example:
    >>> import xornet
    >>> run = xornet.train(xornet.load_config("configs/xor.yaml"))
    >>> loaded = xornet.load("models/basic_model.json")
    >>> xornet.predict(loaded.model, [[0, 1]])
"""

__version__ = "0.1.0"

from xornet.config import Config, load_config  # noqa: E402
from xornet.errors import InputError, TrainingError, XornetError  # noqa: E402
from xornet.experiment import Run, train  # noqa: E402
from xornet.files.load import load_model as load  # noqa: E402
from xornet.predicting import predict  # noqa: E402

__all__ = ["Config", "InputError", "Run", "TrainingError", "XornetError", "load", "load_config", "predict", "train"]
