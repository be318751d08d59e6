"""Classifying image files with pretrained weights (keras_preact.deploy.prediction)."""

import shutil

import numpy as np
import pytest
from PIL import Image

from keras_preact.deploy import prediction

from keras_preact.pretrained import preprocessing, registry, samples
from keras_preact.pretrained.registry import WeightsError

from hub import tiny_weights as tw


@pytest.fixture
def local_weights(hub_env, tiny_weights, monkeypatch):
    """The tiny weights registered as an unpublished 'cifar10' set with its local copy."""
    entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params,
                     revision=registry.UNPUBLISHED)
    folder = hub_env.weights_dir / entry.name
    folder.mkdir()
    shutil.copyfile(tiny_weights.path, folder / entry.filename)
    monkeypatch.setattr(registry, "WEIGHTS", {entry.name: entry})
    return entry


def test_load_images_decodes_converts_and_resizes(tmp_path):
    Image.new("L", (64, 48), 128).save(tmp_path / "grey.png")
    Image.new("RGB", (32, 32), (255, 0, 0)).save(tmp_path / "red.png")
    images = prediction.load_images([tmp_path / "grey.png", tmp_path / "red.png"], (32, 32))
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
    assert (images[0] == 128).all()
    assert (images[1] == [255, 0, 0]).all()
    assert prediction.load_images([], (32, 32)).shape == (0, 32, 32, 3)


def test_load_images_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.jpg"):
        prediction.load_images([tmp_path / "absent.jpg"], (32, 32))
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="not an image"):
        prediction.load_images([tmp_path / "notes.jpg"], (32, 32))
    with pytest.raises(ValueError, match="square"):
        prediction.load_images([], (32, 48))


def test_classify_matches_the_softmax_model(local_weights, tiny_weights, hub_env):
    model, entry = prediction.load_classifier("preact_resnet8_basic", "cifar10")
    assert entry == local_weights
    assert model.layers[-1].get_config()["activation"] == "linear"
    paths = samples.sample_images("cifar10")[:4]
    results = prediction.classify(model, entry, paths, top=3)
    assert [r.path for r in results] == [str(p) for p in paths]

    reference = registry.build_model(entry)
    reference.load_weights(tiny_weights.path)
    x = preprocessing.preprocess_input(prediction.load_images(paths, (32, 32)), entry)
    probabilities = reference.predict(x, verbose=0)
    for result, row in zip(results, probabilities):
        logits = np.array(result.logits)
        np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(), row, atol=1e-5)
        best = np.argsort(-row, kind="stable")[:3]
        assert [t[0] for t in result.top] == list(best)
        assert [t[1] for t in result.top] == [entry.label_names[i] for i in best]
    assert hub_env.hub.requests == []


def test_weights_without_metadata_are_refused(tiny_weights):
    with pytest.raises(WeightsError, match="carry no metadata"):
        prediction.load_classifier("preact_resnet8_basic", str(tiny_weights.path))
