"""`keras-preact snapshot`: write the last checkpoint of a training run, finished or still
going, out as a weights folder (weights, model.json, summary.json, history, curves).

    keras-preact snapshot runs/r164 --output runs/r164-epoch30
    keras-preact evaluate --weights runs/r164-epoch30/model.weights.h5 --data /data/cifar10-jpeg

The run is only read, so it may be training meanwhile; the folder then serves
`evaluate`, `compare` and `publish` like a finished run's (`summary.json` says
"status": "snapshot" and which epoch of how many).
"""

from keras_preact.cli.options import input_error


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    # Not `run`: the parser's `run` default is the subcommand's function.
    parser.add_argument("run_folder", metavar="RUN",
                        help="the --output folder of a keras-preact train run")
    parser.add_argument("--output", required=True, help="folder to write the snapshot into")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the files of a non-empty --output folder")


def run(args):
    """Writes the snapshot and says what it holds; returns the exit status."""
    from keras_preact.training.snapshot import snapshot_run

    try:
        summary = snapshot_run(args.run_folder, args.output, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as error:
        return input_error("snapshot", error)
    test = summary["test"]
    seen = (f"; last validation (epoch {test['epoch']}): top-1 error {test['top1_error']:.2f}%"
            if test else "")
    print(f"{summary['model']}: epoch {summary['epochs_completed']} of "
          f"{summary['epochs_planned']}{seen}.")
    for note in summary["notes"]:
        print(f"Note: {note}")
    print(f"Written to {args.output}; measure it with keras-preact evaluate --weights "
          f"{args.output}/model.weights.h5 --data ...")
    return 0
