"""Publish only what readers can read: the size limits of a revision's manifest and config (pure).

Readers read a manifest and a revision record (the config) whole into memory and refuse either past
4 MiB (``MAX_MANIFEST_SIZE``; ``RevisionReader.small`` reads configs with ``Target.fetch_bytes``'s
default cap). A push checks both before its first upload, so a revision too large to read is never
published and leaves no blobs behind.
"""

from __future__ import annotations

import json
from typing import Any, Final

from msr_oci.errors import InputError
from msr_oci.oci.content import MAX_MANIFEST_SIZE
from msr_oci.revision.codec import EncodedRevision

#: the largest revision record (config blob) readers accept
MAX_CONFIG_SIZE: Final = MAX_MANIFEST_SIZE


#: record fields that grow with the number of files (one entry per file)
_PER_FILE_FIELDS: Final = ("extra_files", "documents")


class RevisionTooLarge(InputError):
    """A revision whose manifest or record readers would refuse."""


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _largest_field(record: dict[str, Any]) -> tuple[str, int]:
    """The field with the most bytes: the largest top-level field, then into a mapping (``metadata``)
    as long as one of its fields holds most of it."""
    path: list[str] = []
    value: Any = record
    size = _json_size(record)
    while isinstance(value, dict) and value:
        key, inner = max(value.items(), key=lambda item: _json_size(item[1]))
        inner_size = _json_size(inner)
        if path and inner_size * 2 < size:
            break  # no single field holds most of this mapping: name the mapping
        path.append(str(key))
        value, size = inner, inner_size
    return ".".join(path) or "?", size


def check_readable(encoded: EncodedRevision, what: str) -> None:
    """Raise ``RevisionTooLarge`` (exit 2) naming the cause unless readers can read the revision."""
    config_descriptor, config = encoded.blobs[0]
    assert isinstance(config, bytes)
    field, size = _largest_field(json.loads(config)) if config_descriptor.size > MAX_CONFIG_SIZE else ("", 0)
    files = len(encoded.manifest.layers)
    if encoded.descriptor.size > MAX_MANIFEST_SIZE or field.startswith(_PER_FILE_FIELDS):
        raise RevisionTooLarge(
            f"{what}: its manifest would be {_mib(encoded.descriptor.size)} and its revision record "
            f"{_mib(config_descriptor.size)} for {files} files; readers accept at most "
            f"{_mib(MAX_MANIFEST_SIZE)} of each",
            hint="publish fewer files: pack many small files into an archive (e.g. a tar) inside the "
            "revision directory",
        )
    if field:
        raise RevisionTooLarge(
            f"{what}: its revision record would be {_mib(config_descriptor.size)}, more than readers "
            f"accept ({_mib(MAX_CONFIG_SIZE)}); the largest field is {field} ({_mib(size)})",
            hint=f"shorten {field}, or put large text or data in a file of the revision directory",
        )
