"""Classifying image files with a pretrained weight set: decode, resize, normalise the
way the weights were trained (their `WeightsEntry`), predict, name the top classes.

    >>> model, entry = load_classifier("preact_resnet20", "cifar10")
    >>> for result in classify(model, entry, ["cat.jpg"], top=5):
    ...     print(result.path, result.top[0])
"""

import dataclasses
import os

import numpy as np

from keras_preact.pretrained import preprocessing
from keras_preact.errors import WeightsError


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What a weight set says about one image.

    Attributes:
        path: the image file.
        logits: the classifier's scores before the softmax, one per class.
        top: the best classes, best first, as `(class_index, class_name, probability)`.
    """

    path: str
    logits: tuple
    top: tuple


def load_images(paths, size):
    """Decodes image files to RGB uint8 arrays of `size` (height, width).

    Files are decoded with Pillow, like the training pipeline's in-memory path (so the
    pixels are those the weights saw), converted to RGB and resized bilinearly when their
    size differs.

    Returns:
        A uint8 array (len(paths), height, width, 3).

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a file is not a readable image, or `size` is not square.
    """
    from keras_preact.training.data import decode_image

    height, width = size
    if height != width:
        raise ValueError(f"Only square inputs are supported; got input size {size}.")
    images = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such image file: {path!r}.")
        image = decode_image(path, height)
        if image is None:
            raise ValueError(f"{path!r} is not an image Pillow can read (JPEG, PNG, ...).")
        images.append(image)
    return np.stack(images) if images else np.zeros((0, height, width, 3), np.uint8)


def load_classifier(model, weights):
    """A pretrained network that outputs logits, and its weights' entry.

    Args:
        model: the canonical model name, e.g. "preact_resnet20" (see
            `list_models(pretrained=True)`).
        weights: a registered tag ("cifar10"), "hf://owner/repo[@revision]" or a
            published-repo folder: anything `weights=` takes that carries metadata
            (classes, preprocessing, class names).

    Returns:
        `(keras.Model, WeightsEntry)`; the model's head has no softmax.

    Raises:
        WeightsError: the weights are unknown, unavailable, corrupt or carry no metadata
            (a bare `.weights.h5` file without its `keras_preact.json`).
    """
    from keras_preact.pretrained import loading as pretrained

    resolved = pretrained.resolve_weights(weights, model.lower().replace("-", "_"))
    if resolved.entry is None:
        raise WeightsError(
            f"weights={weights!r} carry no metadata (classes, preprocessing, class names): "
            "pass a registered tag, an hf:// repo or a published folder with its "
            "keras_preact.json."
        )
    return logits_model(resolved.entry, resolved), resolved.entry


def logits_model(entry, weights):
    """The network `entry` describes, without the softmax, with `weights` loaded.

    Args:
        entry: the `WeightsEntry`.
        weights: its `.weights.h5` file (a path or a `ResolvedWeights`).

    Raises:
        IncompatibleWeightsError: the file does not fit the network.
    """
    from keras_preact.pretrained import loading as pretrained
    from keras_preact.pretrained import registry as _registry

    network = _registry.build_model(entry, weights=None, classifier_activation=None)
    pretrained.load_weights(network, weights)
    return network


def _softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def classify(model, entry, paths, *, top=5, batch_size=64):
    """Classifies image files.

    Args:
        model: a network from `load_classifier` (logits output).
        entry: its `WeightsEntry` (input size, preprocessing, class names).
        paths: image files.
        top: how many classes to report per image.
        batch_size: images per forward pass.

    Returns:
        One `Prediction` per path, in order.
    """
    paths = [os.fspath(p) for p in paths]
    images = load_images(paths, entry.input_size)
    x = preprocessing.preprocess_input(images, entry)
    logits = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float64)
    probabilities = _softmax(logits)
    decoded = preprocessing.decode_predictions(probabilities, top=top, weights=entry)
    return [
        Prediction(path, tuple(float(v) for v in row), tuple(best))
        for path, row, best in zip(paths, logits, decoded)
    ]


__all__ = ["Prediction", "classify", "load_classifier", "load_images", "logits_model"]
