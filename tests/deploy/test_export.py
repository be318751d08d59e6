"""SavedModel, TFLite and ONNX export (keras_preact.deploy.export) and `keras-preact export`: named
signatures, reload through `tf.saved_model.load` / `TFSMLayer` / the LiteRT interpreter /
onnxruntime, and numerical agreement with Keras per quantization mode. TensorFlow backend only;
conversions of every family and the quantized modes are marked slow."""

import json
import sys

import keras
import numpy as np
import pytest

import keras_preact as kp
from keras_preact.training import data
from keras_preact.deploy import export, features, finetune
from model_helpers import load_script, randomize_bn

pytestmark = [
    pytest.mark.tf_only,
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="export needs the TensorFlow backend"),
]
tf = pytest.importorskip("tensorflow")



def _images(n=8, size=32, seed=0):
    pixels = np.random.default_rng(seed).normal(120, 60, (n, size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def classifier():
    """Pre-act ResNet-20 with logits and non-trivial BN statistics."""
    keras.utils.set_random_seed(0)
    return randomize_bn(kp.PreActResNet20(classifier_activation=None))


@pytest.fixture(scope="module")
def raw_pixel_saved_model(tmp_path_factory, classifier):
    path = tmp_path_factory.mktemp("export") / "saved_model"
    return export.export_saved_model(classifier, path, include_preprocessing=True,
                                     preprocessing="cifar10")


def _transfer_model(classes=3, **kwargs):
    keras.utils.set_random_seed(1)
    backbone = randomize_bn(kp.build_resnet(8, include_top=False, pooling="avg",
                                             input_shape=(32, 32, 3), **kwargs))
    return finetune.build_transfer_model(backbone, classes, classifier_activation=None)


def test_saved_model_signature_is_named(raw_pixel_saved_model):
    loaded = tf.saved_model.load(raw_pixel_saved_model)
    assert {"serving_default", "serve"} <= set(loaded.signatures)
    signature = loaded.signatures["serving_default"]
    assert signature.structured_input_signature[1] == {
        "image": tf.TensorSpec((None, 32, 32, 3), tf.uint8, name="image")}
    assert list(signature.structured_outputs) == ["predictions"]


def test_saved_model_reloads_match_keras(raw_pixel_saved_model, classifier):
    results = export.verify_export(raw_pixel_saved_model, classifier, _images(),
                                   include_preprocessing=True, preprocessing="cifar10")
    assert set(results) == {"saved_model", "tfsm_layer"}
    for comparison in results.values():
        assert comparison["reference_max_abs"] > 1.0  # logits, not a degenerate output
        assert comparison["max_abs_diff"] <= 1e-4
        assert comparison["top1_agreement"] == 1.0


def test_raw_pixels_are_normalised_in_the_graph(raw_pixel_saved_model, classifier):
    images = _images()
    served = export.run_saved_model(raw_pixel_saved_model, images)["predictions"]
    by_hand = classifier.predict(data.CIFAR10.apply(images), verbose=0)
    np.testing.assert_allclose(served, by_hand, atol=1e-4)


def test_feature_maps_export_with_open_size(tmp_path):
    backbone = randomize_bn(kp.build_resnet(8, include_top=False, input_shape=(None, None, 3)))
    extractor = features.feature_extractor(backbone)
    path = export.export_saved_model(extractor, tmp_path / "features")
    signature = tf.saved_model.load(path).signatures["serving_default"]
    assert signature.structured_input_signature[1]["image"].shape.as_list() == [
        None, None, None, 3]
    for size in (32, 48):
        x = np.random.default_rng(size).normal(size=(2, size, size, 3)).astype("float32")
        served = export.run_saved_model(path, x)
        expected = extractor.predict(x, verbose=0)
        assert sorted(served) == ["conv2", "conv3", "conv4"]
        for name in served:
            assert served[name].shape == expected[name].shape
            np.testing.assert_allclose(served[name], expected[name], atol=1e-4)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_tflite_float_matches_keras(tmp_path, monkeypatch):
    model = _transfer_model()
    path = export.export_tflite(model, tmp_path / "model.tflite", include_preprocessing=True,
                                preprocessing="cifar10")
    interpreter, runtime = export.load_interpreter(path)
    runner = interpreter.get_signature_runner("serving_default")
    assert runtime in ("ai_edge_litert", "tf.lite")
    (name, detail), = runner.get_input_details().items()
    assert (name, detail["dtype"], list(detail["shape_signature"])) == (
        "image", np.uint8, [-1, 32, 32, 3])
    assert list(runner.get_output_details()) == ["predictions"]
    results = export.verify_export(path, model, _images(), include_preprocessing=True,
                                   preprocessing="cifar10")
    (comparison,) = results.values()
    assert comparison["max_abs_diff"] <= 5e-5
    assert export.within_tolerance("none", comparison)
    # Without ai-edge-litert, TensorFlow's own (deprecated) interpreter runs the file.
    for module in ("ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, module, None)
    assert export.load_interpreter(path)[1] == "tf.lite"
    (fallback,) = export.verify_export(path, model, _images(), include_preprocessing=True,
                                       preprocessing="cifar10").values()
    assert fallback["max_abs_diff"] <= 5e-5


def test_invalid_requests_fail_before_converting(tmp_path, classifier):
    with pytest.raises(ValueError, match="--representative-data FOLDER.*representative_images"):
        export.export_tflite(classifier, tmp_path / "m.tflite", quantization="int8")
    with pytest.raises(ValueError, match="quantization must be"):
        export.export_tflite(classifier, tmp_path / "m.tflite", quantization="int4")
    with pytest.raises(ValueError, match=".tflite"):
        export.export_tflite(classifier, tmp_path / "m.lite")
    with pytest.raises(ValueError, match="integer_io"):
        export.export_tflite(classifier, tmp_path / "m.tflite", integer_io=True)
    with pytest.raises(ValueError, match="include_preprocessing"):
        export.build_export_archive(classifier, input_dtype="uint8")
    with pytest.raises(ValueError, match="needs preprocessing"):
        export.build_export_archive(classifier, include_preprocessing=True)
    with pytest.raises(ValueError, match="does not fit"):
        export.build_export_archive(classifier, input_size=64)
    open_size = kp.build_resnet(8, include_top=False, pooling="avg", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="fixed input size"):
        export.export_tflite(open_size, tmp_path / "m.tflite")



def _fine_tuned_folder(tmp_path):
    """What `keras-preact finetune --output` leaves: model.keras and summary.json."""
    model = _transfer_model()
    folder = tmp_path / "run"
    folder.mkdir()
    model.save(folder / "model.keras")
    (folder / "summary.json").write_text(json.dumps({
        "preprocessing": {"scale": 1.0, "mean": list(data.CIFAR10.mean),
                          "std": list(data.CIFAR10.std)},
        "image_size": [32, 32], "class_names": ["cat", "dog", "fox"]}))
    return folder


def test_command_exports_a_fine_tuned_model(tmp_path, capsys):
    folder = _fine_tuned_folder(tmp_path)
    output = tmp_path / "pets.tflite"
    status = load_script("export").main(["--model-file", str(folder / "model.keras"),
                                     "--include-preprocessing", "--output", str(output),
                                     "--verify-count", "4"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["verified"] is True
    assert summary["format"] == "tflite" and summary["size_bytes"] == output.stat().st_size
    assert summary["input"] == {"name": "image", "shape": [None, 32, 32, 3], "dtype": "uint8",
                                "include_preprocessing": True}
    assert summary["outputs"] == ["predictions"]
    assert summary["preprocessing"]["mean"] == list(data.CIFAR10.mean)
    assert (tmp_path / "pets.labels.txt").read_text().split() == ["cat", "dog", "fox"]
    (result,) = [v for k, v in summary["verification"].items() if isinstance(v, dict)]
    assert result["max_abs_diff"] <= 5e-5


def test_onnx_file_runs_in_onnxruntime_like_keras(tmp_path, classifier):
    pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    path = export.export_onnx(classifier, tmp_path / "r20.onnx", include_preprocessing=True,
                              preprocessing="cifar10")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (source,) = session.get_inputs()
    assert (source.name, source.type, source.shape[1:]) == ("image", "tensor(uint8)",
                                                            [32, 32, 3])
    assert [o.name for o in session.get_outputs()] == ["predictions"]
    images = _images(8)
    outputs = export.run_onnx(path, images)
    expected = classifier.predict(data.CIFAR10.apply(images), verbose=0)
    np.testing.assert_allclose(outputs["predictions"], expected, rtol=1e-4, atol=1e-4)
    result = export.verify_export(path, classifier, images, include_preprocessing=True,
                                  preprocessing="cifar10")
    assert result["onnxruntime"]["top1_agreement"] == 1.0
    assert export.within_tolerance("none", result["onnxruntime"])
    with pytest.raises(ValueError, match="must end in .onnx"):
        export.export_onnx(classifier, tmp_path / "r20.tflite")


def test_command_exports_onnx(tmp_path, capsys):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    folder = _fine_tuned_folder(tmp_path)
    output = tmp_path / "pets.onnx"
    main = load_script("export").main
    status = main(["--model-file", str(folder / "model.keras"), "--format", "onnx",
                   "--include-preprocessing", "--output", str(output), "--verify-count", "4"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["verified"] is True and summary["format"] == "onnx"
    assert summary["size_bytes"] == output.stat().st_size
    assert (tmp_path / "pets.labels.txt").read_text().split() == ["cat", "dog", "fox"]
    assert summary["verification"]["onnxruntime"]["max_abs_diff"] <= 5e-5
    assert main(["--model-file", str(folder / "model.keras"), "--format", "onnx",
                 "--output", str(tmp_path / "pets.tflite")]) == 2
    assert "--format onnx writes a file ending in .onnx" in capsys.readouterr().err


def test_command_refuses_bad_arguments(tmp_path, capsys):
    main = load_script("export").main
    assert main(["--model", "preact_resnet20", "--output", str(tmp_path / "m"),
                 "--quantization", "int8"]) == 2
    assert ".tflite" in capsys.readouterr().err
    assert main(["--model", "preact_resnet20", "--output", str(tmp_path / "m.tflite"),
                 "--include-preprocessing"]) == 2
    assert "--normalization" in capsys.readouterr().err
    assert main(["--output", str(tmp_path / "m")]) == 2
    assert "exactly one of --model and --model-file" in capsys.readouterr().err


@pytest.mark.slow
def test_command_exports_a_saved_model_with_local_weights(tmp_path, capsys):
    weights = tmp_path / "w.weights.h5"
    randomize_bn(kp.PreActResNet20()).save_weights(weights)
    output = tmp_path / "saved"
    status = load_script("export").main(["--model", "preact_resnet20", "--weights", str(weights),
                                     "--normalization", "cifar10", "--output", str(output)])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["verified"] is True
    assert summary["format"] == "saved_model" and summary["input"]["dtype"] == "float32"
    assert set(summary["verification"]) >= {"saved_model", "tfsm_layer"}


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["dynamic", "float16", "int8"])
def test_tflite_quantization_modes(tmp_path, classifier, quantization):
    calibration = _images(64, seed=1)
    float_path = export.export_tflite(classifier, tmp_path / "float.tflite",
                                      preprocessing="cifar10")
    path = export.export_tflite(classifier, tmp_path / f"{quantization}.tflite",
                                quantization=quantization, preprocessing="cifar10",
                                representative_images=calibration)
    (comparison,) = export.verify_export(path, classifier, _images(16, seed=2),
                                         preprocessing="cifar10").values()
    assert export.within_tolerance(quantization, comparison), comparison
    ratio = (tmp_path / f"{quantization}.tflite").stat().st_size / \
        (tmp_path / "float.tflite").stat().st_size
    assert ratio < {"dynamic": 0.4, "float16": 0.6, "int8": 0.4}[quantization]
    assert float_path.endswith("float.tflite")


@pytest.mark.slow
def test_int8_with_integer_tensors(tmp_path, classifier):
    path = export.export_tflite(classifier, tmp_path / "int8io.tflite", quantization="int8",
                                integer_io=True, preprocessing="cifar10",
                                representative_images=_images(64, seed=1))
    runner = export.load_interpreter(path)[0].get_signature_runner("serving_default")
    assert runner.get_input_details()["image"]["dtype"] == np.int8
    assert runner.get_output_details()["predictions"]["dtype"] == np.int8
    (comparison,) = export.verify_export(path, classifier, _images(16, seed=2),
                                         preprocessing="cifar10").values()
    assert comparison["top1_agreement"] >= export.INT8_MIN_AGREEMENT


@pytest.mark.slow
def test_int8_command_with_raw_pixel_input(tmp_path, capsys):
    from PIL import Image

    images = tmp_path / "calibration"
    images.mkdir()
    for i, pixels in enumerate(_images(24, size=40, seed=3)):
        Image.fromarray(pixels).save(images / f"{i}.png")
    folder = _fine_tuned_folder(tmp_path)
    status = load_script("export").main([
        "--model-file", str(folder / "model.keras"), "--quantization", "int8",
        "--include-preprocessing", "--representative-data", str(images),
        "--output", str(tmp_path / "int8.tflite")])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["verified"] is True
    assert summary["verification"]["images"].startswith("16 from")


FAMILIES = {
    "cifar_basic_original": lambda: kp.ResNet20(),
    "cifar_bottleneck_preact": lambda: kp.build_resnet(11, block="bottleneck"),
    "imagenet_basic_original": lambda: kp.build_resnet(18, family="imagenet",
                                                       placement="original",
                                                       input_shape=(64, 64, 3)),
    "imagenet_bottleneck_preact": lambda: kp.PreActResNet50(input_shape=(64, 64, 3)),
    **{f"placement_{p.value}": (lambda p=p: kp.build_resnet(8, placement=p))
       for p in kp.Placement},
    **{f"shortcut_{s.value}": (lambda s=s: kp.build_resnet(8, shortcut=s))
       for s in kp.Shortcut if s is not kp.Shortcut.IDENTITY},
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_converts_to_tflite(tmp_path, family):
    model = randomize_bn(FAMILIES[family]())
    size = model.inputs[0].shape[1]
    path = export.export_tflite(model, tmp_path / "m.tflite")
    images = np.random.default_rng(0).normal(size=(4, size, size, 3)).astype("float32")
    (comparison,) = export.verify_export(path, model, images).values()
    assert export.within_tolerance("none", comparison), comparison
