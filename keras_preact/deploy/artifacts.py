"""Exported networks run outside Keras, and measured like Keras models.

`Artifact` opens what `keras_preact.deploy.export` writes (a SavedModel folder, a
`.tflite` file, an `.onnx` file) once, in the runtime a deployment would use
(`tf.saved_model.load`, the LiteRT interpreter, onnxruntime), and runs its
"serving_default" signature on batches of images. `evaluate_artifact` measures one on a
dataset split with the same code that measures Keras weights
(`keras_preact.training.evaluation.evaluate_classifier`), so the accuracy a quantized
TFLite file keeps is read next to that of the weights it came from (README,
"Transfer learning and deployment").

What the artifact's input wants is read from the artifact: a uint8 input that is not
quantized takes raw RGB pixels (`--include-preprocessing` at export); a float input takes
normalised values, unless the export also normalised in its graph with
`--input-dtype float32`, which the file does not say (pass `include_preprocessing=True`).
The class order comes from the labels file that the export writes beside the artifact.
"""

import os
import pathlib

import numpy as np

KINDS = ("saved_model", "tflite", "onnx")


def artifact_kind(path):
    """"tflite", "onnx" or "saved_model" for a path, by its name (as the export names it)."""
    name = str(path)
    for kind in ("tflite", "onnx"):
        if name.endswith(f".{kind}"):
            return kind
    return "saved_model"


def labels_path(path):
    """Where `keras-preact export` writes an artifact's class names, one per line."""
    kind = artifact_kind(path)
    return (pathlib.Path(os.path.splitext(str(path))[0] + ".labels.txt") if kind != "saved_model"
            else pathlib.Path(path) / "labels.txt")


def load_interpreter(path):
    """A TFLite interpreter for the file: LiteRT's (`ai_edge_litert`, the maintained
    runtime) when installed, else `tf.lite.Interpreter` (deprecated since TF 2.20).

    Returns:
        (interpreter, runtime name).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(model_path=str(path)), "ai_edge_litert"
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter(model_path=str(path)), "tf.lite"


class Artifact:
    """An exported network, opened once in its runtime.

    Args:
        path: a SavedModel folder, `.tflite` or `.onnx` file.
        signature: the signature to run (SavedModel and TFLite; ONNX files have one).

    Attributes:
        path: the file or folder.
        kind: "saved_model", "tflite" or "onnx".
        runtime: "saved_model", "ai_edge_litert", "tf.lite" or "onnxruntime".
        input_dtype: numpy dtype of the signature's input.
        input_shape: its shape, batch first (None where dynamic).
        quantization: (scale, zero point) of an integer TFLite input, else None.
        output_names: names of the signature's outputs.

    Raises:
        FileNotFoundError: no such artifact.

    Example:
        >>> artifact = Artifact("export/r20_int8.tflite")
        >>> artifact(images)["predictions"].shape   # images: (N, 32, 32, 3)
        (N, 10)
    """

    def __init__(self, path, signature="serving_default"):
        self.path = pathlib.Path(path)
        self.signature = signature
        self.kind = artifact_kind(path)
        if not (self.path.is_dir() if self.kind == "saved_model" else self.path.is_file()):
            raise FileNotFoundError(
                f"No exported network at {path}: give a SavedModel folder, a .tflite or an "
                ".onnx file written by keras-preact export.")
        self.quantization = None
        getattr(self, f"_open_{self.kind}")()

    def _open_saved_model(self):
        import tensorflow as tf

        self._loaded = tf.saved_model.load(str(self.path))  # keeps the signature alive
        self._function = self._loaded.signatures[self.signature]
        (self._input, spec), = self._function.structured_input_signature[1].items()
        self.input_dtype = np.dtype(spec.dtype.name)
        self.input_shape = tuple(spec.shape)
        self.output_names = sorted(self._function.structured_outputs)
        self.runtime = "saved_model"

    def _open_tflite(self):
        interpreter, self.runtime = load_interpreter(self.path)
        self._runner = interpreter.get_signature_runner(self.signature)
        (self._input, detail), = self._runner.get_input_details().items()
        self._outputs = self._runner.get_output_details()
        self.input_dtype = np.dtype(detail["dtype"])
        self.input_shape = (None, *(int(d) for d in detail["shape"][1:]))
        scale, zero = detail["quantization"]
        if scale and self.input_dtype.kind in "iu":
            self.quantization = (scale, zero)
        self.output_names = sorted(self._outputs)

    def _open_onnx(self):
        import onnxruntime

        self._session = onnxruntime.InferenceSession(str(self.path),
                                                     providers=["CPUExecutionProvider"])
        (source,) = self._session.get_inputs()
        self._input = source.name
        self.input_dtype = np.dtype({"tensor(float)": np.float32,
                                     "tensor(uint8)": np.uint8}[source.type])
        self.input_shape = tuple(d if isinstance(d, int) else None for d in source.shape)
        self.output_names = [output.name for output in self._session.get_outputs()]
        self.runtime = "onnxruntime"

    @property
    def raw_pixels(self):
        """Whether the input takes raw pixels for certain: a uint8 input that is not
        quantized (an export with `include_preprocessing` and the default uint8 input)."""
        return self.input_dtype == np.uint8 and self.quantization is None

    @property
    def input_size(self):
        """(height, width) of the input, or None where it is dynamic."""
        size = tuple(self.input_shape[1:3])
        return None if None in size or -1 in size else tuple(int(d) for d in size)

    def labels(self):
        """The class names written beside the artifact by the export, or None."""
        path = labels_path(self.path)
        if not path.is_file():
            return None
        return [line for line in path.read_text().splitlines() if line]

    def __call__(self, images):
        """Runs the signature on a batch (TFLite: one image at a time, as a device
        runtime does), quantizing an integer input and dequantizing integer outputs.

        Args:
            images: (N, H, W, 3) values for the input (raw pixels or normalised).

        Returns:
            {output name: float32 numpy array, batch first}.
        """
        images = np.asarray(images)
        if self.kind == "saved_model":
            import tensorflow as tf

            outputs = self._function(**{self._input: tf.constant(
                images.astype(self.input_dtype))})
            return {k: np.asarray(v.numpy(), np.float32) for k, v in outputs.items()}
        if self.kind == "onnx":
            values = self._session.run(self.output_names,
                                       {self._input: images.astype(self.input_dtype)})
            return {k: np.asarray(v, np.float32) for k, v in zip(self.output_names, values)}
        return self._call_tflite(images)

    def _call_tflite(self, images):
        if self.quantization is not None:
            scale, zero = self.quantization
            info = np.iinfo(self.input_dtype)
            images = np.clip(np.round(images / scale + zero), info.min, info.max)
        results = {key: [] for key in self._outputs}
        for image in images.astype(self.input_dtype):
            for key, value in self._runner(**{self._input: image[None]}).items():
                scale, zero = self._outputs[key]["quantization"]
                value = value.astype(np.float32)
                if self._outputs[key]["dtype"] != np.float32 and scale:
                    value = (value - zero) * scale
                results[key].append(value)
        return {key: np.concatenate(values) for key, values in results.items()}


class _Classifier:
    """An artifact with the `predict_on_batch` of a Keras classifier (one output)."""

    def __init__(self, artifact):
        names = artifact.output_names
        if len(names) != 1 and "predictions" not in names:
            raise ValueError(f"{artifact.path} has the outputs {names}: evaluate a classifier "
                             "(an export with its classification head, output "
                             "'predictions').")
        self.artifact = artifact
        self.output = names[0] if len(names) == 1 else "predictions"

    def predict_on_batch(self, images):
        return self.artifact(images)[self.output]


def evaluate_artifact(path, data_source, split=None, *, include_preprocessing=None,
                      normalization="auto", batch_size=256, data_dir=None, download=False,
                      limit=None, crop_fraction=None, flip_tta=False, progress=False):
    """Measures an exported classifier on a split, as `evaluate_weights` measures weights.

    Args:
        path: a SavedModel folder, `.tflite` or `.onnx` file of `keras-preact export`.
        data_source: a tensorflow-datasets name or a `split/class/*.jpg` folder.
        split: the split (default: test, or validation for ImageNet).
        include_preprocessing: whether the artifact normalises in its graph (takes raw
            pixels); None: read from its input (unquantized uint8 means raw pixels).
        normalization: for artifacts that take normalised values: "auto" (the dataset's)
            or a name of `keras_preact.training.data.NORMALIZATIONS`.
        batch_size, data_dir, download, limit, crop_fraction, flip_tta, progress: as for
            `keras_preact.training.evaluation.evaluate_weights`.

    Returns:
        A JSON-ready dict: artifact, format, runtime, input, data, split, normalization,
        the metrics of `evaluate_classifier` and images/second.

    Raises:
        ValueError: a raw-pixel input told to take normalised values, classes that do
            not match the artifact's labels or outputs, an artifact with several outputs.
        FileNotFoundError: no artifact or no data.
    """
    from keras_preact.normalization import Preprocessing
    from keras_preact.training import data, evaluation, pipelines

    artifact = Artifact(path)
    classifier = _Classifier(artifact)
    if include_preprocessing is False and artifact.raw_pixels:
        raise ValueError(f"{path} takes raw uint8 pixels (exported with "
                         "--include-preprocessing): it cannot be fed normalised values.")
    raw = artifact.raw_pixels if include_preprocessing is None else include_preprocessing
    if raw and normalization != "auto":
        raise ValueError(f"{path} normalises in its graph: drop --normalization.")
    size = artifact.input_size
    labels = artifact.labels()
    small = size is None or max(size) <= 64
    split = split or data.default_eval_split(data_source)
    test = data.load_split(data_source, split, in_memory=small,
                           image_size=None if size is None else size[0],
                           data_dir=data_dir, download=download, class_names=labels,
                           limit=limit)
    if raw:
        norm = Preprocessing(scale=1.0, name="raw pixels (normalised in the artifact)")
    elif normalization == "auto":
        norm = data.default_normalization(data_source, test.num_classes)
    else:
        norm = data.NORMALIZATIONS[normalization]
    probe = size or (test.images.shape[1:3] if isinstance(test, data.ArraySplit) else None)
    if probe is None:
        raise ValueError(f"{path} has a dynamic input size: ImageNet-size images are "
                         "cropped to the artifact's size, so export it with --image-size.")
    width = classifier.predict_on_batch(np.zeros((1, *probe, 3), np.float32)).shape[-1]
    if width != test.num_classes:
        raise ValueError(f"{path} scores {width} classes, {test.source} has "
                         f"{test.num_classes}.")
    if isinstance(test, data.ArraySplit):
        if crop_fraction is not None:
            raise ValueError("--crop-fraction applies to ImageNet-size (streamed) data only; "
                             "CIFAR-size images are evaluated whole.")
        batches = pipelines.ArrayEvalBatches(test, batch_size=batch_size, normalization=norm)
    else:
        batches = pipelines.tf_eval_dataset(
            test, batch_size=batch_size, normalization=norm, image_size=probe[0],
            crop_fraction=crop_fraction or pipelines.CROP_FRACTION)
    metrics = evaluation.evaluate_classifier(classifier, batches, test.class_names,
                                             top_k=min(5, test.num_classes),
                                             flip_tta=flip_tta, progress=progress)
    return {"model": artifact.path.name, "artifact": str(artifact.path), "format": artifact.kind,
            "runtime": artifact.runtime,
            "input": {"dtype": artifact.input_dtype.name, "raw_pixels": bool(raw),
                      "quantization": artifact.quantization},
            "data": test.source, "split": split, "image_size": size,
            "normalization": norm.to_dict(),
            "skipped_unreadable": getattr(test, "skipped", None),
            **({"limit": limit} if limit else {}), **metrics,
            "images_per_second": round(metrics["examples"] / max(metrics["seconds"], 1e-9), 2)}


__all__ = ["Artifact", "KINDS", "artifact_kind", "evaluate_artifact", "labels_path",
           "load_interpreter"]
