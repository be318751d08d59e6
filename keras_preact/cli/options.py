"""Flags shared by several subcommands (not a subcommand itself), the argparse types that
refuse a number outside its range with exit code 2 and the flag's name, and the one rule
for errors: `keras-preact <command>: error: ...` on stderr, exit 2 for bad input, 3 when a
check fails (a weights file whose sha256 does not match)."""

import argparse
import sys


def input_error(command, error):
    """Prints `error` with the command's prefix; returns the exit status (2 or 3)."""
    from keras_preact.errors import ChecksumError

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


def add_model_arguments(parser):
    """Adds the "model" group (a zoo name, or a depth and the variant flags); returns it."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="a zoo name, e.g. preact_resnet164 (see keras-preact "
                       "list); or give --depth and the variant flags")
    group.add_argument("--depth", type=int, help="number of weight layers, e.g. 110, 164")
    group.add_argument("--family", choices=["cifar", "imagenet"],
                       help="with --depth: CIFAR (default) or ImageNet layout")
    group.add_argument("--block", choices=["basic", "bottleneck"],
                       help="basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1) units")
    group.add_argument("--placement", help="activation order of Fig. 4: original, "
                       "bn_after_add, relu_before_add, relu_preact, full_preact")
    group.add_argument("--shortcut", help="shortcut of Fig. 2: identity, constant_scaling, "
                       "exclusive_gating, shortcut_only_gating, conv1x1, dropout")
    group.add_argument("--downsample", help="zero_pad (option A) or projection (option B)")
    group.add_argument("--stride-at", help="first (paper) or conv3x3 (fb.resnet.torch)")
    group.add_argument("--gate-bias-init", type=float, help="gating shortcuts' b_g (-6)")
    group.add_argument("--shortcut-scale", type=float, help="constant scaling's lambda (0.5)")
    group.add_argument("--scale-residual", action="store_true", default=None,
                       help="constant scaling: also scale F by 1 - lambda")
    group.add_argument("--dropout-rate", type=float, help="dropout shortcut's rate (0.5)")
    group.add_argument("--no-dropout-rescale", dest="dropout_rescale", action="store_false",
                       default=None, help="dropout shortcut without the 1/(1-p) rescale")
    return group


def model_options(args):
    """The shortcut options given on the command line, as builder keyword arguments."""
    names = ("gate_bias_init", "shortcut_scale", "scale_residual", "dropout_rate",
             "dropout_rescale")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
