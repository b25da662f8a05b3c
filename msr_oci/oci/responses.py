"""Registry error responses (``{"errors":[{code,message,detail}]}``) mapped to the typed errors."""

from __future__ import annotations

import json
from typing import Any

import httpx

from msr_oci.errors import (
    BlobUnknown,
    DeletionDisabled,
    Denied,
    InputError,
    IntegrityError,
    InvalidManifest,
    ManifestUnknown,
    MsrOciError,
    NameUnknown,
    NetworkError,
    NotFoundError,
    RegistryError,
    Remedy,
    TooManyRequests,
    Unauthorized,
    UnsupportedError,
)

_BY_CODE: dict[str, type[MsrOciError]] = {
    "NAME_UNKNOWN": NameUnknown,
    "MANIFEST_UNKNOWN": ManifestUnknown,
    "BLOB_UNKNOWN": BlobUnknown,
    "BLOB_UPLOAD_UNKNOWN": NotFoundError,
    # the manifest names a blob the registry does not hold: push the blobs first
    "MANIFEST_BLOB_UNKNOWN": BlobUnknown,
    "UNAUTHORIZED": Unauthorized,
    "DENIED": Denied,
    "UNSUPPORTED": UnsupportedError,
    "DIGEST_INVALID": IntegrityError,
    "SIZE_INVALID": IntegrityError,
    "BLOB_UPLOAD_INVALID": IntegrityError,
    "MANIFEST_INVALID": InvalidManifest,
    "MANIFEST_UNVERIFIED": InvalidManifest,
    "NAME_INVALID": InputError,
    "TAG_INVALID": InputError,
    "PAGINATION_NUMBER_INVALID": InputError,
}

_BY_STATUS: dict[int, type[MsrOciError]] = {
    400: RegistryError,
    401: Unauthorized,
    403: Denied,
    405: UnsupportedError,
    413: IntegrityError,
    416: IntegrityError,
    502: NetworkError,
    503: NetworkError,
    504: NetworkError,
}


def registry_errors(response: httpx.Response) -> list[dict[str, Any]]:
    """The ``errors`` list of an error body; empty when there is none or it does not parse."""
    try:
        body = json.loads(response.content or b"{}")
    except (ValueError, UnicodeDecodeError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def error_from_response(
    response: httpx.Response, what: str, not_found: type[NotFoundError] = NotFoundError
) -> MsrOciError:
    """A typed error for a failed request about ``what`` (for example ``manifest host/repo:tag``)."""
    status = response.status_code
    errors = registry_errors(response)
    first = errors[0] if errors else {}
    code = str(first.get("code") or "") or None
    message = str(first.get("message") or "") or response.reason_phrase or "error"
    text = f"{what}: {message} (HTTP {status}{', ' + code if code else ''})"
    host = response.request.url.netloc.decode("ascii", "replace")
    if code == "TOOMANYREQUESTS" or status == 429:
        return TooManyRequests(text, status=status)
    if code in ("UNAUTHORIZED",) or status == 401:
        return Unauthorized(
            text,
            status=status,
            code=code,
            what="credentials",
            where=host,
            remedies=(Remedy.LOGIN,),
        )
    if (
        status in (400, 405)
        and (code == "UNSUPPORTED" or status == 405)
        and response.request.method == "DELETE"
    ):
        return DeletionDisabled(
            text,
            hint="the registry has deletion disabled (distribution: set storage.delete.enabled: true)",
            status=status,
            code=code,
        )
    cls = _BY_CODE.get(code or "")
    if cls is None:
        cls = not_found if status == 404 else _BY_STATUS.get(status, RegistryError)
    if status in (502, 503, 504):
        text += " after retries"
    return cls(text, status=status, code=code, detail=first.get("detail"))
