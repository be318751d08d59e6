"""`keras-preact summary`: build a network of the zoo and print its stages, output shapes
and parameter counts (trainable, and total with the BN moving statistics).

    keras-preact summary preact_resnet164
    keras-preact summary --depth 110 --placement original --shortcut exclusive_gating --full
"""

import re


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    parser.add_argument("model", nargs="?", help="a name from list_models(), e.g. "
                        "preact_resnet164; omit it to use --depth and the variant flags")
    parser.add_argument("--depth", type=int, help="number of weight layers (with --family)")
    parser.add_argument("--family", default="cifar", choices=["cifar", "imagenet"],
                        help="network family (default cifar)")
    parser.add_argument("--block", choices=["basic", "bottleneck"],
                        help="basic or bottleneck units")
    parser.add_argument("--placement", default="full_preact",
                        help="activation order of Fig. 4 (default: full_preact)")
    parser.add_argument("--shortcut", default="identity", help="shortcut of Fig. 2")
    parser.add_argument("--downsample", help="zero_pad (option A) or projection (option B)")
    parser.add_argument("--classes", type=int, help="classifier size (default 10 / 1000)")
    parser.add_argument("--input-size", type=int, help="input side (default 32 / 224)")
    parser.add_argument("--full", action="store_true", help="print Keras' layer-by-layer summary")


def build_from_args(args):
    """Builds the model that `args` (from `add_arguments`) describe."""
    from keras_preact.models.builder import build_resnet, create_model

    shape = None if args.input_size is None else (args.input_size, args.input_size, 3)
    if args.model:
        return create_model(args.model, classes=args.classes, input_shape=shape)
    if args.depth is None:
        raise SystemExit("Name a model (see `keras-preact list`) or pass --depth.")
    return build_resnet(args.depth, family=args.family, block=args.block,
                        placement=args.placement, shortcut=args.shortcut,
                        downsample=args.downsample, classes=args.classes, input_shape=shape)


def stage_table(model):
    """Rows (stage, units, output shape, parameters) of a zoo model, from its layer names:
    the stem `conv1` (with `pool1` on ImageNet), the stages `conv2`, ... and the head."""
    import numpy as np

    rows = {}
    for layer in model.layers[1:]:
        match = re.match(r"(conv\d+|pool1)(?:_block(\d+))?_", layer.name)
        stage = "head" if match is None else "conv1" if match.group(1) == "pool1" else match.group(1)
        row = rows.setdefault(stage, {"units": 0, "shape": None, "params": 0})
        if match and match.group(2):
            row["units"] = max(row["units"], int(match.group(2)))
        row["params"] += sum(int(np.prod(w.shape)) for w in layer.weights)
        row["shape"] = tuple(layer.output.shape[1:])
    return [(stage, r["units"], r["shape"], r["params"]) for stage, r in rows.items()]


def run(args):
    """Builds the model and prints the summary; returns the exit status."""
    import numpy as np

    model = build_from_args(args)
    if args.full:
        model.summary(line_length=110)
    print(f"{model.name}: input {tuple(model.input.shape[1:])} -> output "
          f"{tuple(model.output.shape[1:])}, {len(model.layers)} layers")
    print(f"{'stage':<8}{'units':>6}  {'output':<18}{'parameters':>14}")
    for stage, units, shape, params in stage_table(model):
        print(f"{stage:<8}{units or '':>6}  {str(shape):<18}{params:>14,}")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"Trainable parameters: {trainable:,}")
    print(f"Total parameters (with BN moving statistics): {model.count_params():,}")
    return 0
