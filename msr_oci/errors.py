"""The error tree of msr-oci: typed values, dependency-free (standard library only), shared by every layer.

Every failure that leaves the library is an ``MsrOciError``. The categories (input, not found, auth,
conflict, network, integrity, unsupported) are what callers branch on; the CLI maps each category to
one documented exit code. Messages never contain credentials.

An error carries structured fields besides its message: ``what`` failed, ``where`` (a host, a
repository, a file), and ``remedies``, the options that would help (``Remedy``). The library words
them neutrally; the CLI (cli/errors.py) turns them into its own flags and commands, so no layer below
the CLI names a command-line flag. ``retryable`` is what the transport's retry loop decides on.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from enum import StrEnum

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
    "Remedy",
    "SizeMismatch",
    "StorageError",
    "TagChanged",
    "TagExists",
    "TlsVerificationFailed",
    "TooManyRequests",
    "Unauthorized",
    "UnsafePath",
    "UnsupportedDigestAlgorithm",
    "UnsupportedError",
    "writing",
]


class Remedy(StrEnum):
    """An option of the library (and of the CLI) that would get past an error."""

    #: store credentials for ``where`` (a registry host)
    LOGIN = "login"
    #: trust the registry's CA bundle (``RegistryOptions.ca_file``)
    CA_FILE = "ca_file"
    #: skip TLS verification (``RegistryOptions.insecure``)
    INSECURE = "insecure"
    #: speak plain HTTP to the registry (``RegistryOptions.plain_http``)
    PLAIN_HTTP = "plain_http"
    #: publish new content for an existing version (``update_revision``)
    UPDATE = "update"
    #: replace what a version holds (``create_revision(overwrite=True)``)
    OVERWRITE = "overwrite"
    #: publish a first version (``create_revision``)
    PUBLISH = "publish"
    #: name the version to move to explicitly (``rollback(to_version=...)``)
    TO_VERSION = "to_version"
    #: delete every version of the name, explicitly (``delete_all_versions``)
    ALL_VERSIONS = "all_versions"
    #: see what is archived (``list_archived``)
    LIST_ARCHIVED = "list_archived"
    #: pull into a directory that holds files, leaving it holding exactly the revision (``pull(force=True)``)
    REPLACE_DIRECTORY = "replace_directory"
    #: import an archive whose aliases move ones that point elsewhere (``import_archive(force=True)``)
    MOVE_ALIASES = "move_aliases"
    #: forget this machine's record of an alias log's head (``forget_alias_record``); ``where``: NAME ALIAS
    FORGET_ALIAS_RECORD = "forget_alias_record"
    #: publish a revision's files as a new revision (``pull``, then ``create_revision``); ``where``: its ref
    REPUBLISH = "republish"
    #: point an alias at the version (``set_alias``); ``where``: NAME:VERSION ALIAS
    SET_ALIAS = "set_alias"


#: how the library words each remedy (the CLI words them as its flags: cli/errors.py)
_LIBRARY_WORDING: dict[Remedy, str] = {
    Remedy.LOGIN: "store credentials for {where}",
    Remedy.CA_FILE: "trust the registry's CA bundle (RegistryOptions.ca_file)",
    Remedy.INSECURE: "skip TLS verification (RegistryOptions.insecure)",
    Remedy.PLAIN_HTTP: "if it serves plain HTTP, choose plain HTTP (RegistryOptions.plain_http)",
    Remedy.UPDATE: "publish new content for this version (update_revision)",
    Remedy.OVERWRITE: "overwrite it (create_revision(overwrite=True))",
    Remedy.PUBLISH: "publish one (create_revision)",
    Remedy.TO_VERSION: "name the version to move to (to_version)",
    Remedy.ALL_VERSIONS: "to delete every version of {where}, say so (delete_all_versions)",
    Remedy.LIST_ARCHIVED: "list_archived lists archived revisions",
    Remedy.REPLACE_DIRECTORY: "or pull with force=True: it then holds exactly the revision (the rest goes)",
    Remedy.MOVE_ALIASES: "import with force=True to move it (the move is recorded in its history)",
    Remedy.FORGET_ALIAS_RECORD: "if you trust the log as it is now, forget this machine's record "
    "(forget_alias_record)",
}


def library_wording(remedy: Remedy, where: str | None) -> str:
    return _LIBRARY_WORDING[remedy].format(where=where or "the registry")


class MsrOciError(Exception):
    """Base of every error raised by msr-oci."""

    #: process exit code the CLI uses for this category (see README, "Exit codes")
    exit_code: int = 1
    #: whether sending the same request again may succeed (the transport retries only these)
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        code: str | None = None,
        detail: object | None = None,
        what: str | None = None,
        where: str | None = None,
        remedies: tuple[Remedy, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        #: advice beyond the remedies, worded for any caller
        self.hint = hint
        #: HTTP status, registry error code and detail, when the error came from a registry response
        self.status = status
        self.code = code
        self.detail = detail
        self.what = what
        self.where = where
        self.remedies = remedies

    def advice(self, wording: Callable[[Remedy, str | None], str] = library_wording) -> list[str]:
        """The hint, then each remedy in ``wording`` (the library's own, or the CLI's)."""
        return ([self.hint] if self.hint else []) + [wording(r, self.where) for r in self.remedies]

    def __str__(self) -> str:
        advice = self.advice()
        return f"{self.message} ({'; '.join(advice)})" if advice else self.message


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
    retryable = True


class TlsVerificationFailed(NetworkError):
    """The registry's certificate did not verify: sending again cannot fix it."""

    retryable = False


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
        super().__init__(f"{where}:{tag} was moved by another writer meanwhile; it {now}", where=where)
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
        super().__init__(f"cannot write {path}: {reason}", hint=hint, detail=exc.errno, where=path)
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
