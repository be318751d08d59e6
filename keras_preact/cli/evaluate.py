"""`keras-preact evaluate`: top-1/top-5 error, per-class accuracy and confusion matrix of
a network with weights on any split, written as JSON (and the matrix as an image).

    keras-preact evaluate --weights runs/r164/model.weights.h5 --data /data/cifar10-jpeg \\
        --output eval.json --confusion-plot confusion.png --flip-tta
    keras-preact evaluate --model preact_resnet164 --weights cifar10 --data cifar10
    keras-preact evaluate --model preact_resnet50 --weights imagenet --data imagenet2012 \\
        --data-dir /data/tfds --image-size 320 --crop-fraction 1    # the paper's protocol
    keras-preact evaluate --artifact export/r20_int8.tflite --data /data/cifar10-jpeg

--weights is a path, a registered tag or hf://owner/repo[@revision] (the builders'
weights= argument). For weights written by `keras-preact train`, the model, classes,
input size and normalisation come from the model.json beside them. --artifact measures an
export of `keras-preact export` in its own runtime (TFLite interpreter, onnxruntime,
`tf.saved_model.load`) instead: what a quantized file keeps of the weights' accuracy.
"""

import importlib.util
import json

from keras_preact.cli.options import (
    add_model_arguments, input_error, model_options, positive_int)


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    add_model_arguments(parser)
    network = parser.add_mutually_exclusive_group(required=True)
    network.add_argument("--weights", help="path, tag or hf://owner/repo")
    network.add_argument("--artifact", help="an exported network instead: SavedModel "
                         "folder, .tflite or .onnx file of keras-preact export")
    parser.add_argument("--include-preprocessing", action="store_true", default=None,
                        help="--artifact normalises in its graph although its input is "
                        "float32 (exported with --include-preprocessing --input-dtype "
                        "float32); a uint8 input is read as raw pixels without it")
    parser.add_argument("--data", default="cifar10", help="cifar10, cifar100, imagenet2012 "
                        "(tensorflow-datasets) or a folder split/class/*.jpg")
    parser.add_argument("--data-dir", help="tensorflow-datasets data directory")
    parser.add_argument("--download", action="store_true",
                        help="let tensorflow-datasets download and prepare the data")
    parser.add_argument("--split", help="split to evaluate (default test / validation)")
    parser.add_argument("--batch-size", type=positive_int, default=256,
                        help="images per batch (default 256)")
    parser.add_argument("--image-size", type=positive_int, help="input side (ImageNet: 224 or 320)")
    parser.add_argument("--crop-fraction", type=float,
                        help="ImageNet-size images: centre crop / shorter side after "
                        "resizing (default 0.875; the paper's protocol is --image-size 320 "
                        "--crop-fraction 1)")
    parser.add_argument("--normalization", default="auto",
                        choices=["auto", "cifar10", "cifar100", "imagenet"],
                        help="per-channel mean/std (auto: the weights' own)")
    parser.add_argument("--limit", type=positive_int, help="evaluate a seeded subset of N images")
    parser.add_argument("--pipeline", default="auto", choices=["auto", "tf", "numpy"],
                        help="tf.data or numpy batches (auto: tf on TensorFlow)")
    parser.add_argument("--flip-tta", action="store_true",
                        help="also report test-time flip averaging (image and mirror image, "
                        "outputs averaged) under its own key 'flip_tta'; the headline "
                        "figures stay single-view")
    parser.add_argument("--confusion-plot", metavar="PNG",
                        help="draw the confusion matrix into this image (up to "
                        "100 classes)")
    parser.add_argument("--output", help="JSON file to write (default: print only)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar while evaluating")


def run(args):
    """Evaluates; prints the headline and writes the JSON; returns the exit status."""
    from keras_preact.training import evaluation, reporting

    if args.confusion_plot and not args.confusion_plot.lower().endswith(".png"):
        return input_error("evaluate", ValueError(
            f"--confusion-plot writes a PNG image: give a .png path, not "
            f"{args.confusion_plot!r}."))
    if args.confusion_plot and importlib.util.find_spec("matplotlib") is None:
        return input_error("evaluate", ValueError(
            "--confusion-plot needs matplotlib: pip install 'keras_preact[plots]'."))
    spec = {"model": args.model, "depth": args.depth, "family": args.family,
            "block": args.block, "placement": args.placement, "shortcut": args.shortcut,
            "downsample": args.downsample, "stride_at": args.stride_at,
            "model_options": model_options(args)}
    try:
        if args.artifact:
            result = _evaluate_artifact(args, spec)
        else:
            if args.include_preprocessing:
                raise ValueError("--include-preprocessing describes an --artifact; Keras "
                                 "weights are fed normalised images (see --normalization).")
            result = evaluation.evaluate_weights(
                spec, args.weights, args.data, args.split, batch_size=args.batch_size,
                image_size=args.image_size, normalization=args.normalization,
                data_dir=args.data_dir, download=args.download, limit=args.limit,
                pipeline=args.pipeline, crop_fraction=args.crop_fraction,
                flip_tta=args.flip_tta, progress=args.progress)
    except (ValueError, FileNotFoundError, ImportError) as error:
        return input_error("evaluate", error)
    result["command"] = reporting.command_line()
    result["hardware"] = reporting.hardware_info()
    print(f"{result['model']} on {result['data']}: {_headline(result)} "
          f"({result['examples']:,} images)")
    if "flip_tta" in result:
        print(f"  with test-time flip averaging: {_headline(result['flip_tta'])}")
    if args.output:
        reporting.write_json(args.output, result)
        print(f"Written to {args.output}")
    else:
        print(json.dumps(_without_matrices(result), indent=1))
    if args.confusion_plot:
        if "confusion_matrix" not in result:
            return input_error("evaluate", ValueError(
                f"no confusion plot: the report holds the confusion matrix for at most "
                f"{evaluation.CONFUSION_MAX_CLASSES} classes, this split has "
                f"{len(result['per_class_accuracy'])} (the metrics above are complete)."))
        title = f"{result['model']}, {result['split']}: top-1 error {result['top1_error']:.2f}%"
        reporting.plot_confusion(result["confusion_matrix"], list(result["per_class_accuracy"]),
                                 args.confusion_plot, title)
        print(f"Confusion matrix drawn in {args.confusion_plot}")
    return 0


def _evaluate_artifact(args, spec):
    """`evaluate_artifact` for the flags, refusing those that describe Keras weights."""
    from keras_preact.deploy import artifacts

    given = [flag for flag, value in (
        ("--model/--depth and the variant flags", any(
            v not in (None, {}) for v in spec.values())),
        ("--image-size", args.image_size), ("--pipeline", args.pipeline != "auto")) if value]
    if given:
        raise ValueError(f"{', '.join(given)}: the artifact is the network, with its own "
                         "input size; drop them.")
    return artifacts.evaluate_artifact(
        args.artifact, args.data, args.split, include_preprocessing=args.include_preprocessing,
        normalization=args.normalization, batch_size=args.batch_size, data_dir=args.data_dir,
        download=args.download, limit=args.limit, crop_fraction=args.crop_fraction,
        flip_tta=args.flip_tta, progress=args.progress)


def _without_matrices(result):
    """The report to print: no hardware block and no confusion matrices (see the plot)."""
    return {k: (_without_matrices(v) if isinstance(v, dict) else v)
            for k, v in result.items() if k not in ("hardware", "confusion_matrix")}


def _headline(metrics):
    """'top-1 error 5.46%, top-5 error 0.20%' of a metrics dict."""
    topk = next((k for k in metrics if k.startswith("top") and k.endswith("_error")
                 and k != "top1_error"), None)
    return (f"top-1 error {metrics['top1_error']:.2f}%"
            + (f", {topk.split('_')[0]} error {metrics[topk]:.2f}%" if topk else ""))
