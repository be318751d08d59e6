"""Training and evaluation data: CIFAR-10/100 and ImageNet through tensorflow-datasets,
or any folder laid out `split/class/*.{jpg,jpeg,png,bmp}`, and which normalisation a source
gets (the `Preprocessing` type itself is in `keras_preact.normalization`).

Small images (CIFAR) are decoded once into a uint8 array (`ArraySplit`, PIL, so the
pixels are the same on every backend), optionally cached as `.npy` files; unreadable
files are skipped and counted. Large images (ImageNet) are listed as a `StreamSplit`,
which `keras_preact.training.pipelines` reads, decodes and crops with tf.data every epoch.
Nothing here imports TensorFlow at module import; only the tensorflow-datasets loaders
do, when called.

Example:
    >>> train = load_split("/data/cifar10-jpeg", "train")       # ArraySplit
    >>> test = load_split("/data/cifar10-jpeg", "test", class_names=train.class_names)
    >>> train.skipped, CIFAR10.pixel_mean
    (0, (125.3, 123.0, 113.9))
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib
import sys

import numpy as np

from keras_preact.normalization import (
    CIFAR10, CIFAR100, IMAGENET, PRESETS, Preprocessing, pixel_normalization)  # noqa: F401

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
TFDS_NAMES = ("cifar10", "cifar100", "imagenet2012")
AUGMENTATIONS = ("cifar", "imagenet", "none")


# The names earlier versions used: a mean/std on the 0-255 scale, and the presets.
Normalization = pixel_normalization
NORMALIZATIONS = PRESETS


def compute_normalization(images, name="computed"):
    """Per-channel mean and (population) std of a uint8 NHWC array, as a `Preprocessing`
    on the 0-255 scale."""
    pixels = np.asarray(images).reshape(-1, images.shape[-1]).astype(np.float64)
    mean = pixels.mean(axis=0)
    std = pixels.std(axis=0)
    return pixel_normalization(tuple(round(float(v), 3) for v in mean),
                               tuple(round(float(v), 3) for v in std), name)


@dataclasses.dataclass(frozen=True)
class FolderListing:
    """The image files of one split of a `split/class/*.ext` folder, in sorted order.

    Attributes:
        paths: file paths, sorted by class then file name.
        labels: int32 class index of each path.
        class_names: sorted class folder names; index = label.
    """

    paths: tuple
    labels: np.ndarray
    class_names: tuple

    def __len__(self):
        return len(self.paths)

    def subset(self, limit, seed=0):
        """The first `limit` files of a seeded permutation, in listing order."""
        if limit is None or limit >= len(self):
            return self
        keep = np.sort(np.random.default_rng([seed, 7]).permutation(len(self))[:limit])
        return FolderListing(tuple(self.paths[i] for i in keep), self.labels[keep],
                             self.class_names)


def list_image_folder(root, split, class_names=None):
    """Lists `root/split/<class>/*.{jpg,jpeg,png}` (extensions case-insensitive).

    Args:
        root: the dataset folder.
        split: the split subfolder ("train", "test", ...).
        class_names: the class order to use (pass the training split's so that labels
            agree across splits); defaults to the sorted subfolder names.

    Returns:
        A `FolderListing`.

    Raises:
        FileNotFoundError: no such split folder, or no images in it.
        ValueError: a class folder that is not in `class_names`.
    """
    folder = pathlib.Path(root) / split
    if not folder.is_dir():
        available = sorted(p.name for p in pathlib.Path(root).iterdir() if p.is_dir()) \
            if pathlib.Path(root).is_dir() else []
        raise FileNotFoundError(
            f"No split folder {str(folder)!r} (expected {root}/<split>/<class>/*.jpg); "
            f"splits found: {available or 'none'}.")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    class_names = tuple(found if class_names is None else class_names)
    unknown = sorted(set(found) - set(class_names))
    if unknown:
        raise ValueError(f"Class folders {unknown} in {folder} are not among the training "
                         f"classes {list(class_names)}.")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        class_dir = folder / name
        if not class_dir.is_dir():
            continue
        files = sorted(e.name for e in os.scandir(class_dir)
                       if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
        paths.extend(str(class_dir / f) for f in files)
        labels.extend([label] * len(files))
    if not paths:
        raise FileNotFoundError(f"No {'/'.join(IMAGE_EXTENSIONS)} images under {folder}.")
    return FolderListing(tuple(paths), np.asarray(labels, np.int32), class_names)


@dataclasses.dataclass
class ArraySplit:
    """A decoded split held in memory.

    Attributes:
        images: uint8 array (N, H, W, 3).
        labels: int32 array (N,).
        class_names: class names; index = label.
        skipped: number of files that could not be decoded and were left out.
        skipped_files: their paths (as decoded; a cache keeps them).
        source: where the data came from (for logs and summaries).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    skipped: int = 0
    source: str = ""
    skipped_files: tuple = ()

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self):
        """The number of classes."""
        return len(self.class_names)

    @property
    def image_size(self):
        """Image side length (images are square in every supported source)."""
        return int(self.images.shape[1])

    def subset(self, limit, seed=0):
        """The first `limit` examples of a seeded permutation, in original order."""
        if limit is None or limit >= len(self):
            return self
        keep = np.sort(np.random.default_rng([seed, 7]).permutation(len(self))[:limit])
        return dataclasses.replace(self, images=self.images[keep], labels=self.labels[keep])


@dataclasses.dataclass
class StreamSplit:
    """A split read from its files every epoch (tf.data only; large images).

    Attributes:
        num_examples: number of listed examples (unreadable ones are dropped on the fly
            by tf.data, which logs each one).
        class_names: class names; index = label.
        listing: the `FolderListing` of a folder source, else None.
        tfds_builder: the tensorflow-datasets builder of a TFDS source, else None.
        split: the split name.
        source: where the data came from.
    """

    num_examples: int
    class_names: tuple
    listing: object = None
    tfds_builder: object = None
    split: str = "train"
    source: str = ""

    def __len__(self):
        return self.num_examples

    @property
    def num_classes(self):
        """The number of classes."""
        return len(self.class_names)


def decode_image(path, image_size=None):
    """Decodes an image file with Pillow to an RGB uint8 array, resized bilinearly to
    `image_size` (a side, or (height, width)) when given and different; None if it is not
    a readable image. The one decoder of the in-memory data, of `keras_preact.deploy.prediction`
    and of `keras_preact.deploy.export`."""
    from PIL import Image

    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image_size is not None and image.size != (image_size[1], image_size[0]):
                image = image.resize((image_size[1], image_size[0]), Image.BILINEAR)
            return np.asarray(image, np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None


def _progress(iterable, total, desc):
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="img", mininterval=1.0,
                disable=not sys.stderr.isatty())


def decode_listing(listing, image_size=None, workers=None, desc="decoding"):
    """Decodes every file of a listing with PIL (in threads) into an `ArraySplit`.

    Unreadable or corrupt files are skipped and counted (`ArraySplit.skipped`), never
    raised.

    Args:
        listing: a `FolderListing`.
        image_size: resize every image to this square side (bilinear); None keeps the
            size, which must then be the same for all images.
        workers: decoding threads (default: the CPU count).
        desc: progress bar label.

    Raises:
        ValueError: images of different sizes and no `image_size`; or nothing decodable.
    """
    workers = workers or os.cpu_count() or 1
    images, labels, skipped, shape = [], [], [], None
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        decoded = pool.map(lambda p: decode_image(p, image_size), listing.paths,
                           chunksize=64)
        for path, label, image in zip(listing.paths, listing.labels,
                                      _progress(decoded, len(listing), desc)):
            if image is None:
                skipped.append(str(path))
                continue
            if shape is None:
                shape = image.shape
            elif image.shape != shape:
                raise ValueError(
                    f"{path} is {image.shape[1]}x{image.shape[0]} but earlier images are "
                    f"{shape[1]}x{shape[0]}: pass image_size to resize them all.")
            images.append(image)
            labels.append(label)
    if not images:
        raise ValueError(f"None of the {len(listing)} images could be decoded.")
    report_skipped(skipped, desc)
    return ArraySplit(np.stack(images), np.asarray(labels, np.int32), listing.class_names,
                      len(skipped), skipped_files=tuple(skipped))


def report_skipped(paths, where, shown=5):
    """Tells the console (stderr) which files could not be decoded and were left out."""
    if not paths:
        return
    names = ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more"
                                        if len(paths) > shown else "")
    print(f"Warning: skipped {len(paths)} unreadable file(s) while {where}: {names}",
          file=sys.stderr, flush=True)


def _cache_key(listing, image_size):
    digest = hashlib.sha256(repr((image_size, listing.class_names)).encode())
    for path in listing.paths:
        stat = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def load_folder_arrays(root, split, *, image_size=None, class_names=None, limit=None,
                       seed=0, cache_dir=None, workers=None):
    """Decodes `root/split/<class>/*` into memory, optionally through a `.npy` cache.

    Args:
        root: dataset folder; split: its subfolder.
        image_size: square side to resize to (None: keep; all images must agree).
        class_names: label order (pass the training split's).
        limit: decode only this many files (a seeded random subset, for quick runs).
        seed: seed of that subset.
        cache_dir: if set, the decoded arrays are stored there as
            `<split>-<key>.images.npy`/`.labels.npy`/`.json` (key = hash of the file
            list, sizes, mtimes and `image_size`) and reused when the files are unchanged.
        workers: decoding threads.

    Returns:
        An `ArraySplit` (its `skipped` counts the unreadable files).
    """
    listing = list_image_folder(root, split, class_names).subset(limit, seed)
    source = f"folder:{os.path.abspath(root)}/{split}"
    if cache_dir is not None:
        stem = pathlib.Path(cache_dir) / f"{split}-{_cache_key(listing, image_size)}"
        meta_path = stem.with_suffix(".json")
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            skipped_files = tuple(meta.get("skipped_files", ()))
            report_skipped(list(skipped_files), f"decoding {split} (cached)")
            return ArraySplit(np.load(f"{stem}.images.npy"), np.load(f"{stem}.labels.npy"),
                              tuple(meta["class_names"]), meta["skipped"], source,
                              skipped_files)
    arrays = decode_listing(listing, image_size, workers, desc=f"decoding {split}")
    arrays.source = source
    if cache_dir is not None:
        pathlib.Path(cache_dir).mkdir(parents=True, exist_ok=True)
        np.save(f"{stem}.images.npy", arrays.images)
        np.save(f"{stem}.labels.npy", arrays.labels)
        meta_path.write_text(json.dumps({"class_names": list(arrays.class_names),
                                         "skipped": arrays.skipped, "source": source,
                                         "skipped_files": list(arrays.skipped_files)}))
    return arrays


def _tfds_builder(name, data_dir, download):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if download:
        builder.download_and_prepare()
    return builder


def _tfds_dataset(builder, split, download, **kwargs):
    """`builder.as_dataset(split, **kwargs)`, with an actionable error when the data
    was never prepared."""
    try:
        return builder.as_dataset(split=split, **kwargs)
    except AssertionError as error:
        if download:
            raise
        name = builder.info.name
        manual = (" (ImageNet needs the manual download described in tensorflow-datasets' "
                  "imagenet2012 page)") if name == "imagenet2012" else ""
        raise FileNotFoundError(
            f"tensorflow-datasets has no prepared {name!r} under {builder.data_dir!r}. Pass "
            f"--download (network needed){manual}, or --data-dir where it is prepared, or a "
            f"folder of images instead. ({error})") from None


def load_tfds_arrays(name, split, *, data_dir=None, download=False, limit=None, seed=0):
    """Loads a whole tensorflow-datasets split (CIFAR-size) into an `ArraySplit`.

    Needs TensorFlow and tensorflow-datasets (imported here).
    """
    import tensorflow_datasets as tfds

    builder = _tfds_builder(name, data_dir, download)
    records = _tfds_dataset(builder, split, download, as_supervised=True)
    if limit is not None:
        records = records.take(max(limit * 4, 1000))  # enough to draw a subset from
    chunks = list(tfds.as_numpy(records.batch(4096)))
    images = np.concatenate([c[0] for c in chunks])
    labels = np.concatenate([c[1] for c in chunks])
    arrays = ArraySplit(np.asarray(images, np.uint8), np.asarray(labels, np.int32),
                        tuple(builder.info.features["label"].names), 0, f"tfds:{name}/{split}")
    return arrays.subset(limit, seed)


def default_eval_split(data):
    """The held-out split of a data source: "test" for CIFAR and folders that have one,
    "validation" for ImageNet, else the first of "val"/"validation" found."""
    if data in TFDS_NAMES:
        return "validation" if data == "imagenet2012" else "test"
    for split in ("test", "val", "validation"):
        if (pathlib.Path(data) / split).is_dir():
            return split
    raise FileNotFoundError(f"{data} has no test/val/validation folder; pass the split.")


def load_split(data, split, *, in_memory=True, image_size=None, class_names=None,
               data_dir=None, download=False, limit=None, seed=0, cache_dir=None):
    """One split of a data source, decoded in memory or as a stream.

    Args:
        data: a tensorflow-datasets name (`TFDS_NAMES`) or a folder path.
        split: split name ("train", "test", "validation", or a folder name).
        in_memory: decode everything into an `ArraySplit` (small images; works on every
            backend) rather than a `StreamSplit` (tf.data only).
        image_size: square side for folders (resize); None keeps the files' size.
        class_names: label order for folders (pass the training split's).
        data_dir: tensorflow-datasets data directory.
        download: let tensorflow-datasets download and prepare the data.
        limit: use only this many examples (seeded subset), for quick runs.
        seed: seed of that subset.
        cache_dir: `.npy` cache folder for decoded folders.

    Returns:
        An `ArraySplit` or a `StreamSplit`.
    """
    if data in TFDS_NAMES:
        if in_memory:
            return load_tfds_arrays(data, split, data_dir=data_dir, download=download,
                                    limit=limit, seed=seed)
        builder = _tfds_builder(data, data_dir, download)
        _tfds_dataset(builder, split, download)  # fails early, and clearly, if unprepared
        total = builder.info.splits[split].num_examples
        return StreamSplit(min(total, limit or total),
                           tuple(builder.info.features["label"].names),
                           tfds_builder=builder, split=split, source=f"tfds:{data}/{split}")
    if not pathlib.Path(data).is_dir():
        raise FileNotFoundError(
            f"--data {data!r} is neither a tensorflow-datasets name ({', '.join(TFDS_NAMES)}) "
            "nor a folder laid out split/class/*.jpg.")
    if in_memory:
        return load_folder_arrays(data, split, image_size=image_size, class_names=class_names,
                                  limit=limit, seed=seed, cache_dir=cache_dir)
    listing = list_image_folder(data, split, class_names).subset(limit, seed)
    return StreamSplit(len(listing), listing.class_names, listing=listing, split=split,
                       source=f"folder:{os.path.abspath(data)}/{split}")


def default_normalization(data, num_classes):
    """The normalisation of a source: its own for CIFAR-10/100 and ImageNet; for folders,
    CIFAR-10's with 10 classes, CIFAR-100's with 100 and ImageNet's otherwise."""
    if data in ("cifar10", "cifar100"):
        return NORMALIZATIONS[data]
    if data == "imagenet2012":
        return IMAGENET
    return {10: CIFAR10, 100: CIFAR100}.get(num_classes, IMAGENET)


__all__ = [
    "AUGMENTATIONS", "ArraySplit", "CIFAR10", "CIFAR100", "FolderListing", "IMAGENET",
    "IMAGE_EXTENSIONS", "NORMALIZATIONS", "Normalization", "Preprocessing", "StreamSplit",
    "TFDS_NAMES",
    "compute_normalization", "decode_image", "decode_listing", "default_eval_split",
    "default_normalization", "list_image_folder", "load_folder_arrays", "load_split",
    "load_tfds_arrays",
]
