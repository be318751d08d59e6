"""Helpers of the tests that start several training processes on 127.0.0.1
(tests/training/test_distribute.py: JAX multihost; test_multiworker.py: TensorFlow
MultiWorkerMirroredStrategy)."""

import json
import signal
import socket
import time

import h5py
import numpy as np

from keras_preact.training.checkpointing import Checkpoint


def free_ports(count):
    """`count` TCP ports free on 127.0.0.1 now."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def finish(processes, timeout=300):
    """Waits for training processes and asserts each ended well."""
    for process in processes:
        out, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, out[-3000:]


def kill_after_first_checkpoint(processes, output, timeout=240):
    """SIGKILLs a run's processes once the checkpoint in `output` holds epoch 1, and
    asserts that the kill came before the run's last (third) epoch ended."""
    checkpoint = Checkpoint(output)
    deadline = time.monotonic() + timeout
    while (checkpoint.read_state() or {}).get("epoch", 0) < 1:
        assert time.monotonic() < deadline, "no checkpoint after epoch 1"
        assert all(p.poll() is None for p in processes), "the run ended before the kill"
        time.sleep(0.2)
    for process in processes:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert checkpoint.read_state()["epoch"] < 3


def _weights(path):
    found = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: found.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return found


def assert_same_training(run, reference):
    """A 2-process run of 3 epochs x 2 steps ended as the 1-process `reference`: same
    weights, losses, test error and examples, to float tolerance."""
    a, b = _weights(run / "model.weights.h5"), _weights(reference / "model.weights.h5")
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)
    losses = [[row["loss"] for row in json.loads((r / "history.json").read_text())]
              for r in (run, reference)]
    assert len(losses[0]) == 3
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    summaries = [json.loads((r / "summary.json").read_text()) for r in (run, reference)]
    assert summaries[0]["test"]["top1_error"] == summaries[1]["test"]["top1_error"]
    assert summaries[0]["test"]["examples"] == summaries[1]["test"]["examples"] == 6
    assert summaries[0]["distribution"]["processes"] == 2
    assert summaries[0]["distribution"]["num_replicas"] == 2
    assert summaries[0]["iterations"] == summaries[1]["iterations"] == 6
