"""The one residual-unit builder across the full product of the paper's variants:
activation order (Fig. 4) x shortcut (Fig. 2) x block x stride/downsample, plus the exact
op order of each placement and the arithmetic of each shortcut."""

import itertools

import keras
import numpy as np
import pytest

from keras_preact import Block, Downsample, Placement, Shortcut, StrideAt, residual_unit
from keras_preact.models.units import ShortcutOptions

# (block, in channels, branch width, stride, downsample, preact mode)
SHAPES = {
    "same": (16, 16, 1, Downsample.ZERO_PAD, "branch"),
    "stride2_zero_pad": (16, 16, 2, Downsample.ZERO_PAD, "shared"),
    "stride2_projection": (16, 16, 2, Downsample.PROJECTION, "shared"),
}


def _unit_model(block, shape, placement, shortcut, options=ShortcutOptions(), side=8,
                stride_at=StrideAt.FIRST):
    in_channels, width, stride, downsample, preact = SHAPES[shape]
    if block is Block.BOTTLENECK and shape == "same":
        width = in_channels // 4
    elif shape != "same":
        width = in_channels * 2 // block.expansion
    inputs = keras.Input((side, side, in_channels))
    out = residual_unit(inputs, filters=width, stride=stride, block=block, placement=placement,
                        shortcut=shortcut, downsample=downsample, stride_at=stride_at,
                        preact=preact, options=options, name="unit")
    return keras.Model(inputs, out)


@pytest.mark.parametrize("placement,shortcut,block,shape", list(itertools.product(
    Placement, Shortcut, Block, SHAPES)), ids=lambda v: getattr(v, "value", v))
def test_every_unit_builds_and_runs(placement, shortcut, block, shape):
    model = _unit_model(block, shape, placement, shortcut)
    stride = SHAPES[shape][2]
    in_channels = SHAPES[shape][0]
    expected_channels = in_channels if shape == "same" else in_channels * 2
    x = np.random.RandomState(0).randn(2, 8, 8, in_channels).astype("float32")
    for training in (False, True):
        y = np.asarray(model(x, training=training))
        assert y.shape == (2, 8 // stride, 8 // stride, expected_channels)
        assert np.isfinite(y).all()
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert all(n == model.input.name or n.startswith("unit_") for n in names[1:])
    assert names[-1] == "unit_out"
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert all(not l.use_bias for l in convs if not l.name.endswith("gate_conv"))


# Layer order of a basic same-shape unit for each activation order (Fig. 4, Table 2).
ORDER = {
    Placement.ORIGINAL: ["1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "add", "out"],
    Placement.BN_AFTER_ADD: ["1_conv", "1_bn", "1_relu", "2_conv", "add", "add_bn", "out"],
    Placement.RELU_BEFORE_ADD: ["1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "out"],
    Placement.RELU_PREACT: ["preact_relu", "1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "out"],
    Placement.FULL_PREACT: ["preact_bn", "preact_relu", "1_conv", "1_bn", "1_relu", "2_conv",
                            "out"],
}
TYPES = {"conv": keras.layers.Conv2D, "bn": keras.layers.BatchNormalization,
         "relu": keras.layers.ReLU, "add": keras.layers.Add, "out": keras.layers.Layer}


@pytest.mark.parametrize("placement", list(Placement), ids=lambda p: p.value)
def test_activation_order_matches_figure_4(placement):
    model = _unit_model(Block.BASIC, "same", placement, Shortcut.IDENTITY)
    names = [layer.name.removeprefix("unit_") for layer in model.layers[1:]]
    assert names == ORDER[placement]
    for layer in model.layers[1:]:
        kind = layer.name.rsplit("_", 1)[-1]
        assert isinstance(layer, TYPES[kind]), layer.name


def test_bottleneck_widths_and_stride_position():
    model = _unit_model(Block.BOTTLENECK, "stride2_projection", Placement.FULL_PREACT,
                        Shortcut.IDENTITY)
    get = model.get_layer
    assert [get(f"unit_{i}_conv").kernel.shape for i in (1, 2, 3)] == [
        (1, 1, 16, 8), (3, 3, 8, 8), (1, 1, 8, 32)]
    assert get("unit_1_conv").strides == (2, 2) and get("unit_2_conv").strides == (1, 1)
    moved = _unit_model(Block.BOTTLENECK, "stride2_projection", Placement.FULL_PREACT,
                        Shortcut.IDENTITY, stride_at=StrideAt.CONV3X3)
    assert moved.get_layer("unit_1_conv").strides == (1, 1)
    assert moved.get_layer("unit_2_conv").strides == (2, 2)
    assert "unit_2_pad" in [layer.name for layer in moved.layers]


def test_preactivated_input_feeds_the_projection():
    """The 1x1 projection reads the shared BN-ReLU output (resnet-1k-layers), not raw x."""
    model = _unit_model(Block.BOTTLENECK, "stride2_projection", Placement.FULL_PREACT,
                        Shortcut.IDENTITY)
    projection = model.get_layer("unit_shortcut_conv")
    assert projection.input is model.get_layer("unit_preact_relu").output
    assert "unit_shortcut_bn" not in [layer.name for layer in model.layers]
    original = _unit_model(Block.BOTTLENECK, "stride2_projection", Placement.ORIGINAL,
                           Shortcut.IDENTITY)
    assert original.get_layer("unit_shortcut_conv").input is original.input
    assert "unit_shortcut_bn" in [layer.name for layer in original.layers]


def _silence_branch(model):
    """Zero the branch's last conv so F(x) = 0 and the unit is its shortcut alone."""
    for layer in model.layers:
        if layer.name.endswith(("_2_conv", "_gate_conv")):
            layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))


@pytest.mark.parametrize("shortcut,options,expected", [
    (Shortcut.IDENTITY, ShortcutOptions(), lambda x: x),
    (Shortcut.CONSTANT_SCALING, ShortcutOptions(scale=0.5), lambda x: 0.5 * x),
    (Shortcut.CONSTANT_SCALING, ShortcutOptions(scale=0.0), lambda x: 0 * x),
    (Shortcut.EXCLUSIVE_GATING, ShortcutOptions(gate_bias_init=-6.0),
     lambda x: (1 - 1 / (1 + np.exp(6.0))) * x),
    (Shortcut.SHORTCUT_ONLY_GATING, ShortcutOptions(gate_bias_init=0.0), lambda x: 0.5 * x),
    (Shortcut.DROPOUT, ShortcutOptions(dropout_rescale=False), lambda x: 0.5 * x),
    (Shortcut.DROPOUT, ShortcutOptions(), lambda x: x),
], ids=lambda v: getattr(v, "value", None))
def test_shortcut_arithmetic_at_inference(shortcut, options, expected):
    model = _unit_model(Block.BASIC, "same", Placement.FULL_PREACT, shortcut, options)
    _silence_branch(model)
    x = np.random.RandomState(1).randn(2, 8, 8, 16).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)), expected(x), rtol=1e-5, atol=1e-6)


def test_gating_multiplies_the_residual_by_g():
    """Exclusive gating: out = (1 - g) x + g F; with b_g = 0 and W_g = 0, g = 1/2."""
    options = ShortcutOptions(gate_bias_init=0.0)
    gated = _unit_model(Block.BASIC, "same", Placement.FULL_PREACT, Shortcut.EXCLUSIVE_GATING,
                        options)
    plain = _unit_model(Block.BASIC, "same", Placement.FULL_PREACT, Shortcut.IDENTITY)
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(gated.get_layer(layer.name).get_weights())
    gate = gated.get_layer("unit_gate_conv")
    gate.kernel.assign(np.zeros(gate.kernel.shape, "float32"))
    assert np.allclose(np.asarray(gate.bias), 0.0)
    x = np.random.RandomState(2).randn(2, 8, 8, 16).astype("float32")
    residual = np.asarray(plain(x)) - x
    np.testing.assert_allclose(np.asarray(gated(x)), 0.5 * x + 0.5 * residual,
                               rtol=1e-4, atol=1e-5)


def test_frozen_gating_scales_the_residual():
    scaled = _unit_model(Block.BASIC, "same", Placement.ORIGINAL, Shortcut.CONSTANT_SCALING,
                         ShortcutOptions(scale=0.5, scale_residual=True))
    assert scaled.get_layer("unit_residual_scale").scale == 0.5
    assert scaled.get_layer("unit_shortcut_scale").scale == 0.5


def test_unscaled_dropout_keeps_the_expected_scale_in_training():
    model = _unit_model(Block.BASIC, "same", Placement.FULL_PREACT, Shortcut.DROPOUT,
                        ShortcutOptions(dropout_rate=0.5, dropout_rescale=False), side=16)
    _silence_branch(model)
    x = np.ones((4, 16, 16, 16), "float32")
    y = np.asarray(model(x, training=True))
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert 0.4 < y.mean() < 0.6


def test_option_a_zero_pads_and_subsamples():
    model = _unit_model(Block.BASIC, "stride2_zero_pad", Placement.ORIGINAL, Shortcut.IDENTITY)
    _silence_branch(model)
    model.get_layer("unit_2_bn").beta.assign(np.zeros(32, "float32"))
    x = np.abs(np.random.RandomState(3).randn(2, 8, 8, 16)).astype("float32")
    y = np.asarray(model(x))
    np.testing.assert_allclose(y[..., :16], x[:, ::2, ::2, :], rtol=1e-6)
    np.testing.assert_array_equal(y[..., 16:], 0.0)
