"""What `weights=` means, and loading it safely.

`resolve_weights` turns the user's `weights` into a local, sha256-verified file:

- a registered tag, e.g. "cifar10": the registry entry of (model, tag), downloaded from
  its Hub repo at the pinned commit; offline or with the Hub unreachable, the local copy
  `weights/<name>/` of a source checkout is used instead (same checksum), and a warning
  says so once; an entry not on the Hub yet (`revision=UNPUBLISHED`) loads from that
  local copy only;
- "hf://owner/repo[@revision]": any repo published by `keras_preact.pretrained.publish`; its
  `keras_preact.json` (or a `config.json` with the same fields) gives the architecture,
  classes, preprocessing and sha256;
- a path to a `.weights.h5` file, or to a folder laid out like a published repo; a
  `keras_preact.json` next to the file is used when present.

`load_weights` then loads the file into the full model, refusing files saved from
another architecture. Every failure is a `keras_preact.WeightsError` with the fix in its
message.
"""

import collections
import dataclasses
import os
import warnings

from keras_preact.pretrained import hub, metadata
from keras_preact.pretrained.metadata import read_json
from keras_preact.pretrained import registry as _registry
from keras_preact.errors import (
    IncompatibleWeightsError,
    WeightsError,
    WeightsNotFoundError,
    WeightsUnavailableError,
)
from keras_preact.pretrained.registry import WeightsEntry

METADATA_FILENAME = metadata.ENTRY_FILENAME
CONFIG_FILENAME = "config.json"

_announced_fallbacks = set()


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    """A local weights file, verified and ready for `load_weights`.

    Attributes:
        path: the `.weights.h5` file.
        num_classes: classes of the file's classifier head, or None if unknown.
        entry: the `WeightsEntry` describing the file (registry or repo metadata), or
            None for a bare local file.
    """

    path: str
    num_classes: int | None = None
    entry: WeightsEntry | None = None


def resolve_weights(weights, model_name, *, registry=None, cache_dir=None):
    """Resolves `weights=` for the model called `model_name` to a verified local file.

    Args:
        weights: a registered tag ("cifar10"), "hf://owner/repo[@revision]", or a path to
            a `.weights.h5` file or a published-repo folder.
        model_name: the canonical model name, e.g. "preact_resnet164".
        registry: a mapping name -> `WeightsEntry` to use instead of the package's.
        cache_dir: Hub cache folder; defaults to `HF_HUB_CACHE`.

    Returns:
        A `ResolvedWeights`.

    Raises:
        UnknownWeightsError: an unknown tag (the message lists the model's tags).
        WeightsNotFoundError: a missing file, repo, revision or repo file.
        WeightsUnavailableError: offline or unreachable Hub, not cached, no local copy.
        ChecksumError: the file does not have the expected sha256; it is not loaded.
        IncompatibleWeightsError: the weights belong to another architecture.
        WeightsError: any other problem (malformed address or metadata).
    """
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str) or not weights:
        raise WeightsError(
            f"weights must be None, a tag such as 'cifar10', a path to a .weights.h5 file "
            f"or 'hf://owner/repo[@revision]'; got {weights!r}."
        )
    if weights.startswith(hub.SCHEME):
        return _resolve_hf(weights, model_name, registry, cache_dir)
    tags = {e.tag: e for e in _entries(registry) if e.architecture == model_name}
    if weights in tags:
        return _resolve_entry(tags[weights], cache_dir)
    path = os.path.expanduser(weights)
    if os.path.exists(path):
        return _resolve_path(path, model_name)
    if os.sep in weights or "/" in weights or weights.endswith(".h5"):
        raise WeightsNotFoundError(f"No such weights file or folder: {weights!r}.")
    return _registry.find_weights(model_name, weights, registry=registry)  # raises


def _entries(registry):
    return (_registry.WEIGHTS if registry is None else registry).values()


def _resolve_entry(entry, cache_dir):
    if not entry.published:
        return _resolve_unpublished(entry)
    source = f"{entry.name} (hf://{entry.repo_id}@{entry.revision}, {entry.filename})"
    try:
        path = hub.download(entry.repo_id, entry.filename, revision=entry.revision,
                            cache_dir=cache_dir)
        fallback = None
    except WeightsUnavailableError as error:
        folder = hub.weights_root() / entry.name
        path = os.fspath(folder / entry.filename)
        if not os.path.isfile(path):
            raise WeightsUnavailableError(
                f"{error}\nNo local copy of {entry.name} either (looked for {path})."
            ) from error
        fallback = error
    hub.verify_sha256(path, entry.sha256, source=source)
    if fallback is not None:
        _announce_fallback(entry, path, fallback)
    return ResolvedWeights(path, entry.num_classes, entry)


def _resolve_unpublished(entry):
    path = hub.weights_root() / entry.name / entry.filename
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{entry.name} is not on the Hugging Face Hub yet: its weights ship only in the "
            f"source repository, as weights/{entry.name}/{entry.filename}, and there is no "
            f"such file at {path}. Use a source checkout (git clone, then pip install -e .), "
            f"or copy that folder and point ${hub.WEIGHTS_DIR_ENV} at its parent."
        )
    hub.verify_sha256(path, entry.sha256, source=f"{entry.name} (local copy {path})")
    return ResolvedWeights(os.fspath(path), entry.num_classes, entry)


def _announce_fallback(entry, path, reason):
    key = (entry.name, path)
    if key in _announced_fallbacks:
        return
    _announced_fallbacks.add(key)
    first_line = str(reason).splitlines()[0]
    warnings.warn(
        f"keras_preact: the Hub could not be used for {entry.name} ({first_line}); "
        f"loading the local copy {path} (sha256 verified).",
        UserWarning,
        stacklevel=4,
    )


def _resolve_hf(uri, model_name, registry, cache_dir):
    repo_id, revision = hub.parse_hf_uri(uri)
    for entry in _entries(registry):
        if entry.repo_id == repo_id and revision in (None, entry.revision):
            _check_architecture(entry, model_name, uri)
            return _resolve_entry(entry, cache_dir)
    meta_path, data = _download_metadata(repo_id, revision, cache_dir)
    commit = hub.snapshot_commit(meta_path) or revision
    entry = dataclasses.replace(
        WeightsEntry.from_dict(data), repo_id=repo_id, revision=commit or ""
    )
    _check_architecture(entry, model_name, uri)
    path = hub.download(repo_id, entry.filename, revision=commit, cache_dir=cache_dir,
                        whole_repo=True)
    hub.verify_sha256(path, entry.sha256, source=f"{uri} ({entry.filename})")
    return ResolvedWeights(path, entry.num_classes, entry)


def _download_metadata(repo_id, revision, cache_dir):
    """(path, data) of the repo's keras_preact.json, or of a config.json carrying the
    same fields."""
    try:
        path = hub.download(repo_id, METADATA_FILENAME, revision=revision,
                            cache_dir=cache_dir, whole_repo=True)
        return path, read_json(path)
    except WeightsNotFoundError as error:
        if error.missing != "file":
            raise
    try:
        path = hub.download(repo_id, CONFIG_FILENAME, revision=revision,
                            cache_dir=cache_dir, whole_repo=True)
    except WeightsNotFoundError as error:
        if error.missing != "file":
            raise
        path = None
    data = read_json(path) if path else {}
    data = data.get("keras_preact", data)
    if not {"architecture", "sha256", "filename"} <= set(data):
        raise WeightsError(
            f"hf://{repo_id} has no keras_preact metadata ({METADATA_FILENAME}, or a "
            f"{CONFIG_FILENAME} with 'architecture', 'filename' and 'sha256'), so its weights "
            "cannot be verified. Publish it with `keras-preact publish`, or download the "
            'weights file yourself and pass weights="/path/to/model.weights.h5".'
        )
    return path, data


def _check_architecture(entry, model_name, what):
    if entry.architecture != model_name:
        raise IncompatibleWeightsError(
            f"{what} holds weights for {entry.architecture!r}, not {model_name!r}. Build "
            f"that architecture (keras_preact.create_model({entry.architecture!r}, "
            "weights=...)), or pick weights made for this one."
        )


def _resolve_path(path, model_name):
    found = metadata.read_beside(path)
    entry = found.entry if found else None
    if entry is None:  # no keras_preact.json, or one that names another file
        if os.path.isdir(path):
            raise WeightsNotFoundError(
                f"{path} is a folder without {METADATA_FILENAME}; pass the .weights.h5 file."
            )
        return ResolvedWeights(path, _head_classes(path), None)
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    path = os.path.join(folder, entry.filename)
    _check_architecture(entry, model_name, path)
    hub.verify_sha256(path, entry.sha256, source=f"{entry.name} local copy")
    return ResolvedWeights(path, entry.num_classes, entry)


def _weight_shapes(path):
    """{dataset path: shape} of a Keras 3 `.weights.h5` file, or None for other files."""
    import h5py

    shapes = {}
    try:
        with h5py.File(path, "r") as f:
            if "layers" not in f:
                return None
            f.visititems(
                lambda name, obj: shapes.__setitem__(name, tuple(obj.shape))
                if isinstance(obj, h5py.Dataset) else None
            )
    except OSError as error:
        raise WeightsError(f"{path} is not a readable .weights.h5 (HDF5) file: {error}.") from error
    return shapes


def _head_classes(path):
    """Classes of the file's last Dense layer (the classifier), or None."""
    shapes = _weight_shapes(path) or {}
    heads = []
    for name, shape in shapes.items():
        parts = name.split("/")
        if len(parts) == 4 and parts[1].startswith("dense") and parts[3] == "1":
            suffix = parts[1][len("dense"):].lstrip("_")
            heads.append((int(suffix) if suffix.isdigit() else 0, shape[0]))
    return max(heads)[1] if heads else None


def check_weights_file(model, path):
    """Refuses a `.weights.h5` file whose arrays do not fit `model`.

    Compares the shapes of all the file's arrays with the model's variables: another
    depth, width, block type or head almost always differs. (Networks whose variables all
    coincide, e.g. original and pre-activation ResNet-8, are told apart by metadata only.)
    Files that are not Keras 3 weights files are left to `model.load_weights`.

    Args:
        model: the full built model (with its classifier).
        path: the weights file.

    Raises:
        IncompatibleWeightsError: the shapes differ; the message summarises how.
    """
    shapes = _weight_shapes(path)
    if shapes is None:
        return
    in_file = sorted(shapes.values())
    in_model = sorted(tuple(v.shape) for v in model.weights)
    if in_file == in_model:
        return
    only_file = _difference(in_file, in_model)
    only_model = _difference(in_model, in_file)
    raise IncompatibleWeightsError(
        f"{path} was saved from another architecture than {model.name!r}: it holds "
        f"{len(in_file)} arrays ({_values(in_file):,} values), the model has "
        f"{len(in_model)} variables ({_values(in_model):,} values); shapes only in the file: "
        f"{only_file[:4]}, only in the model: {only_model[:4]}. Build the network the file "
        "was trained as (same depth, block, placement and classes)."
    )


def _values(shapes):
    total = 0
    for shape in shapes:
        size = 1
        for dim in shape:
            size *= dim
        total += size
    return total


def _difference(a, b):
    return sorted((collections.Counter(a) - collections.Counter(b)).elements())


def load_weights(model, weights):
    """Loads resolved weights into a built full model, refusing a file that does not fit.

    Args:
        model: the full model (with its classifier), as the weights were saved.
        weights: a `ResolvedWeights` or a path.

    Raises:
        IncompatibleWeightsError: the file belongs to another architecture or head.
    """
    path = weights.path if isinstance(weights, ResolvedWeights) else os.fspath(weights)
    check_weights_file(model, path)
    try:
        model.load_weights(path)
    except ValueError as error:
        raise IncompatibleWeightsError(
            f"{path} does not load into {model.name!r}: {error}"
        ) from error
