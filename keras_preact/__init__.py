"""keras_preact: every ResNet of He et al., "Identity Mappings in Deep Residual Networks"
(ECCV 2016, arXiv:1603.05027), original and pre-activation, as Keras 3 builders.

    >>> import keras_preact
    >>> model = keras_preact.PreActResNet164()            # random init, CIFAR-10 head
    >>> model = keras_preact.build_resnet(110, placement="original", shortcut="exclusive_gating")
"""

from keras_preact import runtime

runtime.configure()  # before the first `import keras`: oneDNN on (see runtime.py)

# finetune registers InferenceMode, schedules WarmupSchedule, for deserialisation.
from keras_preact import export, features, finetune  # noqa: E402
from keras_preact.archs import ARCHS, Arch, get_arch  # noqa: E402
from keras_preact.data import NORMALIZATIONS, Normalization, load_split  # noqa: E402
from keras_preact.evaluation import evaluate_classifier, evaluate_weights  # noqa: E402
from keras_preact.features import feature_extractor, feature_info, stage_outputs  # noqa: E402
from keras_preact.finetune import build_transfer_model, finetune_folder  # noqa: E402
from keras_preact.layers import (  # noqa: E402
    BatchNormalization, UnscaledDropout, ZeroPadShortcut)
from keras_preact.model import build_resnet, create_model, list_models, model_name  # noqa: E402
from keras_preact.preprocessing import decode_predictions, preprocess_input  # noqa: E402
from keras_preact.pretrained import load_weights, resolve_weights  # noqa: E402
from keras_preact.registry import (  # noqa: E402
    ChecksumError,
    IncompatibleWeightsError,
    PublishError,
    UnknownWeightsError,
    WeightsEntry,
    WeightsError,
    WeightsNotFoundError,
    WeightsUnavailableError,
    get_weights_entry,
    list_pretrained,
)
from keras_preact.recipes import Recipe, get_recipe  # noqa: E402
from keras_preact.schedules import WarmupSchedule  # noqa: E402
from keras_preact.training import TrainConfig, train  # noqa: E402
from keras_preact.units import residual_unit  # noqa: E402
from keras_preact.variants import (  # noqa: E402
    Block, Downsample, Family, Placement, Shortcut, StrideAt)
from keras_preact.version import __version__  # noqa: E402
from keras_preact.zoo import *  # noqa: F401,F403  (the named entry points)
from keras_preact.zoo import ENTRY_POINTS  # noqa: E402

__all__ = [
    "ARCHS", "Arch", "BatchNormalization", "Block", "NORMALIZATIONS", "Normalization",
    "Recipe", "TrainConfig",
    "WarmupSchedule", "evaluate_classifier", "evaluate_weights", "get_recipe", "load_split",
    "train", "ChecksumError", "Downsample", "Family",
    "IncompatibleWeightsError", "Placement", "PublishError", "Shortcut", "StrideAt",
    "UnknownWeightsError", "UnscaledDropout", "WeightsEntry", "WeightsError",
    "WeightsNotFoundError", "WeightsUnavailableError", "ZeroPadShortcut", "__version__",
    "build_resnet", "build_transfer_model", "create_model", "decode_predictions", "export",
    "feature_extractor", "feature_info", "features", "finetune", "finetune_folder",
    "get_arch", "get_weights_entry", "list_models", "list_pretrained", "load_weights",
    "model_name", "preprocess_input", "residual_unit", "resolve_weights", "stage_outputs",
    *ENTRY_POINTS,
]
