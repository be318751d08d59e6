"""What is known about a local weights or model file from the metadata beside it, read by
one function, `read_beside`.

Two kinds of file are written beside weights, both JSON:

- `keras_preact.json` (`ENTRY_FILENAME`): a published weight set's registry entry
  (`WeightsEntry.to_dict()`), as in a Hub repo and in `weights/<name>/`; it pins the
  weights file's name and sha256.
- `model.json` (`RUN_FILENAME`): what a `keras-preact train` or `finetune` run records
  to rebuild and feed its network: `{"model", "build", "class_names", "image_size",
  "preprocessing", ...}`, `build` being `ModelSpec.to_dict()` plus "classes"
  and "input_shape".

Older layouts still read: a `model.json` whose normalisation is under "normalization"
(training runs of earlier versions), and a fine-tuning folder with only its
`summary.json` (which held "preprocessing", "image_size" and "class_names").
"""

import dataclasses
import json
import os
import pathlib

from keras_preact.errors import WeightsError
from keras_preact.models.spec import ModelSpec
from keras_preact.normalization import Preprocessing

ENTRY_FILENAME = "keras_preact.json"
RUN_FILENAME = "model.json"
_LEGACY_FINETUNE_FILENAME = "summary.json"


@dataclasses.dataclass(frozen=True)
class WeightsMetadata:
    """What the metadata beside a file says; None where it says nothing.

    Attributes:
        path: the metadata file read.
        spec: the network, a `keras_preact.models.spec.ModelSpec`.
        classes: classifier outputs.
        class_names: tuple of names, one per class.
        image_size: the square input side trained at.
        preprocessing: a `Preprocessing`.
        entry: the `WeightsEntry` of a published folder (`keras_preact.json`), else None.
    """

    path: str
    spec: ModelSpec | None = None
    classes: int | None = None
    class_names: tuple | None = None
    image_size: int | None = None
    preprocessing: Preprocessing | None = None
    entry: object = None


def read_json(path, what="weights metadata"):
    """The JSON data in `path`; a `WeightsError` naming `what` if it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise WeightsError(f"Cannot read {what} {path}: {error}.") from error


def _side(size):
    if not size:
        return None
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def _from_entry(path, data):
    from keras_preact.pretrained.registry import WeightsEntry

    entry = WeightsEntry.from_dict(data)
    return WeightsMetadata(str(path), ModelSpec.from_entry(entry), entry.num_classes,
                           tuple(entry.label_names), _side(entry.input_size),
                           entry.preprocessing, entry)


def _from_run(path, data):
    build = data.get("build") or {}
    spec = ModelSpec.from_dict(build)
    found = data.get("preprocessing", data.get("normalization"))
    names = data.get("class_names")
    return WeightsMetadata(
        str(path), spec=None if spec.empty else spec, classes=build.get("classes"),
        class_names=tuple(names) if names else None, image_size=_side(data.get("image_size")),
        preprocessing=Preprocessing.from_dict(found) if found else None)


def read_beside(path):
    """The metadata beside a local weights file, model file or folder, or None.

    `keras_preact.json` counts only for the file it names (a folder: always); then
    `model.json`; then an older fine-tuning folder's `summary.json`.

    Args:
        path: a local path; hf:// addresses, registered names and None give None.

    Raises:
        WeightsError: a metadata file exists but is not valid JSON of its kind.
    """
    if path is None or str(path).startswith("hf://"):
        return None
    path = pathlib.Path(os.path.expanduser(str(path)))
    if not path.exists():
        return None
    folder = path if path.is_dir() else path.parent
    for name, reader in ((ENTRY_FILENAME, _from_entry), (RUN_FILENAME, _from_run),
                         (_LEGACY_FINETUNE_FILENAME, _from_run)):
        candidate = folder / name
        if not candidate.is_file():
            continue
        data = read_json(candidate)
        if name == ENTRY_FILENAME and not path.is_dir() and data.get("filename") != path.name:
            continue  # a file next to someone else's entry: nothing to say about it
        if name == _LEGACY_FINETUNE_FILENAME and "preprocessing" not in data:
            continue  # a training summary, not a fine-tuning one
        return reader(candidate, data)
    return None


def run_record(spec, *, classes, image_size, class_names, preprocessing, **extra):
    """The `model.json` content of a run: how to rebuild the network and feed it.

    Args:
        spec: the network (a `ModelSpec` or its dict form).
        classes: classifier outputs.
        image_size: the square input side.
        class_names: one name per class.
        preprocessing: a `Preprocessing`.
        **extra: further JSON-ready fields (data, test results, recipe, ...).
    """
    build = {**ModelSpec.from_dict(spec).to_dict(),
             "classes": classes, "input_shape": [image_size, image_size, 3]}
    return {"build": build, "class_names": list(class_names), "image_size": image_size,
            "preprocessing": preprocessing.to_dict(), **extra}


__all__ = ["ENTRY_FILENAME", "RUN_FILENAME", "WeightsMetadata", "read_beside", "read_json",
           "run_record"]
