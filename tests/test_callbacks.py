"""The epoch clock shared by the time budget and the run log (keras_preact.callbacks)."""

import itertools

import pytest

from keras_preact import callbacks


@pytest.fixture
def ticking(monkeypatch):
    """time.monotonic() advances by one second per call."""
    clock = itertools.count(100.0)
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))


def test_budget_and_log_split_epochs_into_training_and_validation(ticking, tmp_path):
    budget = callbacks.TimeBudget(budget_s=1000.0, start=0.0)
    log = callbacks.RunLog(tmp_path, images_per_epoch=100)
    log._lr = 0.1
    for callback in (budget, log):
        callbacks._EpochClock.on_epoch_begin(callback, 0)   # t
        callback.on_test_begin()                            # t+1
        callback.on_test_end()                              # t+2: 1 s of validation
        callback.on_test_begin()                            # t+3
        callback.on_test_end()                              # t+4: 1 s more
        assert callback.validation_s == 1.0 and callback.epoch_validation_s == 2.0
    model = type("Model", (), {"stop_training": False})()
    budget.set_model(model)
    log.set_model(model)
    budget.on_epoch_end(0)
    assert budget.durations == [5.0] and budget.train_durations == [3.0]
    log.on_epoch_end(0, {"loss": 1.0})
    row = log.rows[-1]
    assert (row["epoch_seconds"], row["train_seconds"], row["val_seconds"]) == (5.0, 3.0, 2.0)
    assert row["images_per_second"] == round(100 / 3.0, 2)
    assert (tmp_path / "history.json").is_file() and (tmp_path / "history.csv").is_file()
