"""Training: datasets and their caches (`data`), input pipelines (`pipelines`), recipes
and learning-rate schedules (`recipes`, `schedules`), tf.distribute / keras.distribution
set-up (`distribute`; `multiworker` mends Keras under MultiWorkerMirroredStrategy),
checkpoints and callbacks (`checkpointing`, `callbacks`), the loop itself (`loop`),
snapshots of unfinished runs (`snapshot`), evaluation (`evaluation`) and run reports
(`reporting`).

The names of `loop` (the module `keras_preact.training` was before this package) are
available here too: `keras_preact.training.train`, `TrainConfig`, ...
"""

import importlib

_LOOP = ("AUTO_EPOCHS_CAP", "FitOutcome", "PIPELINES", "RUNTIME_FIELDS", "RunPlan",
         "TrainConfig", "build_run_model", "fit_run", "plan_run", "report_run",
         "seed_everything", "train")


def __getattr__(name):
    if name in _LOOP:
        return getattr(importlib.import_module("keras_preact.training.loop"), name)
    raise AttributeError(f"module 'keras_preact.training' has no attribute {name!r}")
