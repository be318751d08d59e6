"""What a run reports about itself: hardware, code version, command line, JSON files,
the training-curve and confusion-matrix plots. Nothing here imports TensorFlow."""

import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys

import keras
import numpy as np

from keras_preact import runtime
from keras_preact.version import __version__


def _memory_gib():
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def hardware_info(devices=None):
    """The machine and software a run used, as JSON-ready data.

    Args:
        devices: device names (e.g. `distribute.device_names()`).
    """
    info = {
        "cpu": runtime.cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "keras_preact": __version__,
        "devices": list(devices or []),
        "cpu_runtime": {k: v for k, v in runtime.describe().items() if k != "cpu"},
    }
    for module in ("tensorflow", "jax", "torch"):
        if module in sys.modules:
            info[module] = getattr(sys.modules[module], "__version__", "unknown")
    return info


def git_info(path=None):
    """`{"commit", "dirty"}` of the git checkout holding `path` (default: this package),
    or None values outside a checkout."""
    cwd = pathlib.Path(path or __file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=cwd, capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()
        return {"commit": commit, "dirty": bool(status)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def command_line():
    """The exact command that started this process (interpreter and flags included)."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    environment = [f"{k}={os.environ[k]}" for k in ("KERAS_BACKEND",) if k in os.environ]
    return shlex.join(environment + list(argv))


def write_json(path, data):
    """Writes `data` as indented JSON atomically (temporary file + rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return None
    return pyplot


def _save(pyplot, figure, axes, path, title):
    """Labels the epoch axes, adds the grid and title, writes the PNG, frees the figure."""
    for axis in axes:
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    return _write(pyplot, figure, path)


def _write(pyplot, figure, path):
    """Lays out the figure, writes it as a PNG and frees it."""
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def plot_history(rows, path, title=""):
    """Draws loss, error and learning-rate curves of history rows into a PNG.

    Returns:
        The path written, or None when matplotlib is not installed.
    """
    pyplot = _pyplot()
    if pyplot is None:
        return None
    epochs = [row["epoch"] for row in rows]

    def series(key, transform=lambda v: v):
        return [transform(row[key]) if row.get(key) is not None else float("nan")
                for row in rows]

    def tested(axis, key, transform=lambda v: v):
        # Only the epochs that were evaluated (--eval-every N leaves the others empty; a
        # line through NaN gaps would draw nothing), with markers so one point shows.
        points = [(row["epoch"], transform(row[key])) for row in rows
                  if row.get(key) is not None]
        if points:
            axis.plot(*zip(*points), marker="o", markersize=3, label="test")

    error = lambda v: 100.0 * (1.0 - v)  # noqa: E731
    figure, axes = pyplot.subplots(1, 3, figsize=(15, 4))
    axes[0].plot(epochs, series("loss"), label="train")
    tested(axes[0], "val_loss")
    axes[0].set_ylabel("loss")
    axes[1].plot(epochs, series("accuracy", error), label="train (augmented)")
    tested(axes[1], "val_accuracy", error)
    axes[1].set_ylabel("top-1 error (%)")
    rates = series("lr")
    axes[2].plot(epochs, rates)
    axes[2].set_ylabel("learning rate (start of epoch)")
    if all(rate > 0 for rate in rates):  # a warm-up from 0 has no log scale
        axes[2].set_yscale("log")
    axes[0].legend()
    axes[1].legend()
    return _save(pyplot, figure, axes, path, title)


def plot_comparison(runs, path, title=""):
    """Draws the error curves of several training runs on shared axes, e.g. original
    against pre-activation units trained with one recipe (the comparison of Fig. 1 /
    Table 2 of He et al. 2016 at small scale).

    Args:
        runs: mapping label -> history rows (`history.json` of `keras-preact train`).
        path: the PNG to write.
        title: figure title.

    Returns:
        The path written, or None when matplotlib is not installed.
    """
    pyplot = _pyplot()
    if pyplot is None:
        return None
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4))
    for (label, rows), color in zip(runs.items(), pyplot.rcParams["axes.prop_cycle"]):
        color = color["color"]
        train = [(r["epoch"], 100.0 * (1.0 - r["accuracy"])) for r in rows]
        test = [(r["epoch"], 100.0 * (1.0 - r["val_accuracy"])) for r in rows
                if r.get("val_accuracy") is not None]
        axes[0].plot(*zip(*train), "--", color=color, label=f"{label}, train (augmented)")
        if test:
            axes[0].plot(*zip(*test), "-o", color=color, label=f"{label}, test")
        axes[1].plot(*zip(*[(r["epoch"], r["loss"]) for r in rows]), color=color, label=label)
    axes[0].set_ylabel("top-1 error (%)")
    axes[1].set_ylabel("training loss")
    for axis in axes:
        axis.legend()
    return _save(pyplot, figure, axes, path, title)


def plot_confusion(matrix, class_names, path, title=""):
    """Draws a confusion matrix (rows: true class, columns: predicted class, as
    `evaluate_classifier` reports it) with each row in percent of that class's images,
    so the diagonal is the per-class accuracy; up to 20 classes every cell is written out.

    Returns:
        The path written, or None when matplotlib is not installed.

    Raises:
        ValueError: the matrix is not square or does not match the class names.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    if counts.ndim != 2 or counts.shape != (len(class_names), len(class_names)):
        raise ValueError(f"A {len(class_names)}x{len(class_names)} confusion matrix is "
                         f"needed for {len(class_names)} class names, got shape "
                         f"{counts.shape}.")
    pyplot = _pyplot()
    if pyplot is None:
        return None
    totals = counts.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * counts, totals, out=np.zeros_like(counts), where=totals > 0)
    side = min(4.0 + 0.6 * len(class_names), 24.0)
    figure, axis = pyplot.subplots(figsize=(side + 1.5, side))
    image = axis.imshow(percent, cmap="Blues", vmin=0.0, vmax=100.0)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="% of the true class")
    if len(class_names) <= 20:
        ticks = range(len(class_names))
        axis.set_xticks(ticks, class_names, rotation=45, ha="right")
        axis.set_yticks(ticks, class_names)
        for (row, column), value in np.ndenumerate(percent):
            axis.text(column, row, f"{value:.1f}", ha="center", va="center", fontsize=8,
                      color="white" if value > 50 else "black")
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    return _write(pyplot, figure, path)


def last_validation(rows, top_k=None):
    """The last validation figures of history rows, as errors in percent:
    `{"epoch", "top1_error", "top<k>_error" (when logged), "source"}`, or None if no row
    was validated."""
    for row in reversed(rows):
        if row.get("val_accuracy") is not None:
            test = {"epoch": row["epoch"], "top1_error": 100 * (1 - row["val_accuracy"]),
                    "source": "validation during training (history.json)"}
            if top_k and row.get(f"val_top{top_k}") is not None:
                test[f"top{top_k}_error"] = 100 * (1 - row[f"val_top{top_k}"])
            return test
    return None


def print_result(summary, output):
    """Prints the headline of a training summary (and its message to stderr)."""
    test = summary["test"]
    if test:
        print(f"{summary['model']}: test top-1 error {test['top1_error']:.2f}% on "
              f"{test['examples']:,} images after {summary['epochs_completed']} epochs; "
              f"{summary['images_per_second'] or float('nan'):.0f} images/s.", flush=True)
    if summary["message"]:
        print(summary["message"], file=sys.stderr, flush=True)
    print(f"Results in {output}/summary.json", flush=True)


__all__ = ["command_line", "git_info", "hardware_info", "last_validation", "plot_comparison",
           "plot_confusion", "plot_history", "print_result", "write_json"]
