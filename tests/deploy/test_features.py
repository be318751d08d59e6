"""Backbones (`include_top=False`) on any input size, and stage feature maps
(keras_preact.deploy.features). Tiny networks only; runs on every Keras backend."""

import keras
import numpy as np
import pytest

import keras_preact as kp
from keras_preact.deploy import features
from model_helpers import randomize_bn



def _images(size, batch=1, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_cifar_backbone_runs_on_any_size(pooling):
    model = kp.build_resnet(8, include_top=False, pooling=pooling, input_shape=(None, None, 3))
    for size in (32, 64, 96, 224):
        out = _numpy(model(_images(size), training=False))
        expected = (1, size // 4, size // 4, 64) if pooling is None else (1, 64)
        assert out.shape == expected
        assert np.isfinite(out).all()


@pytest.mark.parametrize("size", [32, 64, 96, 224])
def test_cifar_backbone_with_fixed_size_has_static_shape(size):
    model = kp.PreActResNet20(include_top=False, input_shape=(size, size, 3))
    assert model.output_shape == (None, size // 4, size // 4, 64)
    pooled = kp.PreActResNet20(include_top=False, pooling="max", input_shape=(size, size, 3))
    assert pooled.output_shape == (None, 64)


def test_imagenet_backbone_runs_on_any_size():
    model = kp.build_resnet(18, family="imagenet", placement="original", include_top=False,
                            input_shape=(None, None, 3))
    for size in (32, 64, 96, 224):
        out = _numpy(model(_images(size), training=False))
        assert out.shape == (1, -(-size // 32), -(-size // 32), 512)
    pooled = kp.build_resnet(18, family="imagenet", include_top=False, pooling="avg",
                             input_shape=(None, None, 3))
    assert _numpy(pooled(_images(96), training=False)).shape == (1, 512)


@pytest.mark.parametrize("entry_point, last", [(kp.PreActResNet20, "post_relu"),
                                               (kp.ResNet20, "conv4_block3_out")])
def test_pretrained_backbone_matches_full_model_features(tmp_path, entry_point, last):
    full = entry_point()
    randomize_bn(full)
    path = str(tmp_path / "full.weights.h5")
    full.save_weights(path)
    images = _images(32, batch=2)
    for pooling, layer in ((None, last), ("avg", "avg_pool")):
        reference = keras.Model(full.inputs[0], full.get_layer(layer).output)
        backbone = entry_point(include_top=False, weights=path, pooling=pooling,
                               input_shape=(32, 32, 3))
        np.testing.assert_allclose(_numpy(backbone(images, training=False)),
                                   _numpy(reference(images, training=False)), atol=1e-6)


def test_stage_names_and_feature_info_cifar():
    basic = kp.build_resnet(8, include_top=False, input_shape=(None, None, 3))
    assert features.stage_names(basic) == ["conv2", "conv3", "conv4"]
    info = features.feature_info(basic)
    assert [(i.name, i.channels, i.reduction) for i in info] == [
        ("conv1", 16, 1), ("conv2", 16, 1), ("conv3", 32, 2), ("conv4", 64, 4)]
    assert [i.layer for i in info] == ["conv1_conv", "conv2_block1_out", "conv3_block1_out",
                                       "post_relu"]
    bottleneck = kp.build_resnet(20, block="bottleneck")
    assert [(i.channels, i.reduction) for i in features.feature_info(bottleneck)[1:]] == [
        (64, 1), (128, 2), (256, 4)]


def test_feature_info_imagenet():
    model = kp.build_resnet(18, family="imagenet", include_top=False,
                            input_shape=(None, None, 3))
    info = features.feature_info(model)
    assert [(i.name, i.channels, i.reduction) for i in info] == [
        ("conv1", 64, 2), ("conv2", 64, 4), ("conv3", 128, 8), ("conv4", 256, 16),
        ("conv5", 512, 32)]
    assert info[-1].layer == "post_relu"


@pytest.mark.parametrize("placement", [p.value for p in kp.Placement])
def test_stages_are_found_for_every_placement(placement):
    model = kp.build_resnet(8, placement=placement)
    assert [i.reduction for i in features.feature_info(model, ["conv2", "conv3", "conv4"])] \
        == [1, 2, 4]


def test_feature_extractor_returns_a_dict_of_stage_maps():
    model = kp.build_resnet(8, include_top=False, input_shape=(None, None, 3))
    randomize_bn(model)
    extractor = features.feature_extractor(model)
    for size in (32, 64):
        maps = extractor(_images(size), training=False)
        assert list(maps) == ["conv2", "conv3", "conv4"]
        assert {k: tuple(v.shape) for k, v in maps.items()} == {
            "conv2": (1, size, size, 16), "conv3": (1, size // 2, size // 2, 32),
            "conv4": (1, size // 4, size // 4, 64)}
    images = _images(64, batch=2)
    np.testing.assert_allclose(_numpy(extractor(images, training=False)["conv4"]),
                               _numpy(model(images, training=False)), atol=1e-6)
    assert extractor.get_layer("conv1_conv") is model.get_layer("conv1_conv")


def test_feature_extractor_selected_stages_in_network_order():
    model = kp.build_resnet(18, family="imagenet", include_top=False,
                            input_shape=(None, None, 3))
    extractor = features.feature_extractor(model, ["conv5", "conv3", "conv1"])
    maps = extractor(_images(64), training=False)
    assert list(maps) == ["conv1", "conv3", "conv5"]
    assert [tuple(v.shape) for v in maps.values()] == [(1, 32, 32, 64), (1, 8, 8, 128),
                                                       (1, 2, 2, 512)]


def test_stage_layers_partition_the_backbone():
    model = kp.build_resnet(18, family="imagenet")
    groups = features.stage_layers(model)
    assert list(groups) == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assigned = [layer.name for layers in groups.values() for layer in layers]
    assert len(assigned) == len(set(assigned))
    others = {layer.name for layer in model.layers} - set(assigned)
    assert others == {"input", "avg_pool", "predictions"}
    assert {"conv1_conv", "pool1_pool"} <= {layer.name for layer in groups["conv1"]}
    assert groups["conv5"][-1].name == "post_relu"


def test_nested_network_is_found():
    backbone = kp.build_resnet(8, include_top=False, pooling="avg", input_shape=(32, 32, 3))
    inputs = keras.Input((32, 32, 3))
    outer = keras.Model(inputs, keras.layers.Dense(3)(backbone(inputs)))
    assert features.stage_names(outer) == ["conv2", "conv3", "conv4"]
    maps = features.feature_extractor(outer)(_images(32), training=False)
    assert tuple(maps["conv4"].shape) == (1, 8, 8, 64)


def test_errors_name_what_is_available():
    model = kp.build_resnet(8)
    with pytest.raises(ValueError, match=r"available: \['conv1', 'conv2', 'conv3', 'conv4'\]"):
        features.feature_extractor(model, ["conv5"])
    inputs = keras.Input((8, 8, 3))
    plain = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match="no residual units"):
        features.stage_outputs(plain)
