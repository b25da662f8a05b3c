"""Relative file names inside a revision: which ones may ever be written to disk."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from msr_oci.errors import UnsafePath

__all__ = ["check_relative_path", "check_unique_paths"]

_DRIVE: Final = re.compile(r"^[A-Za-z]:")
_MAX_COMPONENT_BYTES: Final = 255


def check_relative_path(name: object) -> str:
    """Return ``name`` if it is a plain relative POSIX path that stays inside any directory."""
    if not isinstance(name, str) or not name:
        raise UnsafePath(str(name), "a file name must be a non-empty string")
    if "\x00" in name or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise UnsafePath(name, "control characters (NUL, newline, ...) are not allowed")
    if "\\" in name:
        raise UnsafePath(name, "backslashes are not allowed (they are separators on Windows)")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafePath(name, "absolute paths are not allowed")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePath(name, "empty, '.' and '..' path components are not allowed")
        if len(part.encode("utf-8")) > _MAX_COMPONENT_BYTES:
            raise UnsafePath(name, f"a path component is longer than {_MAX_COMPONENT_BYTES} bytes")
    return name


def check_unique_paths(names: Iterable[str]) -> None:
    """Refuse names that would overwrite each other, also on case-insensitive file systems, and a
    name that is both a file and a directory ("a" and "a/b")."""
    seen: dict[str, str] = {}
    for name in names:
        folded = name.casefold()
        if folded in seen:
            raise UnsafePath(name, f"it collides with {seen[folded]!r}")
        seen[folded] = name
    for folded, name in seen.items():
        parts = folded.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in seen:
                raise UnsafePath(name, f"{seen[parent]!r} is a file, so it cannot also be a directory")
