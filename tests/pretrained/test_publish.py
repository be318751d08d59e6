"""Publishing: the model card, the release checks, and a round trip through the publish
script run as a user would, against a Hub-compatible test server on 127.0.0.1 with the
real huggingface_hub client (LFS basic transfers; Xet is not covered)."""

import argparse
import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import huggingface_hub
import huggingface_hub.constants as constants
import numpy as np
import pytest
from PIL import Image

import keras_preact as kp
from keras_preact.pretrained import hub, publish, registry
from keras_preact.cli import publish as publish_command
from keras_preact.pretrained.registry import Metric, PublishError

from hub import tiny_weights as tw

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def entry(tiny_weights):
    return tw.entry(tiny_weights.path, num_params=tiny_weights.num_params,
                    repo_id="kp-test/published", revision="")


MEASURED = (Metric("cifar10", "test", 90.004),)


def test_model_card_metadata_and_text(entry):
    card = publish.model_card(entry)
    data = card.data
    assert data.library_name == "keras" and data.pipeline_tag == "image-classification"
    assert data.license == "apache-2.0" and data.datasets == ["uoft-cs/cifar10"]
    assert {"keras-preact", "resnet", "pre-activation", "cifar10"} <= set(data.tags)
    results = {r.metric_type: r for r in data.eval_results}
    assert results["accuracy"].metric_value == 10.0
    assert results["error_rate"].metric_value == 90.0
    assert results["accuracy"].dataset_split == "test"
    assert results["accuracy"].task_type == "image-classification"
    for needle in (publish.PAPER_URL, entry.recipe, entry.sha256, "build_resnet(depth=8",
                   'weights="cifar10"', "5.46"):
        assert needle in card.text, needle


def test_card_of_a_zoo_network_loads_it_with_its_entry_point(entry):
    outside_zoo = dataclasses.replace(entry, architecture="preact_resnet8_basic", model_args={})
    assert "model = kp.create_model('preact_resnet8_basic', weights=" in \
        publish.model_card(outside_zoo).text
    flagship = registry.WEIGHTS["preact_resnet164.cifar10"]
    assert 'model = kp.PreActResNet164(weights="cifar10")' in publish.model_card(flagship).text


def test_card_gives_a_resumed_run_its_training_time_over_all_sessions(entry):
    training = {"status": "completed", "epochs_completed": 40, "iterations": 15600,
                "recipe": {"batch_size": 128}, "images_per_second": 115.0,
                "dtype_policy": "mixed_bfloat16", "wall_time_s": 4245.9,
                "train_time_s_total": 18770.9}
    text = publish.model_card(entry, training=training).text
    assert "5 h 12 min of training (epoch times summed over its sessions)" in text
    assert "1 h 10 min" not in text
    del training["train_time_s_total"]  # a summary written before the field existed
    assert "1 h 10 min wall time" in publish.model_card(entry, training=training).text


def test_card_lists_the_sessions_of_a_run_continued_on_other_machines(entry):
    epyc = {"cpu": "AMD EPYC", "cpu_count": 2, "keras": "3.15.1", "keras_backend": "tensorflow"}
    xeon = dict(epyc, cpu="Intel Xeon")
    sessions = [{"first_epoch": 1, "last_epoch": 10, "hardware": epyc,
                 "dtype_policy": "mixed_bfloat16", "train_seconds": 3600.0},
                {"first_epoch": 11, "last_epoch": 150, "hardware": xeon,
                 "dtype_policy": "float32", "train_seconds": 7200.0}]
    training = {"status": "completed", "epochs_completed": 150, "iterations": 58500,
                "recipe": {"batch_size": 128}, "images_per_second": 400.0,
                "dtype_policy": "float32", "train_time_s_total": 10800.0,
                "hardware": xeon, "sessions": sessions}
    text = publish.model_card(entry, training=training).text
    assert "on the machines of the table below" in text
    assert "| 1-10 | AMD EPYC (2 CPUs" in text and "| mixed_bfloat16 | 1.0 |" in text
    assert "| 11-150 | Intel Xeon (2 CPUs" in text and "| float32 | 2.0 |" in text
    # Sessions alike in machine and precision (or one session) make no table.
    training["sessions"] = [dict(s, hardware=xeon, dtype_policy="float32") for s in sessions]
    text = publish.model_card(entry, training=training).text
    assert "| epochs | machine |" not in text and "on Intel Xeon (2 CPUs" in text


def test_release_checks(entry, tiny_weights):
    model = registry.build_model(entry)
    assert publish.check_release(entry, tiny_weights.path, MEASURED, model=model) == []
    problems = publish.check_release(entry, tiny_weights.path,
                                     (Metric("cifar10", "test", 8.0),), model=model)
    assert any("8.0%" in p and "90.0%" in p for p in problems)
    assert any("no measured" in p for p in
               publish.check_release(entry, tiny_weights.path, (Metric("cifar10", "train", 90),)))
    problems = publish.check_release(entry, tiny_weights.deeper_path, MEASURED, model=model)
    assert any("sha256" in p for p in problems)
    assert any("another architecture" in p for p in problems)


def test_read_metrics_formats(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"dataset": "cifar10", "split": "test", "top1_error": 4.9}))
    assert publish.read_metrics(path) == (Metric("cifar10", "test", 4.9),)
    path.write_text(json.dumps([{"dataset": "cifar100", "split": "test", "accuracy": 0.75}]))
    assert publish.read_metrics(path) == (Metric("cifar100", "test", 25.0),)
    path.write_text(json.dumps({"accuracy": 0.5}))
    assert publish.read_metrics(path, dataset="d", split="s") == (Metric("d", "s", 50.0),)
    evaluate_output = {"model": "preact_resnet164", "data": "tfds:cifar10/test",
                       "split": "test", "top1_error": 5.1, "top1_accuracy": 94.9}
    path.write_text(json.dumps(evaluate_output))
    assert publish.read_metrics(path) == (Metric("cifar10", "test", 5.1),)
    assert publish.read_metrics(path, split="test-jpeg-q75") == (
        Metric("cifar10", "test-jpeg-q75", 5.1),)
    path.write_text(json.dumps({"loss": 1.0}))
    with pytest.raises(PublishError, match="no 'top1_error'"):
        publish.read_metrics(path)
    path.write_text(json.dumps({**evaluate_output, "limit": 500, "examples": 500}))
    with pytest.raises(PublishError, match="subset of 500 images"):
        publish.read_metrics(path)


def _files(tmp_path, entry, weights, error=90.0):
    entry_file = tmp_path / "entry.json"
    entry_file.write_text(json.dumps(entry.to_dict()))
    metrics_file = tmp_path / "eval.json"
    metrics_file.write_text(json.dumps({  # what `keras-preact evaluate --output` writes
        "dataset": "cifar10", "split": "test", "top1_error": error, "top5_error": 50.0,
        "examples": 20, "data": "folder:/data/cifar10-jpeg/test",
        "per_class_accuracy": {name: 10.0 for name in kp.preprocessing.get_label_names("cifar10")},
        "command": "keras-preact evaluate --weights w.h5 --data /data/cifar10-jpeg",
        "hardware": {"cpu": "Test CPU", "cpu_count": 2, "keras": "3", "keras_backend": "tf"},
    }))
    curves = tmp_path / "curves.png"
    Image.new("RGB", (8, 4), (200, 30, 30)).save(curves)
    training = tmp_path / "summary.json"
    training.write_text(json.dumps({  # the fields of a `keras-preact train` summary.json
        "model": entry.architecture, "test": {"top1_error": error}, "status": "finished",
        "epochs_completed": 3, "iterations": 1170,
        "recipe": {"batch_size": 128}, "wall_time_s": 3725.0, "images_per_second": 210.4,
        "dtype_policy": "float32", "hardware": {"cpu": "Train CPU", "cpu_count": 1}}))
    (tmp_path / "history.json").write_text(json.dumps([  # beside summary.json, as train writes
        {"epoch": e, "accuracy": 0.2 * e, "loss": 2.0 / e, "val_accuracy": 0.1 * e}
        for e in (1, 2, 3)]))
    return ["preact_resnet8_basic.cifar10", "--entry", str(entry_file),
            "--weights-file", str(weights), "--metrics", str(metrics_file),
            "--curves", str(curves), "--training-summary", str(training),
            "--folder", str(tmp_path / "folder")]


def test_publish_round_trip_as_a_user(hub_env, entry, tiny_weights, tmp_path):
    args = _files(tmp_path, entry, tiny_weights.path)
    env = {**os.environ, **hub_env.env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "scripts/publish_weights.py", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hf_test_dummy" not in done.stdout + done.stderr
    commit = next(line.split()[-1] for line in done.stdout.splitlines()
                  if line.startswith("commit:"))
    assert hub.is_commit_sha(commit) and f'revision="{commit}"' in done.stdout

    requests = hub_env.hub.requests
    assert "POST /kp-test/published.git/info/lfs/objects/batch" in requests
    assert f"PUT /_lfs/{entry.sha256}" in requests

    folder = tmp_path / "folder"
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.weights.h5", "keras_preact.json", "config.json", "metadata.json",
                     "README.md", "evaluation.json", "curves.png", "reference_outputs.json",
                     "training.json", "history.json"}
    card_text = (folder / "README.md").read_text()
    for needle in ("![training curves](curves.png)", "| cat | 10.0 |", "Test CPU (2 CPUs",
                   "keras-preact evaluate --weights w.h5", "| 90.00 | – |",
                   "3 epochs (1,170 iterations of\n128 images), 1 h 2 min wall time",
                   "210 training images/s", "on Train CPU (1 CPUs", "stopped: finished",
                   "every epoch ship as `history.json`"):
        assert needle in card_text, needle
    reference = json.loads((folder / "reference_outputs.json").read_text())
    assert reference["weights"] == entry.name and reference["sha256"] == entry.sha256
    assert [i["label"] for i in reference["images"]] == sorted(
        kp.preprocessing.get_label_names("cifar10"))
    for name in names:
        downloaded = huggingface_hub.hf_hub_download("kp-test/published", name, revision=commit)
        assert hub.sha256sum(downloaded) == hub.sha256sum(folder / name), name
    weights = huggingface_hub.hf_hub_download("kp-test/published", "model.weights.h5",
                                              revision=commit)
    assert os.path.basename(os.path.realpath(weights)) == entry.sha256  # an LFS blob

    card = huggingface_hub.ModelCard.load("kp-test/published")
    assert card.data.library_name == "keras"
    assert card.data.pipeline_tag == "image-classification"
    assert card.data.eval_results[0].dataset_name == "CIFAR-10"
    refs = huggingface_hub.HfApi().list_repo_refs("kp-test/published")
    assert [(t.name, t.target_commit) for t in refs.tags] == [(f"v{kp.__version__}", commit)]

    model = kp.build_resnet(8, family="cifar", weights=f"hf://kp-test/published@{commit}")
    np.testing.assert_allclose(model.predict(tiny_weights.images, verbose=0),
                               tiny_weights.outputs, rtol=1e-5, atol=1e-6)

    # The downloaded repo compares like the run that made it.
    pytest.importorskip("matplotlib")
    repo = huggingface_hub.snapshot_download("kp-test/published", revision=commit)
    done = subprocess.run([sys.executable, "-m", "keras_preact", "compare", repo, "--output",
                           str(tmp_path / "c.png")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{entry.architecture}: 3 epochs, test top-1 error 90.00%" in done.stdout
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_publish_refuses_a_history_of_another_run(hub_env, entry, tiny_weights, tmp_path,
                                                  capsys):
    args = _files(tmp_path, entry, tiny_weights.path)
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]))
    assert _run_cli(args + ["--history", str(other), "--dry-run"]) == 1
    assert "history has 2 epochs but the training summary 3" in capsys.readouterr().err
    other.write_text(json.dumps([{"epoch": e, "loss": 1.0} for e in (1, 3, 2)]))
    assert _run_cli(args + ["--history", str(other), "--dry-run"]) == 1
    assert "not 1 to 3 in order" in capsys.readouterr().err
    assert not (tmp_path / "folder").exists()
    # Without a history beside the summary (nor --history) the set ships none.
    (tmp_path / "history.json").unlink()
    assert _run_cli(args + ["--dry-run"]) == 0
    assert not (tmp_path / "folder" / publish.HISTORY_FILENAME).exists()
    assert "history.json" not in (tmp_path / "folder" / "README.md").read_text()


def _run_cli(args):
    parser = argparse.ArgumentParser()
    publish_command.add_arguments(parser)
    return publish_command.run(parser.parse_args(args))


@pytest.mark.parametrize(
    "weights, error, complaint",
    [
        ("path", 5.0, "measured top-1 error on cifar10/test is 5.0%"),
        ("original_path", 90.0, "sha256 of"),
    ],
)
def test_publish_refuses_what_the_registry_does_not_promise(
        hub_env, entry, tiny_weights, tmp_path, capsys, weights, error, complaint):
    args = _files(tmp_path, entry, getattr(tiny_weights, weights), error=error)
    assert _run_cli(args) == 1
    err = capsys.readouterr().err
    assert "Refusing to publish preact_resnet8_basic.cifar10" in err and complaint in err
    assert hub_env.hub.requests == []
    assert not (tmp_path / "folder").exists()


def test_publish_by_registered_name(hub_env, entry, tiny_weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "WEIGHTS", {entry.name: entry})
    args = ["preact_resnet8_basic.cifar10", "--weights-file", str(tiny_weights.path),
            "--top1-error", "90", "--folder", str(tmp_path / "f"), "--tag", "r1"]
    assert _run_cli(args) == 0
    out = capsys.readouterr().out
    assert "(tag r1)" in out
    commit = hub_env.hub.head("kp-test/published")
    assert f"commit: {commit}" in out
    assert hub_env.hub.repos["kp-test/published"].tags == {"r1": commit}
    assert _run_cli(args) == 1  # the tag exists now
    assert "uploaded to kp-test/published as commit" in capsys.readouterr().err


def test_dry_run_uploads_nothing(hub_env, entry, tiny_weights, tmp_path, capsys):
    assert _run_cli(_files(tmp_path, entry, tiny_weights.path) + ["--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert (tmp_path / "folder" / "model.weights.h5").is_file()
    assert hub_env.hub.requests == []


def test_confusion_matrix_and_flip_figure_ship_with_the_card(hub_env, entry, tiny_weights,
                                                            tmp_path, capsys):
    args = _files(tmp_path, entry, tiny_weights.path)
    metrics_file = tmp_path / "eval.json"
    report = json.loads(metrics_file.read_text())
    report["flip_tta"] = {"examples": 20, "top1_error": 85.0, "top5_error": 45.0}
    metrics_file.write_text(json.dumps(report))
    confusion = tmp_path / "cm.png"
    Image.new("RGB", (4, 4), (30, 30, 200)).save(confusion)
    assert _run_cli(args + ["--confusion-matrix", str(confusion), "--dry-run"]) == 0
    folder = tmp_path / "folder"
    assert (folder / publish.CONFUSION_FILENAME).read_bytes() == confusion.read_bytes()
    card = (folder / "README.md").read_text()
    assert f"![confusion matrix]({publish.CONFUSION_FILENAME})" in card
    assert "With test-time flip averaging" in card and "top-1 error 85.00%" in card
    # The registered figure stays the single-view one.
    assert "| 90.00 | – |" in card
    assert hub_env.hub.requests == []


def test_deployment_measurements_ship_with_the_card(hub_env, entry, tiny_weights, tmp_path,
                                                    capsys):
    args = _files(tmp_path, entry, tiny_weights.path)
    deployment = {  # the fields of benchmarks/deploy.py's JSON
        "model": entry.architecture, "weights": "runs/r8/model.weights.h5",
        "sha256": entry.sha256, "examples": 20,
        "data": "folder:/data/cifar10-jpeg/test", "latency": {"images": 8, "rounds": 3},
        "hardware": {"cpu": "Phone-ish CPU"},
        "rows": [{"artifact": "Keras float32", "top1_error": 90.0, "top5_error": 50.0,
                  "size_bytes": None, "latency_ms": 3.21},
                 {"artifact": "TFLite int8, logits", "top1_error": 91.5, "top5_error": 52.25,
                  "size_bytes": 307_200, "latency_ms": 0.5}]}
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps(deployment))
    assert _run_cli(args + ["--deployment", str(path), "--dry-run"]) == 0
    folder = tmp_path / "folder"
    assert json.loads((folder / publish.DEPLOYMENT_FILENAME).read_text()) == deployment
    card = (folder / "README.md").read_text()
    assert "## Deployment" in card and "on Phone-ish CPU, median of 3 rounds of\n8 images" in card
    assert "| Keras float32 | 90.00 | 50.00 |  | 3.21 |" in card
    assert "| TFLite int8, logits | 91.50 | 52.25 | 300 | 0.50 |" in card
    assert f"--model {entry.architecture} --weights {entry.tag} --include-preprocessing" in card
    # Measurements of other weights are refused before anything is written; without a
    # sha256 (older JSON) the registered tag must match.
    capsys.readouterr()
    for other in ({"model": "resnet20"}, {"sha256": "0" * 64},
                  {"sha256": None, "weights": "imagenet"}):
        path.write_text(json.dumps({**deployment, **other}))
        assert _run_cli(args + ["--deployment", str(path), "--folder",
                                str(tmp_path / "other"), "--dry-run"]) == 1, other
        assert "not of preact_resnet8_basic.cifar10" in capsys.readouterr().err
    path.write_text(json.dumps({**deployment, "sha256": None, "weights": entry.tag}))
    assert _run_cli(args + ["--deployment", str(path), "--folder", str(tmp_path / "tag"),
                            "--dry-run"]) == 0
    assert not (tmp_path / "other").exists() and hub_env.hub.requests == []


def test_publish_needs_a_token(hub_env, entry, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(PublishError, match="hf auth login"):
        publish.publish(entry, tiny_weights.path, MEASURED, folder=tmp_path / "f")
    assert hub_env.hub.requests == []


def test_xet_upload_against_a_server_without_xet_says_what_to_set(
        hub_env, entry, tiny_weights, tmp_path, monkeypatch):
    """huggingface.co uploads large files with Xet, which the test server lacks; the
    error must point at HF_HUB_DISABLE_XET (what a mirror or self-hosted Hub needs)."""
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.delenv("HF_HUB_DISABLE_XET")
    with pytest.raises(PublishError, match="HF_HUB_DISABLE_XET=1"):
        publish.publish(entry, tiny_weights.path, MEASURED, folder=tmp_path / "f")
    assert any("xet-write-token" in r for r in hub_env.hub.requests)


def test_publish_is_a_subcommand_of_the_cli(hub_env, entry, tiny_weights, tmp_path, capsys):
    from keras_preact import cli

    assert cli.main(["publish", *_files(tmp_path, entry, tiny_weights.path), "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out


def test_default_folder_is_weights_name_of_the_checkout(hub_env, entry, tiny_weights, monkeypatch):
    publish.publish(entry, tiny_weights.path, MEASURED, upload=False)
    assert (hub_env.weights_dir / entry.name / "keras_preact.json").is_file()
    monkeypatch.setenv(hub.WEIGHTS_DIR_ENV, str(hub_env.weights_dir / "absent"))
    with pytest.raises(PublishError, match="--folder"):
        publish.publish(entry, tiny_weights.path, MEASURED, upload=False)


def _summary(tiny_weights):
    """The fields of a `keras-preact train` summary.json that an entry is drafted from."""
    return {"model": "preact_resnet8_basic", "parameters": tiny_weights.num_params,
            "build": {"depth": 8, "classes": 10, "input_shape": [32, 32, 3]},
            "data": {"normalization": {"name": "cifar10", "mean": [125.3, 123.0, 113.9],
                                       "std": [63.0, 62.1, 66.7], "scale": "0-255"}},
            "command": "python scripts/train.py --depth 8 --epochs 1"}


def test_drafted_entry_describes_the_file_and_prints_as_registry_source(tiny_weights):
    measured = (Metric("cifar10", "test-jpeg-q75", 12.5, 0.9),)
    entry = publish.draft_entry(tiny_weights.path, measured, _summary(tiny_weights),
                                tag="cifar10", description="Tiny.",
                                rationale="One epoch: a smoke test.",
                                paper=registry.PaperResult("Table 6", 8.75))
    assert not entry.published and entry.repo_id == "keras-preact/preact-resnet8-basic-cifar10"
    assert entry.sha256 == hub.sha256sum(tiny_weights.path) and entry.metrics == measured
    assert entry.label_names == registry.labels_for("cifar10")
    assert entry.recipe == "python scripts/train.py --depth 8 --epochs 1"
    # A network outside the zoo's names is rebuilt from the run's spec.
    assert dict(entry.model_args) == {"depth": 8}
    assert registry.build_model(entry).count_params() == tiny_weights.num_params
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    np.testing.assert_allclose(kp.preprocess_input(x, entry),
                               kp.data.CIFAR10.apply(x), rtol=1e-5, atol=1e-5)
    source = publish.entry_source(entry)
    # Trained on the CIFAR-10 JPEG copy: the registry's shared fields stand for their values.
    assert "revision=UNPUBLISHED," in source and "    **_CIFAR10_JPEG,\n" in source
    assert "label_names=" not in source and "preprocessing=" not in source
    namespace = {name: getattr(registry, name) for name in (
        "WeightsEntry", "Metric", "Preprocessing", "PaperResult", "UNPUBLISHED", "labels_for",
        "_CIFAR10_JPEG")}
    assert eval(source, namespace) == entry
    # Other data: every field in full.
    other = dataclasses.replace(entry, preprocessing=registry.Preprocessing(
        scale=1 / 255, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    source = publish.entry_source(other)
    assert "_CIFAR10_JPEG" not in source and "labels_for('cifar10')" in source
    assert eval(source, namespace) == other
    assert registry.validate_entry(entry) == []
    # The rationale is printed under the training command of the card.
    card = publish.model_card(entry).text
    assert f"{entry.recipe}\n```\n\nOne epoch: a smoke test.\n" in card
    assert "rationale=" not in publish.entry_source(dataclasses.replace(entry, rationale=""))


def test_draft_entry_from_the_command_line(tiny_weights, tmp_path, capsys):
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(_summary(tiny_weights)))
    metrics = tmp_path / "eval.json"
    metrics.write_text(json.dumps({"data": "folder:/d/test", "split": "test",
                                   "top1_error": 12.5, "top5_error": 0.9}))
    args = ["preact_resnet8_basic.cifar10", "--weights-file", str(tiny_weights.path),
            "--metrics", str(metrics), "--dataset", "cifar10", "--split", "test-jpeg-q75",
            "--training-summary", str(summary), "--draft-entry"]
    assert _run_cli(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("WeightsEntry(\n") and "Metric('cifar10', 'test-jpeg-q75', 12.5" in out
    assert "rationale=" not in out
    assert _run_cli(args + ["--rationale", "Short: a smoke test."]) == 0
    assert "    rationale='Short: a smoke test.',\n" in capsys.readouterr().out
    assert _run_cli(args[:-3] + ["--draft-entry"]) == 1
    assert "--training-summary" in capsys.readouterr().err
    assert _run_cli(["resnet20.cifar10", *args[1:]]) == 1
    assert "summary is of preact_resnet8_basic, not resnet20" in capsys.readouterr().err
