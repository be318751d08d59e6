"""keras_preact.pretrained.hub against the real huggingface_hub client and a Hub-compatible test
server on 127.0.0.1 (tests/hub/fake_hub.py): pinning, cache hits without requests,
offline mode, error mapping, and failing fast on a dead or silent endpoint.

The server is a test double of the Hub's HTTP contract; the client side (HTTP, cache,
offline logic, error classes) is the real one. Xet transfers are not covered."""

import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import time

import huggingface_hub.constants as constants
import pytest

from keras_preact.pretrained import hub
from keras_preact.pretrained.registry import (
    ChecksumError,
    WeightsError,
    WeightsNotFoundError,
    WeightsUnavailableError,
)

REPO = "kp-test/hub-files"


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("hf://owner/repo", ("owner/repo", None)),
        ("hf://owner/repo@" + "a" * 40, ("owner/repo", "a" * 40)),
        ("hf://o.w-n_er/re.po@v1.0", ("o.w-n_er/re.po", "v1.0")),
    ],
)
def test_parse_hf_uri(uri, expected):
    assert hub.parse_hf_uri(uri) == expected


@pytest.mark.parametrize("uri", ["hf://repo", "hf://a/b/c", "hf://owner/repo@", "hf:///x", "x/y"])
def test_parse_hf_uri_rejects_malformed(uri):
    with pytest.raises(WeightsError, match="hf://owner/repo"):
        hub.parse_hf_uri(uri)


def test_pinned_download_is_served_from_cache_with_zero_requests(hub_env):
    sha = hub_env.hub.seed(REPO, {"model.weights.h5": b"v1" * 1000})
    first = hub.download(REPO, "model.weights.h5", revision=sha)
    assert open(first, "rb").read() == b"v1" * 1000
    assert hub.snapshot_commit(first) == sha
    assert str(hub_env.cache_dir) in first
    hub_env.hub.requests.clear()
    again = hub.download(REPO, "model.weights.h5", revision=sha)
    assert again == first
    assert hub_env.hub.requests == []


def test_library_name_and_version_are_sent(hub_env):
    sha = hub_env.hub.seed(REPO, {"a.txt": b"a"})
    hub.download(REPO, "a.txt", revision=sha)
    assert hub_env.hub.user_agents
    assert all(f"keras_preact/{hub.__version__}" in ua for ua in hub_env.hub.user_agents)


def test_pinned_revision_after_main_moved(hub_env):
    first = hub_env.hub.seed(REPO, {"model.weights.h5": b"first"})
    second = hub_env.hub.seed(REPO, {"model.weights.h5": b"second"})
    assert first != second and hub_env.hub.head(REPO) == second
    old = hub.download(REPO, "model.weights.h5", revision=first)
    new = hub.download(REPO, "model.weights.h5")
    assert open(old, "rb").read() == b"first"
    assert open(new, "rb").read() == b"second"


def test_offline_after_one_load_makes_no_request(hub_env, monkeypatch):
    sha = hub_env.hub.seed(REPO, {"model.weights.h5": b"x" * 100})
    pinned = hub.download(REPO, "model.weights.h5", revision=sha)
    branch = hub.download(REPO, "model.weights.h5")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub_env.hub.reset()  # the server forgets everything: only the cache can answer
    assert hub.download(REPO, "model.weights.h5", revision=sha) == pinned
    assert hub.download(REPO, "model.weights.h5") == branch
    assert hub_env.hub.requests == []


def test_never_cached_offline_names_every_way_out(hub_env, monkeypatch):
    sha = hub_env.hub.seed(REPO, {"model.weights.h5": b"x"})
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as info:
        hub.download(REPO, "model.weights.h5", revision=sha)
    message = str(info.value)
    for needle in (
        f"hf://{REPO}", sha, "HF_HUB_OFFLINE is set", "HF_HUB_OFFLINE=1",
        f"HF_ENDPOINT={hub_env.endpoint}", "HF_HUB_DISABLE_XET=1",
        os.path.join(str(hub_env.cache_dir), "models--kp-test--hub-files"),
        f"hf download {REPO} model.weights.h5 --revision {sha}",
        'weights="/path/to/model.weights.h5"',
    ):
        assert needle in message, needle
    assert hub_env.hub.requests == []


def test_missing_repo_file_and_revision_are_told_apart(hub_env):
    sha = hub_env.hub.seed(REPO, {"model.weights.h5": b"x"})
    cases = [
        ("kp-test/no-such-repo", "model.weights.h5", None, "repository", "not found"),
        (REPO, "other.weights.h5", sha, "file", "'other.weights.h5' not found"),
        (REPO, "model.weights.h5", "f" * 40, "revision", "Revision 'ffff"),
        (REPO, "model.weights.h5", "no-such-branch", "revision", "no-such-branch"),
    ]
    for repo_id, filename, revision, missing, text in cases:
        with pytest.raises(WeightsNotFoundError) as info:
            hub.download(repo_id, filename, revision=revision)
        assert info.value.missing == missing
        assert text in str(info.value) and repo_id in str(info.value)


def test_dead_endpoint_fails_fast_with_the_offline_message(hub_env, kill_endpoint):
    dead = kill_endpoint()
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        hub.download(REPO, "model.weights.h5", revision="a" * 40)
    # huggingface_hub alone retries with backoff for about 25 s here.
    assert time.monotonic() - start < 10
    assert "cannot be reached" in str(info.value) and dead in str(info.value)


def test_cached_branch_file_survives_a_dead_endpoint(hub_env, kill_endpoint):
    hub_env.hub.seed(REPO, {"config.json": b"{}"})
    path = hub.download(REPO, "config.json")
    kill_endpoint()
    assert hub.download(REPO, "config.json") == path


def test_silent_endpoint_does_not_hang(hub_env, tmp_path):
    """A server that accepts connections and never answers: the download gives up after
    HF_HUB_ETAG_TIMEOUT, instead of huggingface_hub's minutes of 60 s retries."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        code = textwrap.dedent(f"""
            from keras_preact.pretrained import hub
            try:
                hub.download({REPO!r}, "model.weights.h5", revision="b" * 40)
            except hub.WeightsUnavailableError as error:
                print("UNAVAILABLE", str(error).splitlines()[0])
        """)
        env = {**os.environ, **hub_env.env, "HF_ENDPOINT": endpoint,
               "HF_HUB_ETAG_TIMEOUT": "1"}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=90, cwd=pathlib.Path(__file__).parents[2])
    assert "UNAVAILABLE" in done.stdout, done.stderr[-2000:]
    assert "cannot be reached" in done.stdout


def test_checksum_mismatch_is_refused(tmp_path):
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"tampered")
    with pytest.raises(ChecksumError) as info:
        hub.verify_sha256(path, "0" * 64, source="test weights")
    assert hub.sha256sum(path) in str(info.value) and "NOT loaded" in str(info.value)
    hub.verify_sha256(path, hub.sha256sum(path), source="test weights")


def test_weights_root_is_configurable(monkeypatch, tmp_path):
    monkeypatch.delenv(hub.WEIGHTS_DIR_ENV, raising=False)
    # In a source checkout: this repository's weights/ folder, with its published sets.
    assert hub.weights_root() == pathlib.Path(__file__).resolve().parents[2] / "weights"
    assert (hub.weights_root() / "preact_resnet20.cifar10" / "keras_preact.json").is_file()
    monkeypatch.setenv(hub.WEIGHTS_DIR_ENV, str(tmp_path))
    assert hub.weights_root() == tmp_path
