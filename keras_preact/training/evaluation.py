"""Classification metrics of a model over a split: top-1/top-5 error, per-class
accuracy and the confusion matrix, in percent and counts, computed from the model's
outputs (logits or probabilities), optionally also with test-time flip averaging; and
`evaluate_weights`, which builds a zoo network with weights and measures them."""

import time

import keras
import numpy as np

# Above this many classes the confusion matrix is left out of the JSON report (ImageNet's
# would be a million counts); the per-class accuracies are always there.
CONFUSION_MAX_CLASSES = 100


def _numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value) if not isinstance(value, np.ndarray)
                      else value)


class _Tally:
    """Confusion counts (true class x top-1 class) and top-k hits per true class."""

    def __init__(self, num_classes, top_k):
        self.top_k = top_k
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        self.topk = np.zeros(num_classes, np.int64)

    def add(self, labels, outputs):
        ranked = np.argsort(-outputs, axis=1, kind="stable")[:, :self.top_k]
        np.add.at(self.confusion, (labels, ranked[:, 0]), 1)
        np.add.at(self.topk, labels, (ranked == labels[:, None]).any(axis=1))

    def reduce(self, reduce):
        if reduce is not None:
            self.confusion = np.asarray(reduce(self.confusion))
            self.topk = np.asarray(reduce(self.topk))

    def metrics(self, class_names):
        counts = self.confusion.sum(axis=1)
        top1 = np.diag(self.confusion)
        total = int(counts.sum())
        if total == 0:
            raise ValueError("No examples to evaluate.")
        result = {
            "examples": total,
            "top1_error": round(100.0 * (1 - top1.sum() / total), 4),
            f"top{self.top_k}_error": round(100.0 * (1 - self.topk.sum() / total), 4),
            "top1_accuracy": round(100.0 * top1.sum() / total, 4),
            "per_class_accuracy": {
                name: (round(100.0 * top1[i] / counts[i], 3) if counts[i] else None)
                for i, name in enumerate(class_names)},
            "per_class_examples": {name: int(counts[i]) for i, name in enumerate(class_names)},
        }
        if len(class_names) <= CONFUSION_MAX_CLASSES:
            result["confusion_matrix"] = self.confusion.tolist()
        return result


def _batch_count(batches):
    """How many batches `batches` holds (a sequence, PyDataset or finite tf.data
    dataset), or None when it cannot say."""
    try:
        return len(batches)
    except TypeError:
        pass
    cardinality = getattr(batches, "cardinality", None)
    if cardinality is not None:
        count = int(cardinality())
        return count if count >= 0 else None
    return None


def evaluate_classifier(model, batches, class_names, *, top_k=5, progress=False,
                        reduce=None, flip_tta=False):
    """Evaluates `model` on `batches` and returns JSON-ready metrics.

    Args:
        model: a Keras classifier (outputs logits or probabilities; only the ranking
            of the outputs is used).
        batches: iterable of `(images, labels)` or `(images, labels, sample_weight)`;
            labels one-hot or integer; examples of weight 0 (padding) are ignored.
            A tf.data dataset works (iterated eagerly).
        class_names: names of the classes, index = label.
        top_k: the k of the top-k error (5 in the paper's ImageNet tables).
        progress: show a Keras progress bar with the running top-1 error.
        reduce: sums per-class counts over processes when each one evaluates its shard
            (`Distribution.sum_over_processes`); None for one process.
        flip_tta: also measure test-time augmentation by horizontal flip: the model's
            outputs for each image and its mirror image are averaged. Those metrics go
            under their own key "flip_tta"; the top-level figures stay the plain,
            single-view ones (the paper's protocol on CIFAR).

    Returns:
        `{"examples", "top1_error", "top5_error" (top-k), "top1_accuracy",
        "per_class_accuracy": {name: %}, "per_class_examples": {name: n},
        "confusion_matrix": rows of true classes, columns of predicted classes (counts;
        only up to `CONFUSION_MAX_CLASSES` classes), "seconds"}`, errors and
        accuracies in percent; with `flip_tta`, also "flip_tta": the same metrics (no
        "seconds") of the flip-averaged outputs.
    """
    plain = _Tally(len(class_names), top_k)
    flipped = _Tally(len(class_names), top_k) if flip_tta else None
    full = None
    bar = keras.utils.Progbar(_batch_count(batches), unit_name="batch",
                              stateful_metrics=["top1_error"]) if progress else None
    done = 0
    start = time.monotonic()
    for done, batch in enumerate(batches, start=1):
        images, labels = _numpy(batch[0]), _numpy(batch[1])
        weights = _numpy(batch[2]) if len(batch) > 2 else np.ones(len(images))
        size = len(images)
        full = full or size
        if size < full:
            # One input shape for every call (one compilation; divisible over devices).
            images = np.concatenate([images, np.repeat(images[-1:], full - size, axis=0)])
        outputs = np.asarray(_numpy(model.predict_on_batch(images)), np.float32)[:size]
        if labels.ndim == 2:
            labels = labels.argmax(axis=-1)
        keep = weights > 0
        labels = labels[keep].astype(np.int64)
        plain.add(labels, outputs[keep])
        if flipped is not None:
            # Images are NHWC (the zoo's layout): axis 2 is the width.
            mirrored = model.predict_on_batch(np.ascontiguousarray(images[:, :, ::-1]))
            mirrored = np.asarray(_numpy(mirrored), np.float32)[:size]
            flipped.add(labels, ((outputs + mirrored) / 2)[keep])
        if bar is not None:
            seen = max(int(plain.confusion.sum()), 1)
            bar.update(done, [("top1_error", 100.0 * (1 - np.trace(plain.confusion) / seen))],
                       finalize=False)
    if bar is not None:
        bar.update(done, finalize=True)
    plain.reduce(reduce)
    result = plain.metrics(class_names)
    if flipped is not None:
        flipped.reduce(reduce)
        result["flip_tta"] = flipped.metrics(class_names)
    result["seconds"] = round(time.monotonic() - start, 3)
    return result


def _registry_normalization(weights, model_name):
    from keras_preact.pretrained import preprocessing
    from keras_preact.errors import WeightsError

    try:
        return preprocessing.get_preprocessing(f"{model_name}.{weights}")
    except WeightsError:
        return None


def evaluate_weights(spec, weights, data_source, split=None, *, batch_size=256,
                     image_size=None, normalization="auto", data_dir=None, download=False,
                     limit=None, pipeline="auto", crop_fraction=None, flip_tta=False,
                     progress=False):
    """Builds a zoo network with `weights` and evaluates it on a split.

    Args:
        spec: the model, a `keras_preact.models.spec.ModelSpec` or its dict form
            (`{"model": name}` or `{"depth": ..., "family": ...}`); empty: taken from the
            `model.json` that training writes next to its weights.
        weights: a weights path, a registered tag or "hf://..." (the builder's `weights=`).
        data_source: a tensorflow-datasets name or a `split/class/*.jpg` folder.
        split: the split (default: test, or validation for ImageNet).
        batch_size: evaluation batch size.
        image_size: input side (default: the one recorded with the weights, else the
            images' own for CIFAR-size data, 224 for ImageNet).
        normalization: "auto" (recorded with the weights or registered, else the
            dataset's) or a name of `data.NORMALIZATIONS`.
        data_dir, download: tensorflow-datasets options.
        limit: evaluate on a seeded subset of this many images.
        pipeline: "auto", "tf" or "numpy" (as in training).
        crop_fraction: streamed (ImageNet-size) images: the centre crop's share of the
            shorter side after resizing; default 0.875 (shorter side 256 for 224), 1.0
            with `image_size=320` is the paper's test protocol. CIFAR-size images are
            used whole.
        flip_tta: also report the flip-averaged metrics, under "flip_tta" (see
            `evaluate_classifier`).
        progress: show a progress bar while evaluating.

    Returns:
        A JSON-ready dict: model, weights, data, split, normalization, the metrics of
        `evaluate_classifier` and images/second (of the whole pass: with `flip_tta`,
        each image is run twice).
    """
    from keras_preact.training import data, pipelines
    from keras_preact.pretrained import metadata
    from keras_preact.models import spec as modelspec

    meta = metadata.read_beside(weights) or metadata.WeightsMetadata(path="")
    spec = modelspec.ModelSpec.from_dict(spec)
    if spec.empty:
        if not meta.spec:
            raise ValueError("Name the model (--model or --depth): no model.json next to "
                             f"{weights!r} says which network these weights belong to.")
        spec = meta.spec
    family = spec.family_name()
    split = split or data.default_eval_split(data_source)
    image_size = image_size or meta.image_size or (None if family == "cifar" else 224)
    labels = list(meta.class_names) if meta.class_names else None
    test = data.load_split(data_source, split, in_memory=family == "cifar",
                           image_size=image_size, data_dir=data_dir, download=download,
                           class_names=labels, limit=limit)
    image_size = image_size or test.image_size
    if crop_fraction is not None and isinstance(test, data.ArraySplit):
        raise ValueError("--crop-fraction applies to ImageNet-size (streamed) data only; "
                         "CIFAR-size images are evaluated whole.")
    if normalization == "auto":
        norm = meta.preprocessing
        if norm is None and spec.model:
            norm = _registry_normalization(weights, spec.model.strip().lower())
        norm = norm or data.default_normalization(data_source, test.num_classes)
    else:
        norm = data.NORMALIZATIONS[normalization]
    model = spec.build(weights=weights, classes=test.num_classes,
                       input_shape=(image_size, image_size, 3))
    if pipeline == "auto":
        pipeline = "tf" if keras.backend.backend() == "tensorflow" else "numpy"
    if pipeline == "numpy" and not isinstance(test, data.ArraySplit):
        raise ValueError("ImageNet-size data streams through tf.data only: evaluate it on "
                         "the TensorFlow backend (or with --pipeline tf).")
    if pipeline == "tf":
        batches = pipelines.tf_eval_dataset(
            test, batch_size=batch_size, normalization=norm, image_size=image_size,
            crop_fraction=crop_fraction or pipelines.CROP_FRACTION)
    else:
        batches = pipelines.ArrayEvalBatches(test, batch_size=batch_size, normalization=norm)
    metrics = evaluate_classifier(model, batches, test.class_names,
                                  top_k=min(5, test.num_classes), flip_tta=flip_tta,
                                  progress=progress)
    return {"model": model.name, "weights": str(weights), "data": test.source, "split": split,
            "image_size": image_size, "normalization": norm.to_dict(),
            "crop_fraction": None if isinstance(test, data.ArraySplit) else (
                crop_fraction or pipelines.CROP_FRACTION),
            "skipped_unreadable": getattr(test, "skipped", None),
            **({"limit": limit} if limit else {}), **metrics,
            "images_per_second": round(metrics["examples"] / max(metrics["seconds"], 1e-9), 2)}


__all__ = ["CONFUSION_MAX_CLASSES", "evaluate_classifier", "evaluate_weights"]
