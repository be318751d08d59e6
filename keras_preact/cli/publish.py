"""`keras-preact publish`: check a trained weight set against its registry entry, upload
it to the Hugging Face Hub with a model card, tag the release, and print the commit to
pin in the registry.

    keras-preact publish preact_resnet164.cifar10 \\
        --weights-file runs/r164/model.weights.h5 --metrics runs/r164/eval.json \\
        --curves runs/r164/curves.png --training-summary runs/r164/summary.json \\
        --confusion-matrix runs/r164/confusion.png

The run's per-epoch `history.json` ships too (`--history`; by default the one beside the
training summary). New weights first need a registry entry; `--draft-entry` (with the same
files) prints it.

The token comes from HF_TOKEN or `hf auth login`; it is never printed.
"""

import pathlib
import sys

from keras_preact.pretrained.metadata import read_json
from keras_preact.errors import WeightsError


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    parser.add_argument("name", help="registered weights name, 'architecture.tag' "
                        "(e.g. preact_resnet164.cifar10)")
    parser.add_argument("--weights-file", required=True,
                        help="the trained .weights.h5 file")
    parser.add_argument("--entry", metavar="JSON",
                        help="take the entry from this keras_preact.json-style file instead "
                        "of the package registry (for weights not registered yet)")
    measured = parser.add_mutually_exclusive_group(required=True)
    measured.add_argument("--metrics", metavar="JSON",
                          help="measured metrics: {dataset, split, top1_error (%%) or "
                          "accuracy (0-1)}, or a list of them")
    measured.add_argument("--top1-error", type=float,
                          help="measured top-1 error in percent, on the entry's first "
                          "dataset/split")
    parser.add_argument("--dataset", help="dataset of the measured metrics when the JSON "
                        "does not name it (e.g. cifar10)")
    parser.add_argument("--split", help="split of the measured metrics when the JSON does "
                        "not name it (e.g. test)")
    parser.add_argument("--repo-id", help="destination repo (default: the entry's)")
    parser.add_argument("--folder", help="where to write the repo's files "
                        "(default: weights/<name>/ of the checkout)")
    parser.add_argument("--tag", help="release tag (default: v<keras_preact version>)")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--tolerance", type=float, default=0.01,
                        help="allowed top-1 error difference in percentage points "
                        "(default: 0.01)")
    parser.add_argument("--curves", metavar="PNG", help="training-curve image to ship "
                        "and show in the model card (curves.png of keras-preact train)")
    parser.add_argument("--confusion-matrix", metavar="PNG", help="confusion-matrix image to "
                        "ship and show in the model card (keras-preact evaluate "
                        "--confusion-plot)")
    parser.add_argument("--training-summary", metavar="JSON", help="summary.json of the "
                        "keras-preact train run that made the weights, to ship and summarise")
    parser.add_argument("--history", metavar="JSON", help="history.json of the run, to ship "
                        "for keras-preact compare (default: the one beside "
                        "--training-summary, when there is one)")
    parser.add_argument("--deployment", metavar="JSON", help="benchmarks/deploy.py's JSON for "
                        "these weights (exported artifacts measured), to ship and table")
    draft = parser.add_argument_group(
        "drafting an entry (--draft-entry prints the registry entry for new weights, from "
        "--metrics and --training-summary; nothing is written or uploaded)")
    draft.add_argument("--draft-entry", action="store_true",
                       help="print the WeightsEntry to add to keras_preact/pretrained/registry.py")
    draft.add_argument("--recipe", help="training command to record (default: the one in "
                       "the training summary)")
    draft.add_argument("--paper-error", type=float, help="the paper's top-1 error (%%) for "
                       "the same network")
    draft.add_argument("--paper-source", help="where the paper's figure is, e.g. "
                       "'He et al. 2015, Table 6'")
    draft.add_argument("--description", default="", help="one or two sentences for the "
                       "model card")
    draft.add_argument("--rationale", default="", help="why this recipe and budget, a few "
                       "sentences for the model card")
    parser.add_argument("--dry-run", action="store_true",
                        help="check and write the folder, upload nothing")


def _entry(args):
    from keras_preact.pretrained import registry

    if args.entry is None:
        return registry.get_weights_entry(args.name)
    entry = registry.WeightsEntry.from_dict(read_json(args.entry, "the entry"))
    if entry.name != args.name:
        raise WeightsError(f"{args.entry} describes {entry.name}, not {args.name}.")
    return entry


def _evaluation_report(path):
    """The `keras-preact evaluate` report in `path` (shipped with the weights), or None
    when the file holds only bare metrics."""
    data = read_json(path, "the evaluation report")
    return data if isinstance(data, dict) and "per_class_accuracy" in data else None


def _history(args):
    """The run's per-epoch rows to ship: --history, else the training summary's sibling."""
    path = args.history
    if path is None and args.training_summary:
        beside = pathlib.Path(args.training_summary).with_name("history.json")
        if beside.is_file():
            path = beside
            print(f"Shipping the run's history: {path}")
    return None if path is None else read_json(path, "the training history")


def _draft(args):
    from keras_preact.pretrained import publish, registry

    if args.metrics is None or args.training_summary is None:
        raise WeightsError("--draft-entry needs --metrics (the evaluation) and "
                           "--training-summary (the run's summary.json).")
    if (args.paper_error is None) != (args.paper_source is None):
        raise WeightsError("Give --paper-error and --paper-source together.")
    architecture, _, tag = args.name.partition(".")
    measured = publish.read_metrics(args.metrics, dataset=args.dataset, split=args.split)
    training = read_json(args.training_summary, "the training summary")
    paper = None if args.paper_error is None else registry.PaperResult(
        args.paper_source, args.paper_error)
    entry = publish.draft_entry(args.weights_file, measured, training, tag=tag,
                                repo_id=args.repo_id, recipe=args.recipe, paper=paper,
                                description=args.description, rationale=args.rationale)
    if entry.name != args.name:
        raise WeightsError(f"The training summary is of {entry.architecture}, not "
                           f"{architecture}.")
    return entry


def run(args):
    """Runs the subcommand; returns the process exit status (0 on success)."""
    from keras_preact.pretrained import publish, registry

    if args.draft_entry:
        try:
            entry = _draft(args)
        except WeightsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(publish.entry_source(entry))
        return 0
    try:
        entry = _entry(args)
        evaluation = None
        if args.metrics is not None:
            measured = publish.read_metrics(args.metrics, dataset=args.dataset,
                                            split=args.split)
            evaluation = _evaluation_report(args.metrics)
        else:
            first = entry.metrics[0] if entry.metrics else None
            if first is None:
                raise WeightsError(f"{entry.name} registers no metric to compare with.")
            measured = (registry.Metric(args.dataset or first.dataset,
                                        args.split or first.split, args.top1_error),)
        training = None
        if args.training_summary:
            training = read_json(args.training_summary, "the training summary")
        deployment = None
        if args.deployment:
            deployment = read_json(args.deployment, "the deployment measurements")
        result = publish.publish(
            entry, args.weights_file, measured, repo_id=args.repo_id, folder=args.folder,
            tag=args.tag, private=args.private, tolerance=args.tolerance,
            upload=not args.dry_run, evaluation=evaluation, curves=args.curves,
            training=training, confusion=args.confusion_matrix, deployment=deployment,
            history=_history(args),
        )
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"Checked {entry.name}; wrote {result.folder} (dry run: nothing uploaded).")
        return 0
    print(f"Published {entry.name} to {result.repo_id} (tag {result.tag}): {result.url}")
    print(f"commit: {result.commit}")
    print(f'Pin it in keras_preact/pretrained/registry.py: revision="{result.commit}"')
    return 0
