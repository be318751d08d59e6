"""keras_preact.models.layers.BatchNormalization against keras.layers.BatchNormalization: same
outputs, gradients, moving statistics, variables and files; the fused kernel really runs
on TensorFlow and the stock code everywhere it cannot."""

import keras
import numpy as np
import pytest

import keras_preact
from keras_preact.models.layers import BatchNormalization

TF = keras.backend.backend() == "tensorflow"
tf_only = pytest.mark.tf_only


def _pair(shape, rng, **kwargs):
    ours = BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
    stock = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
    ours.build(shape)
    stock.build(shape)
    channels = shape[-1]
    values = [rng.normal(1.0, 0.3, channels), rng.normal(0, 0.5, channels),
              rng.normal(0, 1, channels), rng.uniform(0.5, 2.0, channels)]
    values = [v.astype("float32") for v in values]
    ours.set_weights(values)
    stock.set_weights(values)
    return ours, stock


def _train_step(layer, x, probe):
    """(outputs, d<y, probe>/dx, d<y, probe>/dgamma, d<y, probe>/dbeta) in training mode."""
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(layer(x, training=True), "float32")
        energy = tf.reduce_sum(y * probe)
    grads = tape.gradient(energy, [x, layer.gamma.value, layer.beta.value])
    return [np.asarray(tf.cast(v, "float32")) for v in (y, *grads)]


@tf_only
@pytest.mark.parametrize("policy,tolerance", [("float32", 1e-5), ("mixed_bfloat16", 2e-2)])
def test_matches_keras_in_training_and_inference(policy, tolerance):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        rng = np.random.default_rng(0)
        shape = (8, 6, 6, 5)
        ours, stock = _pair(shape, rng)
        assert ours._use_fused
        for _ in range(5):  # moving statistics after several steps
            x = rng.normal(2.0, 3.0, shape).astype("float32")
            probe = rng.normal(size=shape).astype("float32")
            got, want = _train_step(ours, x, probe), _train_step(stock, x, probe)
            for a, b in zip(got, want):
                scale = np.max(np.abs(b)) + 1e-6
                np.testing.assert_allclose(a / scale, b / scale, atol=tolerance)
        for a, b in zip(ours.get_weights(), stock.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        x = rng.normal(2.0, 3.0, shape).astype("float32")
        np.testing.assert_allclose(
            np.asarray(ours(x, training=False), "float32"),
            np.asarray(stock(x, training=False), "float32"), rtol=tolerance, atol=tolerance)
        assert keras.backend.standardize_dtype(ours(x).dtype) == ours.compute_dtype
    finally:
        keras.config.set_dtype_policy(previous)


@tf_only
def test_moving_variance_is_the_biased_batch_variance():
    # The fused kernel reports variance * n / (n - 1); with momentum 0 one step exposes
    # which variance the layer keeps. n = 2 * 2 * 2 = 8 makes the two differ by 14%.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 2, 3)).astype("float32")
    layer = BatchNormalization(momentum=0.0, epsilon=1e-5)
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=(0, 1, 2)), rtol=1e-5)
    single = BatchNormalization(momentum=0.0)  # n = 1: no division by zero
    single(x[:1, :1, :1], training=True)
    np.testing.assert_allclose(single.moving_variance.numpy(), np.zeros(3), atol=1e-7)


@tf_only
@pytest.mark.parametrize("fused,expected", [(None, True), (False, False)])
def test_the_fused_kernel_is_what_runs(fused, expected):
    import tensorflow as tf

    layer = BatchNormalization(fused=fused)
    layer.build((None, 4, 4, 3))
    for training in (True, False):
        graph = tf.function(lambda x, t=training: layer(x, training=t)).get_concrete_function(
            tf.TensorSpec((2, 4, 4, 3), "float32")).graph
        ops = {op.type for op in graph.get_operations()}
        assert ("FusedBatchNormV3" in ops) is expected, ops


def test_falls_back_where_the_kernel_cannot_run():
    layer = BatchNormalization()
    layer.build((None, 7))  # 2-D input
    assert not layer._use_fused
    x = np.random.default_rng(2).normal(size=(4, 7)).astype("float32")
    stock = keras.layers.BatchNormalization()
    stock.build((None, 7))
    np.testing.assert_allclose(np.asarray(layer(x, training=True)),
                               np.asarray(stock(x, training=True)), rtol=1e-5, atol=1e-5)
    reason = "4-D channels-last" if TF else "jax backend has no fused kernel"
    with pytest.raises(ValueError, match=f"fused=True, but .*{reason}"):
        BatchNormalization(fused=True).build((None, 7))
    with pytest.raises(ValueError, match="fused must be"):
        BatchNormalization(fused="yes")
    if TF:
        synced = BatchNormalization(synchronized=True)
        synced.build((None, 4, 4, 3))
        assert not synced._use_fused
    else:
        other = BatchNormalization()
        other.build((None, 4, 4, 3))
        assert not other._use_fused  # JAX: Keras' own implementation


def test_weights_files_interchange_with_the_stock_layer(tmp_path):
    def tiny(bn):
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
        x = bn(name="bn")(x)
        return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))

    rng = np.random.default_rng(3)
    stock = tiny(keras.layers.BatchNormalization)
    stock.set_weights([rng.normal(size=w.shape).astype("float32") ** 2
                       for w in stock.get_weights()])
    stock.save_weights(tmp_path / "stock.weights.h5")
    ours = tiny(BatchNormalization)
    ours.load_weights(tmp_path / "stock.weights.h5")
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(stock(x)), rtol=1e-5, atol=1e-6)
    ours.save_weights(tmp_path / "ours.weights.h5")
    back = tiny(keras.layers.BatchNormalization)
    back.load_weights(tmp_path / "ours.weights.h5")
    for a, b in zip(back.get_weights(), stock.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_file_round_trip_in_safe_mode(tmp_path):
    model = keras_preact.build_resnet(8, input_shape=(16, 16, 3), classes=3)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    layer = loaded.get_layer("conv2_block1_preact_bn")
    assert type(layer) is BatchNormalization and layer.fused is None
    x = np.random.default_rng(4).normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)


def test_every_zoo_bn_is_ours_and_fused_on_tensorflow():
    model = keras_preact.PreActResNet164()
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 3 * 54 + 1  # preact_bn, 1_bn, 2_bn per unit; post_bn
    assert all(type(layer) is BatchNormalization for layer in bns)
    assert all(layer._use_fused is TF for layer in bns)
    assert all((layer.momentum, layer.epsilon) == (0.9, 1e-5) for layer in bns)
