"""Where a training run executes: one device, all local devices, or several workers.

`resolve_distribution` turns the `--strategy` choice into a `Distribution` for the
active Keras backend:

| strategy      | TensorFlow backend                       | JAX backend                          |
|---------------|------------------------------------------|--------------------------------------|
| default       | the default `tf.distribute` strategy     | no distribution (one device)         |
| mirrored      | `tf.distribute.MirroredStrategy`         | `keras.distribution.DataParallel`    |
| multiworker   | `MultiWorkerMirroredStrategy` over the workers of `TF_CONFIG` | not supported |
| multihost     | refused (use multiworker)                | `DataParallel` over every device of every process (`keras.distribution.initialize`) |

**multihost** (JAX): every process runs the same command with the coordinator's address,
the process count and its own id (`--coordinator`, `--num-processes`, `--process-id`, or
Keras' `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES`,
`KERAS_DISTRIBUTION_PROCESS_ID`). On CPUs the collectives use gloo. Each process feeds its
own contiguous slice of every global batch (`Distribution.shard`); the jitted step sees
the global batch, so batch-norm statistics are those of the whole global batch (what
`--sync-bn` means on TensorFlow) and two processes with batch B/2 each train exactly as
one process with batch B. Decisions that depend on a clock (time budget, `--epochs auto`)
are process 0's, broadcast to all (`Distribution.agree`); only process 0 writes.

**multiworker** (TensorFlow): every worker runs the same command with its own `TF_CONFIG`
(the cluster's addresses and its task). tf.data shards every global batch over the
workers' replicas; `--sync-bn` makes batch-norm statistics those of the whole global
batch. Keras 3 cannot `fit` under this strategy by itself (keras-team/keras#20585):
`keras_preact.training.multiworker.patch_keras` mends the two functions at fault when the
strategy is resolved. The first worker (or the `chief` task) writes; decisions on a clock
are its, sent to all (`Distribution.agree`).

Build, compile and fit inside `Distribution.scope()`. The batch size given to the
pipelines is the global batch; each replica sees `batch / num_replicas` examples.
TensorFlow is imported only on the TensorFlow backend.
"""

import contextlib
import dataclasses
import json
import os

import keras

from keras_preact import runtime

STRATEGIES = ("default", "mirrored", "multiworker", "multihost")
CLUSTER_VARIABLES = {"coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
                     "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
                     "process_id": "KERAS_DISTRIBUTION_PROCESS_ID"}

@dataclasses.dataclass
class Distribution:
    """A resolved distribution strategy.

    Attributes:
        name: the `--strategy` value.
        backend: the Keras backend.
        num_replicas: replicas a global batch is split over.
        devices: device names used.
        strategy: the `tf.distribute.Strategy` (TensorFlow backend), else None.
        distribution: the `keras.distribution.Distribution` (JAX), else None.
        is_chief: whether this process writes checkpoints and reports.
        process_index: this process's rank (multihost) or worker index (multiworker),
            else 0.
        process_count: processes (multihost) or workers (multiworker) taking part, else 1.
    """

    name: str
    backend: str
    num_replicas: int
    devices: list
    strategy: object = None
    distribution: object = None
    is_chief: bool = True
    process_index: int = 0
    process_count: int = 1

    def shard(self, global_batch):
        """`(start, stop)` of this process's rows in a global batch of `global_batch`."""
        if global_batch % self.process_count:
            raise ValueError(f"The global batch {global_batch} does not split evenly over "
                             f"{self.process_count} processes.")
        local = global_batch // self.process_count
        return self.process_index * local, (self.process_index + 1) * local

    def agree(self, value):
        """Process 0's `value` in every process (a collective: all processes call it)."""
        if self.process_count == 1:
            return value
        import numpy as np

        if self.strategy is not None:
            mine = np.asarray(value) if self.process_index == 0 else np.zeros_like(value)
            return self.sum_over_processes(mine).item()
        from jax.experimental import multihost_utils

        return multihost_utils.broadcast_one_to_all(np.asarray(value)).item()

    def sum_over_processes(self, array):
        """The element-wise sum of `array` over all processes (a collective)."""
        if self.process_count == 1:
            return array
        import numpy as np

        if self.strategy is not None:
            from keras_preact.training import multiworker

            return multiworker.sum_over_workers(self.strategy, array)
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(np.asarray(array))).sum(axis=0)

    def scope(self):
        """The context to build, compile and fit in."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    def describe(self):
        """JSON-ready description for summaries."""
        described = {"strategy": self.name, "backend": self.backend,
                     "num_replicas": self.num_replicas, "devices": list(self.devices)}
        if self.process_count > 1:
            described["processes"] = self.process_count
        return described


def _tf_config_task():
    """(is chief, worker index, worker count) of this process from `TF_CONFIG`."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    cluster, task = config.get("cluster", {}), config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    # A chief task, where there is one, comes before the workers.
    order = [("chief", i) for i in range(len(cluster.get("chief", [])))] + \
        [("worker", i) for i in range(len(cluster.get("worker", [])))]
    rank = order.index((kind, index)) if (kind, index) in order else 0
    return rank == 0, rank, max(1, len(order))


def _resolve_tensorflow(name, devices):
    import tensorflow as tf

    if name == "default":
        strategy = tf.distribute.get_strategy()
        return Distribution(name, "tensorflow", 1, ["default"], strategy=strategy)
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=devices or None)
        return Distribution(name, "tensorflow", strategy.num_replicas_in_sync,
                            list(strategy.extended.worker_devices), strategy=strategy)
    from keras_preact.training import multiworker

    if not multiworker.patch_keras():
        raise ValueError(
            f"--strategy multiworker: this Keras ({keras.__version__}) lacks the trainer "
            "functions keras_preact mends for MultiWorkerMirroredStrategy "
            "(keras-team/keras#20585). Train on one machine with --strategy mirrored, or on "
            "several with KERAS_BACKEND=jax and --strategy multihost.")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    is_chief, rank, count = _tf_config_task()
    return Distribution(name, "tensorflow", strategy.num_replicas_in_sync,
                        list(strategy.extended.worker_devices), strategy=strategy,
                        is_chief=is_chief, process_index=rank, process_count=count)


def _cluster_settings(cluster):
    settings = {}
    for key, variable in CLUSTER_VARIABLES.items():
        value = (cluster or {}).get(key)
        if value is None and os.environ.get(variable):
            value = os.environ[variable]
        settings[key] = value
    if settings["num_processes"] is None or settings["process_id"] is None:
        raise ValueError(
            "--strategy multihost needs every process's --num-processes and --process-id "
            "(and --coordinator HOST:PORT of process 0), or the environment variables "
            f"{', '.join(CLUSTER_VARIABLES.values())}.")
    count, index = int(settings["num_processes"]), int(settings["process_id"])
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--process-id must be in [0, {count}) and --num-processes >= 1; "
                         f"got {index} of {count}.")
    if count > 1 and not settings["coordinator"]:
        raise ValueError("--strategy multihost with several processes needs --coordinator "
                         "HOST:PORT (process 0's address, the same for every process).")
    return settings["coordinator"], count, index


_JAX_INITIALIZED = []  # jax.distributed can be initialised once per process


def _resolve_multihost(cluster):
    import jax

    coordinator, count, index = _cluster_settings(cluster)
    if count > 1 and not _JAX_INITIALIZED:
        try:  # CPU collectives (a no-op for GPUs and TPUs); must precede initialisation
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        except (AttributeError, ValueError):
            pass
        keras.distribution.initialize(job_addresses=coordinator.split(",")[0],
                                      num_processes=count, process_id=index)
        _JAX_INITIALIZED.append((coordinator, count, index))
    elif _JAX_INITIALIZED and _JAX_INITIALIZED[0] != (coordinator, count, index):
        raise ValueError(f"This process already joined the cluster {_JAX_INITIALIZED[0]}; "
                         "start a new process for another one.")
    devices = jax.devices()
    distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    return Distribution("multihost", "jax", len(devices), [str(d) for d in devices],
                        distribution=distribution, is_chief=jax.process_index() == 0,
                        process_index=jax.process_index(), process_count=jax.process_count())


def _resolve_jax(name, devices, cluster=None):
    if name == "multihost":
        return _resolve_multihost(cluster)
    if name == "default":
        return Distribution(name, "jax", 1, [str(keras.distribution.list_devices()[0])])
    if name == "multiworker":
        raise ValueError(
            "--strategy multiworker is a tf.distribute strategy (TensorFlow backend). On "
            "JAX use --strategy mirrored (keras.distribution.DataParallel over this host's "
            "devices) or --strategy multihost (over several hosts).")
    devices = list(devices or keras.distribution.list_devices())
    distribution = keras.distribution.DataParallel(devices=devices)
    return Distribution(name, "jax", len(devices), [str(d) for d in devices],
                        distribution=distribution)


def resolve_distribution(strategy="default", devices=None, sync_bn=False, cluster=None):
    """The `Distribution` for a `--strategy` value on the active backend.

    Args:
        strategy: one of `STRATEGIES`.
        devices: device names for "mirrored" (TF "GPU:0", JAX "gpu:0"); default all.
        sync_bn: whether synchronized batch normalisation is requested (checked here:
            TensorFlow only).
        cluster: for "multihost", `{"coordinator": "host:port", "num_processes": n,
            "process_id": i}`; missing values come from `CLUSTER_VARIABLES`.

    Raises:
        ValueError: an unknown strategy, or one (or sync_bn) the backend cannot do.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}, got {strategy!r}.")
    backend = keras.backend.backend()
    if sync_bn and backend != "tensorflow":
        raise ValueError(
            f"--sync-bn needs the TensorFlow backend (Keras implements synchronized "
            f"BatchNormalization with tf.distribute only); this run uses {backend!r}. "
            "Drop --sync-bn: on JAX, data-parallel BN statistics are already those of "
            "the whole global batch (the jitted step sees the global array).")
    if backend == "tensorflow":
        if strategy == "multihost":
            raise ValueError(
                "--strategy multihost runs on the JAX backend (KERAS_BACKEND=jax, "
                "keras.distribution over jax.distributed). TensorFlow's multi-machine "
                "strategy is --strategy multiworker (every worker with its TF_CONFIG).")
        return _resolve_tensorflow(strategy, devices)
    if backend == "jax":
        return _resolve_jax(strategy, devices, cluster)
    if strategy != "default":
        raise ValueError(f"--strategy {strategy} is not available on the {backend!r} "
                         "backend; use the TensorFlow or JAX backend.")
    return Distribution(strategy, backend, 1, ["default"])


def accelerator():
    """The kind of the first accelerator: "gpu", "tpu" or "cpu", without importing
    TensorFlow on other backends."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        platform = jax.devices()[0].platform
        return platform if platform in ("gpu", "tpu") else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("TPU"):
            return "tpu"
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def supports_bfloat16():
    """Whether bf16 compute is native here: TPUs, GPUs of compute capability >= 8, and
    CPUs with AVX-512 BF16 or AMX on the TensorFlow backend with oneDNN (the kernels that
    use those instructions; see `keras_preact.runtime`). Emulated bf16 is about 10x slower
    than float32 on a CPU, so everywhere else the answer is False."""
    kind = accelerator()
    if kind == "tpu":
        return True
    if kind == "cpu":
        return (keras.backend.backend() == "tensorflow" and bool(runtime.onednn_enabled())
                and runtime.native_bfloat16_cpu())
    if kind != "gpu":
        return False
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            capability = getattr(jax.devices()[0], "compute_capability", "0")
        elif backend == "tensorflow":
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            capability = tf.config.experimental.get_device_details(gpu).get(
                "compute_capability", (0, 0))
            capability = f"{capability[0]}.{capability[1]}"
        else:
            import torch

            capability = "%d.%d" % torch.cuda.get_device_capability()
        return float(str(capability)) >= 8.0
    except (ImportError, RuntimeError, ValueError, IndexError):
        return False


def device_names():
    """Human-readable names of the devices Keras will use."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip()
                for d in jax.devices()]
    if backend == "tensorflow":
        import tensorflow as tf

        names = []
        for device in tf.config.list_physical_devices():
            if device.device_type in ("GPU", "TPU"):
                details = tf.config.experimental.get_device_details(device)
                names.append(f"{device.name} {details.get('device_name', '')}".strip())
            else:
                names.append(device.name)
        return names
    return [backend]


__all__ = ["CLUSTER_VARIABLES", "Distribution", "STRATEGIES", "accelerator", "device_names",
           "resolve_distribution", "supports_bfloat16"]
