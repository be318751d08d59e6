"""`keras-preact predict`: classify image files with pretrained weights and print the top
classes of each; without files, the sample images that ship with the package.

    keras-preact predict preact_resnet20                      # bundled CIFAR-10 samples
    keras-preact predict resnet20 cat.jpg ship.png --top 3
    keras-preact predict preact_resnet20 --weights hf://owner/repo@<commit> photo.jpg

Images are decoded with Pillow, resized to the weights' input size and normalised the
way the weights were trained. Exit status (as every command): 0 done, 2 bad input
(arguments, unknown or unavailable weights, unreadable images), 3 verification failure (a
weights file whose sha256 does not match).
"""

import pathlib

from keras_preact.cli.options import input_error, positive_int


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    parser.add_argument("model", help="zoo model name, e.g. preact_resnet20 "
                        "(keras-preact list --pretrained)")
    parser.add_argument("images", nargs="*", help="image files (default: the bundled "
                        "sample images of the weights' dataset)")
    parser.add_argument("--weights", default="cifar10",
                        help="registered tag, hf://owner/repo[@revision] or a published "
                        "folder (default: cifar10)")
    parser.add_argument("--top", type=positive_int, default=5,
                        help="classes per image (default 5)")


def _report(predictions, labelled):
    width = max(len(pathlib.Path(p.path).name) for p in predictions)
    for result in predictions:
        name = pathlib.Path(result.path).name
        label = f"  (labelled {labelled[result.path]})" if result.path in labelled else ""
        print(f"{name:<{width}}{label}")
        for rank, (_, class_name, probability) in enumerate(result.top, 1):
            print(f"    {rank}. {class_name:<12} {100.0 * probability:6.2f}%")


def run(args):
    """Classifies and prints; returns the exit status."""
    from keras_preact.deploy import prediction
    from keras_preact.pretrained import samples

    try:
        model, entry = prediction.load_classifier(args.model, args.weights)
        if args.images:
            paths, labelled = args.images, {}
        else:
            paths = [str(p) for p in samples.sample_images(samples.entry_dataset(entry))]
            labelled = {p: samples.sample_label(p) for p in paths}
        results = prediction.classify(model, entry, paths, top=args.top)
    except (ValueError, FileNotFoundError) as error:  # WeightsError is a ValueError
        return input_error("predict", error)
    source = "bundled sample images" if labelled else "images"
    print(f"{entry.name} ({entry.num_params:,} parameters) on {len(results)} {source}:")
    _report(results, labelled)
    if labelled:
        right = sum(r.top[0][1] == labelled[r.path] for r in results)
        print(f"Top-1 matches the label on {right} of {len(results)} samples.")
    return 0
