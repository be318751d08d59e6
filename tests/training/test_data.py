"""keras_preact.training.data: folder listing and decoding, unreadable files, the .npy cache,
normalisation data and tensorflow-datasets (mocked). (That nothing on the JAX path
imports TensorFlow is checked in test_train_script.py, in a fresh process.)"""

import json

import numpy as np
import pytest

from image_folders import CLASSES, make_image_folder
from keras_preact.training import data


@pytest.fixture
def folder(tmp_path):
    return make_image_folder(tmp_path / "images")


def test_listing_is_sorted_by_class_and_ignores_other_files(folder):
    listing = data.list_image_folder(folder, "train")
    assert listing.class_names == CLASSES
    assert len(listing) == 3 * 8 + 1  # the corrupt .jpg is listed, notes.txt is not
    assert list(listing.labels) == sorted(listing.labels)
    assert not any(p.endswith(".txt") for p in listing.paths)
    test = data.list_image_folder(folder, "test", class_names=listing.class_names)
    assert len(test) == 12 and test.class_names == CLASSES


def test_listing_errors_name_the_problem(folder):
    with pytest.raises(FileNotFoundError, match="splits found: .*test.*train"):
        data.list_image_folder(folder, "validation")
    with pytest.raises(ValueError, match="not among the training classes"):
        data.list_image_folder(folder, "train", class_names=("cat", "dog"))


def test_unreadable_files_are_skipped_counted_and_named(folder, capsys):
    train = data.load_split(str(folder), "train")
    assert isinstance(train, data.ArraySplit)
    assert train.skipped == 1
    broken = str(folder / "train" / "cat" / "broken.jpg")
    assert train.skipped_files == (broken,)
    assert f"skipped 1 unreadable file(s) while decoding train: {broken}" in \
        capsys.readouterr().err
    assert len(train) == 24 and train.images.shape == (24, 32, 32, 3)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int32
    assert np.bincount(train.labels).tolist() == [8, 8, 8]
    # Class colours survive decoding (JPEG and PNG alike).
    means = [train.images[train.labels == c].mean() for c in range(3)]
    assert means[0] < means[1] < means[2]


def test_cache_round_trip(folder, tmp_path):
    cache = tmp_path / "cache"
    first = data.load_folder_arrays(folder, "train", cache_dir=cache)
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".npy", ".npy"]
    second = data.load_folder_arrays(folder, "train", cache_dir=cache)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert second.skipped == 1 and second.class_names == CLASSES
    assert second.skipped_files == first.skipped_files and len(first.skipped_files) == 1


def test_mixed_sizes_need_image_size(tmp_path):
    root = make_image_folder(tmp_path / "a", per_class=2, corrupt=False)
    make_image_folder(tmp_path / "b", per_class=2, size=20, corrupt=False)
    (tmp_path / "b" / "train" / "cat" / "000.jpg").rename(root / "train" / "cat" / "big.jpg")
    with pytest.raises(ValueError, match="pass image_size"):
        data.load_folder_arrays(root, "train")
    resized = data.load_folder_arrays(root, "train", image_size=24)
    assert resized.images.shape == (7, 24, 24, 3)


def test_limit_is_a_seeded_subset(folder):
    a = data.load_split(str(folder), "test", limit=5, seed=1)
    b = data.load_split(str(folder), "test", limit=5, seed=1)
    c = data.load_split(str(folder), "test", limit=5, seed=2)
    assert len(a) == 5
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_normalisation_is_data():
    assert data.CIFAR10.mean == (125.3, 123.0, 113.9)
    assert data.CIFAR10.std == (63.0, 62.1, 66.7)
    assert data.CIFAR10.to_dict() == {"name": "cifar10", "mean": [125.3, 123.0, 113.9],
                                      "std": [63.0, 62.1, 66.7], "scale": 1.0}
    assert json.loads(json.dumps(data.IMAGENET.to_dict()))["std"][0] == 58.395
    np.testing.assert_allclose(data.CIFAR10.apply(np.array(data.CIFAR10.mean)), 0, atol=1e-6)
    pixels = np.array([[[[125.3 + 63.0, 123.0, 113.9 - 66.7]]]])
    np.testing.assert_allclose(data.CIFAR10.apply(pixels), [[[[1, 0, -1]]]], atol=1e-5)
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[1] = [10, 20, 30]
    computed = data.compute_normalization(images)
    assert computed.mean == (5.0, 10.0, 15.0) and computed.std == (5.0, 10.0, 15.0)
    with pytest.raises(ValueError, match="positive"):
        data.compute_normalization(np.zeros((1, 2, 2, 3), np.uint8))


def test_defaults_for_sources(folder):
    assert data.default_eval_split(str(folder)) == "test"
    assert data.default_eval_split("imagenet2012") == "validation"
    assert data.default_normalization("cifar100", 100) is data.CIFAR100
    assert data.default_normalization(str(folder), 10) is data.CIFAR10
    assert data.default_normalization(str(folder), 3) is data.IMAGENET
    streamed = data.load_split(str(folder), "train", in_memory=False)
    assert isinstance(streamed, data.StreamSplit) and len(streamed) == 25
    with pytest.raises(FileNotFoundError, match="neither a tensorflow-datasets name"):
        data.load_split(str(folder / "nope"), "train")


@pytest.mark.tf_only
def test_tensorflow_datasets_cifar_mocked():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        train = data.load_split("cifar10", "train")
        small = data.load_split("cifar100", "test", limit=5)
    assert train.images.shape == (12, 32, 32, 3) and train.num_classes == 10
    assert small.images.shape == (5, 32, 32, 3) and small.num_classes == 100


@pytest.mark.tf_only
def test_unprepared_tensorflow_datasets_error(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(FileNotFoundError, match="--download"):
        data.load_split("cifar10", "train", data_dir=str(tmp_path))

