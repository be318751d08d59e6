"""`weights=` end to end: registered tags, hf:// repos and local files, through the real
builders, the real huggingface_hub client, a Hub-compatible test server on 127.0.0.1 and
real caches; offline use, the weights/<name>/ fallback, checksum and architecture
refusals."""

import dataclasses
import json
import re
import shutil
import warnings

import huggingface_hub.constants as constants
import numpy as np
import pytest

import keras_preact as kp
from keras_preact.pretrained import loading as pretrained, registry
from keras_preact.pretrained.registry import (
    ChecksumError,
    IncompatibleWeightsError,
    UnknownWeightsError,
    WeightsError,
    WeightsNotFoundError,
    WeightsUnavailableError,
)

from hub import tiny_weights as tw


def _register(monkeypatch, *entries):
    monkeypatch.setattr(registry, "WEIGHTS", {e.name: e for e in entries})


@pytest.fixture
def published(hub_env, tiny_weights, monkeypatch):
    """The tiny weights published on the fake Hub and registered as 'cifar10'."""
    draft = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params)
    sha = tw.seed_repo(hub_env.hub, draft, tiny_weights.path)
    entry = dataclasses.replace(draft, revision=sha)
    _register(monkeypatch, entry)
    hub_env.hub.requests.clear()
    return entry


def _assert_download_requests_only(requests):
    """The load path talks to the Hub through hf_hub_download only: HEAD/GET of
    /resolve/ URLs, never the metadata API (model_info, list_repo_tree), which fails
    offline."""
    assert requests
    for request in requests:
        assert re.fullmatch(r"(HEAD|GET) /[^/]+/[^/]+/resolve/[^/]+/.+", request), request


def _build(**kwargs):
    return kp.build_resnet(8, family="cifar", **kwargs)


def _assert_is_tiny(model, tiny_weights):
    outputs = model.predict(tiny_weights.images, verbose=0)
    np.testing.assert_allclose(outputs, tiny_weights.outputs, rtol=1e-5, atol=1e-6)


def test_tag_downloads_verifies_and_loads(published, tiny_weights, hub_env):
    model = _build(weights="cifar10")
    _assert_is_tiny(model, tiny_weights)
    assert any(r.startswith("GET") and r.endswith("model.weights.h5")
               for r in hub_env.hub.requests)
    _assert_download_requests_only(hub_env.hub.requests)
    resolved = pretrained.resolve_weights("cifar10", tw.ARCH)
    assert resolved.entry == published and resolved.num_classes == 10
    assert resolved.path.startswith(str(hub_env.cache_dir))


def test_cache_hit_at_pinned_sha_makes_zero_requests(published, tiny_weights, hub_env):
    _build(weights="cifar10")
    hub_env.hub.requests.clear()
    model = _build(weights="cifar10")
    assert hub_env.hub.requests == []
    _assert_is_tiny(model, tiny_weights)


def test_notop_model_gets_the_backbone_weights(published, tiny_weights):
    full = _build(weights="cifar10")
    features = _build(weights="cifar10", include_top=False, pooling="avg")
    for layer in features.layers:
        for mine, theirs in zip(layer.weights, full.get_layer(layer.name).weights):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_offline_after_one_load(published, tiny_weights, hub_env, monkeypatch):
    _build(weights="cifar10")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub_env.hub.reset()
    _assert_is_tiny(_build(weights="cifar10"), tiny_weights)
    assert hub_env.hub.requests == []


def test_never_cached_offline_raises_our_error(published, hub_env, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as info:
        _build(weights="cifar10")
    message = str(info.value)
    command = f"hf download {published.repo_id} model.weights.h5 --revision {published.revision}"
    assert command in message
    assert "No local copy of preact_resnet8_basic.cifar10" in message
    assert str(hub_env.weights_dir) in message


def _local_copy(hub_env, entry, source):
    folder = hub_env.weights_dir / entry.name
    folder.mkdir(parents=True)
    shutil.copyfile(source, folder / entry.filename)
    return folder / entry.filename


def test_offline_falls_back_to_the_local_copy_and_says_so_once(
        published, tiny_weights, hub_env, monkeypatch):
    copy = _local_copy(hub_env, published, tiny_weights.path)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.warns(UserWarning, match="local copy") as record:
        model = _build(weights="cifar10")
    assert str(copy) in str(record[0].message)
    _assert_is_tiny(model, tiny_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pretrained.resolve_weights("cifar10", tw.ARCH).path == str(copy)
    assert hub_env.hub.requests == []


def test_unreachable_hub_falls_back_to_the_local_copy(
        published, tiny_weights, hub_env, kill_endpoint):
    copy = _local_copy(hub_env, published, tiny_weights.path)
    kill_endpoint()
    with pytest.warns(UserWarning, match="cannot be reached"):
        resolved = pretrained.resolve_weights("cifar10", tw.ARCH)
    assert resolved.path == str(copy)


def test_tampered_local_copy_is_refused(published, tiny_weights, hub_env, monkeypatch):
    copy = _local_copy(hub_env, published, tiny_weights.path)
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ChecksumError, match="NOT loaded"):
        _build(weights="cifar10")


def test_file_with_another_checksum_on_the_hub_is_refused(
        hub_env, tiny_weights, monkeypatch):
    entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params)
    sha = tw.seed_repo(hub_env.hub, entry, tiny_weights.original_path)  # other bytes
    _register(monkeypatch, dataclasses.replace(entry, revision=sha))
    with pytest.raises(ChecksumError) as info:
        _build(weights="cifar10")
    assert entry.sha256 in str(info.value)


def test_unknown_tag_lists_the_available_ones(published):
    expected = "available tags for preact_resnet8_basic: 'cifar10'"
    with pytest.raises(UnknownWeightsError, match=expected):
        _build(weights="imagenet")


def test_missing_local_path(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="No such weights file"):
        _build(weights=str(tmp_path / "nope.weights.h5"))


def test_not_a_string(published):
    with pytest.raises(WeightsError, match="weights must be None"):
        pretrained.resolve_weights(42, tw.ARCH)


def test_hf_uri_of_an_unregistered_repo_reads_its_metadata(hub_env, tiny_weights):
    entry = tw.entry(tiny_weights.cifar100_path, repo_id="kp-test/r8-c100",
                     num_params=tiny_weights.cifar100_params, num_classes=100, tag="cifar100")
    sha = tw.seed_repo(hub_env.hub, entry, tiny_weights.cifar100_path)
    model = _build(weights="hf://kp-test/r8-c100")
    assert model.outputs[0].shape[-1] == 100
    _assert_download_requests_only(hub_env.hub.requests)
    resolved = pretrained.resolve_weights(f"hf://kp-test/r8-c100@{sha}", tw.ARCH)
    assert resolved.entry.revision == sha and resolved.num_classes == 100
    assert resolved.entry.label_names[0] == "apple"


def test_hf_uri_of_a_registered_repo_uses_the_entry(published, hub_env):
    resolved = pretrained.resolve_weights(f"hf://{published.repo_id}", tw.ARCH)
    assert resolved.entry == published
    assert not any("keras_preact.json" in r for r in hub_env.hub.requests)


def test_hf_uri_pinned_revision_after_main_moved(hub_env, tiny_weights):
    entry = tw.entry(tiny_weights.path, repo_id="kp-test/moving",
                     num_params=tiny_weights.num_params)
    first = tw.seed_repo(hub_env.hub, entry, tiny_weights.path)
    other = dataclasses.replace(entry, sha256="0" * 64)
    tw.seed_repo(hub_env.hub, other, tiny_weights.path)  # main now has bad metadata
    with pytest.raises(ChecksumError):
        pretrained.resolve_weights("hf://kp-test/moving", tw.ARCH)
    pinned = pretrained.resolve_weights(f"hf://kp-test/moving@{first}", tw.ARCH)
    assert pinned.entry.revision == first


def test_hf_uri_with_metadata_in_config_json(hub_env, tiny_weights):
    entry = tw.entry(tiny_weights.path, repo_id="kp-test/config-only",
                     num_params=tiny_weights.num_params)
    tw.seed_repo(hub_env.hub, entry, tiny_weights.path, metadata_name="config.json")
    assert pretrained.resolve_weights("hf://kp-test/config-only", tw.ARCH).num_classes == 10


def test_hf_uri_without_metadata_is_refused(hub_env, tiny_weights):
    entry = tw.entry(tiny_weights.path, repo_id="kp-test/bare", num_params=tiny_weights.num_params)
    tw.seed_repo(hub_env.hub, entry, tiny_weights.path, metadata_name=None)
    with pytest.raises(WeightsError, match="no keras_preact metadata"):
        pretrained.resolve_weights("hf://kp-test/bare", tw.ARCH)


@pytest.mark.parametrize(
    "uri, missing",
    [("hf://kp-test/absent", "repository"), ("hf://kp-test/present@nope", "revision")],
)
def test_hf_uri_not_found(hub_env, tiny_weights, uri, missing):
    hub_env.hub.seed("kp-test/present", {"x": b"x"})
    with pytest.raises(WeightsNotFoundError) as info:
        pretrained.resolve_weights(uri, tw.ARCH)
    assert info.value.missing == missing


def test_weights_of_another_architecture_are_refused_by_metadata(hub_env, tiny_weights):
    entry = tw.entry(tiny_weights.deeper_path, repo_id="kp-test/r14", depth=14,
                     architecture="preact_resnet14_basic", num_params=1)
    tw.seed_repo(hub_env.hub, entry, tiny_weights.deeper_path)
    expected = "'preact_resnet14_basic', not 'preact_resnet8_basic'"
    with pytest.raises(IncompatibleWeightsError, match=expected):
        _build(weights="hf://kp-test/r14")
    assert not any(r.startswith("GET") and "model.weights.h5" in r for r in hub_env.hub.requests)


def test_weights_file_of_another_architecture_is_refused_by_its_shapes(tiny_weights):
    model = _build()
    pretrained.check_weights_file(model, tiny_weights.path)
    for other in (tiny_weights.deeper_path, tiny_weights.cifar100_path):
        with pytest.raises(IncompatibleWeightsError, match="another architecture"):
            pretrained.load_weights(model, other)


def test_same_shapes_other_architecture_is_told_apart_by_its_metadata(tmp_path, tiny_weights):
    """Original and pre-activation ResNet-8 have identical variable shapes: only the
    keras_preact.json next to the file can tell them apart."""
    folder = tmp_path / "resnet8_basic.cifar10"
    folder.mkdir()
    shutil.copyfile(tiny_weights.original_path, folder / "model.weights.h5")
    entry = tw.entry(folder / "model.weights.h5", architecture="resnet8_basic",
                     num_params=tiny_weights.num_params)
    (folder / "keras_preact.json").write_text(json.dumps(entry.to_dict()))
    pretrained.check_weights_file(_build(), folder / "model.weights.h5")  # shapes agree
    expected = "'resnet8_basic', not 'preact_resnet8_basic'"
    with pytest.raises(IncompatibleWeightsError, match=expected):
        _build(weights=str(folder / "model.weights.h5"))
    assert pretrained.resolve_weights(str(folder), "resnet8_basic").entry == entry


def test_bare_local_file_reports_its_head(tiny_weights):
    assert pretrained.resolve_weights(str(tiny_weights.path), tw.ARCH).num_classes == 10
    resolved = pretrained.resolve_weights(str(tiny_weights.cifar100_path), tw.ARCH)
    assert resolved.num_classes == 100 and resolved.entry is None
    assert _build(weights=str(tiny_weights.cifar100_path)).outputs[0].shape[-1] == 100


def test_local_published_folder_is_verified(tmp_path, tiny_weights):
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copyfile(tiny_weights.path, folder / "model.weights.h5")
    entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params, sha256="1" * 64)
    (folder / "keras_preact.json").write_text(json.dumps(entry.to_dict()))
    with pytest.raises(ChecksumError):
        pretrained.resolve_weights(str(folder), tw.ARCH)


def test_unregistered_repo_offline_advises_downloading_the_repo(hub_env, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    sha = "c" * 40
    with pytest.raises(WeightsUnavailableError) as info:
        pretrained.resolve_weights(f"hf://kp-test/elsewhere@{sha}", tw.ARCH)
    message = str(info.value)
    assert f"hf download kp-test/elsewhere --revision {sha} --local-dir <folder>" in message
    assert 'weights="/path/to/<folder>"' in message


def test_a_repo_downloaded_by_hand_loads_from_its_folder(hub_env, tiny_weights, tmp_path):
    """What the offline message advises: `hf download <repo> --local-dir DIR` on a
    connected machine, then weights="DIR"."""
    import huggingface_hub

    entry = tw.entry(tiny_weights.path, repo_id="kp-test/by-hand",
                     num_params=tiny_weights.num_params)
    sha = tw.seed_repo(hub_env.hub, entry, tiny_weights.path)
    folder = huggingface_hub.snapshot_download("kp-test/by-hand", revision=sha,
                                               local_dir=tmp_path / "by-hand")
    _assert_is_tiny(_build(weights=folder), tiny_weights)


def test_unpublished_entry_loads_its_local_copy_without_the_hub(
        hub_env, tiny_weights, monkeypatch):
    entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params,
                     revision=registry.UNPUBLISHED)
    _register(monkeypatch, entry)
    with pytest.raises(WeightsUnavailableError, match="not on the Hugging Face Hub yet") as info:
        kp.build_resnet(8, family="cifar", weights="cifar10")
    assert "KERAS_PREACT_WEIGHTS_DIR" in str(info.value)
    folder = hub_env.weights_dir / entry.name
    folder.mkdir()
    shutil.copyfile(tiny_weights.path, folder / entry.filename)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: the local copy is the source
        model = kp.build_resnet(8, family="cifar", weights="cifar10")
    np.testing.assert_allclose(model.predict(tiny_weights.images, verbose=0),
                               tiny_weights.outputs, rtol=1e-5, atol=1e-6)
    assert hub_env.hub.requests == []
    with open(folder / entry.filename, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ChecksumError):
        kp.build_resnet(8, family="cifar", weights="cifar10")
