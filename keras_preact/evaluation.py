"""Classification metrics of a model over a split: top-1/top-5 error and per-class
accuracy, in percent, computed from the model's outputs (logits or probabilities)."""

import time

import keras
import numpy as np


def _numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value) if not isinstance(value, np.ndarray)
                      else value)


def evaluate_classifier(model, batches, class_names, *, top_k=5, log_every=0):
    """Evaluates `model` on `batches` and returns JSON-ready metrics.

    Args:
        model: a Keras classifier (outputs logits or probabilities; only the ranking
            of the outputs is used).
        batches: iterable of `(images, labels)` or `(images, labels, sample_weight)`;
            labels one-hot or integer; examples of weight 0 (padding) are ignored.
            A tf.data dataset works (iterated eagerly).
        class_names: names of the classes, index = label.
        top_k: the k of the top-k error (5 in the paper's ImageNet tables).
        log_every: print progress every that many batches (0: never).

    Returns:
        `{"examples", "top1_error", "top5_error" (top-k), "top1_accuracy",
        "per_class_accuracy": {name: %}, "per_class_examples": {name: n}, "seconds"}`,
        errors and accuracies in percent.
    """
    num_classes = len(class_names)
    counts = np.zeros(num_classes, np.int64)
    top1 = np.zeros(num_classes, np.int64)
    topk = np.zeros(num_classes, np.int64)
    full = None
    start = time.monotonic()
    for step, batch in enumerate(batches):
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
        labels, outputs = labels[keep].astype(np.int64), outputs[keep]
        ranked = np.argsort(-outputs, axis=1, kind="stable")[:, :top_k]
        np.add.at(counts, labels, 1)
        np.add.at(top1, labels, ranked[:, 0] == labels)
        np.add.at(topk, labels, (ranked == labels[:, None]).any(axis=1))
        if log_every and (step + 1) % log_every == 0:
            print(f"evaluated {counts.sum()} images", flush=True)
    total = int(counts.sum())
    if total == 0:
        raise ValueError("No examples to evaluate.")
    per_class = {name: (round(100.0 * top1[i] / counts[i], 3) if counts[i] else None)
                 for i, name in enumerate(class_names)}
    return {
        "examples": total,
        "top1_error": round(100.0 * (1 - top1.sum() / total), 4),
        f"top{top_k}_error": round(100.0 * (1 - topk.sum() / total), 4),
        "top1_accuracy": round(100.0 * top1.sum() / total, 4),
        "per_class_accuracy": per_class,
        "per_class_examples": {name: int(counts[i]) for i, name in enumerate(class_names)},
        "seconds": round(time.monotonic() - start, 3),
    }


__all__ = ["evaluate_classifier"]
