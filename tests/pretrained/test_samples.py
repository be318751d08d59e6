"""The bundled sample images and the reference outputs computed on them."""

import hashlib
import json

import numpy as np
import pytest

from keras_preact.pretrained import labels, preprocessing, registry, samples

from keras_preact.deploy import prediction

from hub import tiny_weights as tw


def test_one_cifar10_test_image_per_class_in_label_order():
    paths = samples.sample_images("cifar10")
    assert [samples.sample_label(p) for p in paths] == list(labels.get_labels("cifar10"))
    images = prediction.load_images(paths, (32, 32))
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    assert all(p.stat().st_size < 2048 for p in paths)  # a handful of KB in all
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}) == 10


def test_unknown_dataset_lists_the_shipped_ones():
    with pytest.raises(ValueError, match=r"samples ship for: \['cifar10'\]"):
        samples.sample_images("imagenet")


def test_reference_outputs_are_the_logits_of_the_loaded_weights(tiny_weights):
    entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params)
    softmax_model = registry.build_model(entry)
    softmax_model.load_weights(tiny_weights.path)
    logits_model = registry.build_model(entry, classifier_activation=None)
    logits_model.load_weights(tiny_weights.path)

    reference = json.loads(json.dumps(samples.reference_outputs(logits_model, entry)))
    assert reference["weights"] == entry.name and reference["sha256"] == entry.sha256
    assert reference["atol"] == samples.REFERENCE_ATOL
    paths = samples.sample_images("cifar10")
    assert [i["file"] for i in reference["images"]] == [p.name for p in paths]
    for item, path in zip(reference["images"], paths):
        assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    logits = np.array([i["logits"] for i in reference["images"]])
    x = preprocessing.preprocess_input(prediction.load_images(paths, (32, 32)), entry)
    probabilities = softmax_model.predict(x, verbose=0)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(expected, probabilities, atol=1e-5)
    for item, row in zip(reference["images"], probabilities):
        best = np.argsort(-row, kind="stable")[:5]
        assert [name for name, _ in item["top5"]] == [entry.label_names[i] for i in best]
        np.testing.assert_allclose([p for _, p in item["top5"]], row[best], atol=1e-5)
