"""The weight sets the package ships: each registry entry's folder `weights/<name>/` is
what publishing writes, loads through `weights="<tag>"` with no network, and reproduces
the logits recorded on the bundled sample images (golden outputs)."""

import json
import os
import pathlib
import warnings

import numpy as np
import pytest

import keras_preact as kp
from keras_preact.pretrained import hub, publish, registry, samples
from keras_preact.deploy import prediction

ROOT = pathlib.Path(__file__).resolve().parents[2]
WEIGHTS_DIR = ROOT / "weights"
ENTRIES = sorted(registry.WEIGHTS.values(), key=lambda e: e.name)
# Where the slow reproduction test finds the CIFAR-10 JPEG copy (an extracted
# cifar10-jpeg archive: train/ and test/ class folders); it is skipped without one.
CIFAR10_JPEG_ENV = "KERAS_PREACT_CIFAR10_JPEG"


def _ids(entries):
    return [e.name for e in entries]


@pytest.fixture
def offline_checkout(monkeypatch):
    """Loading as in a fresh clone without network: no Hub cache, Hub offline."""
    import huggingface_hub.constants as constants

    monkeypatch.delenv(hub.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def _reference(entry):
    return json.loads((WEIGHTS_DIR / entry.name / samples.REFERENCE_FILENAME).read_text())


def test_the_first_weight_sets_are_registered():
    names = set(registry.list_pretrained())
    assert {"preact_resnet20.cifar10", "resnet20.cifar10"} <= names


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_folder_holds_what_the_entry_promises(entry):
    folder = WEIGHTS_DIR / entry.name
    weights = folder / entry.filename
    assert hub.sha256sum(weights) == entry.sha256
    assert weights.stat().st_size == entry.file_size
    metadata = json.loads((folder / "keras_preact.json").read_text())
    assert registry.WeightsEntry.from_dict({**metadata, "revision": entry.revision}) == entry
    evaluation = json.loads((folder / publish.EVALUATION_FILENAME).read_text())
    assert publish.read_metrics(folder / publish.EVALUATION_FILENAME,
                                dataset=entry.metrics[0].dataset,
                                split=entry.metrics[0].split) == entry.metrics
    assert sum(evaluation["per_class_examples"].values()) == evaluation["examples"] == 10_000
    card = (folder / "README.md").read_text()
    assert f"| {entry.metrics[0].top1_error:.2f} |" in card and entry.sha256 in card
    assert (folder / publish.CURVES_FILENAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    training = json.loads((folder / publish.TRAINING_FILENAME).read_text())
    assert training["status"] == "completed" and training["model"] == entry.architecture
    assert training["epochs_completed"] == training["epochs_planned"]
    assert training["parameters"] == entry.num_params


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_tag_loads_offline_and_reproduces_the_reference_logits(entry, offline_checkout):
    reference = _reference(entry)
    assert reference["sha256"] == entry.sha256
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the "local copy" notice
        model, loaded = prediction.load_classifier(entry.architecture, entry.tag)
    assert loaded == entry
    paths = samples.sample_images(reference["dataset"])
    assert [p.name for p in paths] == [i["file"] for i in reference["images"]]
    results = prediction.classify(model, entry, paths, top=5)
    np.testing.assert_allclose([r.logits for r in results],
                               [i["logits"] for i in reference["images"]],
                               atol=reference["atol"], rtol=0)
    assert [[t[1] for t in r.top] for r in results] == \
        [[name for name, _ in i["top5"]] for i in reference["images"]]


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_entry_point_with_the_tag_classifies_the_samples_as_recorded(entry, offline_checkout):
    reference = _reference(entry)
    names = {"preact_resnet": "PreActResNet", "resnet": "ResNet"}
    prefix = next(p for p in names if entry.architecture.startswith(p))
    builder = getattr(kp, names[prefix] + entry.architecture.removeprefix(prefix))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = builder(weights=entry.tag)
    images = prediction.load_images(samples.sample_images(reference["dataset"]), entry.input_size)
    x = kp.preprocess_input(images, weights=entry.name)
    decoded = kp.decode_predictions(model.predict(x, verbose=0), top=1, weights=entry.name)
    assert [d[0][1] for d in decoded] == [i["top5"][0][0] for i in reference["images"]]


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_publishes_cleanly_to_a_hub_and_loads_back(entry, hub_env, tmp_path):
    folder = WEIGHTS_DIR / entry.name
    evaluation = json.loads((folder / publish.EVALUATION_FILENAME).read_text())
    measured = publish.read_metrics(folder / publish.EVALUATION_FILENAME,
                                    dataset=entry.metrics[0].dataset,
                                    split=entry.metrics[0].split)
    repo_id = f"kp-test/{entry.name.replace('.', '-')}"
    training = json.loads((folder / publish.TRAINING_FILENAME).read_text())
    confusion = folder / publish.CONFUSION_FILENAME
    deployment = folder / publish.DEPLOYMENT_FILENAME
    result = publish.publish(entry, folder / entry.filename, measured, repo_id=repo_id,
                             folder=tmp_path / "repo", evaluation=evaluation,
                             curves=folder / publish.CURVES_FILENAME, training=training,
                             confusion=confusion if confusion.is_file() else None,
                             deployment=json.loads(deployment.read_text())
                             if deployment.is_file() else None)
    assert hub.is_commit_sha(result.commit)
    written = {p.name for p in (tmp_path / "repo").iterdir()}
    assert written == {p.name for p in folder.iterdir()}
    for name in ("keras_preact.json", "README.md", publish.EVALUATION_FILENAME,
                 publish.CURVES_FILENAME, publish.TRAINING_FILENAME, entry.filename):
        assert (tmp_path / "repo" / name).read_bytes() == (folder / name).read_bytes(), name
    # Keras' config.json may gain keys between Keras releases; its layers may not change.
    configs = [json.loads((f / "config.json").read_text()) for f in (tmp_path / "repo", folder)]
    assert [[layer["name"] for layer in c["config"]["layers"]] for c in configs[:1]] == \
        [[layer["name"] for layer in c["config"]["layers"]] for c in configs[1:]]
    model = kp.create_model(entry.architecture, weights=f"hf://{repo_id}@{result.commit}",
                            classifier_activation=None)
    reference = _reference(entry)
    x = kp.preprocess_input(prediction.load_images(
        samples.sample_images(reference["dataset"]), entry.input_size), weights=entry.name)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               [i["logits"] for i in reference["images"]],
                               atol=reference["atol"], rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_evaluate_script_reproduces_the_recorded_error(entry, offline_checkout, tmp_path):
    data = os.environ.get(CIFAR10_JPEG_ENV)
    if not data or not os.path.isdir(data):
        pytest.skip(f"set {CIFAR10_JPEG_ENV} to an extracted cifar10-jpeg folder")
    from keras_preact import cli

    output = tmp_path / "eval.json"
    assert cli.run_command("evaluate", ["--model", entry.architecture, "--weights", entry.tag,
                                        "--data", data, "--output", str(output)]) == 0
    measured = json.loads(output.read_text())
    assert measured["examples"] == 10_000
    assert abs(measured["top1_error"] - entry.metrics[0].top1_error) <= 0.1


def test_readme_main_job_prints_the_top5_of_the_bundled_images_offline():
    """What README's first command runs, in a subprocess, offline."""
    import re
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    main_job = readme.split("```bash\n", 1)[1].splitlines()[0]
    command = main_job.split(" && ", 1)[1]
    assert command.startswith("python -m keras_preact predict ")
    env = {k: v for k, v in os.environ.items() if k != hub.WEIGHTS_DIR_ENV}
    env.update({"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    done = subprocess.run([sys.executable, *command.split()[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    name = command.split()[4]
    entry = registry.find_weights(name, "cifar10")
    reference = _reference(entry)
    blocks = re.findall(r"^(\w+_\d+\.jpg) +\(labelled (\w+)\)\n((?:    [1-5]\. .*\n){5})",
                        done.stdout, re.MULTILINE)
    assert [b[0] for b in blocks] == [i["file"] for i in reference["images"]]
    for (_, _, ranks), item in zip(blocks, reference["images"]):
        assert re.findall(r"\d\. (\w+)", ranks) == [name for name, _ in item["top5"]]
