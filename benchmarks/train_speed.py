"""Training and inference speed of the zoo's networks on this machine: stock Keras batch
norm against keras_preact's fused one, float32 against bfloat16, next to
keras.applications.ResNet50V2, all measured in one process with interleaved rounds.

For each model x batch-norm implementation x precision ("set-up"): images/second of
`train_on_batch` (SGD with momentum, cross-entropy on logits, random data) and of
inference (`predict_on_batch`), the ratio to the stock float32 set-up of the same model,
and the achieved GFLOP/s of a training step (3 x forward: forward + two backward
products, forward = 2 x multiply-adds of every conv and dense layer) as a fraction of
this machine's float32 and bfloat16 matmul peaks, measured at the start of the same
run. The set-ups take turns (`--rounds` rounds of `--steps` timed steps each), so a
change of machine load hits all of them alike; the median step of every set-up is
reported. The CIFAR input pipeline (`keras_preact.training.pipelines`: cached uint8 images, pad-4
crop and flip per batch, prefetch) is timed alone and printed next to training.

    python benchmarks/train_speed.py                          # the default comparison
    python benchmarks/train_speed.py --models preact_resnet164 --rounds 5
    python benchmarks/train_speed.py --precisions float32,bfloat16   # bf16 also where emulated

bfloat16 set-ups run by default only where the CPU or accelerator computes it natively
(`keras_preact.training.distribute.supports_bfloat16`): emulated bf16 is ~10x slower on a CPU.
Prints a table and writes benchmarks/results/train_speed_<backend>_<time>.json.
"""

import argparse
import datetime
import logging
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes: one per set-up

import keras_preact  # noqa: E402  (first: it switches oneDNN on before TensorFlow loads)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_preact.training import distribute, reporting  # noqa: E402

from keras_preact import runtime
from keras_preact.models.layers import BatchNormalization  # noqa: E402

MODELS = ("preact_resnet164", "resnet20", "preact_resnet50", "keras_resnet50v2")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def matmul_peak(size, dtype="float32", repeats=5):
    """Best GFLOP/s of a `size` x `size` matmul in `dtype` on the active backend."""
    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    a = keras.ops.cast(rng.standard_normal((size, size), dtype=np.float32), dtype)
    b = keras.ops.cast(rng.standard_normal((size, size), dtype=np.float32), dtype)
    if backend == "jax":
        import jax

        product = jax.jit(lambda x, y: x @ y)
        run = lambda: product(a, b).block_until_ready()  # noqa: E731
    elif backend == "tensorflow":
        import tensorflow as tf

        product = tf.function(lambda x, y: tf.linalg.matmul(x, y))
        run = lambda: product(a, b).numpy()  # noqa: E731
    else:
        run = lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # noqa: E731
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def forward_flops(model):
    """Forward FLOPs per image: 2 x multiply-adds of Conv2D and Dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            kernel_h, kernel_w = layer.kernel_size
            channels_in = layer.input.shape[-1] // layer.groups
            total += 2 * height * width * kernel_h * kernel_w * channels_in * channels_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def with_batch_norm(model, kind):
    """`model` with every BatchNormalization layer made "stock" (Keras') or "ours"."""
    target = keras.layers.BatchNormalization if kind == "stock" else BatchNormalization

    def clone(layer):
        if isinstance(layer, keras.layers.BatchNormalization) and type(layer) is not target:
            config = layer.get_config()
            config.pop("fused", None)
            return target.from_config(config)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def build(name, kind, policy):
    """The compiled model of one set-up and its input side."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        if name == "keras_resnet50v2":
            model = keras.applications.ResNet50V2(weights=None, classifier_activation=None)
        else:
            model = keras_preact.create_model(name, classifier_activation=None)
        model = with_batch_norm(model, kind)
    finally:
        keras.config.set_dtype_policy(previous)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                  keras.losses.CategoricalCrossentropy(from_logits=True))
    return model, model.input.shape[1]


class SetUp:
    """One model x batch norm x precision, with its data and step times."""

    def __init__(self, name, kind, precision, batch, warmup):
        self.name, self.kind, self.precision = name, kind, precision
        self.model, self.size = build(name, kind, POLICIES[precision])
        self.batch = batch(self.size)
        classes = self.model.output.shape[-1]
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((self.batch, self.size, self.size, 3), dtype=np.float32)
        self.y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, self.batch)]
        self.flops = forward_flops(self.model)
        self.train_times, self.infer_times = [], []
        for _ in range(warmup):
            self.model.train_on_batch(self.x, self.y)
            self.model.predict_on_batch(self.x)

    def run(self, steps):
        """Times `steps` training steps and as many inference batches."""
        for _ in range(steps):
            start = time.perf_counter()
            self.model.train_on_batch(self.x, self.y)
            self.train_times.append(time.perf_counter() - start)
        for _ in range(steps):
            start = time.perf_counter()
            self.model.predict_on_batch(self.x)
            self.infer_times.append(time.perf_counter() - start)

    def result(self, peaks):
        train = self.batch / float(np.median(self.train_times))
        infer = self.batch / float(np.median(self.infer_times))
        achieved = train * 3 * self.flops / 1e9
        return {
            "model": self.name, "batch_norm": self.kind, "precision": self.precision,
            "keras_name": self.model.name, "input": [self.size, self.size, 3],
            "batch": self.batch, "parameters": self.model.count_params(),
            "forward_gflops_per_image": round(self.flops / 1e9, 4),
            "train_images_per_second": round(train, 2),
            "inference_images_per_second": round(infer, 2),
            "train_step_ms": [round(1000 * t, 1) for t in self.train_times],
            "achieved_gflops": round(achieved, 2),
            **{f"fraction_of_{p}_matmul_peak": round(achieved / v, 4) for p, v in peaks.items()},
        }


def pipeline_speed(batch, batches=60, images=10_000):
    """Images/second of the CIFAR training pipeline alone on random uint8 images."""
    from keras_preact.training import data, pipelines

    rng = np.random.default_rng(0)
    split = data.ArraySplit(rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8),
                            rng.integers(0, 10, images).astype("int32"),
                            tuple(str(i) for i in range(10)), source="random")
    normalization = data.NORMALIZATIONS["cifar10"]
    if keras.backend.backend() == "tensorflow":
        dataset, _ = pipelines.tf_train_dataset(split, batch_size=batch,
                                                normalization=normalization, epochs=100)
        iterator = iter(dataset)
        kind = "tf.data"
    else:
        iterator = iter(pipelines.ArrayTrainBatches(split, batch_size=batch,
                                                    normalization=normalization))
        kind = "numpy threads"
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return kind, batches * batch / (time.perf_counter() - start)


def _table(results, pipeline):
    head = (f"{'model':<18} {'BN':<6} {'precision':<9} {'batch':>5} {'train img/s':>11} "
            f"{'x stock':>7} {'infer img/s':>11} {'x stock':>7} {'of f32 peak':>11} "
            f"{'of bf16 peak':>12}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r['model']:<18} {r['batch_norm']:<6} {r['precision']:<9} {r['batch']:>5} "
            f"{r['train_images_per_second']:>11.1f} {r['train_ratio_to_stock_float32']:>6.2f}x "
            f"{r['inference_images_per_second']:>11.1f} "
            f"{r['inference_ratio_to_stock_float32']:>6.2f}x "
            f"{100 * r['fraction_of_float32_matmul_peak']:>10.1f}% "
            f"{100 * r.get('fraction_of_bfloat16_matmul_peak', float('nan')):>11.1f}%")
    lines.append(f"input pipeline ({pipeline[0]}, CIFAR, batch {pipeline[2]}): "
                 f"{pipeline[1]:.0f} images/s")
    return "\n".join(lines)


def main(argv=None):
    """Runs the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)} or any zoo name")
    parser.add_argument("--batch-norm", default=None,
                        help="comma-separated from stock,ours (default: both on TensorFlow, "
                             "stock elsewhere, where ours is Keras' code)")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated from float32,bfloat16 (default: bfloat16 too "
                             "where it is native)")
    parser.add_argument("--cifar-batch", type=int, default=128, help="batch of 32x32 models")
    parser.add_argument("--imagenet-batch", type=int, default=16, help="batch of 224 models")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per set-up and round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation)")
    parser.add_argument("--matmul-size", type=int, default=4096)
    parser.add_argument("--output", help="JSON path (default benchmarks/results/...)")
    args = parser.parse_args(argv)

    backend = keras.backend.backend()
    kinds = (args.batch_norm or ("stock,ours" if backend == "tensorflow" else "stock")).split(",")
    native = distribute.supports_bfloat16()
    precisions = (args.precisions or ("float32,bfloat16" if native else "float32")).split(",")
    for value, allowed in ((kinds, ("stock", "ours")), (precisions, tuple(POLICIES))):
        if set(value) - set(allowed):
            parser.error(f"choose from {', '.join(allowed)}; got {','.join(value)}")
    load_before = os.getloadavg()
    info = runtime.describe()
    print(f"Backend {backend} on {info['cpu']} (native bf16: {info['native_bfloat16']}, oneDNN: "
          f"{info['onednn']}); load average {load_before[0]:.2f}. Matmul peaks ...", flush=True)
    peaks = {"float32": matmul_peak(args.matmul_size)}
    peaks["bfloat16"] = matmul_peak(args.matmul_size if native else args.matmul_size // 2,
                                    "bfloat16")
    print("  " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks.items()), flush=True)
    kind, rate = pipeline_speed(args.cifar_batch)
    pipeline = (kind, rate, args.cifar_batch)
    print(f"  input pipeline ({kind}): {rate:.0f} images/s", flush=True)

    def batch(size):
        return args.cifar_batch if size <= 64 else args.imagenet_batch

    setups = []
    for name in [m for m in args.models.split(",") if m]:
        for precision in precisions:
            for bn in kinds:
                print(f"building {name} / {bn} BN / {precision} ...", flush=True)
                setups.append(SetUp(name, bn, precision, batch, args.warmup))
    for round_ in range(args.rounds):
        print(f"round {round_ + 1}/{args.rounds}", flush=True)
        for setup in setups:
            setup.run(args.steps)
            print(f"  {setup.name:<18} {setup.kind:<6} {setup.precision:<9} "
                  f"{setup.batch / setup.train_times[-1]:8.1f} train img/s", flush=True)
    results = [s.result(peaks) for s in setups]
    for r in results:  # ratios to the model's stock float32 set-up (else its first one)
        same = [b for b in results if b["model"] == r["model"]]
        base = next((b for b in same if (b["batch_norm"], b["precision"]) ==
                     ("stock", "float32")), same[0])
        for mode in ("train", "inference"):
            key = f"{mode}_images_per_second"
            r[f"{mode}_ratio_to_stock_float32"] = round(r[key] / base[key], 3)
    print()
    print(_table(results, pipeline))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    output = pathlib.Path(args.output or ROOT / "benchmarks" / "results" /
                          f"train_speed_{backend}_{stamp}.json")
    reporting.write_json(output, {
        "benchmark": "train_speed", "backend": backend, "matmul_size": args.matmul_size,
        "matmul_peaks_gflops": {k: round(v, 2) for k, v in peaks.items()},
        "input_pipeline": {"kind": kind, "images_per_second": round(rate, 1),
                           "batch": args.cifar_batch},
        "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
        "results": results, "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "hardware": reporting.hardware_info(distribute.device_names()),
        "command": reporting.command_line(), "git": reporting.git_info(),
        "time": datetime.datetime.now().isoformat(timespec="seconds")})
    print(f"Written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
