"""Train configs/xor.yaml on 1 and on 2 devices per engine and batch size; print the numbers as JSON.

Run by tests/test_devices.py in a subprocess with XORNET_CPU_DEVICES=2 (the CPU split
must happen before TensorFlow starts, so it cannot share the pytest process).
"""

import json
import sys

import numpy as np

import xornet
from xornet.config import load_config
from xornet.devices import device_names

results = []
for engine in ("fast", "keras"):
    for batch in ("null", "2"):
        for devices in (1, 2):
            config = load_config(sys.argv[1], [f"training.engine={engine}", f"training.batch_size={batch}",
                                               f"training.devices={devices}", "training.epochs=20",
                                               "training.target_loss=null", "training.restarts=0",
                                               "training.shuffle=false", "training.optimizer=sgd",
                                               "training.momentum=0.5"])
            run = xornet.train(config, save=False)
            results.append({"engine": engine, "batch": batch, "devices": device_names(run.model),
                            "history": run.result.history, "final": run.final,
                            "weights": [np.asarray(w).tolist() for w in run.model.get_weights()]})
print(json.dumps(results))
