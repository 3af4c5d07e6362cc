"""Train configs/NAME.yaml for each (engine, batch size, devices) case; print the numbers as one JSON list.

Run by tests/test_devices.py in a subprocess with XORNET_CPU_DEVICES=2: the CPU
is split before TensorFlow starts, which cannot happen inside the pytest process.
Usage: python tests/devices_compare.py xor:fast:null:1 xor:fast:null:2 iris:keras:16:2 ...
(config name, engine, batch size, devices; xor runs unshuffled, with momentum, for 5 epochs).
"""

import json
import sys

import numpy as np

import xornet
from xornet.config import load_config
from xornet.errors import XornetError

XOR = ["training.restarts=0", "training.target_loss=null", "training.shuffle=false", "training.momentum=0.5"]

results = []
for case in sys.argv[1:]:
    name, engine, batch, devices = case.split(":")
    config = load_config(f"configs/{name}.yaml", [f"training.engine={engine}", f"training.batch_size={batch}",
                                                  f"training.devices={devices}", "training.epochs=5"]
                         + (XOR if name == "xor" else []))
    try:
        run = xornet.train(config, save=False)
    except XornetError as error:
        results.append({"case": case, "error": str(error)})
        continue
    results.append({"case": case, "devices": run.devices, "loss": run.result.history["loss"],
                    "val_loss": run.result.history.get("val_loss"),
                    "weights": [np.asarray(w).ravel().tolist() for w in run.model.get_weights()]})
print(json.dumps(results))
