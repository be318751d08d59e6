"""preprocess_input and decode_predictions, driven by the weights' own metadata."""

import keras
import numpy as np
import pytest

from keras_preact.pretrained import labels, preprocessing, registry
from keras_preact.pretrained.preprocessing import decode_predictions, preprocess_input
from keras_preact.pretrained.registry import Preprocessing, UnknownWeightsError, WeightsError

from hub import tiny_weights as tw

PRE = Preprocessing(scale=0.5, mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 8.0))


@pytest.fixture
def entry(tiny_weights, monkeypatch):
    the_entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params,
                         preprocessing=PRE)
    monkeypatch.setattr(registry, "WEIGHTS", {the_entry.name: the_entry})
    return the_entry


def test_numpy_input_is_normalised_by_the_weights_preprocessing(entry):
    x = np.full((2, 4, 4, 3), 10, dtype=np.uint8)
    for weights in (entry, entry.name, "cifar10", PRE):
        y = preprocess_input(x, weights)
        assert isinstance(y, np.ndarray) and y.dtype == np.float32
        np.testing.assert_allclose(y[0, 0, 0], [(5 - 1) / 2, (5 - 2) / 4, (5 - 3) / 8])


def test_tensor_input_stays_a_tensor(entry):
    x = keras.ops.ones((1, 2, 2, 3)) * 4
    y = preprocess_input(x, entry)
    assert not isinstance(y, np.ndarray)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y)[0, 0, 0], [0.5, 0.0, -0.125])


def test_symbolic_input_builds_into_a_model(entry):
    inputs = keras.Input((2, 2, 3))
    model = keras.Model(inputs, preprocess_input(inputs, entry))
    out = model.predict(np.full((1, 2, 2, 3), 4.0, dtype="float32"), verbose=0)
    np.testing.assert_allclose(out[0, 0, 0], [0.5, 0.0, -0.125])


def test_scale_only_preprocessing():
    y = preprocess_input([[[[255, 0, 51]]]], Preprocessing(scale=1 / 255))
    np.testing.assert_allclose(y[0, 0, 0], [1.0, 0.0, 0.2], rtol=1e-6)


def test_resolved_weights_carry_their_preprocessing(entry):
    from keras_preact.pretrained.loading import ResolvedWeights

    assert preprocessing.get_preprocessing(ResolvedWeights("x", 10, entry)) == PRE


def test_unknown_or_ambiguous_weights(entry, monkeypatch):
    with pytest.raises(WeightsError, match="no registered weights have that tag"):
        preprocess_input(np.zeros((1, 2, 2, 3)), "imagenet")
    with pytest.raises(UnknownWeightsError):
        preprocess_input(np.zeros((1, 2, 2, 3)), "preact_resnet1001.cifar10")
    import dataclasses

    other = dataclasses.replace(entry, architecture="preact_resnet20",
                                preprocessing=Preprocessing())
    monkeypatch.setattr(registry, "WEIGHTS", {entry.name: entry, other.name: other})
    with pytest.raises(WeightsError, match="differ for that tag"):
        preprocess_input(np.zeros((1, 2, 2, 3)), "cifar10")


def test_channels_must_be_last_and_rgb(entry):
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        preprocess_input(np.zeros((1, 3, 4, 4)), entry)


def test_decode_predictions_ranks_and_names(entry):
    preds = np.zeros((2, 10), dtype="float32")
    preds[0, 3], preds[0, 5] = 0.7, 0.2
    preds[1, 9] = 1.0
    decoded = decode_predictions(preds, top=2, weights=entry.name)
    assert decoded[0] == [(3, "cat", pytest.approx(0.7)), (5, "dog", pytest.approx(0.2))]
    assert decoded[1][0] == (9, "truck", 1.0)
    assert decode_predictions(preds, top=50, weights="cifar10")[0][9][0] in range(10)
    assert len(decode_predictions(preds, top=50, weights=entry)[0]) == 10


def test_decode_cifar100_without_any_download():
    preds = np.eye(100, dtype="float32")[[0, 99]]
    decoded = decode_predictions(preds, top=1, weights="cifar100")
    assert [d[0][1] for d in decoded] == ["apple", "worm"]
    assert labels.CIFAR100_LABELS[99] == "worm"


def test_decode_checks_the_shape_and_needs_weights(entry):
    with pytest.raises(ValueError, match=r"\(batch, 10\)"):
        decode_predictions(np.zeros((2, 100)), weights=entry)
    with pytest.raises(WeightsError, match="needs weights="):
        decode_predictions(np.zeros((2, 10)))
    with pytest.raises(WeightsError, match="No class names"):
        decode_predictions(np.zeros((2, 10)), weights="svhn")
