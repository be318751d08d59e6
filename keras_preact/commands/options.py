"""Flags shared by several subcommands (not a subcommand itself), the argparse types that
refuse a number outside its range with exit code 2 and the flag's name, and the one rule
for errors: `keras-preact <command>: error: ...` on stderr, exit 2 for bad input, 3 when a
check fails (a weights file whose sha256 does not match)."""

import argparse
import sys


def input_error(command, error):
    """Prints `error` with the command's prefix; returns the exit status (2 or 3)."""
    from keras_preact.registry import ChecksumError

    print(f"keras-preact {command}: error: {error}", file=sys.stderr)
    return 3 if isinstance(error, ChecksumError) else 2


def _number(kind, test, wording):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wording}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, got {text}")
        return value

    parse.__name__ = wording.replace(" ", "_")  # argparse names the type in its errors
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: v > 0, "a positive number")
non_negative_float = _number(float, lambda v: v >= 0, "a number >= 0")
_positive_epochs = _number(float, lambda v: v > 0, "a positive number or 'auto'")


def epochs(text):
    """--epochs: a positive number, or "auto"."""
    return text if text == "auto" else _positive_epochs(text)


def add_normalization_arguments(group, help=None):
    """Adds --normalization, --mean and --std (per-channel, 0-255 scale) to `group`."""
    group.add_argument("--normalization", choices=["cifar10", "cifar100", "imagenet"],
                       help=help or "a preset per-channel mean/std (default: the one the "
                       "weights were trained with)")
    group.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"),
                       help="per-channel mean on the 0-255 scale (with --std)")
    group.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"),
                       help="per-channel standard deviation on the 0-255 scale (with --mean)")


def explicit_normalization(args):
    """The normalisation the flags ask for: {"mean", "std"}, a preset name, or None.

    Raises:
        ValueError: only one of --mean/--std is given.
    """
    if (args.mean is None) != (args.std is None):
        raise ValueError("--mean and --std go together.")
    if args.mean is not None:
        return {"mean": args.mean, "std": args.std}
    return args.normalization
