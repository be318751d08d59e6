"""keras_preact.runtime: CPU feature detection, the oneDNN switch and bf16 choice."""

import os
import subprocess
import sys

import keras
import pytest

from keras_preact.training import distribute

from keras_preact import runtime

AVX512_BF16 = "fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni"
ZEN3 = "fpu sse2 avx2 fma bmi2 vaes sha_ni"


def _cpuinfo(tmp_path, flags, key="flags"):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU 9000\n{key}\t\t: {flags}\n\n"
                    f"processor\t: 1\n{key}\t\t: {flags}\n")
    return str(path)


def test_cpu_flags_and_native_bfloat16(tmp_path):
    bf16 = runtime.cpu_flags(_cpuinfo(tmp_path, AVX512_BF16))
    assert "avx512_bf16" in bf16 and runtime.native_bfloat16_cpu(bf16)
    assert runtime.cpu_model(_cpuinfo(tmp_path, ZEN3)) == "Test CPU 9000"
    assert not runtime.native_bfloat16_cpu(runtime.cpu_flags(_cpuinfo(tmp_path, ZEN3)))
    assert runtime.native_bfloat16_cpu(frozenset({"amx_bf16", "amx_tile"}))
    assert runtime.cpu_flags(tmp_path / "missing") == frozenset()


def test_configure_sets_onednn_only_when_it_still_can(monkeypatch):
    monkeypatch.delenv(runtime.ONEDNN_VARIABLE, raising=False)
    monkeypatch.setattr(runtime.platform, "machine", lambda: "x86_64")
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert runtime.configure() is True
    assert os.environ[runtime.ONEDNN_VARIABLE] == "1"
    monkeypatch.setenv(runtime.ONEDNN_VARIABLE, "0")  # the user's choice wins
    assert runtime.configure() is False
    assert os.environ[runtime.ONEDNN_VARIABLE] == "0"
    monkeypatch.delenv(runtime.ONEDNN_VARIABLE)
    monkeypatch.setitem(sys.modules, "tensorflow", object())  # too late once imported
    assert runtime.configure() is False
    assert runtime.ONEDNN_VARIABLE not in os.environ


@pytest.mark.tf_only
@pytest.mark.parametrize("value,expected", [(None, "True"), ("0", "False")])
def test_importing_keras_preact_first_turns_onednn_on(value, expected):
    env = {k: v for k, v in os.environ.items() if k != runtime.ONEDNN_VARIABLE}
    env.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    if value is not None:
        env[runtime.ONEDNN_VARIABLE] = value
    code = ("import keras_preact, keras; from keras_preact import runtime; "
            "print(runtime.onednn_enabled(), runtime.onednn_advice() is None)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    if runtime.platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("oneDNN is switched only on x86")
    assert out == [expected, expected]


def test_bfloat16_auto_on_a_cpu_needs_native_support(monkeypatch):
    monkeypatch.setattr(distribute, "accelerator", lambda: "cpu")
    monkeypatch.setattr(runtime, "onednn_enabled", lambda: True)
    monkeypatch.setattr(runtime, "native_bfloat16_cpu", lambda flags=None: False)
    assert distribute.supports_bfloat16() is False
    monkeypatch.setattr(runtime, "native_bfloat16_cpu", lambda flags=None: True)
    assert distribute.supports_bfloat16() is (keras.backend.backend() == "tensorflow")


def test_describe_is_json_ready():
    import json

    info = runtime.describe()
    assert json.loads(json.dumps(info)) == info
    assert set(info) >= {"cpu", "native_bfloat16", "onednn", "TF_ENABLE_ONEDNN_OPTS"}


def _fresh_python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != runtime.LOG_LEVEL_VARIABLE}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=180, check=True)


def test_import_is_light_and_keras_comes_with_the_zoo_layers(tmp_path):
    """`import keras_preact` loads no backend; a later `import keras` registers the zoo's
    layers, so a `.keras` file with them loads in safe mode; TensorFlow's start-up lines
    are not printed."""
    from keras_preact.deploy.finetune import build_transfer_model

    import keras_preact

    backbone = keras_preact.build_resnet(8, input_shape=(16, 16, 3), include_top=False,
                                         pooling="avg")
    build_transfer_model(backbone, 3).save(tmp_path / "m.keras")
    load = (f"m = keras.saving.load_model({str(tmp_path / 'm.keras')!r}, safe_mode=True)\n"
            "print(type(m.get_layer('backbone')).__module__, "
            "type(m.get_layer('backbone').layer.get_layer('conv2_block1_preact_bn')).__module__)")
    done = _fresh_python("import sys, keras_preact\n"
                         "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
                         "import keras\n" + load)
    assert done.stdout.split() == ["keras_preact.models.layers", "keras_preact.models.layers"]
    assert "InitializeLog" not in done.stderr and "oneDNN custom" not in done.stderr
    # The other order, Keras first: importing keras_preact registers the layers at once.
    done = _fresh_python("import keras, keras_preact\n" + load)
    assert done.stdout.split() == ["keras_preact.models.layers", "keras_preact.models.layers"]


@pytest.mark.tf_only
def test_the_users_log_level_wins():
    if runtime.platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the oneDNN notice is printed on x86")
    done = _fresh_python("import keras_preact, keras", KERAS_BACKEND="tensorflow",
                         TF_CPP_MIN_LOG_LEVEL="0")
    assert "oneDNN custom operations are on" in done.stderr
