"""keras_preact.compat: every module path of the flat layout before the re-layout by role
still imports, as the very module object of its new path."""

import importlib
import subprocess
import sys

import pytest

from keras_preact import compat


@pytest.mark.parametrize("old", sorted(compat.MOVED))
def test_old_paths_give_the_same_module(old):
    assert importlib.import_module(old) is importlib.import_module(compat.MOVED[old])


def test_the_forms_users_wrote_keep_working():
    import keras_preact
    from keras_preact import data, registry  # noqa: F401
    from keras_preact.commands.options import positive_int
    from keras_preact.pretrained import resolve_weights
    from keras_preact.training import TrainConfig, train

    assert registry.__name__ == "keras_preact.pretrained.registry"
    assert registry.__spec__.name == "keras_preact.pretrained.registry"
    assert keras_preact.data is data and data.CIFAR10.name == "cifar10"
    assert keras_preact.export.__name__ == "keras_preact.deploy.export"
    assert positive_int("3") == 3 and callable(train) and callable(resolve_weights)
    assert TrainConfig.__module__ == "keras_preact.training.loop"
    with pytest.raises(AttributeError):
        keras_preact.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        importlib.import_module("keras_preact.no_such_module")


def test_an_old_path_in_a_fresh_process_loads_no_backend():
    code = ("import sys\nimport keras_preact.registry, keras_preact.commands.train\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"
