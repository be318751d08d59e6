"""Export a keras_preact network as a SavedModel or a TFLite file: a thin wrapper over
`keras-preact export` (keras_preact/commands/export.py); run with --help for the flags."""

import argparse
import os
import pathlib
import sys

# Export needs TensorFlow; pick its backend unless the caller chose one.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Run from a checkout without installing: the repository root holds keras_preact/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from keras_preact.commands import export  # noqa: E402


def main(argv=None):
    """Parses `argv` and exports; returns the exit status."""
    parser = argparse.ArgumentParser(description=export.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_arguments(parser)
    return export.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
