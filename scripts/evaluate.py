"""Evaluate keras_preact weights: a thin wrapper over `keras-preact evaluate`
(keras_preact/commands/evaluate.py); run with --help for the flags."""

import argparse
import pathlib
import sys

# Run from a checkout without installing: the repository root holds keras_preact/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from keras_preact.commands import evaluate  # noqa: E402


def main(argv=None):
    """Parses `argv` and evaluates; returns the exit status."""
    parser = argparse.ArgumentParser(description=evaluate.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_arguments(parser)
    return evaluate.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
