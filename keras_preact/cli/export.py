"""`keras-preact export`: write a network as a TensorFlow SavedModel, a TFLite (LiteRT)
file or an ONNX file with a named signature, optionally quantized, and check it against Keras.

    keras-preact export --model preact_resnet164 --weights cifar10 --output export/r164
    keras-preact export --model preact_resnet164 --weights cifar10 \\
        --include-preprocessing --output export/r164_uint8.tflite
    keras-preact export --model-file runs/flowers/model.keras --quantization int8 \\
        --representative-data /data/flowers/train --output export/flowers_int8.tflite
    keras-preact export --model preact_resnet20 --weights cifar10 --format onnx \
        --include-preprocessing --output export/r20.onnx      # needs keras_preact[onnx]

The format follows --output (or --format): a name ending in .tflite gives TFLite, .onnx
ONNX (tf2onnx from the SavedModel; checked with onnxruntime), anything else a SavedModel
folder. The signature is "serving_default" with input "image" (float32
normalised images, or with --include-preprocessing raw uint8 RGB pixels normalised in
the graph) and outputs named after the model's last layer ("predictions"). The
normalisation and input size come from the weights' metadata (registry, or the
summary.json/model.json written next to local weights or a fine-tuned model.keras);
--normalization/--mean/--std/--image-size override them. After writing, the artifact
and the Keras model are run on the same images (--verify-data, else the representative
images, else seeded random pixels) and the differences are printed as JSON. Needs the
TensorFlow backend. Exit status: 0 done, 2 bad arguments, 3 outside the tolerance of
the mode (the artifact is kept).
"""

import json
import os
import sys
import time

from keras_preact.cli.options import (
    add_normalization_arguments, explicit_normalization, input_error, positive_int)


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    source = parser.add_argument_group("model (one of --model / --model-file)")
    source.add_argument("--model", help="a zoo name, e.g. preact_resnet164")
    source.add_argument("--weights", help="with --model: tag, hf://owner/repo or path")
    source.add_argument("--pooling", choices=["avg", "max"],
                        help="with --model: export the backbone (include_top=False) pooled")
    source.add_argument("--logits", action="store_true",
                        help="with --model: a classifier without softmax (with int8, "
                        "keeps the ranking behind the top class: quantized probabilities "
                        "tie at 0)")
    source.add_argument("--model-file", help="a saved .keras model, e.g. the model.keras "
                        "of keras-preact finetune")
    artifact = parser.add_argument_group("artifact")
    artifact.add_argument("--output", required=True,
                          help="SavedModel folder, or a .tflite or .onnx file")
    artifact.add_argument("--format", default="auto",
                          choices=["auto", "saved_model", "tflite", "onnx"],
                          help="artifact kind (auto: from the --output name)")
    artifact.add_argument("--quantization", default="none",
                          choices=["none", "dynamic", "float16", "int8"],
                          help="TFLite only; int8 needs --representative-data")
    artifact.add_argument("--integer-io", action="store_true",
                          help="int8: integer input/output tensors (Edge TPU, MCUs)")
    artifact.add_argument("--include-preprocessing", action="store_true",
                          help="take raw RGB pixels and normalise them in the graph")
    artifact.add_argument("--input-dtype", choices=["float32", "uint8"],
                          help="default uint8 with --include-preprocessing, else float32")
    artifact.add_argument("--image-size", type=positive_int, help="square input side")
    norm = parser.add_argument_group("normalisation (default: the weights' metadata)")
    add_normalization_arguments(norm)
    images = parser.add_argument_group("images")
    images.add_argument("--representative-data", help="folder of images (any layout) for "
                        "int8 calibration")
    images.add_argument("--representative-count", type=positive_int, default=200,
                        help="int8: calibration images drawn (default 200)")
    images.add_argument("--verify-data", help="folder of images to compare outputs on")
    images.add_argument("--verify-count", type=positive_int, default=16,
                        help="images checked against Keras (default 16)")
    images.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the numerical check against Keras")
    images.add_argument("--seed", type=int, default=0, help="seed of the image draws (default 0)")
    parser.add_argument("--summary", help="also write the JSON summary to this file")


def _load(args):
    """(model, preprocessing or None, class names or None)."""
    import keras

    from keras_preact.deploy import finetune
    from keras_preact.pretrained.metadata import WeightsMetadata, read_beside
    from keras_preact.models.builder import create_model
    from keras_preact.pretrained.preprocessing import get_preprocessing

    explicit = explicit_normalization(args)
    if (args.model is None) == (args.model_file is None):
        raise ValueError("Give exactly one of --model and --model-file.")
    if args.model_file is not None:
        if args.weights or args.pooling or args.logits:
            raise ValueError("--weights, --pooling and --logits go with --model, not "
                             "--model-file.")
        model = keras.saving.load_model(args.model_file)
        recorded = read_beside(args.model_file) or WeightsMetadata(path="")
        pre = (get_preprocessing(explicit, presets=True) if explicit
               else recorded.preprocessing)
        return model, pre, list(recorded.class_names) if recorded.class_names else None
    name = args.model.strip().lower()
    size = args.image_size or finetune.default_image_size(name, args.weights)
    pre = None
    if explicit or args.weights is not None:
        try:
            pre = finetune.resolve_preprocessing(args.weights, name, explicit)
        except ValueError:
            pre = None
    model = create_model(
        name, weights=args.weights, include_top=args.pooling is None, pooling=args.pooling,
        input_shape=(size, size, 3), classifier_activation=None if args.logits else "softmax")
    labels = None
    if args.pooling is None and args.weights is not None:
        entry = finetune.weights_metadata(args.weights, name)
        recorded = None if entry else read_beside(args.weights)
        names = entry.label_names if entry else recorded and recorded.class_names
        labels = list(names) if names else None
    return model, pre, labels


def _images(folder, count, size, seed):
    import numpy as np

    from keras_preact.deploy import export

    if folder:
        return export.load_images(folder, size, limit=count, seed=seed), folder
    pixels = np.random.default_rng(seed).integers(0, 256, (count, *size, 3))
    return pixels.astype(np.uint8), "random pixels"


def _format(args):
    """The artifact kind: --format, or the --output name's ending."""
    if args.format != "auto":
        suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(args.format)
        if suffix and not args.output.endswith(suffix):
            raise ValueError(f"--format {args.format} writes a file ending in {suffix}; got "
                             f"--output {args.output}.")
        return args.format
    for kind in ("tflite", "onnx"):
        if args.output.endswith(f".{kind}"):
            return kind
    return "saved_model"


def _write_labels(path, kind, labels):
    target = (os.path.splitext(path)[0] + ".labels.txt" if kind != "saved_model"
              else os.path.join(path, "labels.txt"))
    with open(target, "w") as f:
        f.write("\n".join(labels) + "\n")
    return target


def _export(args, kind):
    """Loads the model and writes the artifact; returns (model, preprocessing, labels,
    input size, representative images or None)."""
    import keras

    from keras_preact.deploy import export

    tflite = kind == "tflite"
    if keras.backend.backend() != "tensorflow":
        raise ValueError("export needs the TensorFlow backend: run with "
                         "KERAS_BACKEND=tensorflow (weights are backend-independent).")
    if not tflite and (args.quantization != "none" or args.integer_io):
        raise ValueError("--quantization/--integer-io apply to TFLite: give an --output "
                         "ending in .tflite.")
    model, pre, labels = _load(args)
    if args.include_preprocessing and pre is None:
        raise ValueError("--include-preprocessing needs the normalisation: the weights "
                         "record none; pass --normalization or --mean/--std.")
    size = tuple(model.inputs[0].shape[1:3])
    if None in size:
        size = (args.image_size,) * 2 if args.image_size else size
    options = {"include_preprocessing": args.include_preprocessing, "preprocessing": pre,
               "input_dtype": args.input_dtype, "input_size": None if None in size else size}
    representative = None
    if args.representative_data:
        representative, _ = _images(args.representative_data, args.representative_count,
                                    size, args.seed)
    if tflite:
        export.export_tflite(model, args.output, quantization=args.quantization,
                             representative_images=representative,
                             integer_io=args.integer_io, **options)
    elif kind == "onnx":
        export.export_onnx(model, args.output, **options)
    else:
        export.export_saved_model(model, args.output, **options)
    return model, pre, labels, size, representative


def _verify(args, kind, model, pre, size, representative):
    """Runs the artifact next to Keras on real (or random) images; returns the summary's
    "verification" dict and whether it is within the mode's tolerance."""
    from keras_preact.deploy import export

    images, source = (representative, args.representative_data) \
        if representative is not None and not args.verify_data else \
        _images(args.verify_data, args.verify_count, size, args.seed)
    images = images[: args.verify_count]
    results = export.verify_export(args.output, model, images,
                                   include_preprocessing=args.include_preprocessing,
                                   preprocessing=pre)
    mode = args.quantization if kind == "tflite" else "none"
    verification = {"images": f"{len(images)} from {source}", **results,
                    "tolerance": export.TOLERANCES.get(mode),
                    "min_top1_agreement": export.INT8_MIN_AGREEMENT if mode == "int8" else None}
    return verification, all(export.within_tolerance(mode, r) for r in results.values()), mode


def run(args):
    """Exports, verifies and prints the summary as JSON; returns the exit status."""
    from keras_preact.deploy import export
    from keras_preact.training import reporting

    start = time.perf_counter()
    try:
        kind = _format(args)
        model, pre, labels, size, representative = _export(args, kind)
    except (ValueError, FileNotFoundError, ImportError) as error:
        return input_error("export", error)
    summary = {
        "output": os.path.abspath(args.output), "format": kind,
        "quantization": args.quantization if kind == "tflite" else None,
        "model": model.name, "parameters": model.count_params(),
        "signature": "serving_default",
        "input": {"name": "image", "shape": [None, *size, 3],
                  "dtype": args.input_dtype or ("uint8" if args.include_preprocessing
                                                else "float32"),
                  "include_preprocessing": args.include_preprocessing},
        "outputs": export.output_names(model),
        "preprocessing": None if pre is None else pre.to_dict(),
        "class_names": labels,
    }
    if kind != "saved_model":
        summary["size_bytes"] = os.path.getsize(args.output)
    if labels:
        summary["labels_file"] = _write_labels(args.output, kind, labels)
    status = 0
    if args.verify:
        summary["verification"], summary["verified"], mode = _verify(
            args, kind, model, pre, size, representative)
        if not summary["verified"]:
            print("keras-preact export: the artifact differs from the Keras model beyond the "
                  f"{mode} tolerance (see verification).", file=sys.stderr)
            status = 3
    summary["wall_time_s"] = round(time.perf_counter() - start, 3)
    summary["command"] = reporting.command_line()
    print(json.dumps(summary, indent=1))
    if args.summary:
        reporting.write_json(args.summary, summary)
    return status
