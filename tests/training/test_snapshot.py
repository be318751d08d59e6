"""keras_preact.training.snapshot and `keras-preact snapshot`: the last checkpoint of an
unfinished ResNet-8 run on a synthetic folder, written out and used like a finished run's."""

import json

import keras
import pytest

from image_folders import make_image_folder
from keras_preact import cli
from keras_preact.pretrained import publish, registry
from keras_preact.training import evaluation
from keras_preact.training import loop as training
from keras_preact.training.snapshot import snapshot_run

PROVENANCE = ("dtype_policy", "command", "hardware", "git", "sessions")


class StopAfter(keras.callbacks.Callback):
    """Raises at the start of an epoch, as a run killed between two epochs stops."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated kill")


def _config(folder, output, **values):
    return training.TrainConfig(output=str(output), depth=8, data=str(folder), seed=5,
                                overrides={"epochs": 3, "batch_size": 8}, verbose=0,
                                tensorboard=False, **values)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "images")


@pytest.fixture(scope="module")
def unfinished(folder, tmp_path_factory):
    """A 3-epoch run killed after its second epoch: its output folder."""
    run = tmp_path_factory.mktemp("run")
    with pytest.raises(RuntimeError, match="simulated kill"):
        training.train(_config(folder, run), extra_callbacks=[StopAfter(2)])
    assert not (run / "model.weights.h5").exists() and not (run / "summary.json").exists()
    return run


def _listing(folder):
    return sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_snapshot_is_the_checkpoint_and_reads_like_a_finished_run(unfinished, folder, tmp_path):
    before = _listing(unfinished)
    out = tmp_path / "snap"
    summary = snapshot_run(unfinished, out)
    assert _listing(unfinished) == before  # the run is only read
    checkpoint = unfinished / "checkpoint"
    assert (out / "model.weights.h5").read_bytes() == \
        (checkpoint / "model.weights.h5").read_bytes()
    assert summary["status"] == "snapshot" and summary["epochs_completed"] == 2
    assert summary["epochs_planned"] == 3 and summary["snapshot"]["epoch"] == 2
    assert summary["iterations"] == 2 * (summary["data"]["train_examples"] // 8)
    state = json.loads((checkpoint / "state.json").read_text())
    for key in PROVENANCE:  # recorded by the run, not by the snapshot
        assert summary[key] == state[key] and summary[key], key
    assert summary["hardware"]["keras_backend"] == keras.backend.backend()
    assert summary["data"]["normalization"]["name"] == "imagenet"
    assert json.loads((out / "summary.json").read_text()) == summary
    rows = json.loads((out / "history.json").read_text())
    assert rows == state["history"] and [r["epoch"] for r in rows] == [1, 2]
    assert summary["test"]["epoch"] == 2
    assert summary["test"]["top1_error"] == pytest.approx(100 * (1 - rows[-1]["val_accuracy"]))
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # model.json names the network: evaluate needs no --model and measures what the run
    # validated after epoch 2.
    spec = dict.fromkeys(("model", "depth", "family", "block", "placement", "shortcut",
                          "downsample", "stride_at"))
    measured = evaluation.evaluate_weights(spec, str(out / "model.weights.h5"),
                                           str(folder), None)
    assert measured["examples"] == 12 and "limit" not in measured
    assert measured["top1_error"] == pytest.approx(summary["test"]["top1_error"], abs=1e-3)
    assert measured["top3_error"] == pytest.approx(summary["test"]["top3_error"], abs=1e-3)


def test_a_snapshot_drafts_an_entry_and_a_card(unfinished, folder, tmp_path):
    out = tmp_path / "snap"
    summary = snapshot_run(unfinished, out)
    spec = {"model": None, "depth": None}
    subset = evaluation.evaluate_weights(spec, str(out / "model.weights.h5"), str(folder),
                                         None, limit=6)
    assert subset["limit"] == subset["examples"] == 6
    (tmp_path / "subset.json").write_text(json.dumps(subset))
    with pytest.raises(publish.PublishError, match="subset of 6 images"):
        publish.read_metrics(tmp_path / "subset.json", dataset="synthetic")
    measured = (registry.Metric("synthetic", "test", 25.0),)
    entry = publish.draft_entry(out / "model.weights.h5", measured, summary, tag="synthetic")
    assert entry.recipe == summary["command"] and entry.num_params == summary["parameters"]
    assert registry.build_model(entry).count_params() == summary["parameters"]
    card = publish.model_card(entry, training=summary).text
    assert "checkpoint after epoch 2 of 3 (`keras-preact snapshot`)" in card
    assert "stopped:" not in card


def test_checkpoints_without_provenance_need_the_command(unfinished, tmp_path):
    run = tmp_path / "old-run"
    (run / "checkpoint").mkdir(parents=True)
    for file in (unfinished / "checkpoint").iterdir():
        (run / "checkpoint" / file.name).write_bytes(file.read_bytes())
    state_file = run / "checkpoint" / "state.json"
    state = json.loads(state_file.read_text())
    state["config"]["overrides"]["mixed_precision"] = "auto"
    state_file.write_text(json.dumps({k: v for k, v in state.items() if k not in PROVENANCE}))
    summary = snapshot_run(run, tmp_path / "snap")
    assert summary["command"] is None and summary["hardware"] is None
    assert "not recorded" in summary["notes"][0]
    assert summary["dtype_policy"] in ("float32", "mixed_bfloat16")
    measured = (registry.Metric("synthetic", "test", 25.0),)
    with pytest.raises(publish.PublishError, match="--recipe"):
        publish.draft_entry(tmp_path / "snap" / "model.weights.h5", measured, summary,
                            tag="synthetic")
    entry = publish.draft_entry(tmp_path / "snap" / "model.weights.h5", measured, summary,
                                tag="synthetic", recipe="keras-preact train --depth 8")
    assert entry.recipe == "keras-preact train --depth 8"
    assert "on an unrecorded machine;" in publish.model_card(entry, training=summary).text


def test_refusals(unfinished, tmp_path):
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        snapshot_run(tmp_path, tmp_path / "snap")
    with pytest.raises(ValueError, match="another folder"):
        snapshot_run(unfinished, unfinished)
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        snapshot_run(unfinished, out)
    assert snapshot_run(unfinished, out, overwrite=True)["epochs_completed"] == 2


def test_command_line(unfinished, tmp_path, capsys):
    out = tmp_path / "snap"
    assert cli.main(["snapshot", str(unfinished), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resnet8" in printed and "epoch 2 of 3" in printed
    assert f"{out}/model.weights.h5" in printed
    assert cli.main(["snapshot", str(tmp_path / "none"), "--output", str(out)]) == 2
    assert "keras-preact snapshot: error:" in capsys.readouterr().err


def test_the_resumed_run_ends_as_usual(unfinished, folder, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    for file in (unfinished / "checkpoint").iterdir():
        (run / "checkpoint" / file.name).write_bytes(file.read_bytes())
    taken = snapshot_run(run, tmp_path / "snap")
    summary = training.train(_config(folder, run, resume=True))
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3
    rows = json.loads((run / "history.json").read_text())
    assert rows[:2] == json.loads((tmp_path / "snap" / "history.json").read_text())
    assert len(rows) == 3 and taken["epochs_completed"] == 2
