"""Placeholder weight resolution (local files only); replaced by the Hub-aware resolver."""

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    """A local weights file ready for `model.load_weights`."""

    path: str
    num_classes: object = None
    entry: object = None


def resolve_weights(weights, model_name):
    """Resolves `weights` (a local path) for `model_name`."""
    if os.path.isfile(str(weights)):
        return ResolvedWeights(str(weights))
    raise ValueError(f"No weights {weights!r} for {model_name}: pass a path to a .weights.h5 file.")
