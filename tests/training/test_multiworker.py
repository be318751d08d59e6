"""Training under MultiWorkerMirroredStrategy (keras_preact/training/multiworker.py): two
real TensorFlow workers on 127.0.0.1 train, validate, evaluate and predict exactly as one
process with the same global batch, agree on one value and sum their counts; the training
command does the same end to end, and resumes after a kill. One test keeps checking
that plain Keras still fails under the strategy (keras-team/keras#20585): when it starts
passing, Keras is fixed and `multiworker.patch_keras` can go."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cluster_helpers import (
    assert_same_training,
    finish,
    free_ports,
    kill_after_first_checkpoint,
)
from image_folders import make_image_folder
from keras_preact.training import distribute, loop

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.tf_only


def _tf_config(cluster, index):
    return json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker",
                                                                 "index": index}})


def _env(**extra):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "-1", **extra}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run_script(script, workers, timeout=240):
    """Runs `script` as `workers` loopback workers (or one process without TF_CONFIG
    when workers is 0) and returns the JSON each printed last."""
    if workers == 0:
        envs = [_env()]
    else:
        cluster = [f"127.0.0.1:{port}" for port in free_ports(workers)]
        envs = [_env(TF_CONFIG=_tf_config(cluster, i)) for i in range(workers)]
    processes = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for env in envs]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_the_first_worker_or_the_chief_writes(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute._tf_config_task() == (True, 0, 1)
    cluster = {"worker": ["a:1", "b:1", "c:1"]}
    for index, expected in ((0, (True, 0, 3)), (2, (False, 2, 3))):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert distribute._tf_config_task() == expected
    with_chief = {"chief": ["z:1"], **cluster}
    for kind, index, expected in (("chief", 0, (True, 0, 4)), ("worker", 0, (False, 1, 4))):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": with_chief, "task": {"type": kind, "index": index}}))
        assert distribute._tf_config_task() == expected


# Dense + synchronized BN on 36 examples in batches of 8 (the last one partial), with
# momentum: anything per-worker (BN statistics, loss scaling, metric totals, the partial
# batch) would make two workers differ from one process. The Dense layer has no bias: in
# front of BN its gradient is zero in exact arithmetic, so its value is rounding noise
# (~1e-7) that differs with the order of the cross-worker sum.
TOY = textwrap.dedent("""
    import json, os
    import numpy as np
    import keras
    keras.utils.set_random_seed(0)
    import tensorflow as tf
    from keras_preact.training import distribute

    dist = distribute.resolve_distribution("multiworker")
    with dist.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False),
                                  keras.layers.BatchNormalization(synchronized=True)])
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.random((36, 4), "float32"), rng.random((36, 3), "float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with dist.scope():
        history = model.fit(data, epochs=3, verbose=0, validation_data=data).history
        evaluated = model.evaluate(data, verbose=0)
        predicted = model.predict_on_batch(x[:5])
    rank = dist.process_index
    print(json.dumps({
        "history": history, "evaluate": evaluated,
        "predicted": np.asarray(predicted).tolist(),
        "weights": [w.tolist() for w in model.get_weights()],
        "processes": [dist.process_count, dist.process_index, dist.is_chief],
        "summed": dist.sum_over_processes(np.array([1, 10 + rank])).tolist(),
        "agreed": dist.agree(7.5 if rank == 0 else -1.0)}))
""")


@pytest.mark.slow
def test_two_workers_fit_evaluate_and_predict_as_one_process():
    one, = _run_script(TOY, workers=0)
    pair = _run_script(TOY, workers=2)
    assert one["processes"] == [1, 0, True]
    assert [p["processes"] for p in pair] == [[2, 0, True], [2, 1, False]]
    for worker in pair:
        assert worker["history"].keys() == one["history"].keys() == {
            "loss", "mae", "val_loss", "val_mae"}
        for key, values in one["history"].items():
            np.testing.assert_allclose(worker["history"][key], values, rtol=1e-5, err_msg=key)
        np.testing.assert_allclose(worker["evaluate"], one["evaluate"], rtol=1e-5)
        for a, b in zip(worker["weights"], one["weights"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(worker["predicted"], one["predicted"], rtol=1e-5,
                                   atol=1e-6)
        assert worker["summed"] == [2, 21]
        assert worker["agreed"] == 7.5
    assert one["summed"] == [1, 10] and one["agreed"] == 7.5


PLAIN_KERAS = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    import keras

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.random((32, 4), "float32"), rng.random((32, 2), "float32"))).batch(8)
    try:
        with strategy.scope():
            model.fit(data, epochs=1, verbose=0)
        print(json.dumps({"fit": "ok"}))
    except Exception as error:
        print(json.dumps({"fit": "failed", "error": str(error)[:300]}))
""")


@pytest.mark.slow
def test_plain_keras_fit_under_the_strategy_still_fails():
    results = _run_script(PLAIN_KERAS, workers=2)
    assert [r["fit"] for r in results] == ["failed", "failed"], (
        "Keras now fits under MultiWorkerMirroredStrategy by itself: "
        "keras_preact.training.multiworker.patch_keras can go", results)
    assert all("PerReplica" in r["error"] for r in results)


FLAGS = ["--depth", "8", "--epochs", "3", "--batch-size", "8", "--steps-per-epoch", "2",
         "--verbose", "0", "--seed", "3", "--no-tensorboard", "--sync-bn"]


def _train(folder, output, *extra, tf_config=None):
    env = _env(**({"TF_CONFIG": tf_config} if tf_config else {}))
    return subprocess.Popen(
        [sys.executable, "scripts/train.py", *FLAGS, "--data", str(folder),
         "--output", str(output), *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def _pair(folder, output, *extra):
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    return [_train(folder, output, "--strategy", "multiworker", *extra,
                   tf_config=_tf_config(cluster, i)) for i in (0, 1)]


@pytest.mark.slow
def test_two_workers_train_like_one_and_resume_after_a_kill(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=6, test_per_class=2)
    finish([_train(folder, tmp_path / "one")])
    finish(_pair(folder, tmp_path / "pair"))
    assert_same_training(tmp_path / "pair", tmp_path / "one")
    summary = json.loads((tmp_path / "pair" / "summary.json").read_text())
    assert summary["distribution"]["strategy"] == "multiworker"

    kill_after_first_checkpoint(_pair(folder, tmp_path / "killed"), tmp_path / "killed")
    finish(_pair(folder, tmp_path / "killed", "--resume"))
    assert_same_training(tmp_path / "killed", tmp_path / "one")


def test_the_numpy_pipeline_is_refused_with_several_workers():
    dist = distribute.Distribution("multiworker", "tensorflow", 2, [], process_count=2,
                                   process_index=1, is_chief=False)
    with pytest.raises(ValueError, match="drop --pipeline numpy"):
        loop._pipelines(loop.TrainConfig(), "numpy", None, None, None, None, None, "cifar",
                        0, 1, dist)
