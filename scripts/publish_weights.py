"""Publish a trained weight set to the Hugging Face Hub (same as `keras-preact publish`).

    python scripts/publish_weights.py preact_resnet164.cifar10 \\
        --weights-file runs/r164/model.weights.h5 --metrics runs/r164/eval.json
"""

import argparse
import sys

from keras_preact.commands import publish


def main(argv=None):
    """Parses the flags and publishes; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="publish_weights.py",
        description=publish.__doc__.splitlines()[0],
    )
    publish.add_arguments(parser)
    return publish.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
