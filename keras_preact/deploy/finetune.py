"""Transfer learning: a pretrained ResNet as a frozen backbone, a new classifier, and
optional fine-tuning of the last stages.

The recipe is the one Keras' transfer-learning guide recommends, with its BatchNorm
trap made explicit and tested:

1. The backbone (`include_top=False, pooling="avg"`) always runs in inference mode
   inside the new model, so every BatchNormalization layer normalises with its moving
   statistics and never updates them, in both phases, whatever `trainable` says
   (keras-team/keras#11590, tensorflow/tensorflow#34009). The guide's
   `base_model(inputs, training=False)` is not enough in Keras 3: a Functional model
   passes the `training` flag of its own call to every layer it runs, overriding the
   `training=False` recorded at the symbolic call (seen with Keras 3.15.1, TensorFlow
   and JAX: `fit` updates the moving statistics of trainable BN layers of a backbone
   called that way). The backbone is therefore wrapped in `InferenceMode`, whose call
   passes `training=False` itself.
2. Phase "head": the backbone is frozen (`trainable=False`) and only the new
   `predictions` layer (after optional dropout) is trained.
3. Phase "finetune" (optional): the convolutions of the last `unfreeze` stages (see
   `keras_preact.deploy.features.stage_layers`) are unfrozen and trained together with the
   head at a lower learning rate, with a fresh optimizer.

BatchNorm during fine-tuning (`bn=`): "frozen" (default) keeps the BN layers of the
unfrozen stages non-trainable, so their scale and shift stay those of the pretrained
weights; "affine" also trains their gamma/beta. In both modes the moving mean and
variance stay frozen: re-estimating them from a small fine-tuning set with small
batches is what makes accuracy collapse, and the paper's networks place BN before every
convolution (Fig. 4e), so every unfrozen stage would be affected.

Images are read by `keras_preact.training.data` (`split/class/*.jpg` folders, decoded in memory)
and normalised with the preprocessing of the weights (their registry metadata) unless
one is given. Everything here runs on any Keras backend.

    >>> result = finetune_folder("preact_resnet164", "/data/flowers", weights="cifar10",
    ...                          head_epochs=5, finetune_epochs=5, unfreeze=1)
    >>> result.summary["validation_accuracy"]
"""

import dataclasses
import json
import math
import os
import pathlib
import time

import keras
import numpy as np

from keras_preact.training import data as _data
from keras_preact.deploy import features
from keras_preact.pretrained import metadata
from keras_preact.training import pipelines as _pipelines
from keras_preact.models.archs import ARCHS, parse_model_name
from keras_preact.models.layers import InferenceMode  # where it lived before; a layer
from keras_preact.models.builder import create_model
from keras_preact.normalization import Preprocessing  # noqa: F401  (as before)
from keras_preact.pretrained.preprocessing import get_preprocessing

BN_MODES = ("frozen", "affine")
# Fine-tuning holds its images in memory; random-resized crops ("imagenet") need the
# streamed tf.data pipeline of `keras_preact.training.pipelines`.
AUGMENTATIONS = tuple(a for a in _data.AUGMENTATIONS if a != "imagenet")
VALIDATION_SPLITS = ("val", "validation", "test")


def weights_metadata(weights, model_name):
    """The registry entry of `weights` for the model `model_name`, or None.

    Args:
        weights: None, a registered tag, "hf://owner/repo[@rev]" or a local path.
        model_name: canonical model name, e.g. "preact_resnet20".

    Returns:
        A `keras_preact.pretrained.registry.WeightsEntry`, or None for random init and for local
        files without a `keras_preact.json`.
    """
    if weights is None:
        return None
    from keras_preact.pretrained import loading as pretrained

    return pretrained.resolve_weights(weights, model_name).entry


def resolve_preprocessing(weights=None, model_name=None, preprocessing=None):
    """The input normalisation to use: `preprocessing` when given, else the weights'
    (their registry entry or `keras_preact.json`, else the metadata a training or
    fine-tuning run wrote next to them, see `keras_preact.pretrained.metadata`).

    Args:
        weights: the `weights=` of the backbone (tag, hf:// address or path).
        model_name: canonical model name the weights belong to.
        preprocessing: an explicit normalisation (anything
            `keras_preact.pretrained.preprocessing.get_preprocessing` takes).

    Returns:
        A `Preprocessing`.

    Raises:
        ValueError: neither is known (random init, or a bare .weights.h5 file): guessing
            would silently mis-normalise the inputs of pretrained features.
    """
    if preprocessing is not None:
        return get_preprocessing(preprocessing, presets=True)
    entry = weights_metadata(weights, model_name)
    if entry is not None:
        return entry.preprocessing
    recorded = metadata.read_beside(weights)
    if recorded is not None and recorded.preprocessing is not None:
        return recorded.preprocessing
    source = "random initialisation" if weights is None else f"weights={str(weights)!r}"
    raise ValueError(
        f"The input normalisation of {source} is unknown (no registry metadata). "
        "Pass preprocessing= (e.g. 'cifar10', 'imagenet', a Preprocessing or "
        "{'mean': [...], 'std': [...]} on the 0-255 scale); on the command line "
        "--normalization NAME or --mean R G B --std R G B."
    )


def default_image_size(model_name, weights=None):
    """The square input side to fine-tune at: the weights' training size (registry
    entry or the metadata beside local weights), else the paper's size for the family (32 for CIFAR
    nets, 224 for ImageNet nets).

    Raises:
        ValueError: an unknown model name, or weights trained on non-square inputs.
    """
    recorded = metadata.read_beside(weights)
    if recorded is not None and recorded.image_size:
        return recorded.image_size
    entry = weights_metadata(weights, model_name)
    if entry is not None:
        height, width = entry.input_size
        if height != width:
            raise ValueError(f"{entry.name} was trained on {height}x{width} inputs; pass "
                             "image_size= for square fine-tuning inputs.")
        return int(height)
    arch = ARCHS.get(parse_model_name(model_name)[0])
    if arch is None:
        raise ValueError(f"Unknown model {model_name!r}; the names are those of "
                         "keras_preact.list_models().")
    return arch.default_size


def build_transfer_model(backbone, num_classes, *, dropout=0.0,
                         classifier_activation="softmax", name=None):
    """Puts a new classifier on a backbone that is always run in inference mode.

    The graph is `image -> InferenceMode(backbone) -> [Dropout] -> Dense("predictions")`,
    so the backbone's BatchNorm layers use and keep their moving statistics even while
    its layers are trainable (module docstring). The backbone is frozen on return (see
    `freeze_backbone`).

    Args:
        backbone: a network built with `include_top=False`; with `pooling=None` a
            `GlobalAveragePooling2D` is added.
        num_classes: classes of the new classifier.
        dropout: dropout rate before the classifier (0 for none).
        classifier_activation: "softmax" or None (logits).
        name: model name; default "{backbone.name}_transfer".

    Returns:
        A `keras.Model`; its layer "backbone" wraps the network, which keeps its name
        and is returned by `keras_preact.deploy.features.backbone_of(model)`.
    """
    if classifier_activation not in ("softmax", None):
        raise ValueError(f"classifier_activation must be 'softmax' or None, got "
                         f"{classifier_activation!r}.")
    if len(backbone.inputs) != 1:
        raise ValueError("The backbone must have a single image input.")
    name = name or f"{backbone.name}_transfer"
    inputs = keras.Input(backbone.inputs[0].shape[1:], name="image")
    x = InferenceMode(backbone, name="backbone")(inputs)
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation,
                                 name="predictions")(x)
    model = keras.Model(inputs, outputs, name=name)
    freeze_backbone(model)
    return model


def freeze_backbone(model):
    """Makes every layer of the model's backbone non-trainable (head phase)."""
    features.backbone_of(model).trainable = False


def unfreeze_stages(model, stages, *, bn="frozen"):
    """Makes the last stages of the backbone trainable; everything else stays frozen.

    Args:
        model: a transfer model (or a network built by keras_preact).
        stages: how many stages to unfreeze, counted from the last one ("conv4" on CIFAR
            nets, then "conv3", ...; the stem "conv1" is the final one), or a list of
            stage names.
        bn: "frozen" keeps the BN layers of those stages non-trainable; "affine" trains
            their gamma and beta. Moving statistics never change (module docstring).

    Returns:
        The names of the unfrozen stages, in network order.

    Raises:
        ValueError: an unknown `bn`, too many stages or an unknown stage name.
    """
    if bn not in BN_MODES:
        raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}.")
    backbone = features.backbone_of(model)
    groups = features.stage_layers(backbone)
    order = list(groups)
    if isinstance(stages, int):
        if not 0 <= stages <= len(order):
            raise ValueError(f"Can unfreeze 0 to {len(order)} stages of {order}, got {stages}.")
        stages = order[len(order) - stages:]
    unknown = [s for s in stages if s not in groups]
    if unknown:
        raise ValueError(f"Unknown stage(s) {unknown}; the backbone has {order}.")
    chosen = {id(layer) for s in stages for layer in groups[s]}
    backbone.trainable = True
    for layer in backbone.layers:
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = id(layer) in chosen and (bn == "affine" or not is_bn)
    return [s for s in order if s in stages]


def _from_logits(model):
    activation = model.get_layer("predictions").activation
    return activation is keras.activations.linear


def _compile(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(from_logits=_from_logits(model)),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def _as_split(split, name, num_classes):
    if split is None or isinstance(split, _data.ArraySplit):
        if split is not None and split.num_classes != num_classes:
            raise ValueError(f"The {name} split has {split.num_classes} classes but the "
                             f"model's classifier has {num_classes}.")
        return split
    images, labels = split
    classes = tuple(str(i) for i in range(num_classes))
    return _data.ArraySplit(np.asarray(images), np.asarray(labels, np.int32), classes,
                            source=name)


@dataclasses.dataclass
class FineTuneResult:
    """What `finetune` returns.

    Attributes:
        model: the trained transfer model.
        history: per-epoch metrics of both phases: lists keyed "loss", "accuracy",
            "val_loss", "val_accuracy" (when validating), "epoch" and "phase"
            ("head" or "finetune").
        summary: JSON-ready results and settings (see `finetune`).
    """

    model: keras.Model
    history: dict
    summary: dict


def finetune(model, train, validation=None, *, preprocessing, head_epochs=5,
             finetune_epochs=0, unfreeze=1, head_learning_rate=1e-3,
             finetune_learning_rate=1e-4, batch_size=64, augment="cifar", bn="frozen",
             seed=0, callbacks=None, verbose="auto"):
    """Trains a transfer model: the head on a frozen backbone, then optionally the last
    stages at a lower learning rate (module docstring).

    Args:
        model: a model from `build_transfer_model`.
        train: a `keras_preact.training.data.ArraySplit` of uint8 images, or `(images, labels)`
            with images uint8 (N, H, W, 3) on the 0-255 scale and integer labels.
        validation: the same for validation, or None.
        preprocessing: the normalisation the backbone was trained with (anything
            `keras_preact.pretrained.preprocessing.get_preprocessing` takes; see `resolve_preprocessing`).
        head_epochs: epochs of the head phase.
        finetune_epochs: epochs with the last `unfreeze` stages trainable (0 skips it).
        unfreeze: number (or names) of stages to unfreeze, as for `unfreeze_stages`.
        head_learning_rate: Adam learning rate of the head phase.
        finetune_learning_rate: Adam learning rate of the fine-tuning phase (lower, so
            the pretrained filters move little).
        batch_size: batch size (capped at the number of training images).
        augment: "cifar" (the paper's 4-pixel pad, random crop and flip) or "none".
        bn: "frozen" or "affine", as for `unfreeze_stages`.
        seed: seed of the data order and augmentation.
        callbacks: extra Keras callbacks for both phases.
        verbose: `fit` verbosity (progress bars with "auto" or 1).

    Returns:
        A `FineTuneResult`; its summary has "train_accuracy" (last epoch, augmented),
        "validation_accuracy"/"validation_loss" (final, or None), "epochs",
        "head"/"finetune" settings, "unfrozen_stages", "bn", "preprocessing" and
        "wall_time_s".
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}.")
    if bn not in BN_MODES:
        raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}.")
    start = time.perf_counter()
    num_classes = model.output_shape[-1]
    train = _as_split(train, "train", num_classes)
    validation = _as_split(validation, "validation", num_classes)
    pre = get_preprocessing(preprocessing, presets=True)
    batch_size = min(batch_size, len(train))
    validation_data = None
    if validation is not None:
        validation_data = (pre.apply(validation.images),
                           _pipelines.one_hot(validation.labels, num_classes))

    history = {"epoch": [], "phase": []}

    def run_phase(phase, epochs, first_epoch):
        batches = _pipelines.ArrayTrainBatches(train, batch_size=batch_size,
                                               normalization=pre, seed=seed,
                                               initial_epoch=first_epoch, augment=augment)
        fitted = model.fit(iter(batches), steps_per_epoch=batches.steps_per_epoch,
                           epochs=first_epoch + epochs, initial_epoch=first_epoch,
                           shuffle=False,  # ArrayTrainBatches shuffles, by (seed, epoch)
                           validation_data=validation_data,
                           validation_batch_size=batch_size,
                           callbacks=list(callbacks or ()), verbose=verbose)
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        history["epoch"].extend(range(first_epoch + 1, first_epoch + epochs + 1))
        history["phase"].extend([phase] * epochs)

    freeze_backbone(model)
    _compile(model, head_learning_rate)
    if head_epochs:
        run_phase("head", head_epochs, 0)
    unfrozen = []
    if finetune_epochs:
        unfrozen = unfreeze_stages(model, unfreeze, bn=bn)
        _compile(model, finetune_learning_rate)
        run_phase("finetune", finetune_epochs, head_epochs)

    val_loss = val_accuracy = None
    if validation_data is not None:
        scores = model.evaluate(*validation_data, batch_size=batch_size, verbose=0,
                                return_dict=True)
        val_loss, val_accuracy = float(scores["loss"]), float(scores["accuracy"])
    train_accuracy = history["accuracy"][-1] if history.get("accuracy") else None
    summary = {
        "train_accuracy": train_accuracy,
        "validation_accuracy": val_accuracy,
        "validation_loss": val_loss,
        "epochs": head_epochs + finetune_epochs,
        "head": {"epochs": head_epochs, "learning_rate": head_learning_rate},
        "finetune": {"epochs": finetune_epochs, "learning_rate": finetune_learning_rate},
        "unfrozen_stages": unfrozen,
        "bn": bn,
        "batch_size": batch_size,
        "augment": augment,
        "seed": seed,
        "num_train": len(train),
        "num_validation": 0 if validation is None else len(validation),
        "num_classes": num_classes,
        "class_names": list(train.class_names),
        "image_size": list(model.input_shape[1:3]),
        "preprocessing": pre.to_dict(),
        "wall_time_s": round(time.perf_counter() - start, 3),
    }
    return FineTuneResult(model, history, summary)


def _validation_split(data_dir, split):
    if split != "auto":
        return split
    return next((s for s in VALIDATION_SPLITS if (pathlib.Path(data_dir) / s).is_dir()), None)


def finetune_folder(model_name, data_dir, *, weights=None, preprocessing=None,
                    image_size=None, train_split="train", validation_split="auto",
                    dropout=0.0, classifier_activation="softmax", limit=None,
                    cache_dir=None, output_dir=None, seed=0, command=None, **kwargs):
    """Fine-tunes a zoo network on a folder of images laid out `split/class/*.jpg`.

    Builds `create_model(model_name, weights=weights, include_top=False,
    pooling="avg")` at the fine-tuning size, attaches a new classifier for the folder's
    classes (`build_transfer_model`) and runs `finetune`.

    Args:
        model_name: a name from `keras_preact.list_models()`, e.g. "preact_resnet164".
        data_dir: the folder; classes are the sorted subfolders of the training split.
        weights: the backbone's pretrained weights (tag, "hf://..." or a local path).
        preprocessing: the input normalisation; default the weights' metadata (required
            when it has none, see `resolve_preprocessing`).
        image_size: square side images are resized to; default `default_image_size`.
        train_split: the training subfolder.
        validation_split: the validation subfolder, "auto" (the first of "val",
            "validation", "test" that exists) or None.
        dropout: dropout before the new classifier.
        classifier_activation: "softmax" or None.
        limit: use at most this many images per split (a seeded subset; quick runs).
        cache_dir: `.npy` cache for the decoded images (`keras_preact.training.data`).
        output_dir: if given, writes `model.keras`, `history.json`, `summary.json` and
            `model.json` (`keras_preact.pretrained.metadata`).
        seed: seeds the head's initialisation, the subset, the data order and the
            augmentation.
        command: the command line, recorded in the summary.
        **kwargs: `finetune` arguments (epochs, learning rates, `unfreeze`, `bn`, ...).

    Returns:
        A `FineTuneResult`; its summary also has "model", "weights", "data", the splits,
        "command", "backend", "keras_version" and the written paths.
    """
    start = time.perf_counter()
    pre = resolve_preprocessing(weights, model_name, preprocessing)
    size = int(image_size or default_image_size(model_name, weights))
    train = _data.load_folder_arrays(data_dir, train_split, image_size=size, limit=limit,
                                     seed=seed, cache_dir=cache_dir)
    validation_split = _validation_split(data_dir, validation_split)
    validation = None
    if validation_split is not None:
        validation = _data.load_folder_arrays(
            data_dir, validation_split, image_size=size, class_names=train.class_names,
            limit=limit, seed=seed, cache_dir=cache_dir)
    keras.utils.set_random_seed(seed)
    backbone = create_model(model_name, weights=weights, include_top=False,
                            pooling="avg", input_shape=(size, size, 3))
    model = build_transfer_model(backbone, train.num_classes, dropout=dropout,
                                 classifier_activation=classifier_activation,
                                 name=f"{model_name}_transfer")
    result = finetune(model, train, validation, preprocessing=pre, seed=seed, **kwargs)
    summary = {
        "model": model_name,
        "weights": None if weights is None else str(weights),
        "data": os.path.abspath(data_dir),
        "train_split": train_split,
        "validation_split": validation_split,
        "skipped_images": train.skipped + (validation.skipped if validation else 0),
        "dropout": dropout,
        **result.summary,
        "wall_time_s": round(time.perf_counter() - start, 3),
        "command": command,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
    }
    if output_dir is not None:
        out = pathlib.Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        summary["model_path"] = str(out / "model.keras")
        summary["history_path"] = str(out / "history.json")
        result.model.save(summary["model_path"])
        (out / "history.json").write_text(json.dumps(result.history, indent=1))
    summary = _finite(summary)
    if output_dir is not None:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        record = metadata.run_record(
            {}, classes=train.num_classes, image_size=size, class_names=train.class_names,
            preprocessing=pre, model=result.model.name, backbone=model_name,
            weights=summary["weights"])
        (out / metadata.RUN_FILENAME).write_text(json.dumps(record, indent=1))
    result.summary = summary
    return result


def _finite(value):
    """JSON has no NaN: a diverged run's metrics are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


__all__ = ["AUGMENTATIONS", "BN_MODES", "FineTuneResult", "InferenceMode", "build_transfer_model",
           "default_image_size", "finetune",
           "finetune_folder", "freeze_backbone", "resolve_preprocessing",
           "unfreeze_stages", "weights_metadata"]
