"""`--strategy` resolution (keras_preact/distribute.py), and the upstream failure that makes
`multiworker` refused on the installed Keras: two real MultiWorkerMirroredStrategy workers
on loopback, running plain Keras. When this test starts failing, Keras has fixed fit()
under MultiWorkerMirroredStrategy: raise LAST_BROKEN_KERAS's guard and test multiworker
training end to end."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import pytest

from keras_preact import distribute

pytestmark = pytest.mark.tf_only


def test_default_and_mirrored_resolve():
    default = distribute.resolve_distribution("default")
    assert default.num_replicas == 1 and default.backend == "tensorflow"
    mirrored = distribute.resolve_distribution("mirrored")
    assert mirrored.num_replicas >= 1 and mirrored.strategy is not None


def test_multiworker_is_refused_with_the_reason(monkeypatch):
    monkeypatch.delenv(distribute.MULTIWORKER_OVERRIDE, raising=False)
    if distribute.multiworker_supported():
        pytest.skip(f"Keras {keras.__version__} is past the known-broken versions")
    with pytest.raises(ValueError, match="keras-team/keras#20585.*--strategy mirrored"):
        distribute.resolve_distribution("multiworker")
    monkeypatch.setenv(distribute.MULTIWORKER_OVERRIDE, "1")
    assert distribute.multiworker_supported()


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


WORKER = textwrap.dedent("""
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
def test_keras_fit_under_multiworker_strategy_still_fails():
    if distribute.multiworker_supported():
        pytest.skip("multiworker is enabled: test it end to end instead")
    cluster = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    workers = []
    for index in range(2):
        config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "KERAS_BACKEND": "tensorflow",
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["fit"] for r in results] == ["failed", "failed"], results
    assert all("PerReplica" in r["error"] for r in results)
