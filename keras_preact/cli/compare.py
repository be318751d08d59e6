"""`keras-preact compare`: plot the error curves of several training runs side by side
and print their final test errors.

    keras-preact compare runs/resnet20 runs/preact_resnet20 --output pair.png
    keras-preact compare original=runs/r110 pre-act=runs/p110 --title "ResNet-110"

Each run is an output folder of `keras-preact train` (its history.json and
summary.json), optionally labelled `label=folder` (default label: the model name). A run
still training (its checkpoint, no summary.json yet) is drawn up to its last epoch and
reported with its last validation figure, and so are `keras-preact snapshot` folders and the
checkpoints kept in `weights/in_progress/<name>/`. A published weight-set folder
(`weights/<name>/` of a checkout, or the Hub repo downloaded) that ships its run's
`history.json` compares like the run that made it (its `training.json` is that run's
summary.json).

    keras-preact compare runs/resnet56 weights/preact_resnet56.cifar10
"""

import json
import pathlib
import sys


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    parser.add_argument("runs", nargs="+", help="training output folders or published "
                        "weight-set folders, [label=]folder")
    parser.add_argument("--output", default="comparison.png", help="PNG to write "
                        "(default comparison.png)")
    parser.add_argument("--title", default="", help="figure title")


def _load(spec):
    from keras_preact.training.checkpointing import Checkpoint

    label, _, folder = spec.rpartition("=")
    folder = pathlib.Path(folder)
    history, summary = folder / "history.json", folder / "summary.json"
    if not summary.is_file():  # a published weight set ships summary.json as training.json
        summary = folder / "training.json"
    rows = json.loads(history.read_text()) if history.is_file() else None
    if summary.is_file():
        summary = json.loads(summary.read_text())
    elif (state := Checkpoint(folder).read_state()) is not None:  # still training
        summary = {"model": state["config"].get("model") or folder.name, "status": "running"}
        if rows is None:  # a checkpoint copied alone (weights/in_progress/) holds its history
            rows = state.get("history")
    else:
        summary = None
    if rows is None or summary is None:
        raise FileNotFoundError(f"{folder} is not a keras-preact train output (history.json "
                                "with summary.json, or a checkpoint while it trains) nor a "
                                "weight set that ships its history (history.json with "
                                "training.json).")
    return label or summary["model"], rows, summary


def _result(rows, summary):
    """The test figure to print: the final one, else the last validation so far."""
    test = summary.get("test") or {}
    if summary.get("status") not in ("running", "snapshot") and "top1_error" in test:
        return f"test top-1 error {test['top1_error']:.2f}%"
    from keras_preact.training.reporting import last_validation

    seen = last_validation(rows)
    last = (f"last validation (epoch {seen['epoch']}) top-1 error {seen['top1_error']:.2f}%"
            if seen else "no validation yet")
    return f"{summary.get('status') or 'no test figure'}, {last}"


def run(args):
    """Plots and prints; returns the exit status."""
    from keras_preact.training import reporting

    try:
        loaded = [_load(spec) for spec in args.runs]
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"keras-preact compare: error: {error}", file=sys.stderr)
        return 2
    if len({label for label, _, _ in loaded}) != len(loaded):
        print("keras-preact compare: error: two runs have the same label; name them "
              "label=folder.", file=sys.stderr)
        return 2
    for label, rows, summary in loaded:
        print(f"{label}: {len(rows)} epochs, {_result(rows, summary)}")
    written = reporting.plot_comparison({label: rows for label, rows, _ in loaded},
                                        args.output, args.title)
    if written is None:
        print("keras-preact compare: matplotlib is not installed (pip install "
              "'keras_preact[plots]'); no plot written.", file=sys.stderr)
        return 1
    print(f"Written to {written}")
    return 0
