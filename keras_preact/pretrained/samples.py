"""The sample images that ship with the package, and the golden outputs of each weight
set on them.

`keras_preact/pretrained/sample_images/<dataset>/<class>_<index>.jpg` are a handful of test images
of the dataset (CIFAR-10: test image 0000 of each class of the JPEG q75 copy, 1 KB
each). A published weight set carries `reference_outputs.json`: the logits it gives on
these images, so that anyone can check, without the dataset or a network connection,
that the weights load and compute what they computed when they were released.
"""

import hashlib
import pathlib

from keras_preact.deploy import prediction

SAMPLES_DIR = pathlib.Path(__file__).resolve().parent / "sample_images"
REFERENCE_FILENAME = "reference_outputs.json"
# Float32 logits of these small networks agree across backends and CPUs to ~1e-5.
REFERENCE_ATOL = 1e-4


def sample_images(dataset="cifar10"):
    """Paths of the bundled sample images of `dataset`, sorted by name.

    Raises:
        ValueError: no samples ship for `dataset` (the message lists those that do).
    """
    folder = SAMPLES_DIR / dataset
    paths = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if not paths:
        shipped = sorted(p.name for p in SAMPLES_DIR.iterdir() if p.is_dir())
        raise ValueError(f"No sample images for {dataset!r}; samples ship for: {shipped}.")
    return paths


def entry_dataset(entry):
    """The dataset whose samples fit a weight set: its first metric's, else its tag."""
    return entry.metrics[0].dataset if entry.metrics else entry.tag


def sample_label(path):
    """The class name a sample's file name records (`<class>_<index>.jpg`)."""
    return pathlib.Path(path).stem.rsplit("_", 1)[0]


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def reference_outputs(model, entry, dataset=None):
    """The golden outputs of a weight set on the bundled samples of its dataset.

    Args:
        model: the network with the weights loaded, logits output
            (`prediction.load_classifier` or `prediction.logits_model`).
        entry: the weights' `WeightsEntry`.
        dataset: whose samples to use; defaults to `entry_dataset(entry)`.

    Returns:
        JSON-ready data: per image its file name, sha256, labelled class, logits and
        top-5 `[class, probability]`, plus the tolerance to check the logits with.
    """
    dataset = dataset or entry_dataset(entry)
    paths = sample_images(dataset)
    results = prediction.classify(model, entry, paths, top=5)
    return {
        "weights": entry.name,
        "sha256": entry.sha256,
        "dataset": dataset,
        "atol": REFERENCE_ATOL,
        "images": [
            {
                "file": pathlib.Path(result.path).name,
                "sha256": _sha256(result.path),
                "label": sample_label(result.path),
                "logits": [round(v, 6) for v in result.logits],
                "top5": [[name, round(p, 6)] for _, name, p in result.top],
            }
            for result in results
        ],
    }


__all__ = ["REFERENCE_ATOL", "REFERENCE_FILENAME", "SAMPLES_DIR", "entry_dataset",
           "reference_outputs", "sample_images", "sample_label"]
