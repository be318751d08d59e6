"""Flags shared by several subcommands (not a subcommand itself)."""


def add_normalization_arguments(group, help=None):
    """Adds --normalization, --mean and --std (per-channel, 0-255 scale) to `group`."""
    group.add_argument("--normalization", choices=["cifar10", "cifar100", "imagenet"],
                       help=help)
    group.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"),
                       help="per-channel mean on the 0-255 scale (with --std)")
    group.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"))


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
