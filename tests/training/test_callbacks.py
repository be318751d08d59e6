"""The epoch clock shared by the time budget and the run log (keras_preact.training.callbacks)."""

import itertools

from keras_preact.training import callbacks


def _one_epoch(callback, monkeypatch, logs=None):
    """Runs one epoch with two 1-second validation passes; time.monotonic() advances by
    one second per call, so the epoch takes 5 s of which 2 s are validation."""
    clock = itertools.count(100.0)
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))
    callbacks._EpochClock.on_epoch_begin(callback, 0)   # t = 100
    for _ in range(2):
        callback.on_test_begin()                        # t = 101, 103
        callback.on_test_end()                          # t = 102, 104
    assert callback.validation_s == 1.0 and callback.epoch_validation_s == 2.0
    callback.set_model(type("Model", (), {"stop_training": False})())
    callback.on_epoch_end(0, logs)                      # t = 105


def test_time_budget_separates_training_from_validation(monkeypatch):
    budget = callbacks.TimeBudget(budget_s=1000.0, start=0.0)
    _one_epoch(budget, monkeypatch)
    assert budget.durations == [5.0] and budget.train_durations == [3.0]
    assert budget.next_epoch_estimate() == 1.05 * 3.0 + 1.0


def test_run_log_rows_have_the_same_split(monkeypatch, tmp_path):
    log = callbacks.RunLog(tmp_path, images_per_epoch=300)
    _one_epoch(log, monkeypatch, {"loss": 1.0})
    row = log.rows[-1]
    assert (row["epoch_seconds"], row["train_seconds"], row["val_seconds"]) == (5.0, 3.0, 2.0)
    assert row["images_per_second"] == 100.0 and row["loss"] == 1.0
    assert (tmp_path / "history.json").is_file() and (tmp_path / "history.csv").is_file()


def test_a_cluster_stops_on_process_zeros_decision(monkeypatch):
    # Budget 1000 s and the clock at ~105 s: this process would go on; process 0 says stop.
    asked = []
    budget = callbacks.TimeBudget(1000.0, start=0.0,
                                  agree=lambda stop: asked.append(stop) or True)
    _one_epoch(budget, monkeypatch)
    assert asked == [False] and budget.stopped_after == 1 and budget.model.stop_training
    # Over budget here (start far in the past); process 0 says go on.
    going = callbacks.TimeBudget(10.0, start=0.0, agree=lambda stop: False)
    _one_epoch(going, monkeypatch)
    assert going.stopped_after is None and not going.model.stop_training


def test_only_the_chief_writes_the_run_log(monkeypatch, tmp_path):
    log = callbacks.RunLog(tmp_path, images_per_epoch=300, enabled=False)
    _one_epoch(log, monkeypatch, {"loss": 1.0})
    assert len(log.rows) == 1 and not (tmp_path / "history.json").exists()
