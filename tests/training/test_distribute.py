"""`--strategy` resolution (keras_preact/training/distribute.py); multihost training on JAX with two
real processes on 127.0.0.1 (gloo CPU collectives) against one process with the same
global batch, and a kill-and-resume of the pair. TensorFlow's multiworker strategy:
tests/training/test_multiworker.py."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from cluster_helpers import (
    assert_same_training,
    finish,
    free_ports,
    kill_after_first_checkpoint,
)
from image_folders import make_image_folder
from keras_preact.training import data, distribute, evaluation, pipelines

ROOT = pathlib.Path(__file__).resolve().parents[2]
tf_only = pytest.mark.tf_only


@tf_only
def test_default_and_mirrored_resolve():
    default = distribute.resolve_distribution("default")
    assert default.num_replicas == 1 and default.backend == "tensorflow"
    mirrored = distribute.resolve_distribution("mirrored")
    assert mirrored.num_replicas >= 1 and mirrored.strategy is not None


@tf_only
def test_multihost_is_the_jax_path():
    with pytest.raises(ValueError, match="multihost runs on the JAX backend"):
        distribute.resolve_distribution("multihost", cluster={"num_processes": 2,
                                                              "process_id": 0})


def test_cluster_settings_are_checked(monkeypatch):
    for variable in distribute.CLUSTER_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ValueError, match="--num-processes and --process-id"):
        distribute._cluster_settings({})
    with pytest.raises(ValueError, match=r"--process-id must be in \[0, 2\)"):
        distribute._cluster_settings({"num_processes": 2, "process_id": 2})
    with pytest.raises(ValueError, match="needs --coordinator"):
        distribute._cluster_settings({"num_processes": 2, "process_id": 1})
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "10.0.0.1:1234")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "4")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "3")
    assert distribute._cluster_settings(None) == ("10.0.0.1:1234", 4, 3)
    assert distribute._cluster_settings({"process_id": 1}) == ("10.0.0.1:1234", 4, 1)


def test_shards_agree_and_sums_of_one_process():
    dist = distribute.Distribution("multihost", "jax", 4, [], process_index=1,
                                   process_count=2)
    assert dist.shard(8) == (4, 8)
    with pytest.raises(ValueError, match="does not split evenly over 2 processes"):
        dist.shard(7)
    single = distribute.Distribution("default", "jax", 1, [])
    assert single.shard(8) == (0, 8) and single.agree(5) == 5
    np.testing.assert_array_equal(single.sum_over_processes(np.arange(3)), np.arange(3))


def _split(n=20, size=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return data.ArraySplit(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                           rng.integers(0, classes, n).astype("int32"),
                           tuple("abcd"[:classes]))


def test_each_process_feeds_exactly_its_rows_of_every_global_batch():
    split = _split()
    whole = pipelines.ArrayTrainBatches(split, batch_size=8, normalization=data.CIFAR10,
                                        seed=3)
    halves = [pipelines.ArrayTrainBatches(split, batch_size=8, normalization=data.CIFAR10,
                                          seed=3, shard=(4 * i, 4 * i + 4)) for i in (0, 1)]
    for epoch, step in ((0, 0), (0, 1), (2, 1)):
        images, labels = whole.batch(epoch, step)
        parts = [half.batch(epoch, step) for half in halves]
        np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), images)
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), labels)
    evaluation_whole = pipelines.ArrayEvalBatches(split, batch_size=8,
                                                  normalization=data.CIFAR10)
    evaluation_parts = [pipelines.ArrayEvalBatches(split, batch_size=8,
                                                   normalization=data.CIFAR10,
                                                   shard=(4 * i, 4 * i + 4)) for i in (0, 1)]
    last = len(evaluation_whole) - 1  # 20 = 8 + 8 + 4 real rows and 4 of padding
    for step in (0, last):
        joined = [np.concatenate(x) for x in zip(*(p[step] for p in evaluation_parts))]
        for a, b in zip(joined, evaluation_whole[step]):
            np.testing.assert_array_equal(a, b)
    assert evaluation_parts[1][last][2].tolist() == [0.0] * 4


def test_evaluation_sums_the_counts_of_every_process():
    split = _split(n=16, classes=2)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    full = evaluation.evaluate_classifier(
        model, pipelines.ArrayEvalBatches(split, batch_size=8, normalization=data.CIFAR10),
        split.class_names, top_k=1)
    doubled = evaluation.evaluate_classifier(
        model, pipelines.ArrayEvalBatches(split, batch_size=8, normalization=data.CIFAR10),
        split.class_names, top_k=1, reduce=lambda counts: 2 * counts)
    assert doubled["examples"] == 2 * full["examples"] == 32
    assert doubled["top1_error"] == full["top1_error"]


MULTIHOST_FLAGS = ["--depth", "8", "--epochs", "3", "--batch-size", "8", "--steps-per-epoch",
                   "2", "--verbose", "0", "--seed", "3", "--no-tensorboard"]


def _train(folder, output, *extra):
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(ROOT)}
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    return subprocess.Popen(
        [sys.executable, "scripts/train.py", *MULTIHOST_FLAGS, "--data", str(folder),
         "--output", str(output), *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def _pair(folder, output, *extra):
    address = f"127.0.0.1:{free_ports(1)[0]}"
    return [_train(folder, output, "--strategy", "multihost", "--coordinator", address,
                   "--num-processes", "2", "--process-id", str(i), *extra) for i in (0, 1)]


@pytest.mark.slow
def test_two_processes_train_like_one_and_resume_after_a_kill(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=6, test_per_class=2)
    one = _train(folder, tmp_path / "one")
    finish([one])
    pair = _pair(folder, tmp_path / "pair")
    finish(pair)
    assert_same_training(tmp_path / "pair", tmp_path / "one")

    kill_after_first_checkpoint(_pair(folder, tmp_path / "killed"), tmp_path / "killed")
    finish(_pair(folder, tmp_path / "killed", "--resume"))
    assert_same_training(tmp_path / "killed", tmp_path / "one")
