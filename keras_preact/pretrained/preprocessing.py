"""Input normalisation and output decoding, taken from the weights' own metadata.

Pretrained weights only work with the preprocessing they were trained with, so it is
part of each `WeightsEntry` (and of each published repo's `keras_preact.json`) rather
than a per-module constant; class names ship with the package (`keras_preact.pretrained.labels`),
so decoding needs no download.

    >>> x = preprocess_input(images, weights="preact_resnet164.cifar10")
    >>> decode_predictions(model.predict(x), top=3, weights="preact_resnet164.cifar10")
"""

import numpy as np

from keras_preact.pretrained import labels as _labels
from keras_preact.pretrained import registry as _registry
from keras_preact.errors import WeightsError
from keras_preact.normalization import PRESETS, Preprocessing
from keras_preact.pretrained.registry import WeightsEntry


def _entry(weights, registry):
    """The WeightsEntry behind `weights`, or None when it names only a dataset."""
    if isinstance(weights, WeightsEntry):
        return weights
    entry = getattr(weights, "entry", None)
    if isinstance(entry, WeightsEntry):
        return entry
    if isinstance(weights, str) and "." in weights and not weights.startswith("hf://"):
        return _registry.get_weights_entry(weights, registry=registry)
    return None


def get_preprocessing(weights, *, registry=None, presets=False):
    """The `Preprocessing` that `weights` name: the one resolver of every description of
    an input normalisation in this package.

    Args:
        weights: a `Preprocessing`; a dict as `Preprocessing.to_dict()` writes (without
            "scale", mean and std are on the 0-255 scale); a `WeightsEntry` or
            `ResolvedWeights`; a registered name ("preact_resnet164.cifar10"); a tag
            ("cifar10") when every registered weight set with that tag is normalised the
            same way; with `presets`, also a dataset preset ("cifar10", "cifar100",
            "imagenet") when no registered weights carry that tag.
        registry: a mapping name -> `WeightsEntry` to use instead of the package's.
        presets: accept the presets' names (where a normalisation is asked for, not
            the normalisation of some weights).

    Raises:
        WeightsError: the weights are unknown, or a bare tag is ambiguous.
        ValueError: a malformed dict.
    """
    if isinstance(weights, Preprocessing):
        return weights
    if isinstance(weights, dict):
        return Preprocessing.from_dict(weights)
    entry = _entry(weights, registry)
    if entry is not None:
        return entry.preprocessing
    if isinstance(weights, str):
        entries = (_registry.WEIGHTS if registry is None else registry).values()
        found = {e.preprocessing for e in entries if e.tag == weights}
        if len(found) == 1:
            return found.pop()
        if presets and not found and weights in PRESETS:
            return PRESETS[weights]
        reason = "no registered weights have" if not found else "weights differ for"
        raise WeightsError(
            f"Cannot tell the preprocessing of weights={weights!r}: {reason} that tag. "
            "Pass the full name (e.g. 'preact_resnet164.cifar10', see "
            "keras_preact.list_models(pretrained=True)) or the weights' entry."
        )
    raise WeightsError(f"Cannot tell the preprocessing of weights={weights!r}.")


def preprocess_input(x, weights, *, registry=None):
    """Normalises RGB images in [0, 255] the way `weights` were trained:
    `(x * scale - mean) / std` per channel.

    Args:
        x: images, (..., height, width, 3) channels-last; a NumPy array, a backend
            tensor or a symbolic Keras tensor.
        weights: the weight set, as for `get_preprocessing`.
        registry: a mapping name -> `WeightsEntry` to use instead of the package's.

    Returns:
        float32 images: a NumPy array for NumPy (or list) input, else a tensor.

    Raises:
        ValueError: the last axis is not 3 channels.
        WeightsError: unknown weights.
    """
    pre = get_preprocessing(weights, registry=registry)
    if isinstance(x, (np.ndarray, list, tuple)):
        x = np.asarray(x, dtype=np.float32)
    else:
        from keras import ops

        x = ops.cast(x, "float32")
    if x.shape[-1] != 3:
        raise ValueError(
            f"preprocess_input expects channels-last RGB images (..., 3); got shape {x.shape}."
        )
    return pre.transform(x)


def get_label_names(weights, *, registry=None):
    """Class names of a weight set, or of a dataset shipped with the package.

    Args:
        weights: a `WeightsEntry`, a `ResolvedWeights`, a registered name
            ("preact_resnet164.cifar10"), or a dataset/tag ("cifar10", "cifar100").
        registry: a mapping name -> `WeightsEntry` to use instead of the package's.

    Raises:
        WeightsError: unknown weights or dataset.
    """
    entry = _entry(weights, registry)
    if entry is not None:
        return entry.label_names
    if isinstance(weights, str) and weights in _labels.DATASET_LABELS:
        return _labels.DATASET_LABELS[weights]
    raise WeightsError(
        f"No class names for weights={weights!r}; pass a registered name such as "
        f"'preact_resnet164.cifar10' or one of {sorted(_labels.DATASET_LABELS)}."
    )


def decode_predictions(preds, top=5, weights=None, *, registry=None):
    """The `top` most likely classes of each prediction, with their names.

    Args:
        preds: scores of shape (batch, classes) (probabilities or logits).
        top: how many classes per sample.
        weights: whose class names to use, as for `get_label_names` (required).
        registry: a mapping name -> `WeightsEntry` to use instead of the package's.

    Returns:
        One list per sample of `(class_index, class_name, score)` tuples, best first.

    Raises:
        ValueError: `preds` is not (batch, number of classes of the weights).
        WeightsError: unknown weights.
    """
    if weights is None:
        raise WeightsError(
            "decode_predictions needs weights=..., e.g. 'preact_resnet164.cifar10' or "
            "'cifar10', to know the class names."
        )
    names = get_label_names(weights, registry=registry)
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != len(names):
        raise ValueError(
            f"decode_predictions expects predictions of shape (batch, {len(names)}) for "
            f"weights={weights!r}; got shape {preds.shape}."
        )
    top = max(1, min(int(top), len(names)))
    results = []
    for row in preds:
        best = np.argsort(-row, kind="stable")[:top]
        results.append([(int(i), names[i], float(row[i])) for i in best])
    return results
