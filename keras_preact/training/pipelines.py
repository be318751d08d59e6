"""Batches for `fit`: the paper's augmentation and normalisation applied to the splits
of `keras_preact.training.data`, by two pipelines that yield the same kind of batches (float32
NHWC images normalised per channel, one-hot float32 labels):

- `ArrayTrainBatches` / `ArrayEvalBatches`: numpy on the host, for every backend; the
  only path on a machine without TensorFlow (the JAX accelerator).
- `tf_train_dataset` / `tf_eval_dataset`: tf.data, for the TensorFlow backend (and
  `tf.distribute`). TensorFlow is imported inside these functions only.

Both can add Cutout (DeVries & Taylor 2017, arXiv:1708.04552) to the CIFAR augmentation:
a square of `cutout` pixels at a uniformly drawn centre, clipped at the borders, set to
the channel mean (0 after normalisation) in every training image. It is not part of
the paper's recipe; it is off unless a recipe asks for it.

Every random choice is a pure function of `(seed, epoch, step)`: an epoch's order and
crops do not depend on how many epochs ran before in this process, so a resumed run
sees exactly the batches an uninterrupted one would.

Example:
    >>> train = data.load_split("/data/cifar10-jpeg", "train")
    >>> batches = ArrayTrainBatches(train, batch_size=128, normalization=data.CIFAR10)
    >>> model.fit(iter(batches), steps_per_epoch=batches.steps_per_epoch, epochs=164)
"""

import collections
import concurrent.futures
import itertools
import math

import keras
import numpy as np

from keras_preact.training.data import AUGMENTATIONS, ArraySplit

def _pad_crop_flip_indices(draws, size, pad):
    """Row/column source indices and validity masks of a pad-crop-flip, from uniform
    draws in [0, 1) of shape (B, 3)."""
    offsets = np.floor(draws[:, :2] * (2 * pad + 1)).astype(np.int64)
    grid = np.arange(size)
    rows = offsets[:, :1] + grid - pad
    cols = offsets[:, 1:2] + grid - pad
    cols = np.where(draws[:, 2:3] < 0.5, cols, cols[:, ::-1])
    return rows, cols


def _cutout_keep(centres, size, cutout):
    """(B, size, size) mask, False inside each image's cut square: `centres` are the
    (row, column) draws in [0, 1), the square spans [c - cutout // 2, c - cutout // 2 +
    cutout) on each axis, clipped at the borders."""
    starts = np.floor(centres * size).astype(np.int64) - cutout // 2
    grid = np.arange(size)
    inside = (grid >= starts[:, :, None]) & (grid < starts[:, :, None] + cutout)
    return ~(inside[:, 0, :, None] & inside[:, 1, None, :])


def pad_crop_flip(images, normalization, rng, pad=4, part=slice(None), cutout=0):
    """The paper's CIFAR augmentation on a numpy batch, normalising on the way.

    Equivalent to: normalise, zero-pad `pad` pixels on each side (zero = the channel
    mean, as fb.resnet.torch pads after normalising), take a random crop of the
    original size, flip horizontally with probability 1/2; with `cutout`, then zero a
    square of that side at a random centre (module docstring).

    Args:
        images: uint8 (B, H, W, C).
        normalization: a `keras_preact.normalization.Preprocessing`.
        rng: a `numpy.random.Generator`.
        pad: padding on each side.
        part: the rows of a larger batch that `images` are: the draws are made for the
            whole batch (its length is the slice's stop) and the slice's kept, so a
            process that augments its shard gets exactly its part of the whole batch.
        cutout: side of the Cutout square in pixels; 0: none. The crops are drawn first,
            so a batch without Cutout is the same as before it existed.

    Returns:
        float32 (B, H, W, C).
    """
    batch, height, width, _ = images.shape
    if height != width:
        raise ValueError(f"pad_crop_flip expects square images, got {height}x{width}.")
    draws = rng.random((part.stop or batch, 3))[part]
    rows, cols = _pad_crop_flip_indices(draws, height, pad)
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    crops = np.empty_like(images)
    for i in range(batch):
        top, left = rows[i, 0] + pad, min(cols[i, 0], cols[i, -1]) + pad
        crop = padded[i, top:top + height, left:left + width]
        crops[i] = crop[:, ::-1] if cols[i, 0] > cols[i, -1] else crop
    valid = (((rows >= 0) & (rows < height))[:, :, None]
             & ((cols >= 0) & (cols < width))[:, None, :])
    out = normalization.apply(crops)
    out *= valid[..., None]
    if cutout:
        out *= _cutout_keep(rng.random((part.stop or batch, 2))[part], height, cutout)[..., None]
    return out


def one_hot(labels, num_classes):
    """float32 one-hot rows of int labels."""
    return np.eye(num_classes, dtype=np.float32)[labels]


class ArrayTrainBatches:
    """Endless, deterministic training batches from an `ArraySplit`, made in numpy.

    Iterating yields `(images float32, one-hot labels)` for epochs `initial_epoch`,
    `initial_epoch + 1`, ... each of exactly `steps_per_epoch` full batches (the last
    partial batch is dropped, as with `drop_remainder=True`). Epoch `e` uses the
    permutation and crops of `(seed, e)` alone. Batches are prepared ahead by a pool
    of threads. Pass `iter(batches)` to `fit` with `steps_per_epoch`.

    Args:
        split: an `ArraySplit`.
        batch_size: global batch size.
        normalization: a `keras_preact.normalization.Preprocessing`.
        seed: data seed.
        initial_epoch: first epoch to produce (to resume).
        augment: "cifar" (pad-crop-flip) or "none".
        cutout: Cutout side in pixels with the "cifar" augmentation; 0: none.
        workers: preparation threads.
        prefetch: batches prepared ahead.
        steps_per_epoch: cap on the batches per epoch (dry runs); default all full ones.
        shard: `(start, stop)` rows of every global batch that this process feeds
            (multi-process data parallelism, `Distribution.shard`); default all.
    """

    def __init__(self, split, *, batch_size, normalization, seed=0, initial_epoch=0,
                 augment="cifar", workers=2, prefetch=8, steps_per_epoch=None, shard=None,
                 cutout=0):
        if augment not in ("cifar", "none"):
            raise ValueError(f"The numpy pipeline supports augment='cifar' or 'none', "
                             f"got {augment!r} (ImageNet-style crops need tf.data).")
        check_cutout(cutout, augment, split.images.shape[1])
        if len(split) < batch_size:
            raise ValueError(f"{len(split)} training images are fewer than one batch of "
                             f"{batch_size}.")
        self.split = split
        self.batch_size = batch_size
        self.normalization = normalization
        self.seed = seed
        self.initial_epoch = initial_epoch
        self.augment = augment
        self.cutout = cutout
        self.workers = workers
        self.prefetch = prefetch
        self.steps_per_epoch = min(len(split) // batch_size,
                                   steps_per_epoch or len(split) // batch_size)
        self.rows = slice(*(shard or (0, batch_size)))

    def permutation(self, epoch):
        """The example order of `epoch`."""
        return np.random.default_rng([self.seed, epoch, 0]).permutation(len(self.split))

    def batch(self, epoch, step, order=None):
        """Batch `step` of `epoch` as `(images, one_hot_labels)` (this shard's rows)."""
        order = self.permutation(epoch) if order is None else order
        index = np.sort(order[step * self.batch_size:(step + 1) * self.batch_size])
        index = index[self.rows]
        images = self.split.images[index]
        if self.augment == "cifar":
            rng = np.random.default_rng([self.seed, epoch, 1, step])
            images = pad_crop_flip(images, self.normalization, rng, part=self.rows,
                                   cutout=self.cutout)
        else:
            images = self.normalization.apply(images)
        return images, one_hot(self.split.labels[index], self.split.num_classes)

    def __iter__(self):
        pending = collections.deque()
        orders = {}
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            for position in itertools.count():
                epoch, step = divmod(position, self.steps_per_epoch)
                epoch += self.initial_epoch
                if epoch not in orders:
                    orders = {epoch: self.permutation(epoch)}
                pending.append(pool.submit(self.batch, epoch, step, orders[epoch]))
                if len(pending) > self.prefetch:
                    yield pending.popleft().result()


class ArrayEvalBatches(keras.utils.PyDataset):
    """Evaluation batches from an `ArraySplit` in order, as a `keras.utils.PyDataset`.

    Each item is `(images, one_hot_labels, sample_weight)`. The last batch is padded
    to the full batch size with weight-0 copies, so every batch has one shape (one
    compilation, and divisible over data-parallel devices); weighted metrics ignore
    the padding.

    Args:
        split: an `ArraySplit`.
        batch_size: batch size.
        normalization: a `keras_preact.normalization.Preprocessing`.
        shard: `(start, stop)` rows of every batch that this process feeds (multi-process
            data parallelism); default all.
    """

    def __init__(self, split, *, batch_size, normalization, shard=None, **kwargs):
        super().__init__(**kwargs)
        self.split = split
        self.batch_size = batch_size
        self.normalization = normalization
        self.rows = slice(*(shard or (0, batch_size)))

    def __len__(self):
        return math.ceil(len(self.split) / self.batch_size)

    def __getitem__(self, step):
        if not 0 <= step < len(self):
            raise IndexError(f"Batch {step} of {len(self)}.")
        start = step * self.batch_size
        index = np.arange(start, min(start + self.batch_size, len(self.split)))
        weights = np.ones(self.batch_size, np.float32)
        weights[len(index):] = 0.0
        index = np.pad(index, (0, self.batch_size - len(index)), mode="edge")[self.rows]
        images = self.normalization.apply(self.split.images[index])
        return (images, one_hot(self.split.labels[index], self.split.num_classes),
                weights[self.rows])

    def __iter__(self):
        for step in range(len(self)):
            yield self[step]


def _tf_normalize(images, normalization):
    import tensorflow as tf

    mean = tf.constant(normalization.pixel_mean, tf.float32)
    std = tf.constant(normalization.pixel_std, tf.float32)
    return (tf.cast(images, tf.float32) - mean) / std


def check_cutout(cutout, augment, size=None):
    """Refuses a Cutout side that is negative, used without the CIFAR augmentation, or
    larger than the `size` x `size` training images (ValueError)."""
    if cutout < 0:
        raise ValueError(f"cutout is a side in pixels, >= 0 (0: none), got {cutout}.")
    if cutout and augment != "cifar":
        raise ValueError(f"Cutout is part of the CIFAR augmentation (augment='cifar'), not "
                         f"of augment={augment!r}.")
    if cutout and size is not None and cutout > size:
        raise ValueError(f"A Cutout square of {cutout} pixels is larger than the "
                         f"{size}x{size} training images.")


def tf_pad_crop_flip(images, normalization, seed, pad=4, cutout=0):
    """`pad_crop_flip` in TensorFlow ops: uint8 (B, H, W, C) batch -> float32, with the
    stateless random `seed` (a shape-[2] int64 tensor); `cutout` as there."""
    import tensorflow as tf

    size = images.shape[1]
    batch = tf.shape(images)[0]
    draws = tf.random.stateless_uniform([batch, 3], seed=seed)
    offsets = tf.cast(tf.floor(draws[:, :2] * (2 * pad + 1)), tf.int32)
    grid = tf.range(size)
    rows = offsets[:, :1] + grid - pad
    cols = offsets[:, 1:2] + grid - pad
    cols = tf.where(draws[:, 2:3] < 0.5, cols, tf.reverse(cols, axis=[1]))
    valid_rows = tf.logical_and(rows >= 0, rows < size)
    valid_cols = tf.logical_and(cols >= 0, cols < size)
    crops = tf.gather(images, tf.clip_by_value(rows, 0, size - 1), axis=1, batch_dims=1)
    crops = tf.gather(crops, tf.clip_by_value(cols, 0, size - 1), axis=2, batch_dims=1)
    valid = tf.logical_and(valid_rows[:, :, None], valid_cols[:, None, :])
    if cutout:
        # Another stream than every crop seed (those have seed[0] = 7919 * s + 1).
        centres = tf.random.stateless_uniform(
            [batch, 2], seed=tf.stack([tf.cast(seed[0], tf.int64) + 1,
                                       tf.cast(seed[1], tf.int64)]))
        starts = tf.cast(tf.floor(centres * size), tf.int32) - cutout // 2
        inside = tf.logical_and(grid >= starts[:, :, None], grid < starts[:, :, None] + cutout)
        cut = tf.logical_and(inside[:, 0, :, None], inside[:, 1, None, :])
        valid = tf.logical_and(valid, tf.logical_not(cut))
    return _tf_normalize(crops, normalization) * tf.cast(valid, tf.float32)[..., None]


def _tf_decode(encoded):
    import tensorflow as tf

    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _tf_random_resized_crop(image, size, seed):
    import tensorflow as tf

    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([1, 0, 4]), seed=seed, min_object_covered=0.0,
        aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0), max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    crop = tf.slice(image, begin, extent)
    crop = tf.image.resize(crop, [size, size], method="bilinear")
    return tf.image.stateless_random_flip_left_right(crop, seed=seed + [0, 1])


CROP_FRACTION = 0.875


def _tf_center_crop(image, size, crop_fraction=CROP_FRACTION):
    import tensorflow as tf

    # Resize the shorter side to size / crop_fraction (256 for 224 at 0.875; the paper's
    # 320 protocol is 1.0), then take the centre.
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = (size / crop_fraction) / tf.reduce_min(shape)
    resized = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(image, resized, method="bilinear")
    top = (resized[0] - size) // 2
    left = (resized[1] - size) // 2
    return tf.slice(image, [top, left, 0], [size, size, 3])


def _stream_records(split, seed, epoch):
    """(encoded bytes, label) of a `StreamSplit`; shuffled with (seed, epoch) if given."""
    import tensorflow as tf

    if split.listing is not None:
        paths = tf.constant(split.listing.paths)
        labels = tf.constant(split.listing.labels)
        if epoch is not None:
            order = tf.argsort(tf.random.stateless_uniform(
                [len(split.listing)], seed=tf.stack([tf.cast(seed, tf.int64), epoch])))
            paths, labels = tf.gather(paths, order), tf.gather(labels, order)
        records = tf.data.Dataset.from_tensor_slices((paths, labels))
        return records.map(lambda p, y: (tf.io.read_file(p), y),
                           num_parallel_calls=tf.data.AUTOTUNE)
    import tensorflow_datasets as tfds

    records = split.tfds_builder.as_dataset(
        split=split.split, as_supervised=True, shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()}).take(split.num_examples)
    if epoch is not None:
        records = records.shuffle(10_000, seed=seed * 1_000_003 + epoch)
    return records


def tf_train_dataset(split, *, batch_size, normalization, seed=0, initial_epoch=0,
                     epochs=1, augment="cifar", image_size=None, steps_per_epoch=None,
                     cutout=0):
    """The training `tf.data.Dataset` for epochs `[initial_epoch, epochs)`.

    Each epoch contributes exactly `steps_per_epoch = len(split) // batch_size` full
    batches of `(float32 images, one-hot labels)`; pass it to `fit` with
    `steps_per_epoch` and `initial_epoch`. In-memory splits are gathered from one uint8
    tensor and augmented per batch; streamed splits are read, decoded and cropped per
    image in parallel (unreadable files dropped). Deterministic for a given seed.

    Args:
        split: an `ArraySplit` or `StreamSplit`.
        batch_size: global batch size (a strategy splits it over replicas).
        normalization: a `keras_preact.normalization.Preprocessing`.
        seed: data seed.
        initial_epoch: first epoch (to resume); epochs: end epoch (exclusive).
        augment: "cifar" (pad 4, crop, flip), "imagenet" (random-resized crop of
            8-100% area and 3/4-4/3 aspect, flip) or "none".
        image_size: output side for streamed splits (required for them).
        steps_per_epoch: cap on the batches per epoch (dry runs); default all full ones.
        cutout: Cutout side in pixels with the "cifar" augmentation; 0: none.

    Returns:
        `(dataset, steps_per_epoch)`.
    """
    import tensorflow as tf

    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}.")
    check_cutout(cutout, augment, image_size or getattr(split, "image_size", None))
    steps = min(len(split) // batch_size, steps_per_epoch or len(split) // batch_size)
    if steps == 0:
        raise ValueError(f"{len(split)} training images are fewer than one batch of "
                         f"{batch_size}.")
    num_classes = split.num_classes
    aug_seed = seed * 7919 + 1

    if isinstance(split, ArraySplit):
        if augment == "imagenet":
            raise ValueError("augment='imagenet' needs a streamed split (in_memory=False).")
        images = tf.constant(split.images)
        labels = tf.constant(split.labels)
        size = len(split)

        def epoch_batches(epoch):
            noise = tf.random.stateless_uniform([size], seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
            order = tf.reshape(tf.argsort(noise)[:steps * batch_size], [steps, batch_size])
            epochs_col = tf.fill([steps], epoch)
            return tf.data.Dataset.from_tensor_slices((epochs_col, tf.range(steps, dtype=tf.int64),
                                                       tf.sort(order, axis=1)))

        def make_batch(epoch, step, index):
            batch = tf.gather(images, index)
            if augment == "cifar":
                batch_seed = tf.stack([tf.constant(aug_seed, tf.int64), epoch * 1_000_003 + step])
                batch = tf_pad_crop_flip(batch, normalization, batch_seed, cutout=cutout)
            else:
                batch = _tf_normalize(batch, normalization)
            return batch, tf.one_hot(tf.gather(labels, index), num_classes)

        data = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches)
        data = data.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        if image_size is None:
            raise ValueError("Streamed splits need image_size.")

        def epoch_images(epoch):
            def prepare(index, record):
                encoded, label = record
                image = _tf_decode(encoded)
                image_seed = tf.stack([tf.constant(aug_seed, tf.int64), epoch * 10_000_019 + index])
                if augment == "imagenet":
                    image = _tf_random_resized_crop(image, image_size, image_seed)
                elif augment == "cifar":
                    image = tf.image.resize(image, [image_size, image_size])
                    image = tf_pad_crop_flip(image[None], normalization, image_seed,
                                             cutout=cutout)[0]
                    return image, tf.one_hot(label, num_classes)
                else:
                    image = tf.image.resize(image, [image_size, image_size])
                return _tf_normalize(image, normalization), tf.one_hot(label, num_classes)

            records = _stream_records(split, seed, epoch).enumerate()
            decoded = records.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            # Unreadable files vanish here; repeat keeps every epoch at `steps` batches.
            decoded = decoded.ignore_errors(log_warning=True).repeat()
            return decoded.batch(batch_size, drop_remainder=True).take(steps)

        data = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_images)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options).prefetch(tf.data.AUTOTUNE), steps


def tf_eval_dataset(split, *, batch_size, normalization, image_size=None,
                    crop_fraction=CROP_FRACTION):
    """The evaluation `tf.data.Dataset` of `(float32 images, one-hot labels)`, in order,
    last batch partial. Streamed splits are resized (shorter side `image_size /
    crop_fraction`) and centre-cropped to `image_size`: 224 at 0.875 is the usual
    single crop, 320 at 1.0 the paper's ImageNet test protocol (Table 5)."""
    if not 0.0 < crop_fraction <= 1.0:
        raise ValueError(f"crop_fraction must be in (0, 1]; got {crop_fraction}.")
    import tensorflow as tf

    num_classes = split.num_classes
    if isinstance(split, ArraySplit):
        data = tf.data.Dataset.from_tensor_slices((split.images, split.labels))
        data = data.batch(batch_size).map(
            lambda x, y: (_tf_normalize(x, normalization), tf.one_hot(y, num_classes)),
            num_parallel_calls=tf.data.AUTOTUNE)
    else:
        if image_size is None:
            raise ValueError("Streamed splits need image_size.")

        def prepare(encoded, label):
            image = _tf_center_crop(_tf_decode(encoded), image_size, crop_fraction)
            return _tf_normalize(image, normalization), tf.one_hot(label, num_classes)

        data = _stream_records(split, 0, None).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        data = data.ignore_errors(log_warning=True).batch(batch_size)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)


__all__ = ["ArrayEvalBatches", "ArrayTrainBatches", "check_cutout", "one_hot", "pad_crop_flip",
           "tf_eval_dataset", "tf_pad_crop_flip", "tf_train_dataset"]
