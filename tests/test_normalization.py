"""keras_preact.normalization: the one Preprocessing type, its JSON layouts (old and new),
and that its NumPy and tensor paths compute the same thing."""

import json

import numpy as np
import pytest

from keras_preact.training import data

from keras_preact.pretrained import registry
from keras_preact.normalization import CIFAR10, PRESETS, Preprocessing, pixel_normalization


def test_round_trip_and_the_old_layout():
    for pre in (*PRESETS.values(), Preprocessing(), Preprocessing(0.5, (1, 2, 3), (2, 4, 8))):
        back = Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())))
        assert back == pre and back.name == pre.name
    # What data.Normalization.as_dict() wrote into model.json / summary.json before.
    old = {"name": "cifar10", "mean": [125.3, 123.0, 113.9], "std": [63.0, 62.1, 66.7],
           "scale": "0-255"}
    assert Preprocessing.from_dict(old) == CIFAR10
    assert Preprocessing.from_dict({"mean": [125.3, 123.0, 113.9],
                                    "std": [63.0, 62.1, 66.7]}) == CIFAR10  # 0-255 scale
    # The old names still build the one type.
    assert data.Normalization((1, 2, 3), (4, 5, 6)) == Preprocessing(1.0, (1, 2, 3), (4, 5, 6))
    assert registry.Preprocessing is Preprocessing and data.NORMALIZATIONS is PRESETS


def test_name_is_a_label_not_part_of_equality():
    a = pixel_normalization((1, 2, 3), (4, 5, 6), "a")
    b = pixel_normalization((1, 2, 3), (4, 5, 6), "b")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1


@pytest.mark.parametrize("kwargs,match", [
    ({"scale": 0}, "scale must be positive"),
    ({"mean": (1, 2)}, "mean needs 3 values"),
    ({"std": (1, 0, 1)}, "std must be positive"),
])
def test_bad_values_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing(**kwargs)
    with pytest.raises(ValueError, match="Expected a dict"):
        Preprocessing.from_dict([1, 2, 3])


def test_numpy_and_tensor_paths_agree_at_any_scale():
    images = np.random.default_rng(1).integers(0, 256, (2, 5, 4, 3)).astype(np.uint8)
    unit = Preprocessing(1 / 255, tuple(m / 255 for m in CIFAR10.mean),
                         tuple(s / 255 for s in CIFAR10.std))
    expected = (images - np.float32(CIFAR10.mean)) / np.float32(CIFAR10.std)
    for pre in (CIFAR10, unit):
        np.testing.assert_allclose(pre.apply(images), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pre.transform(images.astype(np.float32)), expected,
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pre.pixel_mean, CIFAR10.mean, rtol=1e-6)
    plain = Preprocessing(1 / 255)
    assert plain.pixel_mean == (0.0, 0.0, 0.0) and plain.pixel_std == (255.0,) * 3
    np.testing.assert_allclose(plain.apply(images), images / 255.0, rtol=1e-6)
