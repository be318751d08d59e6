"""Plot the error curves of several training runs side by side (the same as
`keras-preact compare`).
"""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

# Runs from a checkout without installing: the repository root holds keras_preact/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from keras_preact.cli import run_command  # noqa: E402


def main(argv=None):
    """Parses `argv` (default: the command line) and runs; returns the exit status."""
    return run_command("compare", argv, prog="compare.py")


if __name__ == "__main__":
    sys.exit(main())
