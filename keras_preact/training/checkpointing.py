"""Resumable training state: a checkpoint folder written atomically after every epoch.

A checkpoint is `<output>/checkpoint/` holding

- `model.weights.h5`: the model's weights only (loadable on its own, e.g. with
  `build_resnet(..., weights=path)`; see `save_model_weights`);
- `variables.npz`: the optimizer's variables (iteration count, momenta, ...) and the
  model's variables that `.weights.h5` leaves out (random seed-generator states);
- `state.json`: the epoch count, the seed, the history so far, the run's settings and
  its `sessions` (see `run_sessions`); written last, so a folder without it is incomplete.

A new checkpoint is assembled in `checkpoint.tmp/` and swapped in by renames; a run
killed at any moment leaves `checkpoint/` (or, during the swap, `checkpoint.old/`) whole.
"""

import json
import pathlib
import shutil
import warnings

import keras
import numpy as np

STATE_FILE = "state.json"
WEIGHTS_FILE = "model.weights.h5"
VARIABLES_FILE = "variables.npz"


def _extra_model_variables(model):
    saved = {v.path for v in model.weights}
    return [v for v in model.variables if v.path not in saved]


def _to_numpy(variable):
    return np.asarray(variable.numpy())


def save_model_weights(model, path):
    """`model.save_weights(path)` without the optimizer state.

    For a compiled model Keras also writes the optimizer's variables into the
    `.weights.h5` file, which doubles its size; a weights file for users (and the Hub)
    needs only the layers. The optimizer group is left out by copying the rest.
    """
    import h5py

    path = pathlib.Path(path)
    full = path.with_name(path.name[: -len(".weights.h5")] + ".full.weights.h5")
    model.save_weights(str(full))
    with h5py.File(full, "r") as source, h5py.File(path, "w") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value
        for name in source:
            if name != "optimizer":
                source.copy(source[name], target, name=name)
    full.unlink()
    return path


def load_model_weights(model, path):
    """`model.load_weights(path)` for files of `save_model_weights`, without Keras'
    warning that a compiled model's optimizer state was not in the file."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(str(path))


def run_sessions(state):
    """The sessions of a run so far, from its checkpoint state: one dict per start or
    `--resume`, with `first_epoch` and `last_epoch` (1-based, inclusive), `hardware`,
    `dtype_policy`, `keras_backend`, `started` and `train_seconds`.

    A long run continued on other machines is trained on several kinds of hardware, and
    `--mixed-precision auto` may pick another precision on each; the sessions say which
    epochs ran where and how. Checkpoints written before sessions were recorded hold
    one machine only (that of the session that wrote them): they become one session over
    all their epochs, marked `"derived": True`.

    Args:
        state: a checkpoint's `state.json` as a dict, or None (no checkpoint yet).
    """
    if not state:
        return []
    if "sessions" in state:
        return [dict(session) for session in state["sessions"]]
    return [{"first_epoch": 1, "last_epoch": state["epoch"],
             "hardware": state.get("hardware"), "dtype_policy": state.get("dtype_policy"),
             "keras_backend": state.get("keras_backend"), "started": None,
             "train_seconds": state.get("train_seconds_total"), "derived": True}]


class Checkpoint:
    """The checkpoint of one training run's output folder.

    Args:
        output: the run's output folder.

    Example:
        >>> ckpt = Checkpoint("runs/r164")
        >>> ckpt.save(model, {"epoch": 3})
        >>> state = ckpt.restore(model)   # model compiled, optimizer built
    """

    def __init__(self, output):
        self.output = pathlib.Path(output)
        self.path = self.output / "checkpoint"
        self._tmp = self.output / "checkpoint.tmp"
        self._old = self.output / "checkpoint.old"

    def _complete(self):
        for folder in (self.path, self._old):
            if (folder / STATE_FILE).is_file():
                return folder
        return None

    def exists(self):
        """Whether a complete checkpoint is present."""
        return self._complete() is not None

    def read_state(self):
        """The `state.json` of the checkpoint, or None if there is none."""
        folder = self._complete()
        return None if folder is None else json.loads((folder / STATE_FILE).read_text())

    @property
    def weights_path(self):
        """Path of the checkpoint's `model.weights.h5` (None if no checkpoint)."""
        folder = self._complete()
        return None if folder is None else folder / WEIGHTS_FILE

    def save(self, model, state):
        """Writes the model, its optimizer and `state` (a JSON-ready dict) atomically."""
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True)
        save_model_weights(model, self._tmp / WEIGHTS_FILE)
        arrays = {}
        optimizer_vars = list(model.optimizer.variables) if model.optimizer else []
        for i, variable in enumerate(optimizer_vars):
            arrays[f"optimizer/{i:05d}"] = _to_numpy(variable)
        extra = _extra_model_variables(model)
        for i, variable in enumerate(extra):
            arrays[f"model/{i:05d}"] = _to_numpy(variable)
        np.savez(self._tmp / VARIABLES_FILE, **arrays)
        state = dict(state, optimizer_variables=[v.path for v in optimizer_vars],
                     model_variables=[v.path for v in extra])
        (self._tmp / STATE_FILE).write_text(json.dumps(state, indent=1))
        if self.path.exists():
            shutil.rmtree(self._old, ignore_errors=True)
            self.path.rename(self._old)
        self._tmp.rename(self.path)
        shutil.rmtree(self._old, ignore_errors=True)

    def restore(self, model):
        """Loads the checkpoint into `model` (compiled, optimizer built, inside the same
        distribution scope as training) and returns its state.

        Raises:
            FileNotFoundError: no complete checkpoint.
            ValueError: the checkpoint does not fit this model or optimizer.
        """
        folder = self._complete()
        if folder is None:
            raise FileNotFoundError(f"No checkpoint in {self.output} to resume from.")
        state = json.loads((folder / STATE_FILE).read_text())
        load_model_weights(model, folder / WEIGHTS_FILE)
        with np.load(folder / VARIABLES_FILE) as arrays:
            groups = (("optimizer", list(model.optimizer.variables), state["optimizer_variables"]),
                      ("model", _extra_model_variables(model), state["model_variables"]))
            for prefix, variables, names in groups:
                if len(variables) != len(names):
                    raise ValueError(
                        f"The checkpoint in {folder} has {len(names)} {prefix} variables, "
                        f"this run {len(variables)}: it was written by a different model or "
                        "optimizer.")
                for i, variable in enumerate(variables):
                    value = arrays[f"{prefix}/{i:05d}"]
                    if tuple(value.shape) != tuple(variable.shape):
                        raise ValueError(
                            f"Checkpoint variable {names[i]} has shape {value.shape}, "
                            f"{variable.path} has {tuple(variable.shape)}.")
                    variable.assign(value)
        return state


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a `Checkpoint` at the end of every epoch, unless the run diverged.

    Args:
        checkpoint: a `Checkpoint`.
        state_fn: `state_fn(epoch, logs)` returns the JSON-ready state to store.
        guard: an object whose `diverged` attribute, when true, vetoes saving (the
            NaN guard), so the last good checkpoint survives.
        enabled: False on non-chief workers.
    """

    def __init__(self, checkpoint, state_fn, guard=None, enabled=True):
        super().__init__()
        self.checkpoint = checkpoint
        self.state_fn = state_fn
        self.guard = guard
        self.enabled = enabled

    def on_epoch_end(self, epoch, logs=None):
        """Writes the checkpoint of the finished epoch."""
        if not self.enabled or (self.guard is not None and self.guard.diverged):
            return
        self.checkpoint.save(self.model, self.state_fn(epoch, logs or {}))


__all__ = ["Checkpoint", "EpochCheckpoint", "STATE_FILE", "VARIABLES_FILE", "WEIGHTS_FILE",
           "load_model_weights", "run_sessions", "save_model_weights"]
