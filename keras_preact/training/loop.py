"""Training a zoo network with a recipe, on any Keras backend, resumably.

`train(TrainConfig(...))` loads the data (`keras_preact.training.data`), resolves the recipe
(`keras_preact.training.recipes`) and the distribution (`keras_preact.training.distribute`), then builds,
compiles and fits inside the distribution scope, checkpointing every epoch
(`keras_preact.training.checkpointing`), and finally evaluates on the held-out split and writes
its results into the output folder:

    checkpoint/            resumable state (see `Checkpoint`)
    model.weights.h5       final weights (load with `build_resnet(..., weights=path)`)
    model.json             how to rebuild the model and feed it (normalisation, classes)
    history.json/.csv      one row per epoch
    summary.json           final test error, speed, hardware (per session), command, git
    curves.png             loss / error / learning-rate curves (needs matplotlib)
    tensorboard/           TensorBoard logs (TensorFlow backend with tensorboard installed)

The model is trained on logits (`classifier_activation=None`, cross-entropy with
`from_logits=True`, optional label smoothing); its weights are those of the default
softmax model. Labels are one-hot in both pipelines.
"""

import dataclasses
import datetime
import importlib.util
import json
import os
import pathlib
import random
import shutil
import sys
import tempfile
import time
import warnings

import keras
import numpy as np

from keras_preact.training import callbacks as run_callbacks
from keras_preact.training import data as data_lib
from keras_preact.training import distribute, evaluation, pipelines, recipes, reporting
from keras_preact import runtime
from keras_preact.training.checkpointing import (Checkpoint, EpochCheckpoint, run_sessions,
                                                 save_model_weights)
from keras_preact.pretrained.metadata import RUN_FILENAME, run_record
from keras_preact.models.spec import MODEL_FIELDS, ModelSpec

# Fields that may differ between a run and its --resume; all others must match.
RUNTIME_FIELDS = ("resume", "time_budget", "strategy", "devices", "verbose", "workers",
                  "steps_per_execution", "tensorboard", "output", "coordinator",
                  "num_processes", "process_id")
PIPELINES = ("auto", "tf", "numpy")
AUTO_EPOCHS_CAP = 10_000  # upper bound handed to fit() while --epochs auto plans


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on; `commands/train.py` maps flags onto it.

    Model: `model` (a zoo name such as "preact_resnet164") or `depth` with `family`,
    `block`, `placement`, `shortcut`, `downsample`, `stride_at` (None: the builder's
    default) and `model_options` (shortcut options such as `gate_bias_init`);
    `init_weights` starts from a weights path or tag.

    Data: `data` (a tensorflow-datasets name or a `split/class/*.jpg` folder),
    `data_dir`/`download` (tensorflow-datasets), `train_split`, `eval_split` (default:
    test or validation), `image_size`, `normalization` ("auto", "cifar10", "cifar100",
    "imagenet" or "computed" from the training images), `limit_train`/`limit_test`
    (seeded subsets for quick runs), `cache_dir` (`.npy` cache of decoded folders),
    `pipeline` ("auto": tf.data on TensorFlow, numpy elsewhere).

    Recipe: `recipe` ("paper" or "fast") and `overrides` (any `Recipe` field;
    `epochs="auto"` with a `time_budget` fits a cosine / one-cycle schedule to the
    budget, planned during the warm-up epochs, see `callbacks.BudgetPlanner`).

    Runtime: `seed`, `strategy`/`devices`/`sync_bn` (`distribute.resolve_distribution`;
    "multihost" also takes `coordinator`, `num_processes`, `process_id`),
    `resume`, `time_budget` (seconds from the start of `train`), `steps_per_epoch` (cap,
    for dry runs), `steps_per_execution`, `eval_every` (validate every that many epochs;
    0: only at the end), `workers` (numpy pipeline threads), `verbose` (Keras),
    `tensorboard`.
    """

    output: str = "runs/train"
    model: str = None
    depth: int = None
    family: str = None
    block: str = None
    placement: str = None
    shortcut: str = None
    downsample: str = None
    stride_at: str = None
    model_options: dict = dataclasses.field(default_factory=dict)
    init_weights: str = None
    data: str = "cifar10"
    data_dir: str = None
    download: bool = False
    train_split: str = "train"
    eval_split: str = None
    image_size: int = None
    normalization: str = "auto"
    limit_train: int = None
    limit_test: int = None
    cache_dir: str = None
    pipeline: str = "auto"
    recipe: str = "paper"
    overrides: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    strategy: str = "default"
    devices: list = None
    sync_bn: bool = False
    resume: bool = False
    time_budget: float = None
    steps_per_epoch: int = None
    steps_per_execution: int = 1
    eval_every: int = 1
    workers: int = None
    verbose: object = "auto"
    tensorboard: bool = True
    coordinator: str = None
    num_processes: int = None
    process_id: int = None

    def as_dict(self):
        """JSON-ready fields."""
        return dataclasses.asdict(self)

    @property
    def spec(self):
        """The network, as a `keras_preact.models.spec.ModelSpec`."""
        return ModelSpec(model=self.model, depth=self.depth, options=self.model_options,
                         **{k: getattr(self, k) for k in MODEL_FIELDS})


def _check_resume(config, saved):
    current = json.loads(json.dumps(config.as_dict()))  # tuples compare as saved lists
    differ = [k for k, v in current.items() if k not in RUNTIME_FIELDS and saved.get(k, v) != v]
    if differ:
        details = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {getattr(config, k)!r}"
                            for k in differ)
        raise ValueError(f"--resume with settings that differ from the checkpoint's: {details}. "
                         "Repeat the original command (time budget, strategy and devices "
                         "may change), or start a new --output.")


def _load_data(config, family):
    in_memory = family == "cifar"
    image_size = config.image_size or (None if in_memory else 224)
    common = dict(in_memory=in_memory, image_size=image_size, data_dir=config.data_dir,
                  download=config.download, seed=config.seed, cache_dir=config.cache_dir)
    train = data_lib.load_split(config.data, config.train_split, limit=config.limit_train,
                                **common)
    eval_split = config.eval_split or data_lib.default_eval_split(config.data)
    test = data_lib.load_split(config.data, eval_split, class_names=train.class_names,
                               limit=config.limit_test, **common)
    if image_size is None:
        image_size = train.image_size
    if config.normalization == "auto":
        normalization = data_lib.default_normalization(config.data, train.num_classes)
    elif config.normalization == "computed":
        if not isinstance(train, data_lib.ArraySplit):
            raise ValueError("normalization='computed' needs an in-memory (CIFAR-size) split.")
        normalization = data_lib.compute_normalization(train.images)
    else:
        normalization = data_lib.NORMALIZATIONS[config.normalization]
    return train, test, eval_split, image_size, normalization


def seed_everything(seed):
    """Seeds Python, NumPy and Keras (weights init, dropout) like
    `keras.utils.set_random_seed`, without importing TensorFlow on other backends."""
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    # keras.utils.set_random_seed imports TensorFlow whenever it is installed (to seed
    # it too); on the JAX path that import must not happen, so set Keras' seed directly.
    random.seed(seed)
    np.random.seed(seed)
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils
    except ImportError:
        return
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)


def _mixed_precision(choice):
    if choice == "auto":
        choice = "bf16" if distribute.supports_bfloat16() else "off"
    return {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[choice]


def _precision_change(sessions, policy):
    """A note when a resumed run trains in another precision than its last session did
    (`--mixed-precision auto` picks per machine); None otherwise."""
    before = sessions[-1].get("dtype_policy") if sessions else None
    if before is None or before == policy:
        return None
    last = sessions[-1]["last_epoch"]
    return (f"this session trains in {policy}, epoch {last} was trained in {before} (another "
            "machine, or another --mixed-precision). Both keep float32 weights, so the run "
            "goes on; summary.json's sessions record which epochs ran how.")


def _augmentation(family):
    """The training augmentation of a model family: the paper's CIFAR pad-crop-flip, or
    ImageNet's random-resized crops."""
    return "cifar" if family == "cifar" else "imagenet"


def _pipelines(config, pipeline, train, test, recipe, normalization, image_size, family,
               initial_epoch, epochs, dist):
    augment = _augmentation(family)
    cap = config.steps_per_epoch
    shard = None
    if dist.process_count > 1 and dist.backend == "tensorflow":
        if pipeline != "tf":
            raise ValueError("--strategy multiworker shards tf.data pipelines over the "
                             "workers: drop --pipeline numpy.")
    elif dist.process_count > 1:
        if pipeline == "tf":
            raise ValueError("--strategy multihost feeds the numpy pipeline (JAX backend).")
        shard = dist.shard(recipe.batch_size)
    if pipeline == "tf":
        train_data, steps = pipelines.tf_train_dataset(
            train, batch_size=recipe.batch_size, normalization=normalization, seed=config.seed,
            initial_epoch=initial_epoch, epochs=epochs, augment=augment,
            image_size=image_size, steps_per_epoch=cap, cutout=recipe.cutout)
        eval_data = pipelines.tf_eval_dataset(test, batch_size=recipe.batch_size,
                                             normalization=normalization, image_size=image_size)
        return train_data, steps, eval_data
    if not isinstance(train, data_lib.ArraySplit):
        raise ValueError("ImageNet-size data streams through tf.data only (TensorFlow "
                         "backend); the numpy pipeline holds CIFAR-size images in memory.")
    batches = pipelines.ArrayTrainBatches(
        train, batch_size=recipe.batch_size, normalization=normalization, seed=config.seed,
        initial_epoch=initial_epoch, augment=augment, steps_per_epoch=cap, shard=shard,
        cutout=recipe.cutout,
        workers=config.workers or min(8, max(2, (os.cpu_count() or 2) // 2)))
    eval_data = pipelines.ArrayEvalBatches(test, batch_size=recipe.batch_size,
                                          normalization=normalization, shard=shard)
    return iter(batches), batches.steps_per_epoch, eval_data


def _callbacks(config, output, guard, runlog, start, checkpoint, state_fn, dist, notes,
               planner_args):
    budget = planner = None
    if config.time_budget:
        budget = run_callbacks.TimeBudget(config.time_budget, start,
                                          agree=dist.agree if dist.process_count > 1 else None)
    if planner_args is not None:
        planner = run_callbacks.BudgetPlanner(budget, *planner_args)
    # The planner and the budget decide before the checkpoint records the plan.
    found = [guard, runlog] + [c for c in (budget, planner) if c is not None]
    if planner is not None and config.verbose != 0 and dist.is_chief:
        found.append(run_callbacks.PlannedProgress(planner))  # Keras then adds no bar
    found.append(EpochCheckpoint(checkpoint, state_fn, guard,
                                 dist.is_chief or dist.process_count > 1))
    if config.tensorboard:
        if keras.backend.backend() != "tensorflow":
            notes.append("TensorBoard logs skipped: the Keras TensorBoard callback needs "
                         "TensorFlow; history.csv/json and curves.png have the curves.")
        elif importlib.util.find_spec("tensorboard") is not None:
            found.append(keras.callbacks.TensorBoard(str(output / "tensorboard"),
                                                     write_graph=False))
        else:
            notes.append("TensorBoard logs skipped: the tensorboard package is not installed.")
    return found, budget, planner


def epoch_throughput(rows):
    """(median training images/s of the epochs after the first, the first's) of history
    rows; None where there are none."""
    values = [r["images_per_second"] for r in rows]
    steady = values[1:] or values
    return (float(np.median(steady)) if steady else None), (values[0] if values else None)


@dataclasses.dataclass
class RunPlan:
    """What `plan_run` settles before anything is written: the resumed state, data,
    recipe, distribution, precision and epoch counts of one run."""

    output: pathlib.Path
    checkpoint: Checkpoint
    state: dict | None
    backend: str
    pipeline: str
    spec: ModelSpec
    family: str
    dist: object
    recipe: object
    auto_epochs: bool
    train_split: object
    test_split: object
    eval_split: str
    image_size: int
    normalization: object
    epochs: int
    schedule: object
    initial_epoch: int
    policy: str
    notes: list

    @property
    def top_k(self):
        """The k of the top-k accuracy reported next to top-1: 5, or fewer classes."""
        return min(5, self.train_split.num_classes)


@dataclasses.dataclass
class FitOutcome:
    """What `fit_run` hands to the report."""

    status: str
    results: dict | None
    steps: int
    epochs: int
    guard: object
    runlog: object
    budget: object
    planner: object


def plan_run(config):
    """Checks `config` and settles the run (`RunPlan`) without writing anything, so that
    bad input leaves no output folder behind.

    Raises:
        ValueError: inconsistent settings, data smaller than one batch, a checkpoint
            without `resume`, or a resume with other settings.
    """
    output = pathlib.Path(config.output)
    checkpoint = Checkpoint(output)
    state = checkpoint.read_state()
    if state and not config.resume:
        raise ValueError(f"{output} already holds a checkpoint (epoch {state['epoch']}). "
                         "Pass --resume to continue it, or choose another --output.")
    if state and config.resume:
        _check_resume(config, state["config"])
    if config.pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {PIPELINES}, got {config.pipeline!r}.")
    backend = keras.backend.backend()
    pipeline = config.pipeline
    if pipeline == "auto":
        pipeline = "tf" if backend == "tensorflow" else "numpy"
    spec = config.spec
    family = spec.family_name()
    dist = distribute.resolve_distribution(
        config.strategy, config.devices, config.sync_bn,
        cluster={"coordinator": config.coordinator, "num_processes": config.num_processes,
                 "process_id": config.process_id})
    overrides = dict(config.overrides)
    auto_epochs = overrides.get("epochs") == "auto"
    if auto_epochs:
        del overrides["epochs"]
    recipe = recipes.get_recipe(config.recipe, family).override(**overrides)
    if auto_epochs and (not config.time_budget or recipe.schedule == "step"):
        raise ValueError("--epochs auto fits a cosine, one-cycle or constant schedule to "
                         "--time-budget: give a budget, and no step schedule.")
    if recipe.batch_size % dist.num_replicas:
        raise ValueError(f"The global batch {recipe.batch_size} does not split evenly over "
                         f"{dist.num_replicas} replicas.")
    pipelines.check_cutout(recipe.cutout, _augmentation(family))
    train_split, test_split, eval_split, image_size, normalization = _load_data(config, family)
    if len(train_split) < recipe.batch_size:
        raise ValueError(
            f"{len(train_split)} training images ({train_split.source}) are fewer than one "
            f"batch of {recipe.batch_size}: pass a smaller --batch-size (the learning rate "
            "scales with it from --reference-batch) or more images.")
    pipelines.check_cutout(recipe.cutout, _augmentation(family), image_size)
    steps_full = len(train_split) // recipe.batch_size
    steps_per_epoch = min(steps_full, config.steps_per_epoch or steps_full)
    notes = []
    advice = runtime.onednn_advice() if backend == "tensorflow" else None
    if advice:
        notes.append(advice)
        print(f"Note: {advice}", file=sys.stderr, flush=True)
    policy = _mixed_precision(recipe.mixed_precision)
    change = _precision_change(run_sessions(state), policy)
    if change:
        notes.append(change)
        print(f"Note: {change}", file=sys.stderr, flush=True)
    return RunPlan(
        output=output, checkpoint=checkpoint, state=state, backend=backend,
        pipeline=pipeline, spec=spec, family=family, dist=dist, recipe=recipe,
        auto_epochs=auto_epochs, train_split=train_split, test_split=test_split,
        eval_split=eval_split, image_size=image_size, normalization=normalization,
        epochs=AUTO_EPOCHS_CAP if auto_epochs else recipe.fit_epochs(len(train_split),
                                                                     steps_per_epoch),
        schedule=recipe.learning_rate_schedule(len(train_split), steps_per_epoch),
        initial_epoch=state["epoch"] if state else 0,
        policy=policy, notes=notes)


def build_run_model(config, plan):
    """Builds and compiles the network of `plan` (inside the distribution scope), and
    restores the checkpoint when resuming. Returns the model."""
    recipe, split = plan.recipe, plan.train_split
    model = plan.spec.build(
        classes=split.num_classes,
        input_shape=(plan.image_size, plan.image_size, 3),
        classifier_activation=None, weights=config.init_weights,
        kernel_regularizer=keras.regularizers.L2(recipe.weight_decay / 2)
        if recipe.weight_decay else None,
        synchronized_bn=config.sync_bn)
    optimizer = keras.optimizers.SGD(learning_rate=plan.schedule, momentum=recipe.momentum,
                                     nesterov=recipe.nesterov)
    k = plan.top_k
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=recipe.label_smoothing,
            reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                          keras.metrics.TopKCategoricalAccuracy(k, name=f"top{k}")],
        steps_per_execution=config.steps_per_execution)
    model.optimizer.build(model.trainable_variables)
    if plan.auto_epochs:
        plan.schedule.make_total_adjustable(model.optimizer)
    if plan.state:
        plan.checkpoint.restore(model)
        print(f"Resumed {plan.output} after epoch {plan.initial_epoch} "
              f"(iteration {int(keras.ops.convert_to_numpy(model.optimizer.iterations))}).",
              flush=True)
    return model


def fit_run(config, plan, model, writer, start, extra_callbacks=()):
    """Fits `model` from the plan's epoch on, checkpointing into `writer` every epoch,
    then (unless it diverged or was interrupted) saves the final weights and evaluates.

    Returns:
        A `FitOutcome`.
    """
    state, dist, recipe = plan.state, plan.dist, plan.recipe
    train_data, steps, eval_data = _pipelines(
        config, plan.pipeline, plan.train_split, plan.test_split, recipe, plan.normalization,
        plan.image_size, plan.family, plan.initial_epoch, plan.epochs, dist)
    guard = run_callbacks.NanGuard()
    runlog = run_callbacks.RunLog(plan.output, steps * recipe.batch_size,
                                  state["history"] if state else None, enabled=dist.is_chief)
    seconds_before = state["train_seconds_total"] if state else 0.0
    planner = None
    # Recorded in every checkpoint, so that a snapshot of an unfinished run can say how
    # and where it was trained (`keras_preact.training.snapshot`).
    provenance = {"dtype_policy": plan.policy, "command": reporting.command_line(),
                  "hardware": reporting.hardware_info(distribute.device_names()),
                  "git": reporting.git_info()}
    earlier_sessions = run_sessions(state)
    session = {"first_epoch": plan.initial_epoch + 1, "hardware": provenance["hardware"],
               "dtype_policy": plan.policy, "keras_backend": plan.backend,
               "started": datetime.datetime.now().isoformat(timespec="seconds")}

    def state_fn(epoch, logs):
        return {"epoch": epoch + 1, "seed": config.seed,
                "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
                "config": config.as_dict(), "history": runlog.rows,
                "train_seconds_total": seconds_before + sum(
                    r["epoch_seconds"] for r in runlog.session_rows),
                "keras_backend": plan.backend,
                "planned_epochs": planner.planned if planner else plan.epochs,
                "time": datetime.datetime.now().isoformat(timespec="seconds"),
                "sessions": earlier_sessions + [{
                    **session, "last_epoch": epoch + 1,
                    "train_seconds": round(sum(r["epoch_seconds"]
                                               for r in runlog.session_rows), 3)}],
                **provenance}

    planner_args = None
    if plan.auto_epochs:
        planner_args = (plan.schedule, steps, recipe.warmup_epochs,
                        state.get("planned_epochs") if state else None, config.eval_every)
    callbacks, budget, planner = _callbacks(config, plan.output, guard, runlog, start, writer,
                                            state_fn, dist, plan.notes, planner_args)
    epochs = plan.epochs
    if planner is not None and planner.planned is not None:
        epochs = planner.planned
    status = "completed"
    print(f"Training {model.name} ({model.count_params():,} parameters) on "
          f"{len(plan.train_split):,} images ({plan.train_split.source}), {epochs} epochs of "
          f"{steps} x {recipe.batch_size}, recipe {recipe.name}, {plan.policy}, "
          f"{dist.num_replicas} replica(s), {plan.pipeline} pipeline.", flush=True)
    if plan.initial_epoch < epochs:
        try:
            with warnings.catch_warnings():
                if isinstance(plan.test_split, data_lib.StreamSplit):
                    # A streamed split drops unreadable files, so its length is unknown
                    # until read; Keras warns each time it then ends.
                    warnings.filterwarnings("ignore", message="Your input ran out of data")
                model.fit(train_data, steps_per_epoch=steps, epochs=epochs, shuffle=False,
                          initial_epoch=plan.initial_epoch,
                          validation_data=eval_data if config.eval_every else None,
                          validation_freq=max(1, config.eval_every),
                          callbacks=callbacks + list(extra_callbacks),
                          verbose=config.verbose if dist.is_chief else 0)
        except KeyboardInterrupt:
            status = "interrupted"
    if guard.diverged:
        status = "nan"
    elif planner is not None and planner.planned is not None and \
            runlog.rows and runlog.rows[-1]["epoch"] >= planner.planned:
        status = "completed"
    elif budget is not None and budget.stopped_after is not None and status == "completed":
        status = "time_budget"
    results = None
    if status in ("completed", "time_budget"):
        save_model_weights(model, writer.output / "model.weights.h5")
        # Every process evaluates its shard (the model runs as a collective).
        if dist.process_count > 1 and plan.pipeline == "tf":
            eval_data = eval_data.shard(dist.process_count, dist.process_index)
        results = evaluation.evaluate_classifier(
            model, eval_data, plan.test_split.class_names,
            top_k=plan.top_k,
            reduce=dist.sum_over_processes if dist.process_count > 1 else None)
    return FitOutcome(status, results, steps, epochs, guard, runlog, budget, planner)


def _status_message(config, plan, outcome, done):
    last = done["epoch"] if done else 0
    if outcome.status == "nan":
        diverged = outcome.guard.diverged
        return (f"Training diverged: non-finite loss ({diverged['loss']}) in epoch "
                f"{diverged['epoch']}. The last good checkpoint (epoch {last}) is in "
                f"{plan.checkpoint.path}; lower --lr, lengthen --warmup-epochs or check the "
                "data.")
    if outcome.status == "interrupted":
        return (f"Interrupted; the checkpoint of epoch {last} is in {plan.checkpoint.path}. "
                "Continue with the same command plus --resume.")
    if outcome.status == "time_budget":
        return (f"Stopped after epoch {outcome.budget.stopped_after}: another epoch would "
                f"exceed --time-budget {config.time_budget:g}s. Continue with --resume.")
    return None


def data_summary(plan):
    """The `data` block of a run's `summary.json`: sources, sizes, unreadable files
    skipped, normalisation, input side and pipeline."""
    train_split, test_split = plan.train_split, plan.test_split
    return {"train": train_split.source, "eval": test_split.source,
            "train_examples": len(train_split), "eval_examples": len(test_split),
            "skipped_unreadable": {"train": getattr(train_split, "skipped", None),
                                   "eval": getattr(test_split, "skipped", None)},
            "normalization": plan.normalization.to_dict(), "image_size": plan.image_size,
            "pipeline": plan.pipeline}


def report_run(config, plan, model, outcome, start):
    """Writes `model.json` (when there are results), `curves.png` and `summary.json`
    (process 0 only), prints the result, and returns the summary."""
    done = plan.checkpoint.read_state()
    train_split, results = plan.train_split, outcome.results
    speed, first_speed = epoch_throughput(outcome.runlog.session_rows)
    record = run_record(
        plan.spec, classes=train_split.num_classes, image_size=plan.image_size,
        class_names=train_split.class_names, preprocessing=plan.normalization,
        model=model.name, data=train_split.source, eval_split=plan.eval_split,
        test={k: v for k, v in (results or {}).items() if "error" in k},
        recipe=plan.recipe.as_dict())
    summary = {
        "status": outcome.status, "message": _status_message(config, plan, outcome, done),
        "model": model.name, "parameters": model.count_params(), "build": record["build"],
        "data": data_summary(plan),
        "recipe": plan.recipe.as_dict(), "dtype_policy": plan.policy, "seed": config.seed,
        "epochs_planned": outcome.planner.planned if outcome.planner else outcome.epochs,
        "epochs_completed": done["epoch"] if done else 0,
        "steps_per_epoch": outcome.steps, "iterations": done["iterations"] if done else 0,
        "test": results, "images_per_second": speed,
        "images_per_second_first_epoch": first_speed,
        "wall_time_s": round(time.monotonic() - start, 2),
        "train_time_s_total": done["train_seconds_total"] if done else 0.0,
        "distribution": plan.dist.describe(),
        "hardware": reporting.hardware_info(distribute.device_names()),
        "sessions": run_sessions(done),
        "command": reporting.command_line(), "git": reporting.git_info(),
        "notes": plan.notes, "diverged": outcome.guard.diverged,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    if plan.dist.is_chief:
        if results is not None:
            reporting.write_json(plan.output / RUN_FILENAME, record)
        rows = outcome.runlog.rows
        plot = reporting.plot_history(rows, plan.output / "curves.png", model.name) if rows \
            else None
        if plot is None and rows:
            plan.notes.append("curves.png skipped: matplotlib is not installed.")
        reporting.write_json(plan.output / "summary.json", summary)
        reporting.print_result(summary, plan.output)
    return summary


def train(config, *, extra_callbacks=()):
    """Trains, evaluates and reports one run (see the module docstring): `plan_run`,
    `build_run_model`, `fit_run`, `report_run`.

    Args:
        config: a `TrainConfig`.
        extra_callbacks: further Keras callbacks (e.g. for tests or custom logging).

    Returns:
        The summary dict also written to `summary.json`; `summary["status"]` is
        "completed", "time_budget" (stopped early, checkpoint usable), "nan" (diverged;
        last good checkpoint kept) or "interrupted".

    Raises:
        ValueError: inconsistent settings (message says which), an output folder that
            already has a checkpoint without `resume`, or a resume with other settings.
    """
    start = time.monotonic()
    plan = plan_run(config)
    previous_policy = keras.config.dtype_policy()
    seed_everything(config.seed)
    plan.output.mkdir(parents=True, exist_ok=True)  # after every check: bad input leaves none
    keras.config.set_dtype_policy(plan.policy)
    writer = plan.checkpoint  # where this process saves
    if not plan.dist.is_chief and plan.dist.process_count > 1:
        # Trap: Keras' save_weights runs JAX collectives, so every process of a cluster
        # saves; all but process 0 into a scratch folder of their own.
        writer = Checkpoint(tempfile.mkdtemp(prefix="keras_preact_process_"))
    try:
        with plan.dist.scope():
            model = build_run_model(config, plan)
            outcome = fit_run(config, plan, model, writer, start, extra_callbacks)
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if writer is not plan.checkpoint:
            shutil.rmtree(writer.output, ignore_errors=True)
    return report_run(config, plan, model, outcome, start)


__all__ = ["AUTO_EPOCHS_CAP", "FitOutcome", "PIPELINES", "RUNTIME_FIELDS", "RunPlan",
           "TrainConfig", "build_run_model", "data_summary", "epoch_throughput", "fit_run",
           "plan_run", "report_run", "seed_everything", "train"]
