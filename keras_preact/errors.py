"""The one exception family of everything that resolves, verifies, downloads, loads or
publishes pretrained weights: `WeightsError` and its subclasses. Every message says what
to do next. Command-line exit codes follow them (`keras_preact.cli.options`):
`ChecksumError` is a failed check (3), the others bad input (2).
"""


class WeightsError(ValueError):
    """Base class of every error raised while resolving, verifying, loading or publishing
    pretrained weights. Its message always says what to do next."""


class UnknownWeightsError(WeightsError):
    """The requested weights are not registered (unknown tag or model name)."""


class WeightsNotFoundError(WeightsError):
    """The repository, revision or file does not exist (or is not accessible with the
    current token), or a local path does not exist.

    Attributes:
        missing: "repository", "revision", "file" or "path".
    """

    def __init__(self, message, missing="path"):
        super().__init__(message)
        self.missing = missing


class WeightsUnavailableError(WeightsError):
    """The weights are not in the local cache and the Hub cannot be used: offline mode
    (HF_HUB_OFFLINE) or an unreachable endpoint, and no local copy to fall back to."""


class ChecksumError(WeightsError):
    """A weights file does not have the sha256 it is registered with: it is corrupted or
    was tampered with, and is never loaded."""


class IncompatibleWeightsError(WeightsError):
    """A weights file (or its metadata) belongs to another architecture or head than the
    model it is loaded into."""


class PublishError(WeightsError):
    """Publishing was refused (metrics or checksum do not match the registry entry) or
    failed on the Hub."""


__all__ = ["ChecksumError", "IncompatibleWeightsError", "PublishError", "UnknownWeightsError",
           "WeightsError", "WeightsNotFoundError", "WeightsUnavailableError"]
