"""keras_preact.pretrained.metadata: the one reader of what is recorded beside weights, for every
layout this package writes or has written (published folders, training and fine-tuning
runs, old and new)."""

import dataclasses
import json
import pathlib

import pytest

from keras_preact.pretrained import metadata, registry
from keras_preact.errors import WeightsError
from keras_preact.models.spec import ModelSpec
from keras_preact.normalization import CIFAR10, CIFAR100, Preprocessing

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _write(folder, name, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data))
    (folder / "model.weights.h5").write_bytes(b"not read")
    return folder / "model.weights.h5"


def test_a_training_run_as_written_now(tmp_path):
    record = metadata.run_record(
        {"depth": 110, "placement": "original", "shortcut": None, "model_options": {}},
        classes=10, image_size=32, class_names=[f"c{i}" for i in range(10)],
        preprocessing=CIFAR10, model="resnet110", recipe={"epochs": 1})
    weights = _write(tmp_path / "run", "model.json", record)
    found = metadata.read_beside(weights)
    assert found.spec == ModelSpec(depth=110, placement="original")
    assert (found.classes, found.image_size, found.class_names[1]) == (10, 32, "c1")
    assert found.preprocessing == CIFAR10 and found.entry is None
    assert metadata.read_beside(tmp_path / "run") == found  # the folder says the same


def test_layouts_of_earlier_versions_still_read(tmp_path):
    old_training = {"model": "preact_resnet20", "image_size": 32, "class_names": ["a", "b"],
                    "build": {"model": "preact_resnet20", "classes": 2,
                              "input_shape": [32, 32, 3]},
                    "normalization": {"name": "cifar100", "mean": list(CIFAR100.mean),
                                      "std": list(CIFAR100.std), "scale": "0-255"}}
    found = metadata.read_beside(_write(tmp_path / "train", "model.json", old_training))
    assert found.spec == ModelSpec(model="preact_resnet20") and found.preprocessing == CIFAR100
    old_finetune = {"model": "preact_resnet20", "image_size": [48, 48],
                    "class_names": ["x", "y", "z"],
                    "preprocessing": {"scale": 1 / 255, "mean": [0.5] * 3, "std": [0.25] * 3}}
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / "model.keras").write_bytes(b"")
    (tmp_path / "ft" / "summary.json").write_text(json.dumps(old_finetune))
    found = metadata.read_beside(tmp_path / "ft" / "model.keras")
    assert (found.image_size, found.class_names) == (48, ("x", "y", "z"))
    assert found.preprocessing == Preprocessing(1 / 255, (0.5,) * 3, (0.25,) * 3)
    # A training run's summary.json alone is not fine-tuning metadata.
    _write(tmp_path / "summary_only", "summary.json", {"status": "completed"})
    assert metadata.read_beside(tmp_path / "summary_only" / "model.weights.h5") is None


@pytest.mark.parametrize("name", ["preact_resnet20.cifar10", "resnet20.cifar10"])
def test_the_published_folders_of_this_repo(name):
    folder = ROOT / "weights" / name
    entry = registry.get_weights_entry(name)
    for path in (folder, folder / entry.filename):
        found = metadata.read_beside(path)
        # The folder's copy leaves the revision blank until the Hub upload pins it.
        assert dataclasses.replace(found.entry, revision=entry.revision) == entry
        assert found.preprocessing == entry.preprocessing
        assert found.classes == 10 and found.image_size == 32
        assert found.spec == ModelSpec(model=entry.architecture)
    # A file beside someone else's entry gets nothing from it.
    assert metadata.read_beside(folder / "curves.png") is None


def test_nothing_to_read_and_unreadable(tmp_path):
    assert metadata.read_beside(None) is None
    assert metadata.read_beside("hf://owner/repo") is None
    assert metadata.read_beside(tmp_path / "missing.weights.h5") is None
    (tmp_path / "model.json").write_text("{not json")
    (tmp_path / "w.weights.h5").write_bytes(b"")
    with pytest.raises(WeightsError, match="Cannot read weights metadata"):
        metadata.read_beside(tmp_path / "w.weights.h5")
