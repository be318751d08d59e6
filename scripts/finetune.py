"""Fine-tune a pretrained keras_preact network on a folder of images: a thin wrapper
over `keras-preact finetune` (keras_preact/commands/finetune.py); run with --help for
the flags."""

import argparse
import pathlib
import sys

# Run from a checkout without installing: the repository root holds keras_preact/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from keras_preact.commands import finetune  # noqa: E402


def main(argv=None):
    """Parses `argv` and fine-tunes; returns the exit status."""
    parser = argparse.ArgumentParser(description=finetune.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    finetune.add_arguments(parser)
    return finetune.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
