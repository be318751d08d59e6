"""Publishing a trained weight set to the Hugging Face Hub.

A release is refused unless the weights file has the sha256 and size of its registry
entry and the measured metrics match the entry's: what the registry promises is what
gets published. Publishing then

1. writes the repo's folder, `weights/<name>/` by default (the offline copy of a source
   checkout): the weights file, `keras_preact.json` (the entry, which
   `weights="hf://..."` reads), Keras' `config.json` + `metadata.json` (so that
   `keras.saving.load_model("hf://owner/repo")` works too), `reference_outputs.json`
   (the logits on the package's sample images, `keras_preact.pretrained.samples`), the evaluation
   report, training curves and per-epoch history when given, and a model card `README.md` with
   `model-index` results;
2. creates the repo (if needed), uploads the folder in one commit, tags the commit;
3. returns that commit, which the registry entry must pin as its `revision`.

The token comes from the usual Hugging Face sources (`HF_TOKEN`, `hf auth login`) and is
never printed.
"""

import dataclasses
import json
import math
import os
import pathlib
import shutil

from keras_preact.pretrained import hub, loading as pretrained
from keras_preact.pretrained import registry as _registry
from keras_preact.errors import PublishError, WeightsError
from keras_preact.models import zoo
from keras_preact.models.spec import ModelSpec
from keras_preact.normalization import Preprocessing
from keras_preact.pretrained.registry import Metric
from keras_preact.version import __version__

PAPER_TITLE = "Identity Mappings in Deep Residual Networks"
PAPER_CITATION = (
    "Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. Identity Mappings in Deep "
    "Residual Networks. ECCV 2016. arXiv:1603.05027"
)
PAPER_URL = "https://arxiv.org/abs/1603.05027"
CARD_TAGS = ("keras-preact", "resnet", "pre-activation", "image-classification")
DATASETS = {
    "cifar10": ("CIFAR-10", "uoft-cs/cifar10"),
    "cifar100": ("CIFAR-100", "uoft-cs/cifar100"),
    "imagenet": ("ImageNet-1k", "ILSVRC/imagenet-1k"),
}
METRIC_TOLERANCE = 0.01
CURVES_FILENAME = "curves.png"
CONFUSION_FILENAME = "confusion_matrix.png"
EVALUATION_FILENAME = "evaluation.json"
TRAINING_FILENAME = "training.json"
DEPLOYMENT_FILENAME = "deployment.json"
HISTORY_FILENAME = "history.json"


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """What a publication produced.

    Attributes:
        repo_id: the Hub repo.
        commit: the 40-hex commit holding the files; pin it as the entry's `revision`.
        tag: the release tag pointing at that commit.
        folder: the local folder that was uploaded.
        url: the commit's URL.
    """

    repo_id: str
    commit: str
    tag: str | None
    folder: str
    url: str


def read_metrics(path, *, dataset=None, split=None):
    """Measured metrics from a JSON file.

    Accepts one object or a list of objects (or {"metrics": [...]}) with `dataset`,
    `split` and either `top1_error` (percent) or `accuracy` (fraction in [0, 1]), and
    optionally `top5_error` (percent). The `dataset`/`split` arguments, when given,
    name the measurement instead of the file (e.g. split "test-jpeg-q75" for the test
    split of a JPEG copy). The JSON written by `keras-preact evaluate` works as is (its
    dataset is read from `"data": "tfds:<dataset>/<split>"`).

    Returns:
        A tuple of `Metric`.

    Raises:
        PublishError: the file cannot be read or has no usable metric.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise PublishError(f"Cannot read measured metrics from {path}: {error}.") from error
    items = data.get("metrics", [data]) if isinstance(data, dict) else data
    metrics = []
    for item in items:
        source = str(item.get("data", ""))
        if source.startswith("tfds:"):
            source = source[len("tfds:"):].split("/")[0]
        else:
            source = None
        item_dataset = dataset or item.get("dataset") or source
        item_split = split or item.get("split")
        if "top1_error" in item:
            error = float(item["top1_error"])
        elif "accuracy" in item:
            error = 100.0 * (1.0 - float(item["accuracy"]))
        else:
            continue
        if not item_dataset or not item_split:
            raise PublishError(f"{path}: a metric lacks 'dataset' or 'split': {item}.")
        if item.get("limit"):
            raise PublishError(f"{path} was measured on a subset of {item['limit']} images "
                               "(evaluate --limit); a registered figure is of the whole split: "
                               "evaluate again without --limit.")
        top5 = item.get("top5_error")
        metrics.append(Metric(item_dataset, item_split, round(error, 4),
                              None if top5 is None else round(float(top5), 4)))
    if not metrics:
        raise PublishError(f"{path} holds no 'top1_error' or 'accuracy' to check.")
    return tuple(metrics)


def draft_entry(weights_file, measured, training, *, tag, repo_id=None, recipe=None,
                paper=None, description="", rationale="", license="apache-2.0"):
    """A registry entry for freshly trained weights, not on the Hub yet
    (`revision=UNPUBLISHED`), from what the training run and the evaluation recorded.

    Args:
        weights_file: the trained `.weights.h5` file (sha256 and size are taken from it).
        measured: the `Metric`s measured on it (`read_metrics`).
        training: the run's `summary.json` (a dict): model, parameters, classes, input
            shape, normalisation and command come from it.
        tag: the weights' tag, e.g. "cifar10".
        repo_id: the Hub repo it will be published to; default
            "keras-preact/<model>-<tag>" with dashes.
        recipe: the training command to record; default the run's own command line.
        paper: the paper's figure for the same network (`PaperResult`), if any.
        description: one or two sentences for the model card.
        rationale: why this recipe and budget, for the model card.
        license: Hub license id of the weights.

    Returns:
        A `WeightsEntry`; `entry_source(entry)` prints it for `registry.py`.

    Raises:
        PublishError: the summary lacks what an entry needs, or the normalisation is not
            a per-channel mean/std.
    """
    try:
        build, norm = training["build"], training["data"]["normalization"]
        architecture, num_params = training["model"], int(training["parameters"])
    except (KeyError, TypeError) as error:
        raise PublishError(f"The training summary lacks {error}: pass the summary.json "
                           "that `keras-preact train` wrote.") from None
    try:
        pre = Preprocessing.from_dict(norm)
    except ValueError as error:
        raise PublishError(f"Cannot record the normalisation {norm}: {error}") from None
    if pre.mean is None or pre.std is None:
        raise PublishError(f"Cannot record the normalisation {norm}: expected a per-channel "
                           "mean and std.")
    recipe = recipe or training.get("command")
    if not recipe:
        raise PublishError("The training summary records no training command (a snapshot of "
                           "a run whose checkpoints predate it): pass the command with "
                           "--recipe.")
    classes = int(build["classes"])
    dataset = measured[0].dataset if measured else tag
    shipped = _registry.labels_for(dataset) if dataset in ("cifar10", "cifar100") else None
    label_names = shipped if shipped and len(shipped) == classes else \
        tuple(f"class_{i}" for i in range(classes))
    return _registry.WeightsEntry(
        architecture=architecture, tag=tag,
        repo_id=repo_id or f"keras-preact/{architecture.replace('_', '-')}-{tag}",
        revision=_registry.UNPUBLISHED, filename="model.weights.h5",
        sha256=hub.sha256sum(weights_file), file_size=os.path.getsize(weights_file),
        num_params=num_params, num_classes=classes, label_names=label_names,
        input_size=tuple(build["input_shape"][:2]),
        preprocessing=dataclasses.replace(pre, name=None),
        model_args=ModelSpec.from_dict(build).entry_args(),
        metrics=tuple(measured), recipe=recipe, paper=paper,
        dataset=DATASETS.get(dataset, (None, ""))[1], license=license,
        description=description, rationale=rationale,
    )


def entry_source(entry):
    """Python source of `entry` as it is written in `keras_preact/pretrained/registry.py`."""
    def metric(m):
        top5 = "" if m.top5_error is None else f", top5_error={m.top5_error!r}"
        return f"Metric({m.dataset!r}, {m.split!r}, {m.top1_error!r}{top5})"

    pre = entry.preprocessing
    dataset = entry.metrics[0].dataset if entry.metrics else None
    shipped = dataset in ("cifar10", "cifar100") and \
        entry.label_names == _registry.labels_for(dataset)
    fields = {
        "architecture": repr(entry.architecture), "tag": repr(entry.tag),
        "repo_id": repr(entry.repo_id),
        "revision": repr(entry.revision) if entry.published else "UNPUBLISHED",
        "filename": repr(entry.filename), "sha256": repr(entry.sha256),
        "file_size": repr(entry.file_size), "num_params": repr(entry.num_params),
        "num_classes": repr(entry.num_classes),
        "label_names": f"labels_for({dataset!r})" if shipped else repr(entry.label_names),
        "input_size": repr(entry.input_size),
        "preprocessing": f"Preprocessing(scale={pre.scale!r}, mean={pre.mean!r}, "
                         f"std={pre.std!r})",
        "metrics": "(" + ", ".join(metric(m) for m in entry.metrics) + ",)",
        "recipe": repr(entry.recipe),
        "paper": "None" if entry.paper is None else
                 f"PaperResult({entry.paper.source!r}, {entry.paper.top1_error!r})",
        "dataset": repr(entry.dataset), "license": repr(entry.license),
        "description": repr(entry.description),
    }
    if entry.rationale:
        fields["rationale"] = repr(entry.rationale)
    if entry.model_args:
        fields["model_args"] = repr(dict(entry.model_args))
    # The registry's shared fields of the CIFAR-10 JPEG sets, as its entries write them.
    shared = _registry._CIFAR10_JPEG
    if all(getattr(entry, key) == value for key, value in shared.items()):
        lines = ["    **_CIFAR10_JPEG,"]
    else:
        lines, shared = [], {}
    lines += [f"    {key}={value}," for key, value in fields.items() if key not in shared]
    body = "\n".join(lines)
    return f"WeightsEntry(\n{body}\n)"


def check_release(entry, weights_file, measured, *, tolerance=METRIC_TOLERANCE, model=None):
    """What stops `weights_file` with `measured` metrics from being published as `entry`.

    Args:
        entry: the registry `WeightsEntry`.
        weights_file: the trained `.weights.h5` file.
        measured: `Metric`s measured on that file.
        tolerance: allowed |measured - registered| top-1 error, in percentage points.
        model: the built network (`registry.build_model(entry)`), to check the entry's
            counts and the file's shapes against it; None skips those checks.

    Returns:
        A list of problems; empty means the release may go ahead.
    """
    problems = _registry.validate_entry(entry, model, pinned=False)
    if not os.path.isfile(weights_file):
        return problems + [f"weights file {weights_file} does not exist"]
    if model is not None:
        try:
            pretrained.check_weights_file(model, weights_file)
        except WeightsError as error:
            problems.append(str(error))
    digest = hub.sha256sum(weights_file)
    if digest != entry.sha256:
        problems.append(f"sha256 of {weights_file} is {digest}, the registry says {entry.sha256}")
    size = os.path.getsize(weights_file)
    if size != entry.file_size:
        problems.append(f"{weights_file} has {size} bytes, the registry says {entry.file_size}")
    for registered in entry.metrics:
        found = [m for m in measured
                 if (m.dataset, m.split) == (registered.dataset, registered.split)]
        if not found:
            problems.append(
                f"no measured top-1 error on {registered.dataset}/{registered.split}"
            )
        elif not math.isclose(found[0].top1_error, registered.top1_error,
                              abs_tol=tolerance):
            problems.append(
                f"measured top-1 error on {registered.dataset}/{registered.split} is "
                f"{found[0].top1_error}%, the registry says {registered.top1_error}%"
            )
    return problems


def model_card(entry, *, evaluation=None, curves=None, training=None, confusion=None,
               deployment=None, history=None):
    """The model card (`huggingface_hub.ModelCard`) of a weight set.

    Args:
        entry: the `WeightsEntry`.
        evaluation: the `keras-preact evaluate` report of the weights (per-class
            accuracy, command, hardware), or None.
        curves: file name of the training-curve image in the repo, or None.
        training: the `summary.json` of the `keras-preact train` run that made the
            weights (epochs, wall time, hardware), or None.
        confusion: file name of the confusion-matrix image in the repo, or None.
        deployment: the JSON of `benchmarks/deploy.py` for the weights (exported
            artifacts measured on the test split), or None.
        history: file name of the run's per-epoch history in the repo, or None.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    dataset_name, dataset_id = DATASETS.get(entry.tag.split("_")[0], (entry.tag, entry.tag))
    dataset_id = entry.dataset or dataset_id
    results = []
    for metric in entry.metrics:
        name = DATASETS.get(metric.dataset, (metric.dataset,))[0]
        for metric_type, metric_name, value in (
            ("accuracy", "Top-1 accuracy (%)", round(100.0 - metric.top1_error, 4)),
            ("error_rate", "Top-1 error (%)", metric.top1_error),
        ):
            results.append(EvalResult(
                task_type="image-classification", task_name="Image Classification",
                dataset_type=DATASETS.get(metric.dataset, (None, metric.dataset))[1],
                dataset_name=name, dataset_split=metric.split,
                metric_type=metric_type, metric_name=metric_name, metric_value=value,
            ))
    data = ModelCardData(
        library_name="keras",
        pipeline_tag="image-classification",
        license=entry.license,
        tags=[*CARD_TAGS, entry.architecture, entry.tag],
        datasets=[dataset_id],
        metrics=["accuracy"],
        model_name=entry.name,
        eval_results=results,
    )
    body = (_card_body(entry, dataset_name) + _card_training(training)
            + _card_measurement(evaluation, curves, confusion, history)
            + _card_deployment(entry, deployment))
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def _card_body(entry, dataset_name):
    pre = entry.preprocessing
    if entry.model_args:
        args = ", ".join(f"{k}={v!r}" for k, v in entry.model_args.items())
        build = f"kp.build_resnet({args}, weights="
    elif entry_point := zoo.entry_point_name(entry.architecture):
        build = f"kp.{entry_point}(weights="
    else:
        build = f"kp.create_model({entry.architecture!r}, weights="
    rows = "\n".join(
        f"| {m.dataset} | {m.split} | {m.top1_error:.2f} | "
        + ("–" if m.top5_error is None else f"{m.top5_error:.2f}") + " |"
        + (f" {entry.paper.top1_error:.2f} ({entry.paper.source}) |" if entry.paper else " – |")
        for m in entry.metrics
    )
    return f"""# {entry.name}

{entry.description or f"{entry.architecture} trained on {dataset_name}."}
Weights for [keras_preact](https://pypi.org/project/keras_preact/), the Keras 3
implementation of He et al., [{PAPER_TITLE}]({PAPER_URL}) (ECCV 2016).

## Results

| dataset | split | top-1 error (%) | top-5 error (%) | paper, top-1 error (%) |
|---|---|---|---|---|
{rows}

## Usage

```python
import keras_preact as kp
from keras_preact import decode_predictions, preprocess_input

model = {build}"{entry.tag}")
# or, from this repo at a fixed commit:
# model = {build}"hf://{entry.repo_id}@<commit>")
# images: RGB in [0, 255], {entry.input_size[0]}x{entry.input_size[1]}
x = preprocess_input(images, weights="{entry.name}")
print(decode_predictions(model.predict(x), top=3, weights="{entry.name}"))
```

Preprocessing: `(x * {pre.scale!r} - mean) / std` with mean {pre.mean} and std {pre.std}.
Offline: `hf download {entry.repo_id} --revision <commit> --local-dir <folder>` on a
connected machine, then `weights="/path/to/<folder>"` (checked against its
`keras_preact.json`).

## Training

```
{entry.recipe}
```
{_card_rationale(entry)}
## Files

| file | bytes | sha256 |
|---|---|---|
| `{entry.filename}` | {entry.file_size} | `{entry.sha256}` |

`keras_preact.json` holds the full metadata; `config.json` and `metadata.json` make the
repo loadable with `keras.saving.load_model("hf://{entry.repo_id}")` once `keras_preact`
is imported.

## Citation

{PAPER_CITATION}. Parameters: {entry.num_params:,}. Classes: {entry.num_classes}.
"""


def _card_rationale(entry):
    return f"\n{entry.rationale}\n" if entry.rationale else ""


def _hardware(info):
    if not info:
        return ""
    return (f"{info.get('cpu', '?')} ({info.get('cpu_count', '?')} CPUs, devices "
            f"{info.get('devices') or 'default'}), Keras {info.get('keras', '?')} on "
            f"{info.get('keras_backend', '?')}")


def _card_training(training):
    if not training:
        return ""
    # A resumed run's wall_time_s is its last session's; train_time_s_total sums the
    # epoch times of all its sessions.
    total = training.get("train_time_s_total")
    hours, seconds = divmod(int(total or training.get("wall_time_s") or 0), 3600)
    span = "of training (epoch times summed over its sessions)" if total else "wall time"
    recipe = training.get("recipe") or {}
    sessions = _card_sessions(training.get("sessions"))
    if sessions:
        where = "the machines of the table below (last session's speed and precision)"
    else:
        where = _hardware(training.get("hardware")) or "an unrecorded machine"
    return f"""
## Training run

{training.get("epochs_completed", "?")} epochs ({training.get("iterations", "?"):,} iterations of
{recipe.get("batch_size", "?")} images), {hours} h {seconds // 60} min {span}, \
{training.get("images_per_second") or 0:.0f} training images/s, {training.get("dtype_policy", "?")},
on {where}; {_card_stop(training)}. The run's
`summary.json` ships as `{TRAINING_FILENAME}`.
{sessions}"""


def _card_sessions(sessions):
    """A table of the run's sessions when they differ in machine or precision, else ""."""
    sessions = sessions or []
    if len({(_hardware(s.get("hardware")), s.get("dtype_policy")) for s in sessions}) < 2:
        return ""
    rows = "\n".join(
        f"| {s['first_epoch']}-{s['last_epoch']} | "
        f"{_hardware(s.get('hardware')) or 'unrecorded'} | {s.get('dtype_policy') or '?'} | "
        f"{(s.get('train_seconds') or 0) / 3600:.1f} |" for s in sessions)
    return f"""
It was continued with `--resume` on other machines:

| epochs | machine | precision | hours of training |
|---|---|---|---|
{rows}
"""


def _kib(size):
    return "" if size is None else f"{size / 1024:.0f}"


def _card_deployment(entry, deployment):
    if not deployment:
        return ""
    rows = "\n".join(
        f"| {row['artifact']} | {row['top1_error']:.2f} | {row['top5_error']:.2f} | "
        f"{_kib(row['size_bytes'])} | {row['latency_ms']:.2f} |" for row in deployment["rows"])
    timing = deployment.get("latency") or {}
    cpu = (deployment.get("hardware") or {}).get("cpu", "an unrecorded CPU")
    return f"""
## Deployment

Exported with `keras-preact export --include-preprocessing` (raw uint8 RGB pixels in,
normalised in the graph) and each file measured in its own runtime on
`{deployment["data"]}` ({deployment["examples"]:,} images) with
`keras-preact evaluate --artifact` (`benchmarks/deploy.py`; `{DEPLOYMENT_FILENAME}`):

| network | top-1 error (%) | top-5 error (%) | size (KiB) | ms / image |
|---|---|---|---|---|
{rows}

Milliseconds per image at batch 1 on {cpu}, median of {timing.get("rounds", "?")} rounds of
{timing.get("images", "?")} images. int8 with the softmax output quantizes the probabilities
in steps of 1/256, so the small ones tie at 0: export with `--logits` when more than the top
class is read.

```bash
keras-preact export --model {entry.architecture} --weights {entry.tag} --include-preprocessing \\
    --quantization int8 --logits --representative-data train_images/ --output {entry.architecture}_int8.tflite
```
"""


def _card_stop(training):
    snapshot = training.get("snapshot")
    if training.get("status") == "snapshot" and snapshot:
        return (f"these are the weights of its checkpoint after epoch {snapshot['epoch']} of "
                f"{snapshot['planned_epochs']} (`keras-preact snapshot`)")
    return f"stopped: {training.get('status', '?')}"


def _card_measurement(evaluation, curves, confusion=None, history=None):
    parts = []
    if evaluation:
        per_class = evaluation.get("per_class_accuracy") or {}
        rows = "\n".join(f"| {name} | {value:.1f} |" for name, value in per_class.items()
                         if value is not None)
        where = _hardware(evaluation.get("hardware"))
        parts.append(f"""
## Evaluation

{evaluation.get("examples", "?"):,} images of `{evaluation.get("data", "?")}`, measured with

```
{evaluation.get("command", "?")}
```
""" + (f"\non {where}.\n" if where else "") + ("""
| class | top-1 accuracy (%) |
|---|---|
""" + rows + "\n" if rows else "") + _card_flip_tta(evaluation.get("flip_tta")))
    if confusion:
        parts.append(f"""
## Confusion matrix

Rows are the true classes, columns the predicted ones, in percent of each true class.

![confusion matrix]({confusion})
""")
    if curves or history:
        parts.append("\n## Training curves\n" + (
            f"\n![training curves]({curves})\n" if curves else "") + (
            f"\nThe run's figures of every epoch ship as `{history}`; `keras-preact compare` "
            "draws them\nbeside other runs (give it this folder).\n" if history else ""))
    return "".join(parts)


def _card_flip_tta(flip_tta):
    if not flip_tta:
        return ""
    return ("\nWith test-time flip averaging (each image and its mirror image, outputs "
            "averaged; measured in the same run, not the figure registered above): top-1 "
            f"error {flip_tta['top1_error']:.2f}%.\n")


def _reference_outputs(entry, weights_file):
    from keras_preact.deploy import prediction
    from keras_preact.pretrained import samples

    dataset = samples.entry_dataset(entry)
    try:
        samples.sample_images(dataset)
    except ValueError:
        return None
    model = prediction.logits_model(entry, weights_file)
    return samples.reference_outputs(model, entry, dataset)


def write_folder(entry, weights_file, folder, *, model=None, evaluation=None, curves=None,
                 training=None, confusion=None, deployment=None, history=None):
    """Writes the repo's files into `folder`.

    Args:
        entry: the `WeightsEntry`.
        weights_file: the `.weights.h5` file (copied unless already in place).
        folder: the destination, created if needed.
        model: the built network, for Keras' `config.json`/`metadata.json`; None builds
            it with `registry.build_model(entry)`.
        evaluation: the `keras-preact evaluate` report of the file (a dict), written as
            `evaluation.json` and summarised in the model card; None for none.
        curves: a training-curve image (`curves.png` of `keras-preact train`), copied as
            `curves.png` and shown in the model card; None for none.
        training: the training run's `summary.json` (a dict), written as
            `training.json` and summarised in the model card; None for none.
        confusion: a confusion-matrix image (`keras-preact evaluate --confusion-plot`),
            copied as `confusion_matrix.png` and shown in the model card; None for none.
        deployment: the JSON of `benchmarks/deploy.py` for these weights (a dict; its
            sha256, or without one its weights tag, must be the entry's), written as
            `deployment.json` and tabled in the model card; None for none.
        history: the training run's per-epoch rows (`history.json` of `keras-preact
            train`, a list of dicts with an "epoch"), written as `history.json`, from
            which `keras-preact compare` draws the run beside others; None for none.

    Returns:
        The folder, as a `pathlib.Path`.

    Raises:
        PublishError: `deployment` measured another network or weight set, or
            `history` is not one row per epoch of `training`.
    """
    import keras

    _check_history(history, training)

    if deployment and (deployment.get("model") != entry.architecture or (
            deployment.get("sha256") or entry.sha256) != entry.sha256 or (
            not deployment.get("sha256") and deployment.get("weights") != entry.tag)):
        raise PublishError(
            f"The deployment measurements are of {deployment.get('model')} with weights "
            f"{deployment.get('weights')!r} (sha256 {deployment.get('sha256')}), not of "
            f"{entry.name}: run benchmarks/deploy.py --model {entry.architecture} "
            "--weights <these weights>.")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / entry.filename
    if not target.exists() or not os.path.samefile(weights_file, target):
        shutil.copyfile(weights_file, target)
    metadata = entry.to_dict()
    metadata["revision"] = ""  # the commit being created; the registry pins it afterwards
    (folder / "keras_preact.json").write_text(json.dumps(metadata, indent=2) + "\n")
    model = model if model is not None else _registry.build_model(entry)
    config = keras.saving.serialize_keras_object(model)
    for key in ("compile_config", "build_config"):
        config.pop(key, None)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "metadata.json").write_text(json.dumps(
        {"keras_version": keras.__version__, "keras_preact_version": __version__}, indent=2
    ) + "\n")
    if evaluation:
        (folder / EVALUATION_FILENAME).write_text(json.dumps(evaluation, indent=2) + "\n")
    if curves:
        shutil.copyfile(curves, folder / CURVES_FILENAME)
    if confusion:
        shutil.copyfile(confusion, folder / CONFUSION_FILENAME)
    if training:
        (folder / TRAINING_FILENAME).write_text(json.dumps(training, indent=2) + "\n")
    if deployment:
        (folder / DEPLOYMENT_FILENAME).write_text(json.dumps(deployment, indent=2) + "\n")
    if history:
        (folder / HISTORY_FILENAME).write_text(json.dumps(history, indent=1) + "\n")
    from keras_preact.pretrained import samples

    reference = _reference_outputs(entry, target)
    if reference is not None:
        (folder / samples.REFERENCE_FILENAME).write_text(json.dumps(reference, indent=2) + "\n")
    model_card(entry, evaluation=evaluation, curves=CURVES_FILENAME if curves else None,
               training=training, confusion=CONFUSION_FILENAME if confusion else None,
               deployment=deployment, history=HISTORY_FILENAME if history else None,
               ).save(folder / "README.md")
    return folder


def _check_history(history, training):
    """Refuses a history that is not the run's epochs 1..n (n: the summary's epochs)."""
    if not history:
        return
    try:
        epochs = [row["epoch"] for row in history]
    except (TypeError, KeyError):
        raise PublishError("The history is not a list of per-epoch rows with an 'epoch' "
                           "(history.json of keras-preact train).") from None
    if epochs != list(range(1, len(epochs) + 1)):
        raise PublishError(f"The history's epochs are {epochs[:3]}...{epochs[-3:]}, not 1 to "
                           f"{len(epochs)} in order: pass the run's own history.json.")
    done = (training or {}).get("epochs_completed")  # a snapshot's: its checkpoint epoch
    if done is not None and done != len(epochs):
        raise PublishError(f"The history has {len(epochs)} epochs but the training summary "
                           f"{done}: pass the history.json of the same run.")


def publish(entry, weights_file, measured, *, repo_id=None, folder=None, tag=None,
            private=False, tolerance=METRIC_TOLERANCE, model=None, upload=True,
            evaluation=None, curves=None, training=None, confusion=None, deployment=None,
            history=None):
    """Checks, writes and uploads a weight set, then tags the commit.

    Args:
        entry: the `WeightsEntry` (or its registered name).
        weights_file: the trained `.weights.h5` file.
        measured: `Metric`s measured on that file (e.g. from `read_metrics`).
        repo_id: destination repo; defaults to `entry.repo_id`.
        folder: where to write the repo's files; defaults to `weights/<name>/`.
        tag: release tag; defaults to "v<keras_preact version>".
        private: create the repo private.
        tolerance: allowed top-1 error difference, in percentage points.
        model: the built network; None builds it with `registry.build_model(entry)`.
        upload: False checks and writes the folder only (a dry run).
        evaluation: the evaluation report to ship and summarise (see `write_folder`).
        curves: a training-curve image to ship (see `write_folder`).
        training: the training run's summary to ship (see `write_folder`).
        confusion: a confusion-matrix image to ship (see `write_folder`).
        deployment: measurements of the exported artifacts to ship (see `write_folder`).
        history: the training run's per-epoch rows to ship (see `write_folder`).

    Returns:
        A `PublishResult`; pin `result.commit` as the entry's `revision` (None in a dry
        run).

    Raises:
        PublishError: refused (sha256, size or metrics differ from the entry; no
            token) or failed on the Hub.
    """
    if isinstance(entry, str):
        entry = _registry.get_weights_entry(entry)
    model = model if model is not None else _registry.build_model(entry)
    problems = check_release(entry, weights_file, measured, tolerance=tolerance, model=model)
    if problems:
        raise PublishError(
            f"Refusing to publish {entry.name}:\n  - " + "\n  - ".join(problems)
            + "\nFix the registry entry or the weights/measurements, then retry."
        )
    import huggingface_hub as hf

    repo_id = repo_id or entry.repo_id
    if folder is None:
        if not hub.weights_root().is_dir():
            raise PublishError(
                f"No weights/ folder at {hub.weights_root()} (not a source checkout): pass "
                "the folder to write the repo's files to (--folder)."
            )
        folder = hub.weights_root() / entry.name
    if upload and not hf.get_token():
        raise PublishError(
            "No Hugging Face token: log in with `hf auth login` or set HF_TOKEN (with "
            "write access to the repo)."
        )
    write_folder(entry, weights_file, folder, model=model, evaluation=evaluation,
                 curves=curves, training=training, confusion=confusion,
                 deployment=deployment, history=history)
    if not upload:
        return PublishResult(repo_id, None, None, os.fspath(folder), "")
    tag = tag or f"v{__version__}"
    api = hf.HfApi(library_name=hub.LIBRARY_NAME, library_version=__version__)
    summary = ", ".join(f"{m.dataset}/{m.split} top-1 error {m.top1_error}%"
                        for m in entry.metrics)
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        repo_id = repo_url.repo_id
        info = api.upload_folder(
            repo_id=repo_id, folder_path=os.fspath(folder),
            commit_message=f"Publish {entry.name} ({summary})",
            commit_description=f"keras_preact {__version__}; sha256 {entry.sha256}",
        )
    except WeightsError:
        raise
    # The Hub client raises many unrelated types (HTTP errors, Xet transfer errors,
    # OS errors); every one of them means "not published".
    except Exception as error:
        hint = ""
        if "xet" in str(error).lower():
            hint = (" The endpoint does not seem to support Xet transfers; with a "
                    "mirror or self-hosted Hub set HF_HUB_DISABLE_XET=1.")
        raise PublishError(
            f"Publishing {entry.name} to {repo_id} failed: {type(error).__name__}: "
            f"{error}.{hint}"
        ) from error
    try:
        api.create_tag(repo_id, tag=tag, revision=info.oid,
                       tag_message=f"{entry.name} weights, keras_preact {__version__}")
    except Exception as error:
        raise PublishError(
            f"{entry.name} was uploaded to {repo_id} as commit {info.oid}, but tagging it "
            f"{tag!r} failed: {type(error).__name__}: {error}. Pin that commit anyway, and "
            "tag it by hand or publish with another --tag."
        ) from error
    return PublishResult(repo_id, info.oid, tag, os.fspath(folder), info.commit_url)
