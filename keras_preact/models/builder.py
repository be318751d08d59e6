"""`build_resnet`: stem -> stages of residual units -> head, as a Functional keras.Model.

Layer names are the weights contract (stable, unique, paper-numbered): the stem is
`conv1_*` (+ `pool1_*` on ImageNet), stage k of the paper is `conv{k}_block{j}_*` with
k = 2, 3, ... and j = 1, 2, ..., then `post_bn`/`post_relu` (pre-activation nets),
`avg_pool`/`max_pool` and `predictions`. Each unit's last layer is `conv{k}_block{j}_out`.
"""

import contextlib
import sys

import keras
from keras import layers

from keras_preact.models.archs import ARCHS, PREACT_PREFIX, Arch, get_arch, parse_model_name
from keras_preact.models.units import UNIT_ORDERS, LayerFactory, ShortcutOptions, residual_unit
from keras_preact.models.variants import (
    Block,
    Downsample,
    Family,
    Placement,
    Shortcut,
    StrideAt,
)

_SHORTCUT_OPTIONS = {
    "shortcut_scale": (Shortcut.CONSTANT_SCALING, "scale"),
    "scale_residual": (Shortcut.CONSTANT_SCALING, "scale_residual"),
    "gate_bias_init": ((Shortcut.EXCLUSIVE_GATING, Shortcut.SHORTCUT_ONLY_GATING), "gate_bias_init"),
    "dropout_rate": (Shortcut.DROPOUT, "dropout_rate"),
    "dropout_rescale": (Shortcut.DROPOUT, "dropout_rescale"),
}


def model_name(arch, placement, shortcut):
    """The canonical name of a network, e.g. "preact_resnet164" or
    "resnet110_relu_preact_exclusive_gating" for combinations outside the two families."""
    base = next((n for n, a in ARCHS.items() if a == arch), None)
    if base is None:
        base = f"resnet{arch.depth}_{arch.block.value}"
        if arch.family is Family.IMAGENET:
            base += "_imagenet"
    if shortcut is Shortcut.IDENTITY and placement is Placement.ORIGINAL:
        return base
    if shortcut is Shortcut.IDENTITY and placement is Placement.FULL_PREACT:
        return PREACT_PREFIX + base
    name = f"{base}_{placement.value}"
    if shortcut is not Shortcut.IDENTITY:
        name += f"_{shortcut.value}"
    return name


def _shortcut_options(shortcut, overrides):
    values = {}
    for key, value in overrides.items():
        if key not in _SHORTCUT_OPTIONS:
            raise TypeError(f"build_resnet() got an unexpected keyword argument {key!r}.")
        if value is None:
            continue
        wanted, field = _SHORTCUT_OPTIONS[key]
        wanted = wanted if isinstance(wanted, tuple) else (wanted,)
        if shortcut not in wanted:
            names = " or ".join(repr(w.value) for w in wanted)
            raise ValueError(
                f"{key}={value!r} only applies to shortcut={names}, not {shortcut.value!r}."
            )
        values[field] = value
    options = ShortcutOptions(**values)
    if not 0 <= options.dropout_rate < 1:
        raise ValueError(f"dropout_rate must be in [0, 1), got {options.dropout_rate}.")
    return options


def _check_structure(entry, arch, downsample, stride_at, shortcut_options):
    """Refuses structural arguments that differ from the network a weight set was trained
    as (the registry is keyed by canonical name, which does not encode them)."""
    trained = dict(entry.model_args)
    expected = {
        "downsample": Downsample.parse(trained.get("downsample") or arch.downsample),
        "stride_at": StrideAt.parse(trained.get("stride_at", StrideAt.FIRST)),
    }
    asked = {"downsample": downsample, "stride_at": stride_at}
    for key, value in shortcut_options.items():
        if value is not None:
            expected[key], asked[key] = trained.get(key), value
    wrong = {k: v for k, v in asked.items() if v != expected[k]}
    if wrong:
        from keras_preact.errors import IncompatibleWeightsError

        got = ", ".join(f"{k}={getattr(v, 'value', v)!r}" for k, v in wrong.items())
        want = ", ".join(f"{k}={getattr(expected[k], 'value', expected[k])!r}" for k in wrong)
        raise IncompatibleWeightsError(
            f"The weights {entry.name} were trained with {want}; this call asks for {got}. "
            "Drop those arguments to load them, or use weights=None."
        )


def _check_head(weights, num_classes, include_top, classes):
    if include_top and None not in (classes, num_classes) and classes != num_classes:
        raise ValueError(
            f"weights={weights!r} has a {num_classes}-class head but classes={classes}. "
            f"For transfer learning to {classes} classes use include_top=False, "
            "pooling='avg' and add your own classifier."
        )


def _input_shape(arch, input_shape, input_tensor, include_top, has_weights):
    if input_tensor is not None:
        shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != shape:
            raise ValueError(
                f"input_shape={tuple(input_shape)} disagrees with input_tensor's shape {shape}."
            )
        input_shape = shape
    if input_shape is None:
        size = arch.default_size if include_top else None
        input_shape = (size, size, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be (height, width, channels) in channels_last order, "
            f"got {input_shape}."
        )
    height, width, channels = input_shape
    if channels is None:
        raise ValueError("The number of input channels must be known (e.g. (32, 32, 3)).")
    if has_weights and channels != 3:
        raise ValueError(
            f"Pretrained weights expect 3 input channels, got input_shape={input_shape}."
        )
    for side in (height, width):
        if side is not None and side < arch.min_size:
            raise ValueError(
                f"Input {height}x{width} is too small for a {arch.family.value} ResNet, "
                f"which down-samples by {arch.reduction}: each side must be at least "
                f"{arch.min_size} (the paper uses {arch.default_size})."
            )
    if include_top and (height is None or width is None):
        raise ValueError(
            f"include_top=True needs a fixed input size; got input_shape={input_shape}. "
            f"Pass e.g. input_shape=({arch.default_size}, {arch.default_size}, 3), or "
            "include_top=False with pooling='avg' for any input size."
        )
    return input_shape


def _backbone(inputs, arch, placement, shortcut, downsample, stride_at, options, factory):
    """Stem and stages; returns the last feature map (after the final activation of
    pre-activation nets)."""
    order = UNIT_ORDERS[placement]
    if arch.family is Family.CIFAR:
        x = factory.conv(inputs, arch.stem_width, 3, 1, "conv1_conv")
        # Stem and first unit together give conv-BN-ReLU before the first split
        # (appendix: "first activation right after conv1"), never twice.
        stem_ops = ("bn", "relu")[: 2 - len(order.preact)]
        x = factory.apply(x, stem_ops, "conv1")
        first_preact = "shared"
    else:
        x = factory.conv(inputs, arch.stem_width, 7, 2, "conv1_conv")
        x = factory.apply(x, ("bn", "relu"), "conv1")
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
        first_preact = "none"
    for s, (units, width, stride) in enumerate(zip(arch.depths, arch.widths, arch.strides)):
        for u in range(units):
            if u == 0:
                preact = first_preact if s == 0 else "shared"
            else:
                preact = "branch"
            x = residual_unit(
                x,
                filters=width,
                stride=stride if u == 0 else 1,
                block=arch.block,
                placement=placement,
                shortcut=shortcut,
                downsample=downsample,
                stride_at=stride_at,
                preact=preact,
                options=options,
                factory=factory,
                name=f"conv{s + 2}_block{u + 1}",
            )
    # The extra activation after the last addition of pre-activation nets (appendix).
    return factory.apply(x, order.preact, "post")


@contextlib.contextmanager
def _recursion_room(arch):
    # Keras maps a Functional graph recursively (a few frames per layer): ResNet-1202's
    # ~4,000 layers overflow Python's default limit of 1,000.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * 8 * sum(arch.depths) + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _pool(x, pooling):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def build_resnet(
    depth,
    *,
    family="cifar",
    block=None,
    placement="full_preact",
    shortcut="identity",
    downsample=None,
    stride_at="first",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name=None,
    kernel_regularizer=None,
    synchronized_bn=False,
    **shortcut_options,
):
    """Builds any ResNet of He et al., "Identity Mappings in Deep Residual Networks"
    (ECCV 2016), as a Functional `keras.Model`.

    The network is the stem, the stages of `keras_preact.models.units.residual_unit` and the
    head of the paper (CIFAR: 3x3/16 conv, three stages, global average pool, FC;
    ImageNet: 7x7/2 conv, 3x3/2 max-pool, four stages, global average pool, FC).
    Pre-activation orders end with the extra activation after the last addition
    (`post_bn`/`post_relu`, appendix). Inputs are NHWC (channels_last).

    Args:
        depth: number of weight layers (e.g. 110, 164, 1001, 50), or an `Arch`.
        family: "cifar" (depth 6n+2 basic / 9n+2 bottleneck) or "imagenet" (18, 34, 50,
            101, 152, 200).
        block: "basic" or "bottleneck"; defaults to the paper's choice for the depth.
        placement: activation order of Fig. 4: "original", "bn_after_add",
            "relu_before_add", "relu_preact", "full_preact" (`Placement`).
        shortcut: skip path of Fig. 2: "identity", "constant_scaling",
            "exclusive_gating", "shortcut_only_gating", "conv1x1", "dropout" (`Shortcut`).
        downsample: shortcut of units that change shape: "zero_pad" (option A) or
            "projection" (option B). Defaults to the paper's: option A for the basic
            CIFAR nets, projections otherwise.
        stride_at: "first" (first conv of the unit: the paper's Caffe models and the
            authors' CIFAR code) or "conv3x3" (the bottleneck's 3x3, fb.resnet.torch).
        include_top: whether to end with global average pooling and the `predictions`
            Dense layer.
        weights: None (random init, He et al. 2015), a registered tag such as "cifar10",
            a path to a `.weights.h5` file, or "hf://owner/repo[@revision]".
        input_tensor: optional Keras tensor (output of `keras.Input`) to build on.
        input_shape: (height, width, channels); defaults to the paper's size with
            `include_top`, else (None, None, 3).
        pooling: with include_top=False, None (4D feature map), "avg" or "max".
        classes: size of the classifier; defaults to the weights' classes or 10/1000.
        classifier_activation: activation of `predictions` ("softmax", None for logits).
        name: model name; defaults to the canonical name (e.g. "preact_resnet164").
        kernel_regularizer: regulariser for every conv/dense kernel (for the paper's
            coupled weight decay 1e-4 use `keras.regularizers.L2(5e-5)`).
        synchronized_bn: cross-replica BN statistics (TensorFlow backend only).
        **shortcut_options: `shortcut_scale` (lambda, default 0.5) and `scale_residual`
            (default False) for constant scaling; `gate_bias_init` (default -6.0) for the
            gating shortcuts; `dropout_rate` (0.5) and `dropout_rescale` (True) for dropout.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: an unknown depth or variant name, an input too small, include_top
            with an undefined input size, or options that do not fit together; the
            message says what is allowed.

    Example:
        >>> model = build_resnet(164, placement="full_preact")  # pre-act ResNet-164
        >>> model.count_params()
        1727482
    """
    arch = depth if isinstance(depth, Arch) else get_arch(depth, family, block)
    placement = Placement.parse(placement)
    shortcut = Shortcut.parse(shortcut)
    downsample = arch.downsample if downsample is None else Downsample.parse(downsample)
    stride_at = StrideAt.parse(stride_at)
    options = _shortcut_options(shortcut, shortcut_options)
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}.")
    if include_top and pooling is not None:
        raise ValueError(
            "pooling applies to include_top=False only (the classifier head always "
            "average-pools). Drop pooling, or pass include_top=False."
        )
    if synchronized_bn and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "synchronized_bn=True needs the TensorFlow backend; on "
            f"{keras.backend.backend()!r} BN statistics are per replica."
        )
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "keras_preact builds channels_last (NHWC) models; set "
            "keras.config.set_image_data_format('channels_last')."
        )
    canonical = model_name(arch, placement, shortcut)
    # Cheap checks first: nothing is downloaded for a call that cannot succeed.
    shape = _input_shape(arch, input_shape, input_tensor, include_top, weights is not None)
    if weights is not None and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "With pretrained weights, classifier_activation must be None or "
            f"'softmax', got {classifier_activation!r}."
        )

    resolved = None
    if weights is not None:
        from keras_preact.pretrained import loading as pretrained, registry

        # A registered tag is checked before anything is downloaded, hf:// metadata after.
        structure = (arch, downsample, stride_at, shortcut_options)
        registered = None
        if isinstance(weights, str):
            registered = registry.WEIGHTS.get(f"{canonical}.{weights}")
        if registered is not None:
            _check_structure(registered, *structure)
            _check_head(weights, registered.num_classes, include_top, classes)
        resolved = pretrained.resolve_weights(weights, canonical)
        if resolved.entry is not None and resolved.entry is not registered:
            _check_structure(resolved.entry, *structure)
        _check_head(weights, resolved.num_classes, include_top, classes)
    if classes is None:
        classes = resolved.num_classes if resolved and resolved.num_classes else arch.default_classes
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"classes must be a positive integer, got {classes!r}.")

    if input_tensor is None:
        inputs = keras.Input(shape=shape, name="input")
    elif keras.backend.is_keras_tensor(input_tensor):
        inputs = input_tensor
    else:
        inputs = keras.Input(tensor=input_tensor, name="input")

    factory = LayerFactory(kernel_regularizer, synchronized_bn)
    features = _backbone(inputs, arch, placement, shortcut, downsample, stride_at, options, factory)
    name = name or canonical

    def head(units):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
        return factory.dense(x, units, classifier_activation, "predictions")

    source_inputs = keras.utils.get_source_inputs(inputs)
    if len(source_inputs) == 1:
        source_inputs = source_inputs[0]
    with _recursion_room(arch):
        if include_top:
            model = keras.Model(source_inputs, head(classes), name=name)
            if resolved is not None:
                pretrained.load_weights(model, resolved)
            return model
        if resolved is not None:
            # One file per weight set: load into the full graph (with the file's own head,
            # whatever `classes` says), then cut the head off.
            full = keras.Model(source_inputs, head(resolved.num_classes or classes), name=name)
            pretrained.load_weights(full, resolved)
        return keras.Model(source_inputs, _pool(features, pooling), name=name)


def create_model(model, **kwargs):
    """Builds a network of the zoo by name, e.g. `create_model("preact_resnet164")`.

    Names are those of `list_models()`: "resnet{depth}" (original units, Fig. 4a) and
    "preact_resnet{depth}" (full pre-activation, Fig. 4e), both with identity shortcuts.

    Args:
        model: a name from `list_models()`.
        **kwargs: any argument of `build_resnet` except depth/family/block/placement.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    key, preact = parse_model_name(model)
    placement = Placement.FULL_PREACT if preact else Placement.ORIGINAL
    if key not in ARCHS:
        raise ValueError(f"Unknown model {model!r}. Known models: {', '.join(list_models())}.")
    for arg in ("family", "block", "placement"):
        if arg in kwargs:
            raise ValueError(
                f"create_model({model!r}) fixes {arg}; use build_resnet() to choose it."
            )
    return build_resnet(ARCHS[key], placement=placement, **kwargs)


def list_models(pretrained=False):
    """Names of the zoo's networks: original and pre-activation, CIFAR and ImageNet.

    Args:
        pretrained: if True, list only the (model, tag) pairs with published weights,
            as "model.tag" strings (e.g. "preact_resnet164.cifar10").
    """
    if pretrained:
        from keras_preact.pretrained import registry

        return sorted(registry.WEIGHTS)
    names = list(ARCHS) + [f"{PREACT_PREFIX}{n}" for n in ARCHS]
    return names


__all__ = ["build_resnet", "create_model", "list_models", "model_name", "Block",
           "Downsample", "Family", "Placement", "Shortcut", "StrideAt"]
