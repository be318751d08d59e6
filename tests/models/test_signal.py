"""The paper's argument, measured on units built by keras_preact (He et al. 2016, §3,
Eqs. 4-8): with identity shortcuts and f = identity, x_L = x_l + sum F, so the shortcut
carries the forward signal and the gradient unchanged across any depth; with h(x) = lambda x
the shortcut term is prod(lambda) and vanishes."""

import keras
import numpy as np
import pytest

from backend_utils import input_gradient
from keras_preact import Block, Downsample, Placement, Shortcut, residual_unit
from keras_preact.models.units import ShortcutOptions

UNITS = 17  # the same-shape units of one ResNet-110 stage


def _stack(shortcut, options=ShortcutOptions(), silence=False):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 16))
    x = inputs
    for i in range(UNITS):
        x = residual_unit(x, filters=16, stride=1, block=Block.BASIC,
                          placement=Placement.FULL_PREACT, shortcut=shortcut,
                          downsample=Downsample.ZERO_PAD, preact="branch", options=options,
                          name=f"u{i}")
    model = keras.Model(inputs, x)
    if silence:  # F = 0: what remains is the shortcut path of Eqs. 4 and 7 alone
        for layer in model.layers:
            if layer.name.endswith("_2_conv"):
                layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
    return model


def _ratios(model, training):
    rng = np.random.RandomState(0)
    x = rng.randn(16, 16, 16, 16).astype("float32")
    weights = rng.randn(16, 16, 16, 16).astype("float32")
    y, grad = input_gradient(model, x, weights, training=training)
    return np.linalg.norm(y) / np.linalg.norm(x), np.linalg.norm(grad) / np.linalg.norm(weights)


@pytest.mark.parametrize("training", [True, False])
def test_identity_shortcut_carries_signal_and_gradient_unchanged(training):
    forward, backward = _ratios(_stack(Shortcut.IDENTITY, silence=True), training)
    np.testing.assert_allclose([forward, backward], [1.0, 1.0], rtol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_constant_scaling_makes_the_shortcut_term_vanish(training):
    model = _stack(Shortcut.CONSTANT_SCALING, ShortcutOptions(scale=0.5), silence=True)
    forward, backward = _ratios(model, training)
    np.testing.assert_allclose([forward, backward], [0.5**UNITS] * 2, rtol=1e-4)
    assert backward < 1e-5


def test_identity_stack_at_initialisation_keeps_order_one():
    """With live residual branches (random He init, batch statistics as in the first
    training step) neither the signal nor the gradient vanishes or explodes: Eq. 5's
    additive "1" keeps the gradient at the input at least as large as at the output."""
    forward, backward = _ratios(_stack(Shortcut.IDENTITY), training=True)
    assert 1.0 <= forward < 20.0
    assert 1.0 <= backward < 100.0
