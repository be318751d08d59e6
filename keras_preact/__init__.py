"""keras_preact: every ResNet of He et al., "Identity Mappings in Deep Residual Networks"
(ECCV 2016, arXiv:1603.05027), original and pre-activation, as Keras 3 builders.

    >>> import keras_preact
    >>> model = keras_preact.PreActResNet164()            # random init, CIFAR-10 head
    >>> model = keras_preact.build_resnet(110, placement="original", shortcut="exclusive_gating")

`import keras_preact` is light: it prepares the process (`keras_preact.runtime`) and loads
each name below from its module on first use, so Keras and its backend are imported only
when a model is built or run (and `keras-preact --help` answers at once).

The package is laid out by role (docs/architecture.md has the map): `models` (the
networks), `pretrained` (weights: registry, Hub, loading, publishing), `training` (data,
recipes, the loop, evaluation), `deploy` (features, fine-tuning, export, prediction),
`cli` (the `keras-preact` command); `errors`, `normalization`, `runtime` and `version`
are shared by all of them.
"""

import importlib

from keras_preact import compat, runtime
from keras_preact.models.zoo import ENTRY_POINTS
from keras_preact.version import __version__

runtime.configure()  # before any `import keras` (see runtime.py)
compat.install()  # the module paths of earlier versions keep importing

# Public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(("ARCHS", "Arch", "get_arch"), "models.archs"),
    **dict.fromkeys(("NORMALIZATIONS", "Normalization", "load_split"), "training.data"),
    **dict.fromkeys(("evaluate_classifier", "evaluate_weights"), "training.evaluation"),
    **dict.fromkeys(("feature_extractor", "feature_info", "stage_outputs"), "deploy.features"),
    **dict.fromkeys(("build_transfer_model", "finetune_folder"), "deploy.finetune"),
    **dict.fromkeys(("BatchNormalization", "InferenceMode", "UnscaledDropout",
                     "ZeroPadShortcut"), "models.layers"),
    **dict.fromkeys(("build_resnet", "create_model", "list_models", "model_name"), "models.builder"),
    **dict.fromkeys(("Preprocessing",), "normalization"),
    **dict.fromkeys(("decode_predictions", "preprocess_input"), "pretrained.preprocessing"),
    **dict.fromkeys(("load_weights", "resolve_weights"), "pretrained.loading"),
    **dict.fromkeys(("ChecksumError", "IncompatibleWeightsError", "PublishError",
                     "UnknownWeightsError", "WeightsError", "WeightsNotFoundError",
                     "WeightsUnavailableError"), "errors"),
    **dict.fromkeys(("WeightsEntry", "get_weights_entry", "list_pretrained"), "pretrained.registry"),
    **dict.fromkeys(("Recipe", "get_recipe"), "training.recipes"),
    **dict.fromkeys(("WarmupSchedule",), "training.schedules"),
    **dict.fromkeys(("TrainConfig", "train"), "training.loop"),
    **dict.fromkeys(("residual_unit",), "models.units"),
    **dict.fromkeys(("Block", "Downsample", "Family", "Placement", "Shortcut", "StrideAt"),
                    "models.variants"),
    **dict.fromkeys(ENTRY_POINTS, "models.zoo"),
}
# Submodules documented as part of the API (every submodule is reachable as an attribute).
_SUBMODULES = ("export", "features", "finetune")

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"keras_preact.{_EXPORTS[name]}"), name)
    else:  # any submodule, as when the package imported them all
        try:
            value = importlib.import_module(f"keras_preact.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"keras_preact.{name}":
                raise
            raise AttributeError(f"module 'keras_preact' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
