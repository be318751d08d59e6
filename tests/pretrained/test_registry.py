"""The weights registry: schema checks of every shipped entry against the model it names,
the checker itself proven on good and bad entries, lookups and their errors, labels."""

import dataclasses
import pathlib

import keras
import pytest

import keras_preact
from keras_preact.pretrained import labels, registry
from keras_preact.pretrained.registry import UnknownWeightsError, WeightsEntry, WeightsError

from hub import tiny_weights as tw


def test_every_shipped_entry_matches_the_model_it_names():
    """Vacuous while the registry is empty; bites as soon as entries land."""
    for name, entry in registry.WEIGHTS.items():
        assert name == entry.name
        model = registry.build_model(entry)
        assert registry.validate_entry(entry, model) == [], name


@pytest.fixture(scope="module")
def good(tiny_weights):
    return tw.entry(tiny_weights.path, num_params=tiny_weights.num_params)


@pytest.fixture(scope="module")
def good_model(good):
    return registry.build_model(good)


def test_schema_check_accepts_a_consistent_entry(good, good_model):
    assert good_model.name == good.architecture
    assert registry.validate_entry(good, good_model) == []


@pytest.mark.parametrize(
    "change, complaint",
    [
        (dict(num_params=1), "num_params"),
        (dict(label_names=labels.CIFAR10_LABELS[:9]), "label names"),
        (dict(label_names=tuple(reversed(labels.CIFAR10_LABELS))), "shipped cifar10"),
        (dict(revision="main"), "40-hex"),
        (dict(sha256="abc"), "sha256"),
        (dict(repo_id="no-owner"), "owner/name"),
        (dict(filename="model.h5"), ".weights.h5"),
        (dict(input_size=(64, 64)), "input_size"),
        (dict(architecture="preact_resnet20"), "builds"),
        (dict(metrics=()), "metrics"),
        (dict(recipe=" "), "recipe"),
    ],
)
def test_schema_check_rejects_a_bad_entry(good, good_model, change, complaint):
    bad = dataclasses.replace(good, **change)
    problems = registry.validate_entry(bad, good_model)
    assert problems and any(complaint in p for p in problems), problems


def test_schema_check_compares_the_built_models_head(good):
    """The class count is checked against the built model's classifier."""
    wrong_head = dataclasses.replace(good, num_classes=100, label_names=labels.CIFAR100_LABELS)
    model = registry.build_model(good)  # 10 classes
    assert any("num_classes" in p for p in registry.validate_entry(wrong_head, model))


def test_unpinned_entry_passes_only_when_pinning_is_not_required(good):
    draft = dataclasses.replace(good, revision="")
    assert registry.validate_entry(draft, pinned=False) == []
    assert registry.validate_entry(draft) != []


def test_entry_round_trips_through_json_data(good):
    import json

    data = json.loads(json.dumps(good.to_dict()))
    assert data["name"] == "preact_resnet8_basic.cifar10"
    assert WeightsEntry.from_dict(data) == good
    assert dict(WeightsEntry.from_dict(data).model_args) == {"depth": 8, "family": "cifar"}


def test_describe_shows_the_facts(good):
    text = good.describe()
    for needle in (good.name, good.repo_id, good.sha256, "75,770 parameters", "10 classes",
                   "90.0% top-1 error on cifar10/test", "paper: 5.46%", good.recipe):
        assert needle in text, needle


def test_malformed_metadata_is_a_weights_error(good):
    data = good.to_dict()
    del data["sha256"]
    with pytest.raises(WeightsError, match="Malformed"):
        WeightsEntry.from_dict(data)


def test_lookups_and_list_models(good, monkeypatch):
    monkeypatch.setattr(registry, "WEIGHTS", {good.name: good})
    assert keras_preact.list_models(pretrained=True) == [good.name]
    assert registry.list_pretrained(tw.ARCH) == [good.name]
    assert registry.list_pretrained("preact_resnet164") == []
    assert registry.get_weights_entry(good.name) is good
    assert registry.find_weights(tw.ARCH, "cifar10") is good


def test_injected_registry_is_used_instead_of_the_packages(good):
    mine = {good.name: good}
    assert registry.list_pretrained(registry=mine) == [good.name]
    assert registry.find_weights(tw.ARCH, "cifar10", registry=mine) is good
    assert registry.list_pretrained() == sorted(registry.WEIGHTS)


def test_unknown_tag_lists_the_architectures_tags(good):
    mine = {good.name: good}
    with pytest.raises(UnknownWeightsError) as info:
        registry.find_weights(tw.ARCH, "imagenet", registry=mine)
    message = str(info.value)
    assert "'cifar10'" in message and tw.ARCH in message
    assert "hf://owner/repo" in message and ".weights.h5" in message
    with pytest.raises(UnknownWeightsError, match="has no pretrained weights yet"):
        registry.find_weights("preact_resnet1001", "cifar10", registry=mine)
    with pytest.raises(UnknownWeightsError, match=good.name):
        registry.get_weights_entry("preact_resnet8_basic.cifar100", registry=mine)


def test_weights_in_training_say_so_and_have_their_curve_in_the_checkout():
    in_progress = pathlib.Path(__file__).resolve().parents[2] / "weights" / "in_progress"
    folders = in_progress.iterdir() if in_progress.is_dir() else ()  # git keeps no empty one
    assert {p.name for p in folders if p.is_dir()} == (
        registry.IN_TRAINING | registry.RETRAINING)
    assert not registry.IN_TRAINING & registry.RETRAINING
    for name in registry.RETRAINING:
        assert name in registry.WEIGHTS  # the registered set serves until it is replaced
        assert (in_progress / name / "curves.png").is_file()
    for name in registry.IN_TRAINING:
        assert name not in registry.WEIGHTS  # registered: no longer in training
        assert (in_progress / name / "curves.png").is_file()
        architecture, tag = name.split(".")
        with pytest.raises(UnknownWeightsError, match=f"{name} is being trained"):
            registry.find_weights(architecture, tag)
    with pytest.raises(UnknownWeightsError) as info:
        registry.find_weights("preact_resnet1001", "cifar10")
    assert "being trained" not in str(info.value)


def _in_progress_checkpoints():
    in_progress = pathlib.Path(__file__).resolve().parents[2] / "weights" / "in_progress"
    return [in_progress / name for name in sorted(registry.IN_TRAINING | registry.RETRAINING)
            if (in_progress / name / "checkpoint").is_dir()]


@pytest.mark.parametrize("folder", _in_progress_checkpoints(), ids=lambda p: p.name)
def test_in_progress_checkpoint_is_the_one_its_curve_shows(folder):
    """A run's checkpoint kept in weights/in_progress/<name>/checkpoint/ (so a new machine
    can resume it) is complete and from the same epoch as history.csv beside it."""
    import csv

    from keras_preact.training.checkpointing import Checkpoint

    state = Checkpoint(folder).read_state()
    assert state is not None, f"{folder}/checkpoint has no state.json"
    with open(folder / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert state["epoch"] == len(rows) == len(state["history"])
    for row, saved in zip(rows, state["history"]):
        assert int(row["epoch"]) == saved["epoch"]
        assert float(row["loss"]) == pytest.approx(saved["loss"], rel=1e-6)
    assert state["config"]["model"] == folder.name.split(".")[0]


@pytest.mark.slow
@pytest.mark.parametrize("folder", _in_progress_checkpoints(), ids=lambda p: p.name)
def test_in_progress_checkpoint_loads_into_its_model(folder):
    from keras_preact.training.checkpointing import Checkpoint, load_model_weights

    model = keras_preact.create_model(folder.name.split(".")[0])
    load_model_weights(model, Checkpoint(folder).weights_path)
    assert all(bool(keras.ops.all(keras.ops.isfinite(w))) for w in model.weights)


def test_weights_errors_are_value_errors():
    for cls in (registry.UnknownWeightsError, registry.WeightsNotFoundError,
                registry.WeightsUnavailableError, registry.ChecksumError,
                registry.IncompatibleWeightsError, registry.PublishError):
        assert issubclass(cls, WeightsError) and issubclass(cls, ValueError)


def test_shipped_labels():
    assert labels.CIFAR10_LABELS[:3] == ("airplane", "automobile", "bird")
    assert len(labels.CIFAR10_LABELS) == 10
    assert len(set(labels.CIFAR100_LABELS)) == 100
    # CIFAR-100's fine label names are in alphabetical order in the dataset's meta file.
    assert list(labels.CIFAR100_LABELS) == sorted(labels.CIFAR100_LABELS)
    assert labels.get_labels("cifar100")[0] == "apple"
    with pytest.raises(ValueError, match="cifar10, cifar100"):
        labels.get_labels("svhn")


def test_unpublished_entry_is_valid_and_says_where_its_file_is(good):
    local = dataclasses.replace(good, revision=registry.UNPUBLISHED)
    assert not local.published and good.published
    assert registry.validate_entry(local) == []
    assert f"weights/{good.name}/ (local copy; not on the Hub yet)" in local.describe()
    assert registry.WeightsEntry.from_dict(local.to_dict()) == local
    branch = dataclasses.replace(good, revision="main")
    assert any("40-hex commit" in p for p in registry.validate_entry(branch))


def test_a_name_in_training_says_so_and_where_its_curve_is(monkeypatch):
    monkeypatch.setattr(registry, "IN_TRAINING", frozenset({"preact_resnet1001.cifar10"}))
    with pytest.raises(UnknownWeightsError, match="preact_resnet1001.cifar10 is being trained"):
        registry.find_weights("preact_resnet1001", "cifar10")
