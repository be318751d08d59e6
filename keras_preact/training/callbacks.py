"""Keras callbacks of the training command: divergence guard, time budget, run log.

All three are backend-neutral (no TensorFlow import) and keep their findings as
attributes for the final summary.
"""

import csv
import json
import math
import pathlib
import time

import keras


def _float(value):
    try:
        return float(keras.ops.convert_to_numpy(value))
    except (TypeError, ValueError):
        return None


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite training loss.

    `diverged` is then `{"epoch", "batch", "loss"}` (1-based epoch); an
    `EpochCheckpoint` given this guard skips saving, so the last good checkpoint stays.
    """

    def __init__(self):
        super().__init__()
        self.diverged = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        """Remembers the epoch for the report."""
        self._epoch = epoch

    def _check(self, batch, logs):
        loss = _float((logs or {}).get("loss", 0.0))
        if loss is not None and not math.isfinite(loss) and self.diverged is None:
            self.diverged = {"epoch": self._epoch + 1, "batch": batch, "loss": str(loss)}
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        """Checks the running training loss."""
        self._check(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        """Checks the epoch's training loss (before any checkpoint is written)."""
        self._check(None, logs)


class _EpochClock(keras.callbacks.Callback):
    """Times each epoch and the validation passes inside it (shared by the callbacks
    that need epoch timings).

    Attributes:
        validation_s: seconds of the last validation pass.
        epoch_validation_s: seconds of validation in the current epoch.
    """

    def __init__(self):
        super().__init__()
        self.validation_s = 0.0
        self.epoch_validation_s = 0.0
        self._begin = None
        self._test_begin = None

    def on_epoch_begin(self, epoch, logs=None):
        """Starts the epoch clock."""
        self._begin = time.monotonic()
        self.epoch_validation_s = 0.0

    def on_test_begin(self, logs=None):
        """Starts the validation clock."""
        self._test_begin = time.monotonic()

    def on_test_end(self, logs=None):
        """Records the validation time."""
        if self._test_begin is not None:
            self.validation_s = time.monotonic() - self._test_begin
            self.epoch_validation_s += self.validation_s

    def epoch_seconds(self):
        """Seconds since the current epoch began."""
        return time.monotonic() - self._begin


class TimeBudget(_EpochClock):
    """Stops after the last whole epoch that fits in `budget_s` seconds from `start`.

    After each epoch the next one is estimated as the slowest training part of an epoch
    so far, excluding the first (which includes compilation) unless it is the only
    one, plus 5%, plus the last validation pass; a reserve for the final evaluation
    (1.5x the last validation pass, at least `reserve_s`) is kept. If that does not fit
    in what is left, training stops; `stopped_after` is then the number of epochs
    completed.

    Args:
        budget_s: total seconds allowed, counted from `start`.
        start: `time.monotonic()` at the start of the run (data loading included).
        reserve_s: minimum seconds kept for the final evaluation and writing results.
        agree: makes the decision one for all processes (`Distribution.agree`: process
            0's); None for one process.
    """

    def __init__(self, budget_s, start, reserve_s=5.0, agree=None):
        super().__init__()
        self.agree = agree
        self.budget_s = float(budget_s)
        self.start = start
        self.reserve_s = float(reserve_s)
        self.durations = []
        self.train_durations = []
        self.stopped_after = None

    def train_estimate(self):
        """Seconds of training (validation excluded) the next epoch is expected to take."""
        recent = self.train_durations[1:] or self.train_durations
        return 1.05 * max(recent) if recent else 0.0

    def next_epoch_estimate(self):
        """Seconds the next epoch is expected to take, validation included."""
        return self.train_estimate() + self.validation_s

    def reserve(self):
        """Seconds kept for the final evaluation and the reports."""
        return max(self.reserve_s, 1.5 * self.validation_s)

    def on_epoch_end(self, epoch, logs=None):
        """Stops training if another epoch would overrun the budget."""
        self.durations.append(self.epoch_seconds())
        self.train_durations.append(self.durations[-1] - self.epoch_validation_s)
        left = self.budget_s - (time.monotonic() - self.start)
        stop = self.next_epoch_estimate() + self.reserve() > left
        if self.agree is not None:
            stop = bool(self.agree(stop))
        if stop:
            self.stopped_after = epoch + 1
            self.model.stop_training = True


class BudgetPlanner(keras.callbacks.Callback):
    """Fits the length of a cosine / one-cycle schedule to a time budget (`--epochs auto`).

    While the learning rate is still warming up (which does not depend on the run's
    length), each epoch end re-estimates how many epochs fit: those done plus the time
    left, less 10% and the final-evaluation reserve, over the `TimeBudget` estimate of
    one epoch's training plus one validation pass every `eval_every` epochs. The
    schedule is then set to end exactly there, and training stops there. After the
    warm-up the plan only shrinks: if the epochs turn out slower than estimated, the
    schedule is shortened to what still fits, so the learning rate reaches its end value
    in the last epoch instead of the time budget cutting the run before it.

    Args:
        budget: the run's `TimeBudget` (its clock and estimates).
        schedule: a `WarmupSchedule` made adjustable (`make_total_adjustable`).
        steps_per_epoch: optimizer steps per epoch.
        warmup_epochs: epochs of warm-up (the last one fixes the plan).
        planned: a plan restored from a checkpoint, or None.
        eval_every: validation frequency in epochs (0: none during training).
    """

    def __init__(self, budget, schedule, steps_per_epoch, warmup_epochs, planned=None,
                 eval_every=1):
        super().__init__()
        self.budget = budget
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch
        self.last_planning_epoch = max(1, math.ceil(warmup_epochs))
        self.planned = planned
        self.eval_every = eval_every

    def _fitting(self, done):
        """(epochs that fit in the time left, counting those done; seconds per epoch)."""
        left = self.budget.budget_s - (time.monotonic() - self.budget.start)
        validation = self.budget.validation_s / self.eval_every if self.eval_every else 0.0
        estimate = max(self.budget.train_estimate() + validation, 1e-3)
        fit = done + int(max(0.0, 0.9 * left - self.budget.reserve()) // estimate)
        if self.budget.agree is not None:  # process 0's plan for every process
            fit = int(self.budget.agree(fit))
        return fit, estimate

    def on_epoch_end(self, epoch, logs=None):
        """Plans (during warm-up), shortens the plan if time runs short, and stops at the
        planned epoch."""
        done = epoch + 1
        warming_up = self.planned is None or done <= self.last_planning_epoch
        if warming_up or done < self.planned:
            fit, estimate = self._fitting(done)
            if warming_up or fit < self.planned:
                verb = "fit" if warming_up else "now fit (shortened: epochs ran slower)"
                self.planned = fit  # never below the epochs done
                self.schedule.set_total_steps(max(self.planned, done + 1) *
                                              self.steps_per_epoch)
                print(f"\n--epochs auto: {self.planned} epochs {verb} the time budget "
                      f"(about {estimate:.1f} s per epoch).", flush=True)
        if done >= self.planned:
            self.model.stop_training = True


class PlannedProgress(keras.callbacks.ProgbarLogger):
    """Keras' progress bar for `--epochs auto`: "Epoch 3/14" with the planner's count
    ("Epoch 1/?" before the plan exists) instead of the cap handed to `fit`.

    Args:
        planner: the run's `BudgetPlanner`.
    """

    def __init__(self, planner):
        super().__init__()
        self.planner = planner

    def on_epoch_begin(self, epoch, logs=None):
        """Starts the epoch's bar under a line that names the planned epoch count."""
        self.epochs = 1  # the parent prints no "Epoch i/N" line for a single epoch
        super().on_epoch_begin(epoch, logs)
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.planner.planned or '?'}", flush=True)


class RunLog(_EpochClock):
    """Per-epoch history with timings, written to `history.json` and `history.csv`.

    Each row holds the epoch (1-based), Keras' logs (loss, accuracy, val_*), the
    learning rate at the start of the epoch, seconds for the epoch, its training and its
    validation part, and training images/second. Rows of earlier sessions (`history`,
    from a checkpoint) are kept, so a resumed run has one continuous history.

    Args:
        output: folder for the files.
        images_per_epoch: training images per epoch (steps x global batch).
        history: rows of earlier sessions.
        enabled: write the files (False in every process but the chief of a cluster).
    """

    def __init__(self, output, images_per_epoch, history=None, enabled=True):
        super().__init__()
        self.enabled = enabled
        self.output = pathlib.Path(output)
        self.images_per_epoch = images_per_epoch
        self.rows = list(history or [])
        self.session_rows = []
        self._lr = None

    def on_epoch_begin(self, epoch, logs=None):
        """Starts the clocks and reads the learning rate."""
        super().on_epoch_begin(epoch, logs)
        self._lr = _float(self.model.optimizer.learning_rate)

    def on_epoch_end(self, epoch, logs=None):
        """Appends the epoch's row and rewrites both files."""
        seconds = self.epoch_seconds()
        train_s = max(seconds - self.epoch_validation_s, 1e-9)
        row = {"epoch": epoch + 1}
        row.update({k: _float(v) for k, v in (logs or {}).items()})
        row.update({"lr": self._lr, "epoch_seconds": round(seconds, 3),
                    "train_seconds": round(train_s, 3),
                    "val_seconds": round(self.epoch_validation_s, 3),
                    "images_per_second": round(self.images_per_epoch / train_s, 2)})
        self.rows.append(row)
        self.session_rows.append(row)
        self.write()

    def write(self):
        """Writes `history.json` and `history.csv` from the rows."""
        if not self.enabled:
            return
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / "history.json").write_text(json.dumps(self.rows, indent=1))
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        with open(self.output / "history.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(self.rows)


__all__ = ["BudgetPlanner", "NanGuard", "PlannedProgress", "RunLog", "TimeBudget"]
