"""keras_preact.deploy.artifacts: exported networks (SavedModel, TFLite, ONNX) opened once and
measured on a split like Keras weights, and `keras-preact evaluate --artifact`. TensorFlow
backend only (the export needs it)."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_preact as kp
from image_folders import CLASSES, make_image_folder
from keras_preact.cli import main as cli_main
from keras_preact.deploy import artifacts, export
from keras_preact.training import data, evaluation, pipelines

pytestmark = [
    pytest.mark.tf_only,
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="export needs the TensorFlow backend"),
]
pytest.importorskip("tensorflow")
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "images", per_class=8,
                             test_per_class=20, corrupt=False)


def _normalization(folder):
    """What folders of three classes are normalised with by default (ImageNet's)."""
    return data.default_normalization(str(folder), len(CLASSES))


@pytest.fixture(scope="module")
def network(folder):
    """ResNet-8 for the three classes, briefly fitted so that its predictions depend on
    the image (a random one calls everything one class), logits out."""
    keras.utils.set_random_seed(2)
    model = kp.build_resnet(8, classes=len(CLASSES), input_shape=(32, 32, 3),
                            classifier_activation=None)
    train = data.load_split(str(folder), "train")
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(_normalization(folder).transform(train.images.astype(np.float32)), train.labels,
              epochs=4, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def reference(folder, network):
    """The Keras model's own metrics on the test split."""
    test = data.load_split(str(folder), "test")
    batches = pipelines.ArrayEvalBatches(test, batch_size=16,
                                         normalization=_normalization(folder))
    return evaluation.evaluate_classifier(network, batches, test.class_names, top_k=3,
                                          flip_tta=True)


def _labels(path, names=CLASSES):
    artifacts.labels_path(path).write_text("\n".join(names) + "\n")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, network):
    """{kind: path}: a SavedModel and an ONNX file taking normalised values, a TFLite
    file taking raw uint8 pixels; each with its labels file."""
    root = tmp_path_factory.mktemp("artifacts")
    paths = {"saved_model": export.export_saved_model(network, root / "net"),
             "tflite": export.export_tflite(network, root / "net.tflite",
                                            include_preprocessing=True,
                                            preprocessing="imagenet")}
    if _has("tf2onnx") and _has("onnxruntime"):
        paths["onnx"] = export.export_onnx(network, root / "net.onnx")
    for path in paths.values():
        _labels(path)
    return paths


def _has(module):
    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("kind", artifacts.KINDS)
def test_artifacts_measure_what_keras_measures(exported, folder, reference, kind):
    if kind not in exported:
        pytest.skip("tf2onnx / onnxruntime not installed")
    result = artifacts.evaluate_artifact(exported[kind], str(folder), batch_size=16,
                                         flip_tta=True)
    assert result["format"] == kind and result["examples"] == 60
    assert result["input"]["raw_pixels"] == (kind == "tflite")
    for key in ("top1_error", "per_class_accuracy", "confusion_matrix"):
        assert result[key] == reference[key], key
        assert result["flip_tta"][key] == reference["flip_tta"][key], key
    # Not a degenerate network: it tells the classes apart, so a wrong input
    # normalisation would show.
    assert reference["top1_error"] < 50


def test_artifact_reads_its_input_and_labels(exported):
    tflite = artifacts.Artifact(exported["tflite"])
    assert tflite.kind == "tflite" and tflite.raw_pixels and tflite.input_size == (32, 32)
    assert tflite.labels() == list(CLASSES) and tflite.output_names == ["predictions"]
    saved = artifacts.Artifact(exported["saved_model"])
    assert not saved.raw_pixels and saved.input_dtype == np.float32
    outputs = saved(np.zeros((3, 32, 32, 3), np.float32))
    assert outputs["predictions"].shape == (3, len(CLASSES))
    served = artifacts.Artifact(exported["saved_model"], signature="serve")
    np.testing.assert_array_equal(served(np.zeros((3, 32, 32, 3), np.float32))["predictions"],
                                  outputs["predictions"])


def test_wrong_requests_say_what_to_do(exported, folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="keras-preact export"):
        artifacts.Artifact(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="raw uint8 pixels"):
        artifacts.evaluate_artifact(exported["tflite"], str(folder),
                                    include_preprocessing=False)
    with pytest.raises(ValueError, match="drop --normalization"):
        artifacts.evaluate_artifact(exported["tflite"], str(folder), normalization="cifar10")
    renamed = tmp_path / "renamed.tflite"
    renamed.write_bytes(pathlib.Path(exported["tflite"]).read_bytes())
    _labels(renamed, ("cat", "dog", "horse"))
    with pytest.raises(ValueError, match="not among the training classes"):
        artifacts.evaluate_artifact(renamed, str(folder))
    artifacts.labels_path(renamed).unlink()
    two = make_image_folder(tmp_path / "two", per_class=1, test_per_class=2, corrupt=False)
    for name in CLASSES[2:]:
        for file in (two / "test" / name).iterdir():
            file.unlink()
        (two / "test" / name).rmdir()
    with pytest.raises(ValueError, match="scores 3 classes"):
        artifacts.evaluate_artifact(renamed, str(two))


def test_evaluate_command_takes_an_artifact(exported, folder, reference, tmp_path, capsys):
    output = tmp_path / "eval.json"
    status = cli_main(["evaluate", "--artifact", str(exported["tflite"]), "--data", str(folder),
                       "--output", str(output), "--no-progress"])
    assert status == 0
    result = json.loads(output.read_text())
    assert result["top1_error"] == reference["top1_error"] and result["runtime"]
    assert "net.tflite on folder:" in capsys.readouterr().out
    assert cli_main(["evaluate", "--artifact", str(exported["tflite"]), "--model", "resnet20",
                     "--data", str(folder)]) == 2
    assert "the artifact is the network" in capsys.readouterr().err


@pytest.mark.skipif(not _has("jax") or not _has("ai_edge_litert"),
                    reason="needs JAX and LiteRT")
def test_a_tflite_file_is_measured_without_tensorflow(exported, folder, reference):
    """On a machine with Keras on JAX and no TensorFlow (LiteRT and the folder reader need
    none), in a subprocess that starts without it."""
    code = ("import json, sys\n"
            "from keras_preact.deploy import artifacts\n"
            f"r = artifacts.evaluate_artifact({str(exported['tflite'])!r}, {str(folder)!r})\n"
            "print(json.dumps([r['top1_error'], r['runtime'], 'tensorflow' in sys.modules]))\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    top1, runtime, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert (top1, runtime, imported) == (reference["top1_error"], "ai_edge_litert", False)
