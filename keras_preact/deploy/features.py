"""Stage feature maps of the zoo's networks, for dense tasks and transfer learning.

A ResNet of He et al. ("Identity Mappings in Deep Residual Networks", ECCV 2016) is a
stem followed by stages of residual units at falling resolutions. The layer names are
the contract this module reads (see `keras_preact.models.builder`): the stem is `conv1_*` (and
`pool1_*` on ImageNet), unit j of stage k is `conv{k}_block{j}_*` and ends with the layer
`conv{k}_block{j}_out`, and pre-activation networks end with `post_bn`/`post_relu`.

Stages are named after their layers, as in keras.applications:

| name  | CIFAR nets (reduction, channels) | ImageNet nets (reduction) |
|-------|----------------------------------|---------------------------|
| conv1 | stem, 1, 16                      | stem before the max-pool, 2 |
| conv2 | 1, 16 (basic) / 64 (bottleneck)  | 4  |
| conv3 | 2, 32 / 128                      | 8  |
| conv4 | 4, 64 / 256                      | 16 |
| conv5 | -                                | 32 |

The output of a stage is the output of its last unit (`conv{k}_block{n}_out`). In a
pre-activation network (Fig. 4e) that tensor is the un-normalised sum `x_{l+1}`; the last
stage is the exception and uses `post_relu`, the BN-ReLU after the final addition (the
map the classifier sees), as timm does for its pre-activation ResNets. `conv1` is not
among the default stages.

    >>> model = keras_preact.PreActResNet164(include_top=False, input_shape=(None, None, 3))
    >>> extractor = feature_extractor(model)          # {"conv2": ..., "conv4": ...}
    >>> maps = extractor.predict(images)              # dict of NHWC feature maps
"""

import dataclasses
import re

import keras

STEM = "conv1"
_UNIT_OUT = re.compile(r"conv(\d+)_block(\d+)_out")
_STAGE_LAYER = re.compile(r"(conv\d+)_block\d+_")
_STEM_LAYER = re.compile(r"(conv1|pool1)_")
_POST_LAYERS = ("post_bn", "post_relu")


@dataclasses.dataclass(frozen=True)
class FeatureInfo:
    """Where one stage's feature map comes from and what it looks like.

    Attributes:
        name: the stage name, "conv1" (stem) or "conv2", "conv3", ...
        layer: the name of the layer whose output is the stage's feature map.
        channels: channels of the map.
        reduction: how many input pixels one map pixel spans per side (1, 2, 4 on CIFAR
            nets; 2, 4, 8, 16, 32 on ImageNet nets).
    """

    name: str
    layer: str
    channels: int
    reduction: int


def _units(model):
    """{stage name: name of its last unit's `_out` layer}, stages in order."""
    last = {}
    for layer in model.layers:
        match = _UNIT_OUT.fullmatch(layer.name)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            if block >= last.get(stage, (0, ""))[0]:
                last[stage] = (block, layer.name)
    return {f"conv{stage}": last[stage][1] for stage in sorted(last)}


def backbone_of(model):
    """The network of `model` that holds the residual units: `model` itself, or the one
    nested model that does, possibly inside a `keras.layers.Wrapper` (e.g. the
    "backbone" of `keras_preact.deploy.finetune.build_transfer_model`).

    Args:
        model: a `keras.Model`.

    Raises:
        ValueError: neither `model` nor exactly one nested model has keras_preact's
            unit names.
    """
    if _units(model):
        return model
    nested = [getattr(layer, "layer", layer) for layer in model.layers]
    nested = [layer for layer in nested if isinstance(layer, keras.Model) and _units(layer)]
    if len(nested) == 1:
        return nested[0]
    raise ValueError(
        f"Model {model.name!r} has no residual units named conv{{k}}_block{{j}}_out; "
        "feature maps can only be found in networks built by keras_preact "
        "(build_resnet, create_model or the named entry points) or in a model that "
        "contains exactly one of them."
    )


def _inputs(model):
    # A one-element list would make Keras warn on every call with a bare tensor.
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _stage_layer_names(model):
    """{stage name: name of the layer whose output is that stage's feature map}."""
    model = backbone_of(model)
    names = {layer.name for layer in model.layers}
    units = _units(model)
    stem = [layer.name for layer in model.layers if layer.name.startswith(f"{STEM}_")]
    layers = {STEM: stem[-1]} if stem else {}
    layers.update(units)
    if "post_relu" in names:
        layers[list(units)[-1]] = "post_relu"
    return layers


def stage_names(model):
    """The residual stages of a network, in order: ["conv2", "conv3", "conv4"] for the
    CIFAR nets, ["conv2", ..., "conv5"] for the ImageNet nets.

    Args:
        model: a network built by keras_preact (or a model containing one).

    Raises:
        ValueError: no residual units with keras_preact's layer names were found.
    """
    return list(_units(backbone_of(model)))


def stage_layers(model):
    """The layers of each stage, for freezing and unfreezing stage by stage.

    "conv1" holds the stem (`conv1_*`, `pool1_*`); "conv{k}" holds every layer of the
    units of stage k; the last stage also holds `post_bn`/`post_relu` of pre-activation
    networks. Input, pooling and classifier layers belong to no stage.

    Args:
        model: a network built by keras_preact (or a model containing one).

    Returns:
        An ordered dict {stage name: [layers]}, from "conv1" to the last stage.

    Raises:
        ValueError: no residual units with keras_preact's layer names were found.
    """
    model = backbone_of(model)
    names = list(_units(model))
    groups = {STEM: [], **{name: [] for name in names}}
    for layer in model.layers:
        if _STEM_LAYER.match(layer.name):
            groups[STEM].append(layer)
            continue
        match = _STAGE_LAYER.match(layer.name)
        if match and match.group(1) in groups:
            groups[match.group(1)].append(layer)
        elif layer.name in _POST_LAYERS:
            groups[names[-1]].append(layer)
    return groups


def stage_outputs(model, stages=None):
    """The symbolic feature map of each stage, as tensors of `model`'s graph.

    Args:
        model: a network built by keras_preact (or a model containing one, whose
            tensors are then those of the nested network).
        stages: names of the stages to return (see the module docstring); default all
            residual stages ("conv2" to the last), without the stem "conv1".

    Returns:
        A dict {stage name: KerasTensor}, in network order.

    Raises:
        ValueError: an unknown stage name (the message lists the available ones), or a
            model without keras_preact's layer names.
    """
    backbone = backbone_of(model)
    layers = _stage_layer_names(backbone)
    if stages is None:
        stages = [name for name in layers if name != STEM]
    elif isinstance(stages, str):
        stages = [stages]
    unknown = [s for s in stages if s not in layers]
    if unknown:
        raise ValueError(
            f"Unknown stage(s) {unknown} for {backbone.name!r}; available: {list(layers)}."
        )
    wanted = set(stages)
    return {name: backbone.get_layer(layer).output
            for name, layer in layers.items() if name in wanted}


def feature_extractor(model, stages=None, *, name=None):
    """A model that maps images to a dict of stage feature maps, sharing `model`'s
    layers and weights (for FPN-style detection or segmentation heads).

    Args:
        model: a network built by keras_preact, with or without its classifier, or a
            model containing one (its nested network's input is then used).
        stages: stage names, as for `stage_outputs`; default all residual stages.
        name: name of the new model; default "{model.name}_features".

    Returns:
        A `keras.Model` whose output is a dict {stage name: (batch, h, w, channels)}.
        With an input of unknown size it accepts any size the network supports.

    Example:
        >>> backbone = keras_preact.ResNet50(include_top=False, input_shape=(None, None, 3))
        >>> maps = feature_extractor(backbone, ["conv3", "conv4", "conv5"])(images)
        >>> maps["conv5"].shape      # (batch, H/32, W/32, 2048)
    """
    backbone = backbone_of(model)
    outputs = stage_outputs(backbone, stages)
    return keras.Model(_inputs(backbone), outputs, name=name or f"{backbone.name}_features")


def feature_info(model, stages=None):
    """Describes each stage's feature map: layer, channels and reduction.

    Args:
        model: a network built by keras_preact (or a model containing one).
        stages: stage names, as for `stage_outputs`; default all, including "conv1".

    Returns:
        A list of `FeatureInfo`, in network order.
    """
    backbone = backbone_of(model)
    layers = _stage_layer_names(backbone)
    outputs = stage_outputs(backbone, list(layers) if stages is None else stages)
    height, width, channels = backbone.inputs[0].shape[1:]
    # Probe with a size divisible by every reduction when the input size is open.
    side = height or width or 224
    probe = keras.Model(_inputs(backbone), outputs)
    spec = probe.compute_output_spec(keras.KerasTensor((1, side, width or side, channels)))
    return [
        FeatureInfo(name, layers[name], int(tensor.shape[-1]),
                    max(1, round(side / spec[name].shape[1])))
        for name, tensor in outputs.items()
    ]


__all__ = ["FeatureInfo", "backbone_of", "feature_extractor", "feature_info", "stage_layers",
           "stage_names", "stage_outputs"]
