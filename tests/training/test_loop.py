"""keras_preact.training.loop (with checkpointing, callbacks, evaluation): a tiny ResNet-8 on
a synthetic folder, on whichever backend the test run uses."""

import argparse
import json
import pathlib
import time

import h5py
import keras
import numpy as np
import pytest

import keras_preact
from image_folders import CLASSES, make_image_folder
from keras_preact.training import loop as training
from keras_preact.training.checkpointing import Checkpoint, run_sessions
from keras_preact.cli import evaluate as evaluate_command


class Capture(keras.callbacks.Callback):
    """Keeps a reference to the trained model."""

    def on_train_begin(self, logs=None):
        self.captured = self.model


class Crash(keras.callbacks.Callback):
    """Raises in the middle of an epoch, as a killed process would stop."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise RuntimeError("simulated kill")


class PoisonWeights(keras.callbacks.Callback):
    """Sets the classifier's kernel to NaN at the start of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.get_layer("predictions").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "images")


def _config(folder, output, **values):
    return training.TrainConfig(output=str(output), depth=8, data=str(folder), seed=3,
                                overrides={"epochs": 3, "batch_size": 8,
                                           "milestones": (1.5, 2.5)},
                                verbose=0, **values)


@pytest.fixture(scope="module")
def finished(folder, tmp_path_factory):
    """One complete 3-epoch run: (summary, output folder, trained model)."""
    output = tmp_path_factory.mktemp("run")
    capture = Capture()
    summary = training.train(_config(folder, output), extra_callbacks=[capture])
    return summary, output, capture.captured


def test_run_writes_history_summary_curves_and_weights(finished):
    summary, output, _ = finished
    assert summary["status"] == "completed" and summary["message"] is None
    assert summary["epochs_completed"] == summary["epochs_planned"] == 3
    assert summary["steps_per_epoch"] == 3 and summary["iterations"] == 9  # 24 // 8
    assert summary["data"]["skipped_unreadable"] == {"train": 1, "eval": 0}
    assert summary["data"]["normalization"]["name"] == "imagenet"  # 3 classes
    test = summary["test"]
    assert test["examples"] == 12 and set(test["per_class_accuracy"]) == set(CLASSES)
    assert 0 <= test["top1_error"] <= 100 and test["top3_error"] == 0
    for key in ("images_per_second", "wall_time_s", "hardware", "command", "git"):
        assert summary[key], key
    assert summary["hardware"]["keras_backend"] == keras.backend.backend()
    assert json.loads((output / "summary.json").read_text())["test"] == test
    history = json.loads((output / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(history[0])
    assert (output / "history.csv").read_text().startswith("epoch,")
    assert (output / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if keras.backend.backend() == "tensorflow" and not summary["notes"]:
        assert (output / "tensorboard").is_dir()
    metadata = json.loads((output / "model.json").read_text())
    assert metadata["class_names"] == list(CLASSES) and metadata["build"]["depth"] == 8
    model = keras_preact.build_resnet(8, classes=3, weights=str(output / "model.weights.h5"))
    assert model.count_params() == summary["parameters"]
    with h5py.File(output / "model.weights.h5", "r") as weights:
        assert "optimizer" not in weights  # the layers only, not the momenta


def test_weight_decay_is_coupled_l2(finished):
    _, _, model = finished
    kernels = [layer for layer in model.layers if hasattr(layer, "kernel")]
    assert kernels and all(isinstance(layer.kernel_regularizer, keras.regularizers.L2)
                           for layer in kernels)
    assert {float(layer.kernel_regularizer.l2) for layer in kernels} == {5e-5}
    assert model.optimizer.weight_decay is None and model.optimizer.momentum == 0.9
    assert len(model.losses) == len(kernels)


def test_resume_after_a_kill_continues_exactly(folder, finished, tmp_path):
    reference, reference_output, _ = finished
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(_config(folder, tmp_path, eval_every=0),
                       extra_callbacks=[Crash(epoch=1, batch=1)])
    state = Checkpoint(tmp_path).read_state()
    assert state["epoch"] == 1 and state["iterations"] == 3
    summary = training.train(_config(folder, tmp_path, eval_every=0, resume=True))
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3
    assert summary["iterations"] == reference["iterations"] == 9
    history = json.loads((tmp_path / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    sessions = summary["sessions"]
    assert [(s["first_epoch"], s["last_epoch"]) for s in sessions] == [(1, 1), (2, 3)]
    assert [s["train_seconds"] for s in sessions] == pytest.approx(
        [history[0]["epoch_seconds"], history[1]["epoch_seconds"] + history[2]["epoch_seconds"]],
        abs=0.01)
    assert all(s["hardware"] == summary["hardware"] for s in sessions)
    assert all(s["dtype_policy"] == summary["dtype_policy"] for s in sessions)
    assert summary["notes"] == reference["notes"]  # same precision: no note
    resumed = keras_preact.build_resnet(8, classes=3, weights=str(tmp_path / "model.weights.h5"))
    straight = keras_preact.build_resnet(8, classes=3,
                                         weights=str(reference_output / "model.weights.h5"))
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_resume_in_another_precision_says_so_and_records_both(folder, tmp_path):
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(_config(folder, tmp_path, eval_every=0),
                       extra_callbacks=[Crash(epoch=2, batch=0)])
    # As a checkpoint written on a machine where --mixed-precision auto chose another
    # precision than it chooses here (float32 on the test machine) would read.
    state_file = Checkpoint(tmp_path).path / "state.json"
    state = json.loads(state_file.read_text())
    state["sessions"][0]["dtype_policy"] = "mixed_bfloat16"
    state["sessions"][0]["hardware"] = dict(state["hardware"], cpu="Another CPU")
    state_file.write_text(json.dumps(state))
    summary = training.train(_config(folder, tmp_path, eval_every=0, resume=True))
    assert summary["status"] == "completed"
    note, = [n for n in summary["notes"] if "was trained in" in n]
    assert note.startswith(f"this session trains in {summary['dtype_policy']}, epoch 2 was "
                           "trained in mixed_bfloat16")
    sessions = summary["sessions"]
    assert [(s["first_epoch"], s["last_epoch"], s["dtype_policy"], s["hardware"]["cpu"])
            for s in sessions] == [(1, 2, "mixed_bfloat16", "Another CPU"),
                                   (3, 3, summary["dtype_policy"], summary["hardware"]["cpu"])]


def test_a_checkpoint_without_sessions_counts_as_one(folder, finished, tmp_path):
    state = json.loads((Checkpoint(finished[1]).path / "state.json").read_text())
    assert [s["last_epoch"] for s in run_sessions(state)] == [3]
    del state["sessions"]  # as checkpoints written before sessions were recorded
    derived, = run_sessions(state)
    assert derived == {"first_epoch": 1, "last_epoch": 3, "hardware": state["hardware"],
                       "dtype_policy": state["dtype_policy"],
                       "keras_backend": state["keras_backend"], "started": None,
                       "train_seconds": state["train_seconds_total"], "derived": True}
    assert run_sessions(None) == []


def test_resume_refuses_other_settings_and_fresh_runs_refuse_checkpoints(folder, finished):
    _, output, _ = finished
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        training.train(_config(folder, output))
    with pytest.raises(ValueError, match="seed: checkpoint 3 vs now 4"):
        training.train(training.TrainConfig(**{**_config(folder, output).as_dict(),
                                               "seed": 4, "resume": True}))


def test_time_budget_stops_after_a_whole_epoch(folder, tmp_path):
    summary = training.train(_config(folder, tmp_path, eval_every=0, time_budget=1e-3))
    assert summary["status"] == "time_budget" and "--resume" in summary["message"]
    assert summary["epochs_completed"] == 1 < summary["epochs_planned"]
    assert summary["test"]["examples"] == 12
    weights = Checkpoint(tmp_path).weights_path
    model = keras_preact.build_resnet(8, classes=3, weights=str(weights))
    assert all(np.isfinite(w.numpy()).all() for w in model.weights)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(folder, tmp_path):
    summary = training.train(_config(folder, tmp_path, eval_every=0),
                             extra_callbacks=[PoisonWeights(1)])
    assert summary["status"] == "nan" and "diverged" in summary["message"]
    assert summary["diverged"]["epoch"] == 2 and summary["test"] is None
    assert Checkpoint(tmp_path).read_state()["epoch"] == 1
    assert not (tmp_path / "model.weights.h5").exists()
    model = keras_preact.build_resnet(8, classes=3,
                                      weights=str(Checkpoint(tmp_path).weights_path))
    assert all(np.isfinite(w.numpy()).all() for w in model.weights)


def test_checkpoint_survives_an_interrupted_swap(tmp_path):
    def tiny():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.5),
                                  keras.layers.Dense(2)])
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
        model.optimizer.build(model.trainable_variables)
        return model

    model = tiny()
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=2, verbose=0)
    checkpoint = Checkpoint(tmp_path)
    checkpoint.save(model, {"epoch": 2})
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")  # killed mid-swap
    (tmp_path / "checkpoint.tmp").mkdir()
    fresh = tiny()
    assert checkpoint.restore(fresh)["epoch"] == 2
    assert int(fresh.optimizer.iterations.numpy()) == 2
    for a, b in zip(fresh.optimizer.variables + fresh.variables,
                    model.optimizer.variables + model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_evaluate_command_writes_json(finished, folder, tmp_path):
    summary, output, _ = finished
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    target = tmp_path / "eval.json"
    plot = tmp_path / "cm.png"
    args = parser.parse_args(["--weights", str(output / "model.weights.h5"),
                              "--data", str(folder), "--batch-size", "5",
                              "--output", str(target), "--flip-tta",
                              "--confusion-plot", str(plot)])
    assert evaluate_command.run(args) == 0
    result = json.loads(target.read_text())
    assert result["examples"] == 12 and result["split"] == "test"
    assert result["top1_error"] == pytest.approx(summary["test"]["top1_error"], abs=1e-3)
    assert result["per_class_examples"] == {name: 4 for name in CLASSES}
    assert set(result["per_class_accuracy"]) == set(CLASSES)
    # Same weights, same images: the matrix of the end-of-training evaluation.
    assert result["confusion_matrix"] == summary["test"]["confusion_matrix"]
    assert np.trace(result["confusion_matrix"]) == round(12 * result["top1_accuracy"] / 100)
    assert result["flip_tta"]["examples"] == 12
    assert np.sum(result["flip_tta"]["confusion_matrix"]) == 12
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_refuses_a_confusion_plot_that_is_not_a_png(capsys):
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    args = parser.parse_args(["--weights", "w.weights.h5", "--confusion-plot", "cm.jpg"])
    assert evaluate_command.run(args) == 2  # before any model or data is loaded
    assert "give a .png path, not 'cm.jpg'" in capsys.readouterr().err


def test_budget_planner_fits_the_schedule_to_the_time_left():
    from keras_preact.training.callbacks import BudgetPlanner, TimeBudget
    from keras_preact.training.schedules import WarmupSchedule

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    schedule = WarmupSchedule(0.4, 1000, kind="cosine", warmup_steps=20, warmup="linear")
    model.compile(keras.optimizers.SGD(schedule), "mse")
    model.optimizer.build(model.trainable_variables)
    schedule.make_total_adjustable(model.optimizer)
    budget = TimeBudget(110.0, time.monotonic() - 10.0)  # 100 s left
    budget.train_durations = [5.0, 2.0]  # the first epoch compiled; then ~2.1 s
    planner = BudgetPlanner(budget, schedule, steps_per_epoch=10, warmup_epochs=2,
                            eval_every=0)
    planner.set_model(model)
    planner.on_epoch_end(1)
    assert 40 <= planner.planned <= 45  # 2 done + (0.9 * 100 - 5) // 2.1
    assert float(model.optimizer.variables[-1].numpy()) == planner.planned * 10
    assert not model.stop_training
    planner.on_epoch_end(2)  # past the warm-up, on time: the plan stands
    assert schedule.total_steps == planner.planned * 10
    planner.on_epoch_end(planner.planned - 1)
    assert model.stop_training


def test_budget_planner_shortens_the_plan_when_epochs_run_slower():
    from keras_preact.training.callbacks import BudgetPlanner, TimeBudget
    from keras_preact.training.schedules import WarmupSchedule

    schedule = WarmupSchedule(0.4, 1000, kind="cosine", warmup_steps=20, warmup="linear")
    budget = TimeBudget(110.0, time.monotonic() - 10.0)  # 100 s left
    planner = BudgetPlanner(budget, schedule, steps_per_epoch=10, warmup_epochs=1,
                            planned=40, eval_every=0)
    planner.set_model(type("Model", (), {"stop_training": False})())
    budget.train_durations = [2.0, 9.0]  # epochs now take ~9.5 s: 40 no longer fit
    planner.on_epoch_end(4)
    assert 5 + 8 <= planner.planned <= 5 + 9  # 5 done + (0.9 * 100 - 5) // 9.45
    assert schedule.total_steps == planner.planned * 10  # the LR ends with the run
    budget.train_durations = [2.0, 0.5]  # faster again: the plan never grows
    planned = planner.planned
    planner.on_epoch_end(5)
    assert planner.planned == planned and not planner.model.stop_training


def test_auto_epochs_progress_shows_the_planned_count(capsys):
    from keras_preact.training.callbacks import PlannedProgress

    planner = type("Planner", (), {"planned": None})()
    progress = PlannedProgress(planner)
    progress.set_params({"verbose": 2, "epochs": 10_000, "steps": 3})
    progress.on_epoch_begin(0)
    planner.planned = 14
    progress.on_epoch_begin(1)
    out = capsys.readouterr().out
    assert "Epoch 1/?" in out and "Epoch 2/14" in out and "10000" not in out


def test_auto_epochs_need_a_budget_and_a_smooth_schedule(folder, tmp_path):
    with pytest.raises(ValueError, match="--epochs auto"):
        training.train(training.TrainConfig(output=str(tmp_path), depth=8, data=str(folder),
                                            recipe="fast", overrides={"epochs": "auto"}))
    with pytest.raises(ValueError, match="no step schedule"):
        training.train(training.TrainConfig(output=str(tmp_path), depth=8, data=str(folder),
                                            overrides={"epochs": "auto"}, time_budget=60))


def test_data_smaller_than_one_batch_is_a_clear_error(folder, tmp_path):
    # 24 readable training images; the default run died with ZeroDivisionError.
    for overrides, limit in (({"batch_size": 1000}, None), ({"batch_size": 8}, 5)):
        config = training.TrainConfig(output=str(tmp_path / str(limit)), depth=8,
                                      data=str(folder), overrides=overrides,
                                      limit_train=limit, verbose=0)
        with pytest.raises(ValueError, match="fewer than one batch.*smaller --batch-size"):
            training.train(config)
        assert not pathlib.Path(config.output).exists()  # bad input leaves no folder behind


def test_cutout_flag_reaches_the_recipe_and_is_checked_before_anything_is_written(
        folder, tmp_path):
    from keras_preact.cli import train as train_command

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)

    def config(output, side):
        return train_command.config_from_args(parser.parse_args(
            ["--depth", "8", "--data", str(folder), "--output", str(output), "--epochs", "1",
             "--batch-size", "8", "--steps-per-epoch", "2", "--verbose", "0",
             "--cutout", str(side)]))

    summary = training.train(config(tmp_path / "run", 16))
    assert summary["status"] == "completed" and summary["recipe"]["cutout"] == 16
    with pytest.raises(ValueError, match="Cutout square of 33 pixels is larger than the 32x32"):
        training.train(config(tmp_path / "too_big", 33))
    assert not (tmp_path / "too_big").exists()


class _CtrlC(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_an_interrupted_run_says_how_to_continue(folder, tmp_path, capsys):
    summary = training.train(_config(folder, tmp_path), extra_callbacks=[_CtrlC()])
    assert summary["status"] == "interrupted"
    assert "Continue with the same command plus --resume" in summary["message"]
    assert Checkpoint(tmp_path).read_state()["epoch"] in (1, 2)


def _refusal(add_arguments, argv, capsys):
    """The stderr of parsing `argv`, which must exit with status 2."""
    parser = argparse.ArgumentParser(prog="command")
    add_arguments(parser)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("flags", [
    ["--limit-train", "-5"], ["--limit-test", "0"], ["--steps-per-epoch", "0"],
    ["--time-budget", "-5"], ["--eval-every", "-1"], ["--batch-size", "0"],
    ["--epochs", "0"], ["--epochs", "many"], ["--lr", "-0.1"], ["--workers", "0"]])
def test_train_refuses_numbers_out_of_range(flags, capsys):
    from keras_preact.cli import train as train_command

    err = _refusal(train_command.add_arguments, ["--depth", "8", *flags], capsys)
    assert f"argument {flags[0]}" in err


@pytest.mark.parametrize("flags", [["--limit", "-3"], ["--batch-size", "0"],
                                   ["--image-size", "-32"]])
def test_evaluate_refuses_numbers_out_of_range(flags, capsys):
    err = _refusal(evaluate_command.add_arguments, ["--weights", "w.weights.h5", *flags],
                   capsys)
    assert f"argument {flags[0]}" in err and "must be a positive integer" in err
