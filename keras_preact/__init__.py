"""keras_preact: every ResNet of He et al., "Identity Mappings in Deep Residual Networks"
(ECCV 2016, arXiv:1603.05027), original and pre-activation, as Keras 3 builders.

    >>> import keras_preact
    >>> model = keras_preact.PreActResNet164()            # random init, CIFAR-10 head
    >>> model = keras_preact.build_resnet(110, placement="original", shortcut="exclusive_gating")
"""

from keras_preact.archs import ARCHS, Arch, get_arch
from keras_preact.layers import UnscaledDropout, ZeroPadShortcut
from keras_preact.model import build_resnet, create_model, list_models, model_name
from keras_preact.units import residual_unit
from keras_preact.variants import Block, Downsample, Family, Placement, Shortcut, StrideAt
from keras_preact.version import __version__
from keras_preact.zoo import *  # noqa: F401,F403  (the named entry points)
from keras_preact.zoo import ENTRY_POINTS

__all__ = [
    "ARCHS", "Arch", "Block", "Downsample", "Family", "Placement", "Shortcut", "StrideAt",
    "UnscaledDropout", "ZeroPadShortcut", "__version__", "build_resnet", "create_model",
    "get_arch", "list_models", "model_name", "residual_unit", *ENTRY_POINTS,
]
