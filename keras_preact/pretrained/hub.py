"""Downloads from the Hugging Face Hub, pinned and verified, with errors that say what
to do.

Everything goes through `huggingface_hub.hf_hub_download`, so its cache
(`HF_HUB_CACHE`), offline mode (`HF_HUB_OFFLINE`), mirrors (`HF_ENDPOINT`) and tokens work
as everywhere else; nothing on the load path calls the Hub's metadata API (`model_info`,
`list_repo_tree`), which fails offline. A file pinned to a commit sha and already cached
costs no request at all. The Hub itself only checks sizes, so callers verify sha256
with `verify_sha256` before loading anything.

`huggingface_hub` is imported on first use, not with the package.
"""

import hashlib
import os
import pathlib
import re

from keras_preact.errors import (
    ChecksumError,
    WeightsError,
    WeightsNotFoundError,
    WeightsUnavailableError,
)
from keras_preact.version import __version__

SCHEME = "hf://"
LIBRARY_NAME = "keras_preact"
# Seconds to wait for the Hub's answer to a file's HEAD request before treating it as
# unreachable. huggingface_hub's own default is 10 s and, for a file not yet cached, it
# retries a failed HEAD with a 60 s timeout and backoff (about 25 s against a refused
# port, minutes against a silent one); HF_HUB_ETAG_TIMEOUT overrides this value.
ETAG_TIMEOUT = 5.0
WEIGHTS_DIR_ENV = "KERAS_PREACT_WEIGHTS_DIR"

_SHA1 = re.compile(r"[0-9a-f]{40}")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def _hf():
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.errors
    except ImportError as error:
        raise ImportError(
            "Pretrained weights from the Hub need huggingface_hub: pip install huggingface_hub"
        ) from error
    return huggingface_hub


def is_commit_sha(revision):
    """Whether `revision` is a full 40-hex commit sha (an immutable revision)."""
    return isinstance(revision, str) and bool(_SHA1.fullmatch(revision))


def is_repo_id(repo_id):
    """Whether `repo_id` has the Hub's "owner/name" form."""
    return isinstance(repo_id, str) and bool(_REPO_ID.fullmatch(repo_id))


def parse_hf_uri(uri):
    """Splits "hf://owner/repo[@revision]" into (repo_id, revision or None).

    Raises:
        WeightsError: the string is not of that form.
    """
    if not uri.startswith(SCHEME):
        raise WeightsError(f"{uri!r} is not an hf:// address ('hf://owner/repo[@revision]').")
    repo_id, _, revision = uri[len(SCHEME):].partition("@")
    if not is_repo_id(repo_id) or (revision == "" and uri.endswith("@")):
        raise WeightsError(
            f"Malformed Hub address {uri!r}: expected 'hf://owner/repo' or "
            "'hf://owner/repo@revision' (a commit sha, tag or branch)."
        )
    return repo_id, revision or None


def sha256sum(path):
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path, expected, *, source):
    """Refuses a file whose sha256 is not `expected`.

    Args:
        path: the local file.
        expected: hex sha256 it must have.
        source: what the file is, for the message (e.g. "hf://o/r@sha model.weights.h5").

    Raises:
        ChecksumError: the digest differs; the file has not been loaded.
    """
    actual = sha256sum(path)
    if actual != expected.lower():
        raise ChecksumError(
            f"Checksum mismatch for {source}: {path} has sha256 {actual}, expected "
            f"{expected}. The file is corrupted or was tampered with and was NOT loaded. "
            "Replace it: a Hub download with `hf download ... --force-download`, a "
            "checkout's weights/<name>/ copy with `git checkout -- <that file>`, a file "
            "you pointed to by copying it again."
        )


def cache_folder(repo_id, cache_dir=None):
    """The folder of `repo_id` in the Hub cache (`<HF_HUB_CACHE>/models--owner--name`)."""
    root = cache_dir if cache_dir is not None else _hf().constants.HF_HUB_CACHE
    return os.path.join(root, "models--" + repo_id.replace("/", "--"))


def weights_root():
    """The folder holding local copies of published weight sets, `<root>/<name>/`.

    `$KERAS_PREACT_WEIGHTS_DIR` when set, else the `weights/` folder of a source checkout
    (next to the package).
    """
    configured = os.environ.get(WEIGHTS_DIR_ENV)
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(__file__).resolve().parents[2] / "weights"


def _etag_timeout(constants):
    if constants.HF_HUB_ETAG_TIMEOUT != constants.DEFAULT_ETAG_TIMEOUT:
        return float(constants.HF_HUB_ETAG_TIMEOUT)
    return ETAG_TIMEOUT


def settings_summary():
    """The Hub settings that decide where files come from, as one line for messages."""
    constants = _hf().constants
    return (
        f"HF_HUB_OFFLINE={int(bool(constants.HF_HUB_OFFLINE))}, "
        f"HF_ENDPOINT={constants.ENDPOINT}, "
        f"HF_HUB_DISABLE_XET={int(bool(constants.HF_HUB_DISABLE_XET))}"
    )


def _unavailable(repo_id, filename, revision, cache_dir, reason, whole_repo=False):
    shown = revision or "main"
    revision_flag = f" --revision {revision}" if revision else ""
    if whole_repo:
        command = f"hf download {repo_id}{revision_flag} --local-dir <folder>"
        direct = 'pass the folder: weights="/path/to/<folder>"'
    else:
        command = f"hf download {repo_id} {filename}{revision_flag}"
        direct = f'pass the file: weights="/path/to/{filename}"'
    return WeightsUnavailableError(
        f"Cannot get {filename!r} of hf://{repo_id} at revision {shown}: {reason}, and it "
        f"is not in the local cache ({cache_folder(repo_id, cache_dir)}).\n"
        f"Settings: {settings_summary()}.\n"
        "To fix: connect to the Hub once (unset HF_HUB_OFFLINE); behind a proxy or "
        "mirror set HF_ENDPOINT, and HF_HUB_DISABLE_XET=1 if the mirror lacks Xet; or on a "
        f"connected machine run\n    {command}\nand copy it over, then {direct} (or copy "
        "the Hub cache folder and set HF_HUB_CACHE)."
    )


def _translate(error, repo_id, filename, revision, cache_dir, whole_repo=False):
    """The WeightsError for a huggingface_hub error, or None if it is not one we map."""
    errors = _hf().errors
    where = f"hf://{repo_id}" + (f"@{revision}" if revision else "")
    endpoint = _hf().constants.ENDPOINT
    if isinstance(error, errors.GatedRepoError):
        return WeightsNotFoundError(
            f"{where} is gated on {endpoint}: accept its conditions on the Hub and log in "
            "(`hf auth login` or HF_TOKEN).",
            "repository",
        )
    if isinstance(error, errors.RepositoryNotFoundError):
        return WeightsNotFoundError(
            f"Repository {repo_id!r} not found on {endpoint} (or it is private and no valid "
            "token was sent: `hf auth login` or HF_TOKEN). Check the repo id, and HF_ENDPOINT "
            "if you use a mirror.",
            "repository",
        )
    if isinstance(error, errors.RevisionNotFoundError):
        return WeightsNotFoundError(
            f"Revision {revision!r} not found in {repo_id!r} on {endpoint}. Use a commit "
            "sha, tag or branch that exists (the registry pins commit shas).",
            "revision",
        )
    if isinstance(error, (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled)):
        return _unavailable(repo_id, filename, revision, cache_dir,
                            f"the Hub at {endpoint} could not be used ({error})", whole_repo)
    if isinstance(error, errors.EntryNotFoundError):
        return WeightsNotFoundError(
            f"File {filename!r} not found in {where} on {endpoint}. Check the file name "
            "and the revision.",
            "file",
        )
    if isinstance(error, errors.HfHubHTTPError):
        return WeightsError(f"The Hub refused {filename!r} of {where}: {error}")
    return None


def _probe(hf, repo_id, filename, revision, cache_dir, timeout, whole_repo):
    """One HEAD request without retries, so that an unreachable Hub fails within
    `timeout` instead of hf_hub_download's retry schedule."""
    url = hf.hf_hub_url(repo_id, filename, revision=revision)
    try:
        hf.get_hf_file_metadata(
            url, timeout=timeout, library_name=LIBRARY_NAME, library_version=__version__
        )
    except hf.errors.HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status is None or status < 500:
            raise
        raise _unavailable(repo_id, filename, revision, cache_dir,
                           f"the Hub at {hf.constants.ENDPOINT} answered {error}",
                           whole_repo) from error
    # Network failures surface as the HTTP backend's own exceptions (httpx2 in
    # huggingface_hub 1.x/2.x, requests in 0.x), which share no base class worth naming.
    except Exception as error:
        raise _unavailable(
            repo_id, filename, revision, cache_dir,
            f"the Hub at {hf.constants.ENDPOINT} cannot be reached ({type(error).__name__}: "
            f"{error})",
            whole_repo,
        ) from error


def download(repo_id, filename, *, revision=None, cache_dir=None, whole_repo=False):
    """Returns the local path of a file of a Hub model repo, downloading it if needed.

    A cached file pinned to a commit sha is returned without any request. Offline
    (`HF_HUB_OFFLINE`) only the cache is used. Otherwise a file not yet cached is first
    looked up with one HEAD request bounded by `ETAG_TIMEOUT`, then downloaded by
    `hf_hub_download`. The caller verifies the file's sha256.

    Args:
        repo_id: "owner/name".
        filename: path of the file in the repo.
        revision: commit sha (recommended), tag or branch; None means "main".
        cache_dir: Hub cache folder; defaults to `HF_HUB_CACHE`.
        whole_repo: the file is needed with the rest of the repo (metadata): error
            messages then advise downloading the repo rather than this one file.

    Returns:
        The path of the file in the Hub cache.

    Raises:
        WeightsNotFoundError: the repo, revision or file does not exist.
        WeightsUnavailableError: offline or unreachable, and not cached.
        WeightsError: any other refusal by the Hub.
    """
    hf = _hf()
    constants = hf.constants
    kwargs = dict(
        repo_id=repo_id,
        filename=filename,
        revision=revision,
        cache_dir=cache_dir,
        library_name=LIBRARY_NAME,
        library_version=__version__,
    )
    try:
        cached = hf.hf_hub_download(**kwargs, local_files_only=True)
    except hf.errors.LocalEntryNotFoundError:
        cached = None
    except hf.errors.HFValidationError as error:
        raise WeightsError(
            f"Invalid Hub address: repo {repo_id!r}, file {filename!r}, revision "
            f"{revision!r}: {error}"
        ) from error
    if cached is not None and (is_commit_sha(revision) or constants.HF_HUB_OFFLINE):
        return cached
    if constants.HF_HUB_OFFLINE:
        raise _unavailable(repo_id, filename, revision, cache_dir, "HF_HUB_OFFLINE is set",
                           whole_repo)
    timeout = _etag_timeout(constants)
    try:
        if cached is None:
            _probe(hf, repo_id, filename, revision, cache_dir, timeout, whole_repo)
        return hf.hf_hub_download(**kwargs, etag_timeout=timeout)
    except WeightsError:
        raise
    except Exception as error:
        translated = _translate(error, repo_id, filename, revision, cache_dir, whole_repo)
        if translated is None:
            raise
        raise translated from error


def snapshot_commit(path):
    """The commit sha a file of the Hub cache was resolved at (its snapshot folder),
    or None if `path` is not in a snapshot folder."""
    parts = pathlib.PurePath(path).parts
    if "snapshots" in parts:
        index = len(parts) - 1 - parts[::-1].index("snapshots")
        if index + 1 < len(parts) and is_commit_sha(parts[index + 1]):
            return parts[index + 1]
    return None
