"""One residual unit builder for every unit of He et al., "Identity Mappings in Deep
Residual Networks" (ECCV 2016): five activation orders (Fig. 4) x six shortcuts (Fig. 2)
x basic/bottleneck branches x option A/B dimension changes.

Every layer type is made by one helper of `LayerFactory`, so initialisation, BN settings
and regularisation are set in one place:

- conv: no bias, He normal init with fan-out and no truncation, std sqrt(2 / (k*k*C_out))
  (resnet-1k-layers and fb.resnet.torch; Keras' `HeNormal` is fan-in and truncated).
- BN: momentum 0.9, epsilon 1e-5 (Torch defaults; keras.applications uses 0.99 / 1.001e-5),
  on TensorFlow's fused kernel (`keras_preact.models.layers.BatchNormalization`).
- 3x3 convs with stride 2 pad one pixel on every side explicitly (Torch/Caffe sampling;
  TF "same" pads only bottom/right at stride 2 on even inputs).

Choices the paper leaves open (docs/architecture.md, "Shortcut variants"), made here:

1. The gate of Fig. 2(c, d) is `sigmoid(conv1x1(x) + b_g)` with bias initialised to
   `gate_bias_init` and no BN between conv and sigmoid (a BN would cancel `b_g`, whose
   initial value the paper studies). The gate kernel has the same He init as other convs.
   The gate reads the unit input (the tensor the shortcut reads), has the unit's stride and
   `C_out` channels, and so also works at dimension-changing units.
2. Projection shortcuts (option B) and the 1x1 shortcut of Fig. 2(e) get a BN exactly when
   the residual branch ends with one (orders a, c, d), so both summands are on the same
   footing: conv+BN in original nets (He et al. 2015 Caffe models), bare conv in full
   pre-activation nets (resnet-1k-layers). These rules reproduce the parameter counts of
   docs/architecture.md ("Parameter counts") exactly.
3. In pre-activation nets (Fig. 4d, 4e) the first unit of each stage applies its
   pre-activation before the split and the shortcut (identity, option A or projection)
   reads the pre-activated tensor ("projection shortcuts are also with pre-activation",
   appendix; fb.resnet.torch `both_preact`); other units pre-activate only the branch and
   the identity reads the raw input (Eq. 9).
4. Shortcut variants apply to every unit, as in Table 1; at the units that change shape
   the variant acts on the option A/B shortcut tensor (the 1x1 conv of Fig. 2(e) replaces
   it, with the unit's stride).
5. The dropout shortcut offers Keras' inverted dropout (`dropout_rescale=True`,
   expectation 1) or a bare Bernoulli mask (`False`, expectation `1 - rate`, the paper's
   argument in §3.1); see `keras_preact.models.layers.UnscaledDropout`.
"""

import dataclasses

import keras
from keras import layers

from keras_preact.models.layers import BatchNormalization, UnscaledDropout, ZeroPadShortcut
from keras_preact.models.variants import Block, Downsample, Placement, Shortcut, StrideAt


@dataclasses.dataclass(frozen=True)
class UnitOrder:
    """Where BN ("bn") and ReLU ("relu") sit in a unit, as tuples of op names.

    Attributes:
        preact: ops on the unit input before the first conv (the branch's pre-activation).
        tail: ops after the branch's last conv, before the addition.
        post_add: ops after the addition (the paper's `f`).
    Between two convs of a branch there is always BN then ReLU.
    """

    preact: tuple
    tail: tuple
    post_add: tuple

    @property
    def projection_bn(self):
        """Whether projection shortcuts get a BN: exactly when the branch ends with one."""
        return "bn" in self.tail


UNIT_ORDERS = {
    Placement.ORIGINAL: UnitOrder((), ("bn",), ("relu",)),
    Placement.BN_AFTER_ADD: UnitOrder((), (), ("bn", "relu")),
    Placement.RELU_BEFORE_ADD: UnitOrder((), ("bn", "relu"), ()),
    Placement.RELU_PREACT: UnitOrder(("relu",), ("bn",), ()),
    Placement.FULL_PREACT: UnitOrder(("bn", "relu"), (), ()),
}


@dataclasses.dataclass(frozen=True)
class ShortcutOptions:
    """Hyper-parameters of the shortcut variants of Fig. 2.

    Attributes:
        scale: lambda of constant scaling (Fig. 2b); the paper tries 0 and 0.5.
        scale_residual: also scale F by 1 - lambda ("frozen gating", 12.35% in Table 1).
        gate_bias_init: initial gate bias b_g (Fig. 2c, 2d); -6 was the paper's best.
        dropout_rate: drop probability of the dropout shortcut (Fig. 2f); the paper uses 0.5.
        dropout_rescale: True for Keras' inverted dropout, False for a bare mask.
    """

    scale: float = 0.5
    scale_residual: bool = False
    gate_bias_init: float = -6.0
    dropout_rate: float = 0.5
    dropout_rescale: bool = True


@dataclasses.dataclass(frozen=True)
class LayerFactory:
    """Builds each layer type of the zoo in one place.

    Attributes:
        kernel_regularizer: applied to every conv and dense kernel (e.g. coupled L2 weight
            decay: `keras.regularizers.L2(wd / 2)`, since Keras' L2 gradient is 2*l2*w).
        synchronized_bn: cross-replica BN statistics (TensorFlow backend only).
    """

    kernel_regularizer: object = None
    synchronized_bn: bool = False

    def conv(self, x, filters, kernel_size, strides, name, **kwargs):
        """A bias-free conv with He fan-out init; stride-2 3x3 convs pad explicitly."""
        padding = "same"
        if strides > 1 or kernel_size == 1:
            padding = "valid"
        if strides > 1 and kernel_size > 1:
            x = layers.ZeroPadding2D(kernel_size // 2, name=name.replace("_conv", "_pad"))(x)
        return layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=kwargs.pop("use_bias", False),
            kernel_initializer=keras.initializers.VarianceScaling(
                2.0, "fan_out", "untruncated_normal"
            ),
            kernel_regularizer=self.kernel_regularizer,
            name=name,
            **kwargs,
        )(x)

    def bn(self, x, name):
        """BN with the Torch settings of the reference code: momentum 0.9, epsilon 1e-5;
        TensorFlow's fused kernel where it applies (`keras_preact.models.layers.BatchNormalization`)."""
        kwargs = {"synchronized": True} if self.synchronized_bn else {}
        return BatchNormalization(
            axis=-1, momentum=0.9, epsilon=1e-5, name=name, **kwargs
        )(x)

    def relu(self, x, name):
        """A named ReLU."""
        return layers.ReLU(name=name)(x)

    def apply(self, x, ops, prefix, last_name=None):
        """Applies a sequence of "bn"/"relu" ops named `{prefix}_bn`/`{prefix}_relu`;
        the last op is named `last_name` when given."""
        for i, op in enumerate(ops):
            name = f"{prefix}_{op}"
            if last_name is not None and i == len(ops) - 1:
                name = last_name
            x = self.bn(x, name) if op == "bn" else self.relu(x, name)
        return x

    def dense(self, x, units, activation, name):
        """The classifier: Torch's default uniform(+-1/sqrt(fan_in)) kernel, zero bias.

        Under a mixed-precision policy it computes in float32, so logits and softmax keep
        full precision.
        """
        policy = keras.config.dtype_policy()
        kwargs = {}
        if policy.compute_dtype != policy.variable_dtype:
            kwargs["dtype"] = "float32"
        return layers.Dense(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.VarianceScaling(
                1.0 / 3.0, "fan_in", "uniform"
            ),
            bias_initializer="zeros",
            kernel_regularizer=self.kernel_regularizer,
            name=name,
            **kwargs,
        )(x)


def residual_unit(
    x,
    *,
    filters,
    stride,
    block,
    placement,
    shortcut,
    downsample,
    stride_at=StrideAt.FIRST,
    preact="branch",
    options=ShortcutOptions(),
    factory=LayerFactory(),
    name,
):
    """One residual unit `x_{l+1} = f(h(x_l) + F(x_l))` (He et al. 2016, Eqs. 1-2).

    Args:
        x: input tensor (NHWC).
        filters: branch width; the unit outputs `filters * block.expansion` channels.
        stride: 1, or 2 at the first unit of a down-sampling stage.
        block: `Block.BASIC` (3x3, 3x3) or `Block.BOTTLENECK` (1x1, 3x3, 1x1 x4).
        placement: the activation order of Fig. 4 (`Placement`).
        shortcut: the skip path of Fig. 2 (`Shortcut`).
        downsample: `Downsample.ZERO_PAD` (option A) or `PROJECTION` (option B) for a
            unit whose output shape differs from its input.
        stride_at: which conv of the branch strides (`StrideAt`).
        preact: for pre-activation orders, "shared" (pre-activate before the split; the
            shortcut reads the activated tensor), "branch" (branch only; the identity reads
            the raw input, Eq. 9) or "none" (the input is already activated, e.g. after an
            ImageNet stem). Ignored by post-activation orders.
        options: `ShortcutOptions` for the scaling, gating and dropout shortcuts.
        factory: `LayerFactory` that makes the conv, BN, ReLU layers.
        name: layer-name prefix, e.g. "conv2_block1"; layers are `{name}_{op}`.

    Returns:
        The unit's output tensor; its layer is always named `{name}_out`.
    """
    order = UNIT_ORDERS[placement]
    out_filters = filters * block.expansion
    pre = x
    if order.preact and preact != "none":
        pre = factory.apply(x, order.preact, f"{name}_preact")
    skip_input = pre if preact in ("shared", "none") else x

    kernels = (3, 3) if block is Block.BASIC else (1, 3, 1)
    widths = (filters,) * (len(kernels) - 1) + (out_filters,)
    stride_index = 1 if (stride_at is StrideAt.CONV3X3 and block is Block.BOTTLENECK) else 0
    y = pre
    for i, (kernel, width) in enumerate(zip(kernels, widths)):
        if i:
            y = factory.apply(y, ("bn", "relu"), f"{name}_{i}")
        y = factory.conv(y, width, kernel, stride if i == stride_index else 1,
                         f"{name}_{i + 1}_conv")
    residual = factory.apply(y, order.tail, f"{name}_{len(kernels)}")

    in_filters = x.shape[-1]
    changes_shape = stride != 1 or in_filters != out_filters
    if shortcut is Shortcut.CONV1X1 or (changes_shape and downsample is Downsample.PROJECTION):
        skip = factory.conv(skip_input, out_filters, 1, stride, f"{name}_shortcut_conv")
        if order.projection_bn:
            skip = factory.bn(skip, f"{name}_shortcut_bn")
    elif changes_shape:
        skip = ZeroPadShortcut(out_filters, stride, name=f"{name}_shortcut_pad")(skip_input)
    else:
        skip = skip_input

    if shortcut is Shortcut.CONSTANT_SCALING:
        skip = layers.Rescaling(options.scale, name=f"{name}_shortcut_scale")(skip)
        if options.scale_residual:
            residual = layers.Rescaling(1.0 - options.scale, name=f"{name}_residual_scale")(
                residual
            )
    elif shortcut is Shortcut.DROPOUT:
        if options.dropout_rescale:
            skip = layers.Dropout(options.dropout_rate, name=f"{name}_shortcut_dropout")(skip)
        else:
            skip = UnscaledDropout(options.dropout_rate, name=f"{name}_shortcut_dropout")(skip)
    elif shortcut in (Shortcut.EXCLUSIVE_GATING, Shortcut.SHORTCUT_ONLY_GATING):
        gate = factory.conv(
            skip_input, out_filters, 1, stride, f"{name}_gate_conv",
            use_bias=True, activation="sigmoid",
            bias_initializer=keras.initializers.Constant(options.gate_bias_init),
        )
        gated = layers.Multiply(name=f"{name}_gate_shortcut_mul")([gate, skip])
        skip = layers.Subtract(name=f"{name}_gate_shortcut")([skip, gated])  # (1 - g) * x
        if shortcut is Shortcut.EXCLUSIVE_GATING:
            residual = layers.Multiply(name=f"{name}_gate_residual")([gate, residual])

    if not order.post_add:
        return layers.Add(name=f"{name}_out")([skip, residual])
    y = layers.Add(name=f"{name}_add")([skip, residual])
    return factory.apply(y, order.post_add, f"{name}_add", last_name=f"{name}_out")
