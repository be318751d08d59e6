"""scripts/train.py in fresh processes: MirroredStrategy over two logical CPUs
(TensorFlow), and the JAX path (DataParallel over two CPU devices, augmentation seen
inside the jitted train step, no TensorFlow imported)."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from image_folders import make_image_folder

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTS = pathlib.Path(__file__).resolve().parents[1]


def _run(code, env, timeout=300):
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}",
                   "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


TRAIN_FLAGS = ["--depth", "8", "--epochs", "1", "--batch-size", "8", "--steps-per-epoch",
               "2", "--verbose", "0"]


@pytest.mark.tf_only
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=6, test_per_class=2)
    argv = ["scripts/train.py", *TRAIN_FLAGS, "--data", str(folder), "--output",
            str(tmp_path / "run"), "--strategy", "mirrored", "--devices", "CPU:0,CPU:1",
            "--sync-bn"]
    result = _run(f"""
        import json, runpy, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        codes = []
        for extra in ([], ["--resume"]):  # the resume restores into mirrored variables
            sys.argv = {argv!r} + extra
            try:
                runpy.run_path("scripts/train.py", run_name="__main__")
            except SystemExit as done:
                codes.append(done.code)
        print(json.dumps({{"exit": codes}}))
        """, {"KERAS_BACKEND": "tensorflow"})
    assert result["exit"] == [0, 0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["iterations"] == 2
    assert summary["distribution"]["num_replicas"] == 2
    assert len(summary["distribution"]["devices"]) == 2


def test_jax_path_needs_no_tensorflow(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=6, test_per_class=2)
    argv = [*TRAIN_FLAGS, "--data", str(folder), "--output", str(tmp_path / "run"),
            "--strategy", "mirrored"]
    sync_bn = [*TRAIN_FLAGS, "--data", str(folder), "--output", str(tmp_path / "sync"),
               "--sync-bn"]
    result = _run(f"""
        import json, sys
        import keras
        import numpy as np
        from keras_preact.training import data, pipelines

        class Probe(keras.layers.Layer):
            # Records the batch that reaches the jitted train step.
            def build(self, shape):
                self.seen = self.add_weight(shape=(8, *shape[1:]), initializer="zeros",
                                            trainable=False, name="seen")

            def call(self, x, training=False):
                if training and x.shape[0] == 8:
                    self.seen.assign(x)
                return x

        rng = np.random.default_rng(0)
        split = data.ArraySplit(rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8),
                                np.arange(16, dtype=np.int32) % 4, ("a", "b", "c", "d"))
        batches = pipelines.ArrayTrainBatches(split, batch_size=8,
                                              normalization=data.CIFAR10, seed=5)
        inputs = keras.Input((8, 8, 3))
        hidden = keras.layers.GlobalAveragePooling2D()(Probe(name="probe")(inputs))
        model = keras.Model(inputs, keras.layers.Dense(4)(hidden))
        model.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True))
        model.fit(iter(batches), steps_per_epoch=1, epochs=1, verbose=0)
        seen = keras.ops.convert_to_numpy(model.get_layer("probe").seen.value)
        augmented, _ = batches.batch(0, 0)
        plain = data.CIFAR10.apply(split.images[np.sort(batches.permutation(0)[:8])])

        sys.path.insert(0, "scripts")
        import train as script
        code = script.main({argv!r})
        sync_bn = script.main({sync_bn!r})
        print(json.dumps({{
            "saw_augmented": bool(np.allclose(seen, augmented)),
            "differs_from_plain": bool(np.abs(seen - plain).max() > 1e-3),
            "exit": code, "sync_bn_exit": sync_bn,
            "tensorflow_imported": "tensorflow" in sys.modules}}))
        """, {"KERAS_BACKEND": "jax",
              "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert result["saw_augmented"] and result["differs_from_plain"]
    assert result["exit"] == 0 and result["sync_bn_exit"] == 2
    assert result["tensorflow_imported"] is False
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["tensorflow_imported"] is False
    assert summary["distribution"] == {"strategy": "mirrored", "backend": "jax",
                                       "num_replicas": 2,
                                       "devices": summary["distribution"]["devices"]}
    assert len(summary["distribution"]["devices"]) == 2
    assert summary["data"]["pipeline"] == "numpy"
    assert any("TensorBoard" in note for note in summary["notes"])
