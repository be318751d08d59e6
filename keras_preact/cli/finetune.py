"""`keras-preact finetune`: transfer a pretrained network to a folder of images with a
new classifier: the head on the frozen backbone, then optionally the last stages.

    keras-preact finetune --model preact_resnet164 --weights cifar10 \\
        --data /data/flowers --output runs/flowers
    keras-preact finetune --model preact_resnet110 --weights runs/r110/model.weights.h5 \\
        --data /data/pets --head-epochs 5 --finetune-epochs 10 --unfreeze 1 --output runs/pets

--data is a folder laid out split/class/*.jpg (classes = the training split's
subfolders; validation on val/, validation/ or test/ when present). Images are resized
to --image-size (default: the size the weights were trained at) and normalised as the
weights were (their metadata; --normalization or --mean/--std otherwise). BatchNorm
moving statistics are never updated; --bn affine also trains the BN scale/shift of the
unfrozen stages. Progress goes to stderr and the JSON summary to stdout; the output
folder gets model.keras, history.json and summary.json (the metadata `keras-preact
export` reads). Exit status: 0 done, 2 bad arguments or data.
"""

import contextlib
import json
import sys

from keras_preact.cli.options import (
    add_normalization_arguments, explicit_normalization, input_error, non_negative_int,
    positive_float, positive_int)


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    model = parser.add_argument_group("backbone")
    model.add_argument("--model", required=True, help="a zoo name, e.g. preact_resnet164")
    model.add_argument("--weights", help="pretrained weights: tag, hf://owner/repo or path "
                       "(default: random init)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", required=True, help="folder laid out split/class/*.jpg")
    data.add_argument("--train-split", default="train", help="split to train on (default train)")
    data.add_argument("--val-split", default="auto",
                      help="validation subfolder; 'auto' (val, validation or test) or 'none'")
    data.add_argument("--image-size", type=positive_int, help="square input side (default: the "
                      "weights' training size, else 32 for CIFAR nets / 224 for ImageNet nets)")
    add_normalization_arguments(
        data, help="per-channel normalisation, when the weights do not record one")
    data.add_argument("--augment", default="cifar", choices=["cifar", "none"],
                      help="cifar: 4-pixel pad, random crop and flip (the paper's)")
    data.add_argument("--limit", type=positive_int,
                      help="use a seeded subset of N images per split")
    data.add_argument("--cache-dir", help="cache the decoded images here (.npy)")
    train = parser.add_argument_group("training")
    train.add_argument("--head-epochs", type=non_negative_int, default=5,
                       help="epochs of the new head alone (default 5)")
    train.add_argument("--finetune-epochs", type=non_negative_int, default=0,
                       help="epochs with the last --unfreeze stages trainable (0: head only)")
    train.add_argument("--unfreeze", type=non_negative_int, default=1,
                       help="stages to unfreeze, counted from the last")
    train.add_argument("--head-lr", type=positive_float, default=1e-3, help="Adam learning rate")
    train.add_argument("--finetune-lr", type=positive_float, default=1e-4,
                       help="Adam learning rate of the unfrozen stages")
    train.add_argument("--bn", default="frozen", choices=["frozen", "affine"],
                       help="BN of unfrozen stages: frozen, or train gamma/beta (affine)")
    train.add_argument("--batch-size", type=positive_int, default=64,
                       help="images per batch (default 64)")
    train.add_argument("--dropout", type=float, default=0.0, help="dropout before the head")
    train.add_argument("--logits", action="store_true",
                       help="a classifier without softmax (outputs logits)")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    train.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1,
                       help="fit progress: 0 silent, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--output", help="folder for model.keras, history.json, summary.json")


def run(args):
    """Fine-tunes; prints the summary as JSON; returns the exit status."""
    from keras_preact.deploy import finetune
    from keras_preact.training import reporting

    try:
        # Progress goes to stderr, so that stdout holds only the JSON summary.
        with contextlib.redirect_stdout(sys.stderr):
            result = finetune.finetune_folder(
                args.model, args.data, weights=args.weights, preprocessing=explicit_normalization(args),
                image_size=args.image_size, train_split=args.train_split,
                validation_split=None if args.val_split == "none" else args.val_split,
                dropout=args.dropout, classifier_activation=None if args.logits else "softmax",
                limit=args.limit, cache_dir=args.cache_dir, output_dir=args.output,
                seed=args.seed, command=reporting.command_line(),
                head_epochs=args.head_epochs, finetune_epochs=args.finetune_epochs,
                unfreeze=args.unfreeze, head_learning_rate=args.head_lr,
                finetune_learning_rate=args.finetune_lr, batch_size=args.batch_size,
                augment=args.augment, bn=args.bn, verbose=args.verbose)
    except (ValueError, FileNotFoundError) as error:
        return input_error("finetune", error)
    print(json.dumps(result.summary, indent=1))
    return 0
