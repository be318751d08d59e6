"""Learning-rate schedules of the training recipes, counted in optimizer steps.

`WarmupSchedule` covers the paper's step schedule with its constant warm-up and the
short-budget cosine / one-cycle schedules with a linear warm-up. It is written with
`keras.ops`, so it runs inside compiled train steps on every backend, and it is
registered serializable (package "keras_preact").
"""

import math

import keras
from keras import ops

SCHEDULES = ("step", "cosine", "onecycle", "constant")
WARMUPS = ("constant", "linear")


@keras.saving.register_keras_serializable(package="keras_preact")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate with an optional warm-up followed by step, cosine, one-cycle
    (linear decay) or constant rates.

    During the first `warmup_steps` steps the rate is `warmup_lr` ("constant" warm-up,
    as the paper's 0.01 for 400 iterations) or rises linearly from `warmup_lr` to
    `base_lr` ("linear"). Afterwards, with `t` the step:

    - "step": `base_lr * factor ** k`, k = number of `boundaries` <= t (the paper's
      "divide by 10 at 32k and 48k iterations" is `boundaries=(32000, 48000)`,
      `factor=0.1`).
    - "cosine": half a cosine from `base_lr` at the end of warm-up to `final_lr` at
      `total_steps`.
    - "onecycle": straight line from `base_lr` at the end of warm-up to `final_lr` at
      `total_steps` (with a linear warm-up: the triangular one-cycle policy).
    - "constant": `base_lr`.

    Args:
        base_lr: peak learning rate.
        total_steps: length of the run in steps (cosine and one-cycle end there).
        kind: one of `SCHEDULES`.
        boundaries: steps at which "step" multiplies the rate by `factor`.
        factor: the multiplier of "step".
        warmup_steps: warm-up length in steps (0: none).
        warmup_lr: rate of a constant warm-up, start of a linear one (default: 0 for
            linear, `base_lr / 10` for constant).
        warmup: "constant" or "linear".
        final_lr: end rate of "cosine" and "onecycle".
    """

    def __init__(self, base_lr, total_steps, kind="step", boundaries=(), factor=0.1,
                 warmup_steps=0, warmup_lr=None, warmup="constant", final_lr=0.0):
        if kind not in SCHEDULES:
            raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}.")
        if warmup not in WARMUPS:
            raise ValueError(f"warmup must be one of {WARMUPS}, got {warmup!r}.")
        if total_steps <= 0 or warmup_steps < 0:
            raise ValueError(f"Need total_steps > 0 and warmup_steps >= 0, got "
                             f"{total_steps}, {warmup_steps}.")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"boundaries must be increasing, got {boundaries}.")
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.kind = kind
        self.boundaries = tuple(int(b) for b in boundaries)
        self.factor = float(factor)
        self.warmup_steps = int(warmup_steps)
        if warmup_lr is None:
            warmup_lr = 0.0 if warmup == "linear" else self.base_lr / 10
        self.warmup_lr = float(warmup_lr)
        self.warmup = warmup
        self.final_lr = float(final_lr)
        self.total_variable = None

    def make_total_adjustable(self, optimizer):
        """Moves `total_steps` into a variable of `optimizer` (built), so that it can be
        changed during training without recompiling (`set_total_steps`) and is saved and
        restored with the optimizer's state. Only cosine and one-cycle depend on it."""
        self.total_variable = optimizer.add_variable(
            (), initializer=keras.initializers.Constant(float(self.total_steps)),
            dtype="float32", name="schedule_total_steps")
        return self.total_variable

    def set_total_steps(self, total_steps):
        """Changes the run length (after `make_total_adjustable`)."""
        self.total_steps = int(total_steps)
        if self.total_variable is not None:
            self.total_variable.assign(float(total_steps))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = ops.convert_to_tensor(self.base_lr, "float32")
        if self.kind == "step":
            drops = sum(ops.cast(step >= b, "float32") for b in self.boundaries) \
                if self.boundaries else 0.0
            rate = base * ops.power(ops.convert_to_tensor(self.factor, "float32"), drops)
        elif self.kind == "constant":
            rate = base
        else:
            total = self.total_steps if self.total_variable is None else ops.cast(
                self.total_variable, "float32")
            span = ops.maximum(total - self.warmup_steps, 1.0)
            progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            if self.kind == "cosine":
                shape = 0.5 * (1.0 + ops.cos(math.pi * progress))
            else:
                shape = 1.0 - progress
            rate = self.final_lr + (base - self.final_lr) * shape
        if self.warmup_steps == 0:
            return rate
        if self.warmup == "constant":
            warm = ops.convert_to_tensor(self.warmup_lr, "float32")
        else:
            fraction = step / self.warmup_steps
            warm = self.warmup_lr + (self.base_lr - self.warmup_lr) * fraction
        return ops.where(step < self.warmup_steps, warm, rate)

    def get_config(self):
        """The constructor arguments."""
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "kind": self.kind,
                "boundaries": list(self.boundaries), "factor": self.factor,
                "warmup_steps": self.warmup_steps, "warmup_lr": self.warmup_lr,
                "warmup": self.warmup, "final_lr": self.final_lr}


__all__ = ["SCHEDULES", "WARMUPS", "WarmupSchedule"]
