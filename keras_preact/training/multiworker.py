"""Keras 3's `fit` under `tf.distribute.MultiWorkerMirroredStrategy`, and the two
collectives the training loop needs between workers (TensorFlow backend).

Keras 3 (3.15.1, the newest release when this was written) cannot `fit` under
MultiWorkerMirroredStrategy across workers (keras-team/keras#20585). Two functions of
`keras.src.backend.tensorflow.trainer` are at fault:

1. `TensorFlowTrainer._maybe_symbolic_build` learns the input shapes from the first
   distributed batch by reducing it over all replicas (`strategy.reduce("MEAN", batch)`);
   across workers that reduction fails ("Attempt to convert a value (PerReplica...) to a
   Tensor").
2. `reduce_per_replica` sends every step's outputs through a cross-worker reduction:
   `strategy.reduce("MEAN", v, axis=0)` of scalar metric results (fails), and for
   `predict` a concatenation that refers to an undefined name.

`patch_keras()` mends both for multi-worker strategies and leaves every other case to
Keras' own code:

1. The build is symbolic (only shapes and dtypes matter), so it reads the shapes from this
   worker's first local replica's part of the batch.
2. Step outputs are reduced over this worker's replicas only, as under `MirroredStrategy`
   (`reduce_per_replica` is told that no strategy is multi-worker).
   That is exact for `fit` and `evaluate`: Keras keeps the loss and metric totals in
   variables with SUM aggregation, which the strategy all-reduces over every replica of
   every worker at each update, so every worker already holds the global figures.
   `predict_on_batch` returns this worker's outputs for its own batch, with no collective.

`tests/training/test_multiworker.py` trains two loopback workers against one process with
the same global batch, and keeps checking that unpatched Keras still fails (so the patch
can go when Keras is fixed).
"""

import numpy as np

_PATCHED = []


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` spanning several workers."""
    import tensorflow as tf

    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def _first_local(strategy, value):
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def patch_keras():
    """Makes Keras' TensorFlow trainer work under a multi-worker
    `MultiWorkerMirroredStrategy` (see the module docstring); idempotent. Returns
    False when this Keras lacks the functions it mends (then nothing is changed)."""
    if _PATCHED:
        return True
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer
    from keras.src import tree

    trainer_class = getattr(tf_trainer, "TensorFlowTrainer", None)
    keras_build = getattr(trainer_class, "_maybe_symbolic_build", None)
    if keras_build is None or not hasattr(tf_trainer, "_collective_all_reduce_multi_worker"):
        return False

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or not is_multi_worker(strategy):
            return keras_build(self, iterator=iterator, data_batch=data_batch)
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = next(batches)
                break
        data_batch = tree.map_structure(lambda v: _first_local(strategy, v), data_batch)
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    trainer_class._maybe_symbolic_build = _maybe_symbolic_build
    # Only `reduce_per_replica` asks this; False sends it down its single-worker path.
    tf_trainer._collective_all_reduce_multi_worker = lambda strategy: False
    _PATCHED.append(tf.__version__)
    return True


def sum_over_workers(strategy, array):
    """The element-wise sum of `array` over the workers of `strategy` (a collective:
    every worker calls it, each with its own `array`); each worker's array counts once,
    however many replicas it has."""
    import tensorflow as tf

    array = np.asarray(array)
    local = len(strategy.extended.worker_devices)
    zeros = np.zeros_like(array, dtype=np.float64)

    def part(context):
        first = context.replica_id_in_sync_group % local == 0
        return tf.constant(array.astype(np.float64) if first else zeros)

    values = strategy.experimental_distribute_values_from_function(part)
    total = np.asarray(strategy.reduce("SUM", values, axis=None))
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        return np.rint(total).astype(np.int64 if array.dtype != bool else bool)
    return total.astype(array.dtype)


__all__ = ["is_multi_worker", "patch_keras", "sum_over_workers"]
