"""Pretrained weights: the registry of published sets (`registry`), the Hugging Face Hub
download with pinning and sha256 checks (`hub`), resolving and loading weights into a
network (`loading`), the metadata beside a weights file (`metadata`), input and output
conventions of a weight set (`preprocessing`, `labels`), bundled sample images and golden
outputs (`samples`) and publishing (`publish`).

The names of `loading` (the module `keras_preact.pretrained` was before this package)
are available here too: `keras_preact.pretrained.load_weights`, `resolve_weights`, ...
"""

import importlib

_LOADING = ("CONFIG_FILENAME", "METADATA_FILENAME", "ResolvedWeights", "load_weights",
            "read_json", "resolve_weights")


def __getattr__(name):
    if name in _LOADING:
        return getattr(importlib.import_module("keras_preact.pretrained.loading"), name)
    raise AttributeError(f"module 'keras_preact.pretrained' has no attribute {name!r}")
