"""Train a keras_preact network: a thin wrapper over `keras-preact train`
(keras_preact/commands/train.py); run with --help for the flags."""

import argparse
import pathlib
import sys

# Run from a checkout without installing: the repository root holds keras_preact/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from keras_preact.commands import train  # noqa: E402


def main(argv=None):
    """Parses `argv` and trains; returns the exit status."""
    parser = argparse.ArgumentParser(description=train.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_arguments(parser)
    return train.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
