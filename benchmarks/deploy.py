"""What a weight set keeps when it is deployed: its exported artifacts (TFLite in every
quantization mode, ONNX) measured on a test split in their own runtimes, next to the Keras
model they came from, with file sizes and single-image latency, in one process.

Each artifact is written by `keras-preact export` (raw uint8 pixels in, normalised in the
graph: `--include-preprocessing`) and measured by `keras-preact evaluate --artifact`'s
code (`keras_preact.deploy.artifacts.evaluate_artifact`): top-1 and top-5 error, plain and
flip-averaged. int8 is exported twice: with the softmax output (probabilities quantized
to steps of 1/256, so the small ones tie at 0 and the ranking behind the top class is
arbitrary) and with `--logits`. Latency is the median time of one image (batch 1, as
on a device) over interleaved rounds, the Keras model (`predict_on_batch`) included.

    python benchmarks/deploy.py --model preact_resnet20 --data /data/cifar10-jpeg
    python benchmarks/deploy.py --model resnet20 --data /data/cifar10-jpeg --limit 1000

Prints a table and writes benchmarks/results/deploy_<model>_<time>.json. Needs the
TensorFlow backend and `pip install -e ".[tf,export,onnx]"`.
"""

import argparse
import contextlib
import datetime
import io
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras_preact  # noqa: E402,F401  (first: it switches oneDNN on before TensorFlow loads)
import numpy as np  # noqa: E402

from keras_preact.cli import run_command  # noqa: E402
from keras_preact.deploy import artifacts, export  # noqa: E402
from keras_preact.models.spec import ModelSpec  # noqa: E402
from keras_preact.normalization import Preprocessing  # noqa: E402
from keras_preact.pretrained import hub, loading  # noqa: E402
from keras_preact.training import evaluation, reporting  # noqa: E402

# (label, export flags, file suffix)
ARTIFACTS = (
    ("TFLite float32", ["--quantization", "none"], ".tflite"),
    ("TFLite float16", ["--quantization", "float16"], ".tflite"),
    ("TFLite dynamic range", ["--quantization", "dynamic"], ".tflite"),
    ("TFLite int8", ["--quantization", "int8"], ".tflite"),
    ("TFLite int8, logits", ["--quantization", "int8", "--logits"], ".tflite"),
    ("ONNX float32", [], ".onnx"),
)


def _export(model, weights, flags, path, representative):
    argv = ["--model", model, "--weights", weights, "--include-preprocessing", *flags,
            "--output", str(path), "--no-verify"]
    if "int8" in flags:
        argv += ["--representative-data", representative]
    with contextlib.redirect_stdout(io.StringIO()):
        status = run_command("export", argv)
    if status:
        raise SystemExit(f"export {' '.join(argv)} failed with status {status}")
    return path


def _latency(runners, images, rounds):
    """Median seconds per image of each runner, batch 1, runners taking turns."""
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            for image in images:
                start = time.perf_counter()
                run(image[None])
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _sha256(model, weights):
    """The sha256 of the weights file that `weights=` resolves to (tag, path or hf://)."""
    return hub.sha256sum(loading.resolve_weights(weights, model).path)


def _row(label, metrics, size, latency):
    return {"artifact": label, "top1_error": metrics["top1_error"],
            "top5_error": metrics["top5_error"],
            "flip_top1_error": metrics["flip_tta"]["top1_error"],
            "size_bytes": size, "latency_ms": round(1000 * latency, 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="preact_resnet20", help="a zoo name")
    parser.add_argument("--weights", default="cifar10", help="registered tag or path")
    parser.add_argument("--data", required=True, help="folder split/class/*.jpg (or tfds name)")
    parser.add_argument("--representative-data",
                        help="int8 calibration images (default: <data>/train)")
    parser.add_argument("--limit", type=int, help="evaluate a seeded subset of N test images")
    parser.add_argument("--latency-images", type=int, default=64,
                        help="test images timed per round (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds (default 3)")
    parser.add_argument("--output", help="JSON path (default benchmarks/results/...)")
    args = parser.parse_args(argv)
    representative = args.representative_data or os.path.join(args.data, "train")

    keras_model = ModelSpec.from_dict({"model": args.model}).build(weights=args.weights)
    reference = evaluation.evaluate_weights({"model": args.model}, args.weights, args.data,
                                            limit=args.limit, flip_tta=True)
    size = keras_model.inputs[0].shape[1:3]
    timed = export.load_images(os.path.join(args.data, "test"), tuple(size),
                               limit=args.latency_images, seed=1)
    normalise = Preprocessing.from_dict(reference["normalization"]).transform
    runners = {"Keras float32": lambda x: keras_model.predict_on_batch(
        normalise(x.astype(np.float32)))}
    rows, sizes, measured = [], {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for label, flags, suffix in ARTIFACTS:
            path = pathlib.Path(folder) / (label.replace(" ", "_").replace(",", "") + suffix)
            print(f"{label}: exporting and measuring ...", flush=True)
            _export(args.model, args.weights, flags, path, representative)
            measured[label] = artifacts.evaluate_artifact(path, args.data, limit=args.limit,
                                                          flip_tta=True)
            sizes[label] = path.stat().st_size
            runners[label] = artifacts.Artifact(path)
        latency = _latency(runners, timed, args.rounds)
    rows.append(_row("Keras float32", reference, None, latency["Keras float32"]))
    rows += [_row(label, measured[label], sizes[label], latency[label]) for label in measured]

    print(f"\n{args.model} ({args.weights}) on {reference['data']} "
          f"({reference['examples']:,} images), {reporting.hardware_info()['cpu']}:")
    print(f"{'':24} {'top-1 err %':>11} {'top-5 err %':>11} {'flip top-1':>10} "
          f"{'size KiB':>9} {'ms/image':>9}")
    for row in rows:
        size_kib = "" if row["size_bytes"] is None else f"{row['size_bytes'] / 1024:.0f}"
        print(f"{row['artifact']:24} {row['top1_error']:11.2f} {row['top5_error']:11.2f} "
              f"{row['flip_top1_error']:10.2f} {size_kib:>9} {row['latency_ms']:9.2f}")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    output = args.output or ROOT / "benchmarks" / "results" / f"deploy_{args.model}_{stamp}.json"
    reporting.write_json(output, {
        "model": args.model, "weights": args.weights,
        "sha256": _sha256(args.model, args.weights), "data": reference["data"],
        "split": reference["split"], "examples": reference["examples"], "rows": rows,
        "latency": {"images": len(timed), "rounds": args.rounds, "batch": 1},
        "runtimes": {label: m["runtime"] for label, m in measured.items()},
        "hardware": reporting.hardware_info(), "command": reporting.command_line(),
        "git": reporting.git_info(), "load_average": os.getloadavg()})
    print(f"Written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
