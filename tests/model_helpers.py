"""Helpers shared by the feature, fine-tuning and export tests."""

import importlib.util
import pathlib

import keras
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def randomize_bn(model, seed=0):
    """Gives every BN non-trivial statistics and affine parameters, so a missing or
    misplaced BN would change the outputs. Returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.2, shape),
                               rng.normal(0, 0.3, shape), rng.uniform(0.5, 2.0, shape)])
    return model


def load_script(name):
    """Imports `scripts/<name>.py` as a module (to call its `main(argv)`)."""
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
