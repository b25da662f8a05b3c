"""Typed errors of the OCI layer.

Every failure that leaves the library is an ``MsrOciError``. The categories (input, not found, auth,
conflict, network, integrity, unsupported) are what callers branch on; the CLI maps each category to
one documented exit code. Messages never contain credentials.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

__all__ = [
    "AuthError",
    "BlobUnknown",
    "ConflictError",
    "ContentTooLarge",
    "DeletionDisabled",
    "Denied",
    "DigestMismatch",
    "InputError",
    "IntegrityError",
    "InvalidDigest",
    "InvalidManifest",
    "InvalidReference",
    "ManifestUnknown",
    "MsrOciError",
    "NameUnknown",
    "NetworkError",
    "NotFoundError",
    "RegistryError",
    "SizeMismatch",
    "StorageError",
    "TagChanged",
    "TagExists",
    "TooManyRequests",
    "Unauthorized",
    "UnsafePath",
    "UnsupportedDigestAlgorithm",
    "UnsupportedError",
]


class MsrOciError(Exception):
    """Base of every error raised by msr-oci."""

    #: process exit code the CLI uses for this category (see README, "Exit codes")
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        code: str | None = None,
        detail: object | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: HTTP status and registry error code, when the error came from a registry response
        self.status = status
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


# ---- categories -------------------------------------------------------------------------------------


class InputError(MsrOciError, ValueError):
    """The caller gave something malformed: a reference, a file, a field."""

    exit_code = 2


class NotFoundError(MsrOciError, LookupError):
    """A repository, tag, manifest or blob does not exist."""

    exit_code = 3


class AuthError(MsrOciError):
    """Credentials are missing or wrong (HTTP 401), or the registry denies the operation (HTTP 403)."""

    exit_code = 4


class ConflictError(MsrOciError):
    """The operation would overwrite or contradict existing state."""

    exit_code = 5


class NetworkError(MsrOciError):
    """The registry could not be reached or kept failing after retries."""

    exit_code = 6


class IntegrityError(MsrOciError):
    """Content does not match its digest or size, or breaks a protocol limit. Never exposed to the caller."""

    exit_code = 7


class UnsupportedError(MsrOciError):
    """The registry or store does not support the operation (for example deletion disabled)."""

    exit_code = 8


# ---- input ------------------------------------------------------------------------------------------


class InvalidReference(InputError):
    """A reference does not follow the distribution reference grammar."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(
            f"invalid reference {reference!r}: {reason}",
            hint="expected [host[:port]/]repository[:tag][@sha256:<64 hex>]",
        )
        self.reference = reference
        self.reason = reason


class InvalidDigest(InputError):
    def __init__(self, digest: str, reason: str) -> None:
        super().__init__(f"invalid digest {digest!r}: {reason}")
        self.digest = digest


class UnsupportedDigestAlgorithm(InvalidDigest):
    def __init__(self, digest: str) -> None:
        super().__init__(digest, "unsupported algorithm (sha256 and sha512 are supported)")


class InvalidManifest(IntegrityError):
    """A manifest or index that does not parse or breaks the image spec."""


class UnsafePath(IntegrityError):
    """A file name in content would be written outside the destination directory."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"refusing unsafe file name {name!r}: {reason}")
        self.name = name


# ---- integrity --------------------------------------------------------------------------------------


class DigestMismatch(IntegrityError):
    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        super().__init__(f"{what} digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class SizeMismatch(IntegrityError):
    def __init__(self, expected: int, actual: int, what: str = "content") -> None:
        super().__init__(f"{what} size mismatch: expected {expected} bytes, got {actual}")
        self.expected = expected
        self.actual = actual


class ContentTooLarge(IntegrityError):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} is larger than the limit of {limit} bytes")
        self.limit = limit


# ---- not found --------------------------------------------------------------------------------------


class NameUnknown(NotFoundError):
    pass


class ManifestUnknown(NotFoundError):
    pass


class BlobUnknown(NotFoundError):
    pass


# ---- registry-reported ------------------------------------------------------------------------------


class RegistryError(MsrOciError):
    """An error response from a registry that fits no narrower type; carries the registry's code."""


class Unauthorized(AuthError):
    """HTTP 401 after authenticating (wrong or missing credentials)."""


class Denied(AuthError):
    """HTTP 403: authenticated but not allowed."""


class TooManyRequests(NetworkError):
    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = 429) -> None:
        super().__init__(
            message,
            hint="the registry is rate limiting; try again later",
            status=status,
            code="TOOMANYREQUESTS",
        )
        self.retry_after = retry_after


class DeletionDisabled(UnsupportedError):
    pass


class TagExists(ConflictError):
    pass


class TagChanged(ConflictError):
    """A conditional tag move found the tag moved by another writer (``current``: what it names now,
    ``None`` when it is gone)."""

    def __init__(self, where: str, tag: str, current: str | None) -> None:
        now = f"now names {current}" if current else "is gone"
        super().__init__(f"{where}:{tag} was moved by another writer meanwhile; it {now}")
        self.tag = tag
        self.current = current


# ---- local storage ----------------------------------------------------------------------------------

#: errors that mean "no room": a full file system, a quota, a file-size limit
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class StorageError(MsrOciError):
    """A local file could not be written; the message names it (an OSError from write() names nothing)."""

    def __init__(self, path: str, exc: OSError) -> None:
        reason = exc.strerror or exc.__class__.__name__
        hint = None
        if exc.errno in _NO_SPACE:
            hint = (
                "free space on that file system (or raise the quota or file-size limit), or write elsewhere"
            )
        other = exc.filename is not None and os.fspath(exc.filename) != path
        reason += f" ({os.fsdecode(exc.filename)})" if other else ""  # e.g. the source of a copy
        super().__init__(f"cannot write {path}: {reason}", hint=hint, detail=exc.errno)
        self.path = path


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` into a ``StorageError`` that names it."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(os.fspath(path), exc) from exc
