"""setup.py: a built wheel carries every module and the bundled sample images, which
`keras_preact.pretrained.samples` and the README's offline prediction example read."""

import importlib.util
import pathlib
import subprocess
import sys
import zipfile

import filelock
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed in this environment")
    out = tmp_path_factory.mktemp("wheel")
    # pytest-xdist workers build in the one build/ folder of the source tree, and two
    # builds at once fail ("No such file or directory: 'build/bdist...'"): take turns.
    with filelock.FileLock(tmp_path_factory.getbasetemp().parent / "keras_preact-wheel.lock"):
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(out), str(ROOT)],
                       check=True, capture_output=True, text=True)
    (wheel,) = out.glob("keras_preact-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _package_files(pattern):
    package = ROOT / "keras_preact"
    return {p.relative_to(ROOT).as_posix() for p in package.rglob(pattern)
            if "__pycache__" not in p.parts}


def test_wheel_has_every_module(wheel_names):
    modules = _package_files("*.py")
    assert len(modules) > 20
    assert modules <= wheel_names, sorted(modules - wheel_names)


def test_wheel_has_the_sample_images(wheel_names):
    images = _package_files("*.jpg")
    assert images, "no sample images under keras_preact/pretrained/sample_images"
    assert images <= wheel_names, sorted(images - wheel_names)


def test_wheel_has_no_test_or_script_files(wheel_names):
    assert not [n for n in wheel_names if n.startswith(("tests/", "scripts/", "weights/"))]
