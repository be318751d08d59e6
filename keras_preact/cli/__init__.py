"""The `keras-preact` command line (also `python -m keras_preact`): one subcommand per
module of `keras_preact.cli`, each with `add_arguments(parser)` and `run(args)`."""

import argparse
import importlib
import sys

COMMANDS = ("summary", "predict", "train", "snapshot", "evaluate", "compare", "finetune",
            "export", "publish")


def _list(args):
    from keras_preact.models.builder import list_models

    print("\n".join(list_models(pretrained=args.pretrained)))
    return 0


def build_parser():
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="keras-preact",
        description="Original and pre-activation ResNets of He et al. (ECCV 2016) for Keras 3.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list the zoo's models")
    listing.add_argument("--pretrained", action="store_true",
                         help="list the published weight sets instead")
    listing.set_defaults(run=_list)
    for name in COMMANDS:
        module = importlib.import_module(f"keras_preact.cli.{name}")
        first_paragraph = " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())
        summary = first_paragraph.split("`: ", 1)[-1].split(". ")[0].rstrip(".")
        command = sub.add_parser(name, help=summary, description=module.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def run_command(name, argv=None, prog=None):
    """Runs one subcommand with its own parser (what the thin `scripts/*.py` call).

    Args:
        name: a name from `COMMANDS`, e.g. "train".
        argv: the arguments after the command name; defaults to `sys.argv[1:]`.
        prog: program name for the usage line.

    Returns:
        The command's exit status.
    """
    module = importlib.import_module(f"keras_preact.cli.{name}")
    parser = argparse.ArgumentParser(prog=prog, description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
