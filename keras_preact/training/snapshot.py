"""A training run's last checkpoint as a weights folder, while the run goes on.

A long run (PreActResNet-164 on a CPU takes days) checkpoints every epoch, but its
`model.weights.h5`, `model.json` and `summary.json` appear only at the end.
`snapshot_run(run, output)` writes them for the checkpoint as it is now, into another
folder, without touching the run:

    model.weights.h5     the checkpoint's weights, byte for byte (loaded once to check)
    model.json           how to rebuild the network and feed it, as training writes it
    summary.json         what training writes at its end, with status "snapshot": epochs
                         done of planned, recipe, data, the last validation figures
    history.json/.csv    the epochs so far
    curves.png           their curves (needs matplotlib)

So `keras-preact evaluate --weights <output>/model.weights.h5`, `compare` and `publish`
work on an unfinished run as on a finished one. Used to register the flagship weights
early (docs: weights/README.md).
"""

import dataclasses
import datetime
import pathlib
import shutil

from keras_preact.pretrained.metadata import RUN_FILENAME, run_record
from keras_preact.training import callbacks as run_callbacks
from keras_preact.training import loop, reporting
from keras_preact.training.checkpointing import (Checkpoint, WEIGHTS_FILE, load_model_weights,
                                                 run_sessions)

STATUS = "snapshot"


def _config_of(state, run):
    known = {field.name for field in dataclasses.fields(loop.TrainConfig)}
    saved = {k: v for k, v in state["config"].items()
             if k in known and k not in loop.RUNTIME_FIELDS}
    # The run's own settings; where it runs (strategy, devices, cluster) stays default.
    return loop.TrainConfig(**saved, output=str(run), resume=True, verbose=0)


def _copy_consistent(checkpoint, target, attempts=3):
    """Copies the checkpoint's weights; retries when the run swapped in a newer
    checkpoint meanwhile (the state read before and after must agree)."""
    for _ in range(attempts):
        before = checkpoint.read_state()
        shutil.copyfile(checkpoint.weights_path, target)
        after = checkpoint.read_state()
        if (before["epoch"], before.get("time")) == (after["epoch"], after.get("time")):
            return before
    raise RuntimeError(f"The checkpoint of {checkpoint.output} changed during {attempts} "
                       "copies; try again.")


def snapshot_run(run, output, *, overwrite=False):
    """Writes the last checkpoint of the training run in `run` out as a weights folder
    (see the module docstring). The run may be going on; it is only read.

    Args:
        run: the `--output` folder of `keras-preact train` (a `TrainConfig.output`).
        output: the folder to write; must not be the run's own.
        overwrite: replace the files of an existing, non-empty `output`.

    Returns:
        The summary dict written to `<output>/summary.json`.

    Raises:
        FileNotFoundError: `run` holds no complete checkpoint.
        FileExistsError: `output` has files and `overwrite` is false.
        ValueError: `output` is the run's folder, or the run's data/settings no longer
            load (the message says why).
    """
    run, output = pathlib.Path(run), pathlib.Path(output)
    checkpoint = Checkpoint(run)
    state = checkpoint.read_state()
    if state is None:
        raise FileNotFoundError(f"{run} holds no complete checkpoint (checkpoint/state.json): "
                                "give the --output folder of a keras-preact train run.")
    if output.resolve() == run.resolve():
        raise ValueError("Write the snapshot into another folder than the run's own: the run "
                         "writes model.weights.h5 and summary.json there when it ends.")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise FileExistsError(f"{output} is not empty; choose another folder or overwrite.")
    plan = loop.plan_run(_config_of(state, run))  # the run's data, normalisation, network
    output.mkdir(parents=True, exist_ok=True)
    weights = output / WEIGHTS_FILE
    state = _copy_consistent(checkpoint, weights)
    split = plan.train_split
    model = plan.spec.build(classes=split.num_classes,
                            input_shape=(plan.image_size, plan.image_size, 3))
    load_model_weights(model, weights)  # a file that does not fit fails here, not later
    rows = state["history"]
    test = reporting.last_validation(rows, plan.top_k)
    snapshot = {"run": str(run.resolve()), "epoch": state["epoch"],
                "planned_epochs": state.get("planned_epochs", plan.epochs),
                "checkpoint_time": state.get("time"),
                "taken": datetime.datetime.now().isoformat(timespec="seconds")}
    record = run_record(plan.spec, classes=split.num_classes, image_size=plan.image_size,
                        class_names=split.class_names, preprocessing=plan.normalization,
                        model=model.name, data=split.source, eval_split=plan.eval_split,
                        test={k: v for k, v in (test or {}).items() if "error" in k},
                        recipe=plan.recipe.as_dict(), snapshot=snapshot)
    reporting.write_json(output / RUN_FILENAME, record)
    run_callbacks.RunLog(output, 0, rows).write()
    speed, first_speed = loop.epoch_throughput(rows)
    seconds = state.get("train_seconds_total", 0.0)
    notes, policy = [], state.get("dtype_policy")
    if policy is None:  # checkpoints written before it was recorded
        policy = plan.policy
        if plan.recipe.mixed_precision == "auto":
            notes.append(f"dtype_policy: the run's --mixed-precision auto was not recorded in "
                         f"its checkpoint; {policy} is what auto picks on the machine that "
                         "took this snapshot.")
    summary = {
        "status": STATUS,
        "message": f"Snapshot of the checkpoint after epoch {state['epoch']} of "
                   f"{snapshot['planned_epochs']} in {run}.",
        "model": model.name, "parameters": model.count_params(), "build": record["build"],
        "data": loop.data_summary(plan),
        "recipe": plan.recipe.as_dict(), "dtype_policy": policy,
        "seed": state.get("seed"), "epochs_planned": snapshot["planned_epochs"],
        "epochs_completed": state["epoch"], "iterations": state.get("iterations"),
        "test": test, "images_per_second": speed, "images_per_second_first_epoch": first_speed,
        # Epoch clocks of every session (pauses inside an epoch included, gaps between
        # sessions not): what the run has cost so far.
        "wall_time_s": seconds, "train_time_s_total": seconds,
        "hardware": state.get("hardware"), "sessions": run_sessions(state),
        "command": state.get("command"),
        "git": state.get("git"), "snapshot": snapshot, "notes": notes,
    }
    if reporting.plot_history(rows, output / "curves.png", model.name) is None and rows:
        summary["notes"].append("curves.png skipped: matplotlib is not installed.")
    reporting.write_json(output / "summary.json", summary)
    return summary


__all__ = ["STATUS", "snapshot_run"]
