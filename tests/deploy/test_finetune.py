"""Transfer learning (keras_preact.deploy.finetune): frozen BatchNorm statistics, stage-wise
unfreezing, preprocessing from the weights' metadata, and the folder workflow end to
end. Synthetic image folders, tiny networks; runs on every Keras backend."""

import hashlib
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

import keras_preact as kp
from keras_preact.training import data
from keras_preact.deploy import features, finetune
from keras_preact.pretrained import metadata
from keras_preact.pretrained.registry import Metric, Preprocessing, WeightsEntry
from model_helpers import load_script, randomize_bn

COLORS = ((200, 40, 40), (40, 200, 40), (40, 40, 200))


def _write_folder(root, counts, size=36, seed=0):
    """`root/split/classK/*.jpg`: noisy images whose mean colour is the class."""
    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        for label, color in enumerate(COLORS):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(rng.normal(color, 40, (size, size, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _write_folder(tmp_path_factory.mktemp("images"), {"train": 8, "val": 4})


def _arrays(n=24, size=32, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(COLORS)
    images = np.clip(rng.normal(np.asarray(COLORS)[labels][:, None, None], 40,
                                (n, size, size, 3)), 0, 255).astype(np.uint8)
    return images, labels



def _transfer_model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    backbone = kp.build_resnet(8, include_top=False, pooling="avg", input_shape=(32, 32, 3),
                               **kwargs)
    randomize_bn(backbone, seed)
    return finetune.build_transfer_model(backbone, len(COLORS))


def _snapshot(model):
    """{variable path: value} of every variable of the model's network."""
    return {v.path: keras.ops.convert_to_numpy(v).copy()
            for v in features.backbone_of(model).variables}


def _changed(before, after, where):
    return sorted(path for path in before
                  if where(path) and not np.array_equal(before[path], after[path]))


def _is_bn_statistic(path):
    return path.endswith(("moving_mean", "moving_variance"))


def _stage(path):
    layer = path.split("/")[-2]
    return "conv4" if layer.startswith("post_") else layer.split("_")[0]


def test_transfer_model_trains_only_its_head_at_first():
    model = _transfer_model()
    assert model.output_shape == (None, len(COLORS))
    assert model.get_layer("predictions").activation is keras.activations.softmax
    backbone = features.backbone_of(model)
    assert model.get_layer("backbone").layer is backbone
    assert backbone.trainable_weights == []
    assert {w.path for w in model.trainable_weights} == {
        "predictions/kernel", "predictions/bias"}


@pytest.mark.parametrize("shortcut", ["identity", "dropout"])
def test_backbone_runs_in_inference_mode_even_when_training(shortcut):
    model = _transfer_model(shortcut=shortcut)
    finetune.unfreeze_stages(model, 4, bn="affine")
    images = data.CIFAR10.apply(_arrays(4)[0])
    training = keras.ops.convert_to_numpy(model(images, training=True))
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(training, inference)


def test_head_phase_leaves_backbone_and_bn_statistics_untouched():
    model = _transfer_model()
    head = keras.ops.convert_to_numpy(model.get_layer("predictions").kernel).copy()
    before = _snapshot(model)
    result = finetune.finetune(model, _arrays(), _arrays(9, seed=1), preprocessing="cifar10",
                               head_epochs=2, batch_size=8, verbose=0)
    after = _snapshot(model)
    assert _changed(before, after, lambda path: True) == []
    trained = keras.ops.convert_to_numpy(model.get_layer("predictions").kernel)
    assert not np.array_equal(head, trained)
    assert result.history["phase"] == ["head", "head"]
    assert len(result.history["val_accuracy"]) == 2
    assert 0.0 <= result.summary["validation_accuracy"] <= 1.0
    assert result.summary["unfrozen_stages"] == []


@pytest.mark.parametrize("bn", ["frozen", "affine"])
def test_finetune_phase_trains_only_the_unfrozen_stage(bn):
    model = _transfer_model()
    before = _snapshot(model)
    result = finetune.finetune(model, _arrays(), preprocessing="cifar10", head_epochs=1,
                               finetune_epochs=1, unfreeze=1, bn=bn, batch_size=8,
                               finetune_learning_rate=1e-2, verbose=0)
    after = _snapshot(model)
    assert result.summary["unfrozen_stages"] == ["conv4"]
    assert result.history["phase"] == ["head", "finetune"]
    # The moving statistics never change, in any stage or mode.
    assert _changed(before, after, _is_bn_statistic) == []
    changed = _changed(before, after, lambda path: not _is_bn_statistic(path))
    assert changed and {_stage(path) for path in changed} == {"conv4"}
    conv4_kernels = [p for p in before if p.startswith("conv4") and p.endswith("kernel")]
    assert set(conv4_kernels) <= set(changed)
    bn_params = {p for p in changed if p.endswith(("gamma", "beta"))}
    if bn == "frozen":
        assert bn_params == set()
    else:
        assert bn_params and all(p.startswith(("conv4", "post_bn")) for p in bn_params)


def test_unfreeze_stages_counts_from_the_last():
    model = _transfer_model()
    assert finetune.unfreeze_stages(model, 2) == ["conv3", "conv4"]
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable - {"predictions"} and all(
        name.startswith(("conv3", "conv4")) for name in trainable - {"predictions"})
    assert not any(name.endswith("bn") for name in trainable)
    assert finetune.unfreeze_stages(model, 4) == ["conv1", "conv2", "conv3", "conv4"]
    assert finetune.unfreeze_stages(model, ["conv2"], bn="affine") == ["conv2"]
    assert "conv2_block1_1_bn" in {w.path.split("/")[0] for w in model.trainable_weights}
    with pytest.raises(ValueError, match="0 to 4 stages"):
        finetune.unfreeze_stages(model, 5)
    with pytest.raises(ValueError, match="conv5"):
        finetune.unfreeze_stages(model, ["conv5"])
    with pytest.raises(ValueError, match="bn must be"):
        finetune.unfreeze_stages(model, 1, bn="train")
    finetune.freeze_backbone(model)
    assert {w.path for w in model.trainable_weights} == {"predictions/kernel",
                                                         "predictions/bias"}


def test_preprocessing_descriptions_agree():
    from keras_preact.pretrained.preprocessing import get_preprocessing

    images = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    expected = data.CIFAR10.apply(images)
    for value in ("cifar10", data.CIFAR10, data.CIFAR10.to_dict(),
                  {"mean": data.CIFAR10.mean, "std": data.CIFAR10.std},
                  Preprocessing(1 / 255, tuple(m / 255 for m in data.CIFAR10.mean),
                                tuple(s / 255 for s in data.CIFAR10.std))):
        pre = get_preprocessing(value, presets=True)
        manual = (images * np.float32(pre.scale) - np.float32(pre.mean)) / np.float32(pre.std)
        np.testing.assert_allclose(manual, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pre.apply(images), expected, rtol=1e-5, atol=1e-5)


def test_unknown_preprocessing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--normalization"):
        finetune.resolve_preprocessing(None, "preact_resnet20")
    path = tmp_path / "bare.weights.h5"
    kp.PreActResNet20().save_weights(path)
    with pytest.raises(ValueError, match="no registry metadata"):
        finetune.resolve_preprocessing(str(path), "preact_resnet20")
    assert finetune.resolve_preprocessing(str(path), "preact_resnet20", "imagenet").std == \
        data.IMAGENET.std


def _published_folder(tmp_path, input_size=(40, 40)):
    """A local weights folder as `keras_preact.pretrained.publish` lays it out: the weights file
    and its `keras_preact.json`."""
    model = kp.PreActResNet20()
    folder = tmp_path / "published"
    folder.mkdir()
    path = folder / "model.weights.h5"
    model.save_weights(path)
    entry = WeightsEntry(
        architecture="preact_resnet20", tag="test", repo_id="test/preact-resnet20",
        revision="0" * 40, filename=path.name,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        file_size=os.path.getsize(path), num_params=model.count_params(), num_classes=10,
        label_names=[f"c{i}" for i in range(10)], input_size=input_size,
        preprocessing=Preprocessing(1 / 255, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        metrics=[Metric("cifar10", "test", 50.0)], recipe="tests")
    (folder / "keras_preact.json").write_text(json.dumps(entry.to_dict()))
    return str(folder)


def test_folder_workflow_follows_the_weights_metadata(tmp_path, folder):
    weights = _published_folder(tmp_path)
    assert finetune.default_image_size("preact_resnet20", weights) == 40
    assert finetune.resolve_preprocessing(weights, "preact_resnet20").mean == (0.5, 0.5, 0.5)
    result = finetune.finetune_folder(
        "preact_resnet20", folder, weights=weights, head_epochs=1, finetune_epochs=1,
        batch_size=8, output_dir=tmp_path / "out", command="pytest", verbose=0)
    summary = result.summary
    assert summary["image_size"] == [40, 40]
    assert summary["preprocessing"] == {"scale": 1 / 255, "mean": [0.5] * 3, "std": [0.25] * 3}
    assert summary["class_names"] == ["class0", "class1", "class2"]
    assert (summary["num_train"], summary["num_validation"]) == (24, 12)
    assert summary["validation_split"] == "val" and summary["command"] == "pytest"
    assert summary["epochs"] == 2 and summary["unfrozen_stages"] == ["conv4"]
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["validation_accuracy"] == pytest.approx(summary["validation_accuracy"])
    assert json.loads((tmp_path / "out" / "history.json").read_text())["phase"] == [
        "head", "finetune"]
    reloaded = keras.saving.load_model(summary["model_path"])
    images = np.random.default_rng(0).normal(size=(2, 40, 40, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(images)),
                               keras.ops.convert_to_numpy(result.model(images)), atol=1e-6)


def test_pretrained_features_are_loaded_into_the_backbone(tmp_path, folder):
    full = kp.PreActResNet20()
    randomize_bn(full)
    path = str(tmp_path / "full.weights.h5")
    full.save_weights(path)
    result = finetune.finetune_folder(
        "preact_resnet20", folder, weights=path, preprocessing="cifar10", head_epochs=1,
        batch_size=12, validation_split=None, verbose=0)
    backbone = features.backbone_of(result.model)
    for name in ("conv1_conv", "conv4_block3_2_conv", "post_bn"):
        for got, want in zip(backbone.get_layer(name).get_weights(),
                             full.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    assert result.summary["validation_accuracy"] is None
    assert result.summary["image_size"] == [32, 32]


def test_metadata_recorded_by_training_is_used(tmp_path):
    path = tmp_path / "model.weights.h5"
    kp.PreActResNet20().save_weights(path)
    (tmp_path / "model.json").write_text(json.dumps({
        "model": "preact_resnet20", "class_names": ["a", "b"], "image_size": 48,
        # The layout of model.json before keras_preact.normalization existed.
        "normalization": {"name": "cifar100", "mean": list(data.CIFAR100.mean),
                          "std": list(data.CIFAR100.std), "scale": "0-255"}}))
    assert finetune.default_image_size("preact_resnet20", str(path)) == 48
    pre = finetune.resolve_preprocessing(str(path), "preact_resnet20")
    assert (pre.scale, pre.mean, pre.std) == (1.0, data.CIFAR100.mean, data.CIFAR100.std)
    assert metadata.read_beside(str(path)).class_names == ("a", "b")



def test_command_line(tmp_path, folder, capsys):
    main = load_script("finetune").main
    weights = tmp_path / "w.weights.h5"
    kp.PreActResNet20().save_weights(weights)
    args = ["--model", "preact_resnet20", "--weights", str(weights), "--data", str(folder),
            "--head-epochs", "1", "--batch-size", "12", "--verbose", "0"]
    assert main(args) == 2
    assert "--normalization" in capsys.readouterr().err
    assert main(["--model", "preact_resnet7", "--data", str(folder),
                 "--normalization", "cifar10"]) == 2
    assert "list_models" in capsys.readouterr().err
    assert main(args + ["--mean", "120", "120", "120", "--std", "60", "60", "60",
                        "--augment", "none", "--output", str(tmp_path / "out")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["preprocessing"] == {"scale": 1.0, "mean": [120.0] * 3, "std": [60.0] * 3}
    assert printed["augment"] == "none" and printed["epochs"] == 1
    assert printed["command"]  # the process command line (reporting.command_line)
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == printed
