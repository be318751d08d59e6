"""Training-step speed of the zoo's networks on this machine, next to
keras.applications.ResNet50V2 measured in the same run.

For each model: images/second of `train_on_batch` (SGD with momentum, cross-entropy on
logits, random data) after a few warm-up steps, the model's forward FLOPs per image
(2 x multiply-adds of every convolution and dense layer), the achieved GFLOP/s of a
training step (taken as 3 x forward: forward + two backward products), and that as a
fraction of this machine's measured float32 matmul peak (best of several large square
matmuls on the same backend).

    python benchmarks/train_speed.py                      # short default run
    KERAS_BACKEND=jax python benchmarks/train_speed.py --steps 20
    python benchmarks/train_speed.py --models preact_resnet164 --cifar-batch 128

Prints a table and writes benchmarks/results/train_speed_<backend>_<time>.json.
"""

import argparse
import datetime
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from keras_preact import distribute, reporting  # noqa: E402

MODELS = ("preact_resnet164", "preact_resnet50", "keras_resnet50v2")


def matmul_peak(size=4096, repeats=5):
    """Best float32 GFLOP/s of a `size` x `size` matmul on the active backend."""
    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    if backend == "jax":
        import jax

        product = jax.jit(lambda x, y: x @ y)
        a, b = jax.device_put(a), jax.device_put(b)
        run = lambda: product(a, b).block_until_ready()  # noqa: E731
    elif backend == "tensorflow":
        import tensorflow as tf

        product = tf.function(lambda x, y: tf.linalg.matmul(x, y))
        a, b = tf.constant(a), tf.constant(b)
        run = lambda: product(a, b).numpy()  # noqa: E731
    else:
        run = lambda: a @ b  # noqa: E731
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


def build(name):
    """The model to benchmark, with logits and its input side."""
    if name == "keras_resnet50v2":
        model = keras.applications.ResNet50V2(weights=None, classifier_activation=None)
        return model, 224
    import keras_preact

    model = keras_preact.create_model(name, classifier_activation=None)
    return model, model.input.shape[1]


def time_training(model, size, batch, steps, warmup):
    """(seconds per step, images/second) of `train_on_batch` on random data."""
    classes = model.output.shape[-1]
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                  keras.losses.CategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, 3), dtype=np.float32)
    y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, batch)]
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for step in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
        print(f"    step {step + 1}/{steps}: {times[-1] * 1000:.0f} ms", flush=True)
    seconds = float(np.median(times))
    return seconds, batch / seconds


def main(argv=None):
    """Runs the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)} or any zoo name")
    parser.add_argument("--cifar-batch", type=int, default=64, help="batch of 32x32 models")
    parser.add_argument("--imagenet-batch", type=int, default=8, help="batch of 224 models")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation)")
    parser.add_argument("--matmul-size", type=int, default=4096)
    parser.add_argument("--mixed-precision", choices=["off", "bf16"], default="off")
    parser.add_argument("--output", help="JSON path (default benchmarks/results/...)")
    args = parser.parse_args(argv)

    if args.mixed_precision == "bf16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    backend = keras.backend.backend()
    load_before = os.getloadavg()
    print(f"Backend {backend}; load average {load_before[0]:.2f} (other processes slow "
          "the figures down); measuring the float32 matmul peak "
          f"({args.matmul_size}x{args.matmul_size}) ...", flush=True)
    peak = matmul_peak(args.matmul_size)
    print(f"  matmul peak: {peak:.1f} GFLOP/s", flush=True)
    results = []
    for name in [m for m in args.models.split(",") if m]:
        print(f"{name}: building ...", flush=True)
        model, size = build(name)
        batch = args.cifar_batch if size <= 64 else args.imagenet_batch
        flops = forward_flops(model)
        print(f"  {model.count_params():,} parameters, {flops / 1e9:.3f} forward GFLOPs/image; "
              f"{args.warmup} warm-up + {args.steps} timed steps at batch {batch} ...", flush=True)
        seconds, images = time_training(model, size, batch, args.steps, args.warmup)
        achieved = images * 3 * flops / 1e9
        results.append({
            "model": name, "keras_name": model.name, "input": [size, size, 3], "batch": batch,
            "parameters": model.count_params(), "forward_gflops_per_image": round(flops / 1e9, 4),
            "step_ms": round(seconds * 1000, 2), "images_per_second": round(images, 2),
            "achieved_gflops": round(achieved, 2),
            "fraction_of_matmul_peak": round(achieved / peak, 4)})
        print(f"  {images:.1f} images/s, {achieved:.1f} GFLOP/s = "
              f"{100 * achieved / peak:.1f}% of the matmul peak", flush=True)
        del model
        keras.backend.clear_session()

    print(f"\n{'model':<20} {'input':>7} {'batch':>5} {'img/s':>9} {'GFLOP/s':>9} {'of peak':>8}")
    for r in results:
        print(f"{r['model']:<20} {r['input'][0]:>7} {r['batch']:>5} {r['images_per_second']:>9.1f} "
              f"{r['achieved_gflops']:>9.1f} {100 * r['fraction_of_matmul_peak']:>7.1f}%")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    output = pathlib.Path(args.output or ROOT / "benchmarks" / "results" /
                          f"train_speed_{backend}_{stamp}.json")
    reporting.write_json(output, {
        "benchmark": "train_speed", "backend": backend, "dtype_policy": keras.config.dtype_policy().name,
        "matmul_peak_gflops": round(peak, 2), "matmul_size": args.matmul_size,
        "steps": args.steps, "warmup": args.warmup, "results": results,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "hardware": reporting.hardware_info(distribute.device_names()),
        "command": reporting.command_line(), "git": reporting.git_info(),
        "time": datetime.datetime.now().isoformat(timespec="seconds")})
    print(f"Written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
