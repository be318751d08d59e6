"""Deployment: SavedModel (TF Serving, `tf.saved_model.load`, `keras.layers.TFSMLayer`)
and TFLite/LiteRT files, with numerical checks against the Keras model.

This is the only core module that uses TensorFlow, imported inside the functions that
need it; exporting needs the TensorFlow backend (`KERAS_BACKEND=tensorflow`). Weights
are backend-independent, so a model trained on JAX is exported by loading its
`.weights.h5` into the same network built on TensorFlow.

Every artifact has one serving signature, "serving_default" (also "serve"), with one
named input and named outputs, so clients never see Keras' generated names
(keras-team/keras#19458):

- input "image": (batch, height, width, 3), float32 network-ready values, or with
  `include_preprocessing=True` raw RGB pixels in [0, 255] (uint8 by default) that are
  normalised in the graph with the weights' own preprocessing;
- outputs: {"predictions": ...} for a classifier (the name of the model's last layer,
  e.g. "avg_pool" for a pooled backbone), or one entry per key of a dict-output model
  such as `keras_preact.deploy.features.feature_extractor`.

The SavedModel is written by `keras.export.ExportArchive` (never `tf.saved_model.save`
on a Keras 3 model) and TFLite files are converted from that same SavedModel with
`tf.lite.TFLiteConverter.from_saved_model` (never `from_keras_model`, which fails on
Keras 3 models: tensorflow/tensorflow#63987, keras-team/keras#19108). Keras'
`model.export(format="litert")` takes the same route but names the signature after the
Keras input; going through our archive keeps "image" and the output names. Conversions
use TFLite builtin ops only (no Flex delegate needed on device).

Quantization modes (LiteRT post-training quantization):

| mode    | weights | activations | needs images | size (vs none) |
|---------|---------|-------------|--------------|----------------|
| none    | float32 | float32     | no           | 1x             |
| dynamic | int8    | float32, int8 kernels at run time | no | ~1/4 |
| float16 | float16 | float32     | no           | ~1/2           |
| int8    | int8    | int8 (calibrated) | yes (~100-500 representative images) | ~1/4 |

ONNX files (onnxruntime, TensorRT, OpenVINO) are converted from that same SavedModel by
tf2onnx (`pip install "keras_preact[onnx]"`), keeping the input "image" and the output
names; `--include-preprocessing` works as for TFLite.

`verify_export` runs an artifact and the Keras model on the same images and reports
the differences; `TOLERANCES` holds the bounds the tests enforce.
"""

import os
import pathlib
import tempfile

import keras
import numpy as np

from keras_preact.deploy.artifacts import Artifact, load_interpreter
from keras_preact.training.data import IMAGE_EXTENSIONS, decode_image

QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
INPUT_DTYPES = ("float32", "uint8")

# Allowed max |artifact - Keras| per mode, relative to max(1, max |Keras output|).
# Measured on ResNet-20 / pre-act ResNet-20 with random BN statistics, logits up to ~11:
# none 2e-6 absolute (summation order only); float16 ~5e-4 and dynamic range ~1e-2 of
# the logit scale; full int8 ~2e-2 with the same top-1 class on all 16 test images.
# Full int8 is judged by top-1 agreement (`INT8_MIN_AGREEMENT`), as accuracy is what
# calibration preserves.
TOLERANCES = {"none": 1e-4, "float16": 5e-3, "dynamic": 5e-2}
INT8_MIN_AGREEMENT = 0.75


def _tensorflow():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "Exporting SavedModel/TFLite needs the TensorFlow backend, not "
            f"{keras.backend.backend()!r}: run with KERAS_BACKEND=tensorflow and load the "
            "same .weights.h5 (weights are backend-independent)."
        )
    import tensorflow as tf

    return tf


def _preprocessing(preprocessing):
    if preprocessing is None:
        return None
    from keras_preact.pretrained.preprocessing import get_preprocessing

    return get_preprocessing(preprocessing, presets=True)


def _input_shape(model, input_size):
    if len(model.inputs) != 1:
        raise ValueError("Only models with a single image input can be exported.")
    height, width, channels = model.inputs[0].shape[1:]
    if input_size is not None:
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        for have, want in zip((height, width), size):
            if have is not None and have != want:
                raise ValueError(f"The model takes {height}x{width} inputs; input_size="
                                 f"{input_size} does not fit.")
        height, width = size
    return height, width, channels


def output_names(model, output_name=None):
    """The names of the exported outputs: the keys of a dict-output model, else
    `[output_name or name of the model's last layer]` (e.g. "predictions")."""
    if isinstance(model.output, dict):
        return list(model.output)
    return [output_name or model.layers[-1].name]


def _as_dict(outputs, names):
    if isinstance(outputs, dict):
        return outputs
    return {names[0]: outputs}


def build_export_archive(model, *, include_preprocessing=False, preprocessing=None,
                         input_dtype=None, input_size=None, input_name="image",
                         output_name=None):
    """An `ExportArchive` with one endpoint, "serve", around `model` in inference mode.

    Args:
        model: a single-input Keras model (any network of the zoo, a transfer model, a
            feature extractor).
        include_preprocessing: normalise raw [0, 255] pixels in the graph.
        preprocessing: the normalisation (anything `keras_preact.pretrained.preprocessing.get_preprocessing`
            takes); required with `include_preprocessing`.
        input_dtype: "float32" or "uint8"; default "uint8" with `include_preprocessing`,
            else "float32".
        input_size: (height, width) or a side, for models of open input size (None
            keeps it open: allowed for SavedModel, not for TFLite).
        input_name: the signature's input name.
        output_name: the output name of a single-output model (see `output_names`).

    Returns:
        A `keras.export.ExportArchive`.

    Raises:
        ValueError: an inconsistent argument (the message says which).
        RuntimeError: the backend is not TensorFlow.
    """
    tf = _tensorflow()
    pre = _preprocessing(preprocessing)
    if include_preprocessing and pre is None:
        raise ValueError("include_preprocessing=True needs preprocessing= (e.g. the weights' "
                         "entry, 'cifar10', or {'mean': [...], 'std': [...]}).")
    input_dtype = input_dtype or ("uint8" if include_preprocessing else "float32")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {INPUT_DTYPES}, got {input_dtype!r}.")
    if input_dtype == "uint8" and not include_preprocessing:
        raise ValueError("A uint8 input carries raw pixels: use include_preprocessing=True.")
    height, width, channels = _input_shape(model, input_size)
    names = output_names(model, output_name)
    spec = tf.TensorSpec((None, height, width, channels), input_dtype, name=input_name)

    def serve(image):
        x = tf.cast(image, tf.float32)
        if include_preprocessing:
            x = pre.transform(x)
        return _as_dict(model(x, training=False), names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve, input_signature=[spec])
    return archive


def export_saved_model(model, path, **kwargs):
    """Writes `model` as a TensorFlow SavedModel with a named signature.

    Args:
        model: the Keras model.
        path: the SavedModel folder to write.
        **kwargs: `build_export_archive` arguments (`include_preprocessing`,
            `preprocessing`, `input_dtype`, `input_size`, `input_name`, `output_name`).

    Returns:
        The path, as a string. Serve it with TF Serving, or reload it with
        `tf.saved_model.load(path).signatures["serving_default"](image=x)` or
        `keras.layers.TFSMLayer(path, call_endpoint="serving_default")`.
    """
    build_export_archive(model, **kwargs).write_out(str(path), verbose=False)
    return str(path)


ONNX_OPSET = 17  # onnxruntime >= 1.12, TensorRT 8.6+, OpenVINO 2022.1+


def export_onnx(model, path, *, opset=ONNX_OPSET, **kwargs):
    """Writes `model` as an ONNX file, converted by tf2onnx from the SavedModel that
    `export_saved_model` writes (same input "image", same output names, same graph).

    Args:
        model: the Keras model.
        path: the `.onnx` file to write.
        opset: the ONNX opset to target.
        **kwargs: `build_export_archive` arguments (`include_preprocessing`, ...).

    Returns:
        The path, as a string. Run it with
        `onnxruntime.InferenceSession(path).run(None, {"image": x})` (or `run_onnx`).

    Raises:
        ValueError: a file name that does not end in .onnx.
        ImportError: tf2onnx is not installed.
    """
    if not str(path).endswith(".onnx"):
        raise ValueError(f"The ONNX file name must end in .onnx, got {str(path)!r}.")
    try:
        import tf2onnx
        from tf2onnx import tf_loader
    except ImportError as error:
        raise ImportError('ONNX export needs tf2onnx: pip install "keras_preact[onnx]".') \
            from error
    with tempfile.TemporaryDirectory(prefix="keras_preact_onnx_") as folder:
        export_saved_model(model, folder, **kwargs)
        graph_def, inputs, outputs, names = tf_loader.from_saved_model(
            folder, None, None, tag="serve", signatures=["serving_default"],
            return_tensors_to_rename=True)
        tf2onnx.convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs,
                                       opset=opset, tensors_to_rename=names,
                                       output_path=str(path))
    return str(path)


def run_onnx(path, images):
    """Runs an ONNX file with onnxruntime on the CPU (`artifacts.Artifact`).

    Returns:
        {output name: numpy array}.
    """
    return Artifact(path)(images)


def _representative(images, pre, include_preprocessing, input_dtype, input_shape):
    tf = _tensorflow()
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != tuple(input_shape):
        raise ValueError(f"representative_images must be (N, {', '.join(map(str, input_shape))})"
                         f" raw images; got {images.shape}.")
    if include_preprocessing:
        samples = images.astype(input_dtype)
    elif pre is not None:
        samples = pre.transform(images.astype(np.float32))
    else:
        samples = images.astype(np.float32)

    def generate():
        for sample in samples:
            yield [tf.constant(sample[None])]

    return generate


def export_tflite(model, path, *, quantization="none", representative_images=None,
                  integer_io=False, **kwargs):
    """Converts `model` to a TFLite (LiteRT) flatbuffer, via a SavedModel.

    Args:
        model: the Keras model; its input size must be fixed (or set by `input_size`).
        path: the `.tflite` file to write.
        quantization: "none", "dynamic", "float16" or "int8" (module docstring).
        representative_images: for "int8": raw RGB images (N, H, W, 3) on the 0-255
            scale, e.g. 100-500 training images; they are normalised with
            `preprocessing` unless the artifact includes it (without either they are
            fed as given).
        integer_io: for "int8": int8 output, and int8 input when the input is float32
            (integer-only accelerators); otherwise the quantized model keeps float
            input/output tensors.
        **kwargs: `build_export_archive` arguments.

    Returns:
        The path, as a string.

    Raises:
        ValueError: an unknown mode, int8 without images, an open input size.
    """
    tf = _tensorflow()
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}.")
    if str(path).endswith(os.sep) or not str(path).endswith(".tflite"):
        raise ValueError(f"The TFLite file name must end in .tflite, got {str(path)!r}.")
    if quantization == "int8" and representative_images is None:
        raise ValueError("int8 quantization calibrates on about 100-500 raw training "
                         "images: pass --representative-data FOLDER (keras-preact export) "
                         "or representative_images= (export_tflite).")
    if integer_io and quantization != "int8":
        raise ValueError("integer_io applies to quantization='int8' only.")
    shape = _input_shape(model, kwargs.get("input_size"))
    if None in shape:
        raise ValueError("TFLite needs a fixed input size: build the model with input_shape="
                         "(H, W, 3) or pass input_size=(H, W).")
    include_preprocessing = kwargs.get("include_preprocessing", False)
    input_dtype = kwargs.get("input_dtype") or ("uint8" if include_preprocessing else "float32")
    archive = build_export_archive(model, **kwargs)
    with tempfile.TemporaryDirectory() as folder:
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            folder, signature_keys=["serving_default"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            converter.representative_dataset = _representative(
                representative_images, _preprocessing(kwargs.get("preprocessing")),
                include_preprocessing, input_dtype, shape)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if integer_io:
                if input_dtype == "float32":
                    converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        content = converter.convert()
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_bytes(content)
    return str(path)


def load_images(folder, size, *, limit=None, seed=0):
    """Reads the images under `folder` (recursively) as raw RGB pixels.

    Args:
        folder: a folder of images (`keras_preact.training.data.IMAGE_EXTENSIONS`), flat or
            `split/class/*`.
        size: (height, width) or a side; images are resized to it (bilinear).
        limit: keep at most this many (a seeded random subset).
        seed: seed of the subset.

    Returns:
        uint8 array (N, height, width, 3); unreadable files are skipped.

    Raises:
        FileNotFoundError: no readable image under `folder`.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    paths = sorted(p for p in pathlib.Path(folder).rglob("*")
                   if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if limit is not None and len(paths) > limit:
        keep = np.sort(np.random.default_rng(seed).permutation(len(paths))[:limit])
        paths = [paths[i] for i in keep]
    images = [image for image in (decode_image(path, size) for path in paths)
              if image is not None]
    if not images:
        raise FileNotFoundError(f"No readable {'/'.join(IMAGE_EXTENSIONS)} images under "
                                f"{folder}.")
    return np.stack(images)


def run_saved_model(path, images, signature="serving_default"):
    """Runs a SavedModel's signature with `tf.saved_model.load` (`artifacts.Artifact`).

    Args:
        path: the SavedModel folder.
        images: the signature's input (cast to its dtype).
        signature: the signature name.

    Returns:
        {output name: numpy array}.
    """
    return Artifact(path, signature)(images)


def run_tfsm_layer(path, images, endpoint="serving_default"):
    """Runs a SavedModel through `keras.layers.TFSMLayer` (reuse inside Keras 3).

    Returns:
        {output name: numpy array}.
    """
    _tensorflow()
    layer = keras.layers.TFSMLayer(str(path), call_endpoint=endpoint)
    dtype = "uint8" if np.asarray(images).dtype == np.uint8 else "float32"
    outputs = layer(np.asarray(images).astype(dtype))
    if not isinstance(outputs, dict):
        outputs = {"output": outputs}
    return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}


def run_tflite(path, images):
    """Runs a TFLite file's "serving_default" signature, one image at a time (the batch
    size an on-device runtime uses), quantizing inputs and dequantizing outputs of
    integer-only files (`artifacts.Artifact`).

    Returns:
        {output name: numpy array (N, ...)}, float32.
    """
    return Artifact(path)(images)


def keras_outputs(model, images, *, include_preprocessing=False, preprocessing=None,
                  output_name=None):
    """The Keras model's outputs for the images an artifact receives.

    Args:
        model: the Keras model that was exported.
        images: the artifact's input: raw pixels with `include_preprocessing`, else
            network-ready values.
        include_preprocessing: whether the artifact normalises in its graph.
        preprocessing: that normalisation.
        output_name: as given to the export.

    Returns:
        {output name: numpy array}.
    """
    x = np.asarray(images, np.float32)
    if include_preprocessing:
        x = _preprocessing(preprocessing).transform(x)
    outputs = _as_dict(model.predict(x, verbose=0, batch_size=32),
                       output_names(model, output_name))
    return {k: np.asarray(v) for k, v in outputs.items()}


def compare_outputs(reference, outputs):
    """Differences between two {name: array} results with the same names.

    Returns:
        {"max_abs_diff", "mean_abs_diff", "reference_max_abs", "relative_max_diff"
        (max diff / max(1, reference_max_abs)), and for 2-D outputs "top1_agreement"
        (share of rows with the same argmax)}.
    """
    if set(reference) != set(outputs):
        raise ValueError(f"Outputs {sorted(outputs)} differ from the model's {sorted(reference)}.")
    diffs = [np.abs(np.asarray(outputs[k], np.float64) - reference[k]) for k in reference]
    scale = max(float(np.abs(v).max()) for v in reference.values())
    result = {
        "max_abs_diff": max(float(d.max()) for d in diffs),
        "mean_abs_diff": float(np.mean([d.mean() for d in diffs])),
        "reference_max_abs": scale,
    }
    result["relative_max_diff"] = result["max_abs_diff"] / max(1.0, scale)
    rows = [k for k in reference if np.ndim(reference[k]) == 2]
    if rows:
        result["top1_agreement"] = float(np.mean([
            np.mean(np.argmax(outputs[k], -1) == np.argmax(reference[k], -1)) for k in rows]))
    return result


def verify_export(path, model, images, *, include_preprocessing=False, preprocessing=None,
                  output_name=None):
    """Runs an exported artifact and the Keras model on the same images and compares.

    A SavedModel folder is run twice (`tf.saved_model.load` and
    `keras.layers.TFSMLayer`), a `.tflite` file once (LiteRT interpreter), an `.onnx`
    file once (onnxruntime).

    Args:
        path: the SavedModel folder or `.tflite` file.
        model: the Keras model that was exported.
        images: raw RGB images (N, H, W, 3) on the 0-255 scale at the artifact's size.
        include_preprocessing: as given to the export (the artifact then receives the
            raw images; otherwise both receive them normalised with `preprocessing`, or
            as given when it is None).
        preprocessing: the normalisation.
        output_name: as given to the export.

    Returns:
        {runtime: `compare_outputs` result}, runtimes "saved_model", "tfsm_layer",
        "litert" / "tf.lite" or "onnxruntime".
    """
    images = np.asarray(images)
    pre = _preprocessing(preprocessing)
    if include_preprocessing:
        inputs = images
    else:
        inputs = images.astype(np.float32)
        if pre is not None:
            inputs = pre.transform(inputs)
    reference = keras_outputs(model, inputs, include_preprocessing=include_preprocessing,
                              preprocessing=pre, output_name=output_name)
    artifact = Artifact(path)
    runtime = {"ai_edge_litert": "litert"}.get(artifact.runtime, artifact.runtime)
    results = {runtime: compare_outputs(reference, artifact(inputs))}
    if artifact.kind == "saved_model":
        results["tfsm_layer"] = compare_outputs(reference, run_tfsm_layer(path, inputs))
    return results


def within_tolerance(quantization, comparison):
    """Whether one `compare_outputs` result meets the bound of `quantization`
    (`TOLERANCES`, or `INT8_MIN_AGREEMENT` for int8 classifiers; int8 outputs that are
    not class scores have no bound and pass)."""
    if quantization == "int8":
        return comparison.get("top1_agreement", 1.0) >= INT8_MIN_AGREEMENT
    return comparison["relative_max_diff"] <= TOLERANCES[quantization]


__all__ = ["INPUT_DTYPES", "INT8_MIN_AGREEMENT", "ONNX_OPSET", "QUANTIZATIONS", "TOLERANCES",
           "build_export_archive", "compare_outputs", "export_onnx", "export_saved_model",
           "export_tflite", "run_onnx",
           "load_images", "load_interpreter", "keras_outputs", "output_names",
           "run_saved_model", "run_tflite", "run_tfsm_layer", "verify_export",
           "within_tolerance"]
