"""Shared pytest configuration.

Hub safety net: the tests must never reach huggingface.co (CI reaches package registries
only). Before anything imports huggingface_hub, which reads its settings once at import,
HF_ENDPOINT points at a dead loopback port and HF_HOME at a throwaway folder, so a test
that forgets the `hub_env` fixture fails fast instead of going online or touching the
user's cache and token.
"""

import os
import tempfile

os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="keras_preact_hf_home_")
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_HUB_OFFLINE", None)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

import dataclasses  # noqa: E402
import pathlib  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hub.fake_hub import FakeHub  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slower tests (subprocesses, model builds)")


@pytest.fixture(scope="session")
def fake_hub():
    """A Hub-compatible test server on 127.0.0.1 (tests/hub/fake_hub.py), for the session."""
    hub = FakeHub().start()
    yield hub
    hub.stop()


@dataclasses.dataclass
class HubEnv:
    """What `hub_env` set up: the server, its endpoint, a private cache, and the
    environment to give subprocesses."""

    hub: FakeHub
    endpoint: str
    cache_dir: pathlib.Path
    weights_dir: pathlib.Path
    env: dict


def _point_client_at(monkeypatch, endpoint):
    """Points the in-process huggingface_hub client (settings frozen at import) at `endpoint`."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        endpoint + "/{repo_id}/resolve/{revision}/{filename}")


@pytest.fixture
def kill_endpoint(hub_env, monkeypatch):
    """A function that points the client at a loopback port nobody listens on (as if the
    Hub became unreachable) and returns that endpoint."""
    def kill():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
        _point_client_at(monkeypatch, dead)
        return dead

    return kill


@pytest.fixture
def hub_env(fake_hub, tmp_path, monkeypatch):
    """Points huggingface_hub (in this process and in subprocesses) at the fake Hub,
    with a fresh cache, a dummy token, Xet off, and an empty local weights folder."""
    import huggingface_hub.constants as constants

    fake_hub.reset()
    cache_dir = tmp_path / "hub_cache"
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    env = {
        "HF_ENDPOINT": fake_hub.endpoint,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_CACHE": str(cache_dir),
        "HF_TOKEN": "hf_test_dummy",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "KERAS_PREACT_WEIGHTS_DIR": str(weights_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _point_client_at(monkeypatch, fake_hub.endpoint)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return HubEnv(fake_hub, fake_hub.endpoint, cache_dir, weights_dir, env)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Weights files of tiny ResNet-8/14 models, built once (tests/hub/tiny_weights.py)."""
    from hub import tiny_weights

    return tiny_weights.build(tmp_path_factory.mktemp("tiny_weights"))
