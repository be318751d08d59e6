"""keras_preact.training.pipelines: the paper's pad-crop-flip (numpy and tf.data), Cutout,
determinism under a seed, resumption, drop_remainder, evaluation padding, streamed folders."""

import numpy as np
import pytest

from image_folders import make_image_folder
from keras_preact.training import data, pipelines

NORM = data.CIFAR10


def _split(n=40, size=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return data.ArraySplit(images, (np.arange(n) % classes).astype(np.int32),
                           tuple(f"c{i}" for i in range(classes)))


def _candidates(image, pad=4):
    """Every normalise / zero-pad / crop / flip of one image (the paper's augmentation)."""
    size = image.shape[0]
    padded = np.pad(NORM.apply(image), ((pad, pad), (pad, pad), (0, 0)))
    crops = [padded[y:y + size, x:x + size] for y in range(2 * pad + 1)
             for x in range(2 * pad + 1)]
    return np.stack(crops + [c[:, ::-1] for c in crops])


def _assert_augmented(images, out):
    for image, result in zip(images, out):
        distances = np.abs(_candidates(image) - result).max(axis=(1, 2, 3))
        assert distances.min() < 1e-5


def test_numpy_pad_crop_flip_is_the_papers_augmentation():
    images = _split(16).images
    out = pipelines.pad_crop_flip(images, NORM, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == images.shape
    _assert_augmented(images, out)
    changed = np.abs(out - NORM.apply(images)).max(axis=(1, 2, 3)) > 1e-6
    assert changed.sum() >= 12  # 1 in 162 draws is the identity


def _assert_cut_squares(plain, cut, side):
    """`cut` is `plain` with one axis-aligned box per image zeroed: at most side x side,
    at least (side / 2) x (side / 2) (a centre at a corner), inside the image."""
    full = 0
    for before, after in zip(plain, cut):
        changed = np.argwhere(np.abs(before - after).max(axis=-1) > 0)
        zeroed = np.argwhere((after == 0).all(axis=-1) & (before != 0).any(axis=-1))
        assert np.array_equal(changed, zeroed)  # nothing else differs
        (top, left), (bottom, right) = zeroed.min(axis=0), zeroed.max(axis=0) + 1
        assert side // 2 <= bottom - top <= side and side // 2 <= right - left <= side
        box = after[top:bottom, left:right]
        assert (box == 0).all()
        full += (bottom - top, right - left) == (side, side)
    assert full > 0


def test_numpy_cutout_zeroes_one_square_per_image_after_the_same_crops():
    images = np.maximum(_split(64, size=16).images, 1)  # no pixel at a channel mean...
    norm = NORM.__class__(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # ...nor 0 after it
    plain = pipelines.pad_crop_flip(images, norm, np.random.default_rng(5), pad=0)
    cut = pipelines.pad_crop_flip(images, norm, np.random.default_rng(5), pad=0, cutout=8)
    _assert_cut_squares(plain, cut, 8)
    # Without Cutout the random stream, hence every batch, is what it was before.
    padded = pipelines.pad_crop_flip(images, norm, np.random.default_rng(5))
    np.testing.assert_array_equal(
        padded, pipelines.pad_crop_flip(images, norm, np.random.default_rng(5), cutout=0))


def test_cutout_is_refused_where_it_does_not_apply():
    split = _split()
    with pytest.raises(ValueError, match="larger than the 8x8"):
        pipelines.ArrayTrainBatches(split, batch_size=16, normalization=NORM, cutout=9)
    with pytest.raises(ValueError, match="part of the CIFAR augmentation"):
        pipelines.ArrayTrainBatches(split, batch_size=16, normalization=NORM,
                                    augment="none", cutout=4)
    with pytest.raises(ValueError, match=">= 0"):
        pipelines.check_cutout(-1, "cifar")


def test_numpy_batches_are_deterministic_and_resumable():
    split = _split()
    make = lambda seed, epoch=0: pipelines.ArrayTrainBatches(  # noqa: E731
        split, batch_size=16, normalization=NORM, seed=seed, initial_epoch=epoch, workers=2)
    batches = make(0)
    assert batches.steps_per_epoch == 2  # 40 // 16: the partial batch is dropped
    stream = iter(batches)
    first = [next(stream) for _ in range(6)]  # three epochs
    again = iter(make(0))
    for x, y in first:
        x2, y2 = next(again)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    other = next(iter(make(1)))[0]
    assert not np.array_equal(first[0][0], other)
    resumed = iter(make(0, epoch=2))
    np.testing.assert_array_equal(next(resumed)[0], first[4][0])
    for x, y in first:
        assert x.shape == (16, 8, 8, 3) and y.shape == (16, 4)
        np.testing.assert_array_equal(y.sum(axis=1), 1)
    # One epoch visits distinct examples; the next one reorders them.
    order0, order1 = batches.permutation(0), batches.permutation(1)
    assert len(set(order0[:32])) == 32 and not np.array_equal(order0, order1)


def test_numpy_eval_batches_pad_with_zero_weight():
    split = _split(10)
    batches = pipelines.ArrayEvalBatches(split, batch_size=4, normalization=NORM)
    items = list(batches)
    assert len(items) == 3
    x, y, w = items[-1]
    assert x.shape == (4, 8, 8, 3) and w.tolist() == [1, 1, 0, 0]
    assert sum(item[2].sum() for item in items) == 10
    np.testing.assert_allclose(items[0][0], NORM.apply(split.images[:4]))


@pytest.mark.tf_only
def test_tf_pad_crop_flip_is_the_papers_augmentation():
    import tensorflow as tf

    images = _split(16).images
    out = pipelines.tf_pad_crop_flip(tf.constant(images), NORM, tf.constant([3, 4])).numpy()
    _assert_augmented(images, out)
    assert (np.abs(out - NORM.apply(images)).max(axis=(1, 2, 3)) > 1e-6).sum() >= 12


@pytest.mark.tf_only
def test_tf_cutout_zeroes_one_square_per_image_after_the_same_crops():
    import tensorflow as tf

    images = tf.constant(np.maximum(_split(64, size=16).images, 1))
    norm = NORM.__class__(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    seed = tf.constant([7920, 3], tf.int64)
    plain = pipelines.tf_pad_crop_flip(images, norm, seed, pad=0).numpy()
    cut = pipelines.tf_pad_crop_flip(images, norm, seed, pad=0, cutout=8).numpy()
    _assert_cut_squares(plain, cut, 8)
    dataset, _ = pipelines.tf_train_dataset(_split(), batch_size=16, normalization=NORM,
                                            cutout=4)
    again, _ = pipelines.tf_train_dataset(_split(), batch_size=16, normalization=NORM,
                                          cutout=4)
    for (x, _), (y, _) in zip(dataset, again):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


@pytest.mark.tf_only
def test_tf_dataset_is_deterministic_resumable_and_drops_remainder():
    split = _split()
    make = lambda seed, start=0: pipelines.tf_train_dataset(  # noqa: E731
        split, batch_size=16, normalization=NORM, seed=seed, initial_epoch=start, epochs=3)
    dataset, steps = make(0)
    assert steps == 2
    batches = [(x.numpy(), y.numpy()) for x, y in dataset]
    assert len(batches) == 6 and all(x.shape == (16, 8, 8, 3) for x, _ in batches)
    again = [x.numpy() for x, _ in make(0)[0]]
    assert all(np.array_equal(a, b[0]) for a, b in zip(again, batches))
    assert not np.array_equal(next(iter(make(1)[0]))[0].numpy(), batches[0][0])
    resumed = [x.numpy() for x, _ in make(0, start=2)[0]]
    assert len(resumed) == 2 and np.array_equal(resumed[0], batches[4][0])
    capped, steps = pipelines.tf_train_dataset(split, batch_size=16, normalization=NORM,
                                               epochs=2, steps_per_epoch=1)
    assert steps == 1 and len(list(capped)) == 2


@pytest.mark.tf_only
def test_tf_eval_dataset_keeps_order_and_last_batch():
    split = _split(10)
    batches = list(pipelines.tf_eval_dataset(split, batch_size=4, normalization=NORM))
    assert [x.shape[0] for x, _ in batches] == [4, 4, 2]
    np.testing.assert_allclose(batches[0][0].numpy(), NORM.apply(split.images[:4]), atol=1e-5)
    assert batches[2][1].numpy().argmax(axis=1).tolist() == [0, 1]


@pytest.mark.tf_only
def test_streamed_folder_skips_unreadable_files(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=4, size=40)
    train = data.load_split(str(folder), "train", in_memory=False)
    assert len(train) == 13  # listed, including the corrupt file
    dataset, steps = pipelines.tf_train_dataset(
        train, batch_size=4, normalization=NORM, epochs=2, augment="imagenet", image_size=24)
    shapes = [x.shape for x, _ in dataset]
    assert steps == 3 and len(shapes) == 6 and set(shapes) == {(4, 24, 24, 3)}
    test = data.load_split(str(folder), "train", in_memory=False)
    evaluated = list(pipelines.tf_eval_dataset(test, batch_size=5, normalization=NORM,
                                               image_size=24))
    assert sum(x.shape[0] for x, _ in evaluated) == 12  # the corrupt file is dropped


@pytest.mark.tf_only
def test_center_crop_takes_the_crop_fraction_of_the_shorter_side():
    import tensorflow as tf

    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (64, 96, 3)), tf.float32)
    # 1.0: the shorter side is resized to the crop (the paper's 320 protocol): 32x48,
    # centre 32x32.
    whole = pipelines._tf_center_crop(image, 32, 1.0)
    expected = tf.image.resize(image, [32, 48], method="bilinear")[:, 8:40]
    np.testing.assert_allclose(whole.numpy(), expected.numpy(), atol=1e-4)
    # 0.5 at 32: no resize (shorter side 64 = 32 / 0.5), the central 32x32 pixels.
    centre = pipelines._tf_center_crop(image, 32, 0.5)
    np.testing.assert_allclose(centre.numpy(), image.numpy()[16:48, 32:64], atol=1e-4)
    assert pipelines._tf_center_crop(image, 24).shape == (24, 24, 3)  # default 0.875
    with pytest.raises(ValueError, match=r"crop_fraction must be in \(0, 1\]"):
        pipelines.tf_eval_dataset(_split(4), batch_size=2, normalization=NORM,
                                  crop_fraction=1.5)
