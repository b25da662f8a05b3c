"""Digests of local files, remembered by what ``stat`` says about them.

Hashing model weights costs a full read of every byte. A file whose path, device, inode, size,
modification time and change time are all unchanged has not been written since it was hashed (a
write moves mtime; putting an old mtime back with ``touch`` moves ctime), so its digest is reused
and pushing unchanged weights again reads nothing.

One small file per entry under the root, named by a hash of that identity and holding the digest:
written to a temp file and renamed, so concurrent writers never leave half an entry. The cache is
only an optimisation: an entry that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path

from msr_oci.errors import StorageError
from msr_oci.oci.digest import Digester, is_digest
from msr_oci.oci.tempfiles import atomic_file

_HASH_CHUNK = 4 * 1024 * 1024
#: files modified more recently than this are hashed every time (see ``_entry``)
RACY_SECONDS = 2.0


class FileDigests:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _entry(self, path: Path) -> Path | None:
        try:
            info = path.stat()
            real = os.path.realpath(path)
        except OSError:
            return None
        if time.time() - info.st_mtime < RACY_SECONDS:
            # written just now: a write in the same clock tick would keep mtime (git's "racy" rule)
            return None
        identity = "\0".join(
            str(v) for v in (real, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        )
        key = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / key[:2] / key

    def lookup(self, path: Path) -> str | None:
        """The digest recorded for this very file, unchanged since; ``None`` if there is none."""
        entry = self._entry(path)
        if entry is None:
            return None
        try:
            digest = entry.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return digest if is_digest(digest) else None

    def remember(self, path: Path, digest: str, entry: Path | None = None) -> None:
        """Record ``digest`` for ``path`` as ``stat`` sees it now (or under ``entry``, taken before)."""
        entry = entry if entry is not None else self._entry(path)
        if entry is None:
            return
        # a digest not remembered is hashed again next time: no reason to fail the publish
        with contextlib.suppress(OSError, StorageError), atomic_file(entry, prefix=".") as fh:
            fh.write(digest.encode("ascii"))

    def digest(self, path: Path) -> tuple[str, int]:
        """``(digest, size)`` of a file: remembered, or hashed in one pass and remembered."""
        before = self._entry(path)
        known = self.lookup(path)
        if known is not None:
            return known, path.stat().st_size
        digest, size = hash_file(path)
        if before is not None and self._entry(path) == before:  # not written while it was read
            self.remember(path, digest, before)
        return digest, size


def hash_file(path: Path) -> tuple[str, int]:
    """``(sha256 digest, size)`` of a file, read in large chunks (never whole)."""
    digester = Digester()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digester.update(chunk)
    return digester.digest, digester.size
