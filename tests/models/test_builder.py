"""build_resnet / create_model / entry points: the keras.applications contract, clear
errors for bad input, initialisation, layer names and serialisation round trips."""

import itertools
import json
import pathlib

import keras
import numpy as np
import pytest

import keras_preact as kp
from keras_preact import Placement, Shortcut
from keras_preact.models import zoo

SNAPSHOTS = pathlib.Path(__file__).parents[1] / "snapshots"


def _x(n=2, side=32, seed=0):
    return np.random.RandomState(seed).rand(n, side, side, 3).astype("float32")


def test_entry_points_have_the_keras_applications_signature():
    import inspect

    expected = ["include_top", "weights", "input_tensor", "input_shape", "pooling", "classes",
                "classifier_activation", "name", "kwargs"]
    assert len(kp.ENTRY_POINTS) == 2 * len(kp.ARCHS)
    for name, fn in kp.ENTRY_POINTS.items():
        assert list(inspect.signature(fn).parameters) == expected
        assert fn.__name__ == name and "He et al." in fn.__doc__
    assert kp.PreActResNet164.__name__ == "PreActResNet164"
    for model in kp.list_models():
        name = zoo.entry_point_name(model)
        assert kp.ENTRY_POINTS[name] is getattr(kp, name)
    assert zoo.entry_point_name(" PreAct_ResNet56") == "PreActResNet56"
    assert zoo.entry_point_name("resnet21") is None
    assert set(kp.list_models()) == {*kp.ARCHS, *(f"preact_{n}" for n in kp.ARCHS)}


def test_default_names_and_heads():
    model = kp.PreActResNet20()
    assert model.name == "preact_resnet20"
    assert model.output.shape == (None, 10)
    assert model.input.shape == (None, 32, 32, 3)
    y = np.asarray(model(_x()))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    logits = kp.ResNet20(classifier_activation=None, name="mine")
    assert logits.name == "mine"
    assert not np.allclose(np.asarray(logits(_x())).sum(axis=1), 1.0)
    assert kp.ResNet18().output.shape == (None, 1000)
    assert kp.build_resnet(110, shortcut="exclusive_gating").name == (
        "resnet110_full_preact_exclusive_gating")


@pytest.mark.parametrize("pooling,shape", [
    (None, (None, 8, 8, 64)), ("avg", (None, 64)), ("max", (None, 64))])
def test_notop_pooling(pooling, shape):
    model = kp.PreActResNet20(include_top=False, pooling=pooling, input_shape=(32, 32, 3))
    assert model.output.shape == shape
    assert model.layers[-1].name == {None: "post_relu", "avg": "avg_pool",
                                     "max": "max_pool"}[pooling]


@pytest.mark.parametrize("side", [8, 33, 64, 96])
def test_cifar_nets_are_fully_convolutional(side):
    model = kp.PreActResNet20(include_top=False)
    assert model.input.shape == (None, None, None, 3)
    y = np.asarray(model(_x(1, side)))
    expected = -(-side // 4)
    assert y.shape == (1, expected, expected, 64)


def test_imagenet_notop_odd_size_and_custom_channels():
    model = kp.ResNet18(include_top=False, input_shape=(123, 123, 5), pooling="avg")
    assert model.output.shape == (None, 512)
    assert model.get_layer("conv1_conv").kernel.shape == (7, 7, 5, 64)


def test_input_tensor_is_used():
    tensor = keras.Input((64, 64, 3), name="my_images")
    model = kp.PreActResNet20(input_tensor=tensor, include_top=False, pooling="avg")
    assert model.inputs[0] is tensor
    assert model.output.shape == (None, 64)


def test_classes():
    assert kp.PreActResNet164(classes=100).output.shape == (None, 100)


@pytest.mark.parametrize("kwargs,message", [
    (dict(depth=21), "6n \\+ 2"),
    (dict(depth=165, block="bottleneck"), "9n \\+ 2"),
    (dict(depth=20, placement="preact_full"), "Allowed values: 'original'"),
    (dict(depth=20, shortcut="gate"), "Unknown Shortcut"),
    (dict(depth=20, downsample="C"), "Unknown Downsample"),
    (dict(depth=20, input_shape=(4, 4, 3)), "too small"),
    (dict(depth=50, family="imagenet", input_shape=(16, 64, 3)), "at least 32"),
    (dict(depth=20, input_shape=(None, None, 3)), "include_top=True needs a fixed input size"),
    (dict(depth=20, include_top=True, pooling="avg"), "pooling applies to include_top=False"),
    (dict(depth=20, include_top=False, pooling="mean"), "pooling must be"),
    (dict(depth=20, gate_bias_init=-6.0), "only applies to shortcut='exclusive_gating'"),
    (dict(depth=20, shortcut="dropout", shortcut_scale=0.5), "constant_scaling"),
    (dict(depth=20, shortcut="dropout", dropout_rate=1.0), "dropout_rate"),
    (dict(depth=20, classes=0), "positive integer"),
    (dict(depth=20, input_shape=(32, 32)), "height, width, channels"),
    (dict(depth=20, weights="/no/such/file.weights.h5"), "weights"),
])
def test_bad_input_gets_a_clear_error(kwargs, message):
    depth = kwargs.pop("depth")
    with pytest.raises(ValueError, match=message):
        kp.build_resnet(depth, **kwargs)


def test_bad_names_and_fixed_arguments():
    with pytest.raises(ValueError, match="Known models: resnet20"):
        kp.create_model("preact_resnet21")
    with pytest.raises(ValueError, match="fixes placement"):
        kp.create_model("resnet20", placement="original")
    with pytest.raises(TypeError, match="unexpected keyword argument 'gate_bias'"):
        kp.build_resnet(20, gate_bias=-6)


def test_synchronized_bn_only_where_supported():
    if keras.backend.backend() == "tensorflow":
        model = kp.build_resnet(8, synchronized_bn=True)
        bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
        assert bns and all(l.synchronized for l in bns)
    else:
        with pytest.raises(ValueError, match="synchronized_bn=True needs the TensorFlow"):
            kp.build_resnet(8, synchronized_bn=True)


def test_initialisation_follows_the_reference_code():
    model = kp.PreActResNet164()
    conv = model.get_layer("conv4_block5_2_conv")  # 3x3, 64 -> 64
    std = float(np.std(np.asarray(conv.kernel)))
    assert abs(std - np.sqrt(2.0 / (3 * 3 * 64))) / np.sqrt(2.0 / (3 * 3 * 64)) < 0.05
    # untruncated normal: some weights lie beyond two standard deviations
    assert np.mean(np.abs(np.asarray(conv.kernel)) > 2 * std) > 0.03
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert convs and not any(l.use_bias for l in convs)
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert {(l.momentum, l.epsilon) for l in bns} == {(0.9, 1e-5)}
    dense = model.get_layer("predictions")
    assert np.abs(np.asarray(dense.kernel)).max() <= 1 / np.sqrt(256)
    np.testing.assert_array_equal(np.asarray(dense.bias), 0.0)


def test_regulariser_reaches_every_kernel():
    model = kp.build_resnet(8, kernel_regularizer=keras.regularizers.L2(5e-5))
    kernels = [l for l in model.layers if hasattr(l, "kernel")]
    assert all(l.kernel_regularizer is not None for l in kernels)
    model(_x(1))
    assert len(model.losses) == len(kernels)


@pytest.mark.parametrize("name", ["preact_resnet20", "resnet18"])
def test_layer_names_are_unique_and_stable(name):
    """Layer names are the weights contract: this snapshot may only change on purpose."""
    model = kp.create_model(name)
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    snapshot = json.loads((SNAPSHOTS / f"{name}_layers.json").read_text())
    assert names == snapshot


def _tiny(placement, shortcut, depth=8, **kwargs):
    keras.utils.set_random_seed(1)
    return kp.build_resnet(depth, placement=placement, shortcut=shortcut,
                           input_shape=(16, 16, 3), **kwargs)


VARIANTS = list(itertools.product(Placement, Shortcut))


@pytest.mark.parametrize("placement,shortcut", VARIANTS, ids=lambda v: v.value)
def test_keras_file_round_trip_in_safe_mode(placement, shortcut, tmp_path):
    extra = {"dropout_rescale": False} if shortcut is Shortcut.DROPOUT else {}
    model = _tiny(placement, shortcut, **extra)
    x = _x(2, 16)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6,
                               atol=1e-6)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


@pytest.mark.parametrize("placement,shortcut", VARIANTS, ids=lambda v: v.value)
def test_config_round_trip(placement, shortcut):
    model = _tiny(placement, shortcut, depth=11, block="bottleneck")
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = _x(2, 16)
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(model(x)), rtol=1e-6,
                               atol=1e-6)


def test_weights_file_round_trip_and_notop_cut(tmp_path):
    model = kp.PreActResNet20()
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    again = kp.PreActResNet20(weights=str(path))
    x = _x()
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), rtol=1e-5,
                               atol=1e-6)
    backbone = kp.PreActResNet20(weights=str(path), include_top=False, pooling="avg")
    features = keras.Model(model.input, model.get_layer("avg_pool").output)
    np.testing.assert_allclose(np.asarray(backbone(x)), np.asarray(features(x)), rtol=1e-5,
                               atol=1e-6)


def test_registered_weights_refuse_another_structure(monkeypatch, tiny_weights, tmp_path):
    """The registry is keyed by canonical name, which does not encode stride placement,
    downsampling or shortcut options: asking for others with a tag is refused before any
    download."""
    import dataclasses

    from hub import tiny_weights as tw
    from keras_preact.pretrained import registry

    entry = dataclasses.replace(
        tw.entry(tiny_weights.path, num_params=tiny_weights.num_params),
        model_args={"depth": 8, "family": "cifar"})
    monkeypatch.setattr(registry, "WEIGHTS", {entry.name: entry})
    monkeypatch.setenv("KERAS_PREACT_WEIGHTS_DIR", str(tmp_path))
    for kwargs, message in [
        (dict(stride_at="conv3x3"), "stride_at='first'"),
        (dict(downsample="projection"), "downsample='zero_pad'"),
    ]:
        with pytest.raises(registry.IncompatibleWeightsError, match=message):
            kp.build_resnet(8, weights="cifar10", **kwargs)


def test_pretrained_head_arguments_are_checked(tmp_path):
    path = tmp_path / "w.weights.h5"
    kp.PreActResNet20().save_weights(path)
    with pytest.raises(ValueError, match="10-class head but classes=100.*include_top=False"):
        kp.PreActResNet20(weights=str(path), classes=100)
    with pytest.raises(ValueError, match="classifier_activation must be None or 'softmax'"):
        kp.PreActResNet20(weights=str(path), classifier_activation="sigmoid")
    with pytest.raises(ValueError, match="3 input channels"):
        kp.PreActResNet20(weights=str(path), include_top=False, input_shape=(32, 32, 1))
    transfer = kp.PreActResNet20(weights=str(path), include_top=False, classes=100)
    assert transfer.output.shape == (None, None, None, 64)
