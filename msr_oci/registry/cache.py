"""A local content-addressed cache of revisions, safe for several processes.

Layout under the cache root::

    blobs/<alg>/<hex>           verified content, written to a temp file and renamed into place
    revisions/<alg>/<hex>/      a fetched revision's files (hard links to the blobs), renamed into place whole

Anything at a final path was verified before the rename that put it there, so presence is proof:
a digest already cached is served without a network request. Temp files of a process killed
mid-transfer are never at a final path and ``prune`` removes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from msr_oci.oci import Descriptor, ProgressCallback, Target, parse_digest, verify_bytes
from msr_oci.oci.errors import IntegrityError
from msr_oci.revision.codec import layer_mode

CACHE_ENV = "MSR_CACHE_DIR"
_TEMP_MARK = ".part"


def default_cache_dir() -> Path:
    """``$MSR_CACHE_DIR``, else ``$XDG_CACHE_HOME/msr-oci``, else ``~/.cache/msr-oci``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "msr-oci"


@dataclass(frozen=True)
class CachedRevision:
    digest: str
    path: Path
    size: int
    modified: float


class ContentCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_cache_dir()

    # ---- blobs ---------------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        algorithm, encoded = parse_digest(digest)
        return self.root / "blobs" / algorithm / encoded

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_small(self, descriptor: Descriptor) -> bytes | None:
        """A cached manifest or config, re-verified (it is small); ``None`` if absent or damaged."""
        path = self.blob_path(descriptor.digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            verify_bytes(data, descriptor.digest, descriptor.size)
        except IntegrityError:
            path.unlink(missing_ok=True)  # damaged on disk: drop it and fetch again
            return None
        return data

    def put_small(self, descriptor: Descriptor, data: bytes) -> None:
        verify_bytes(data, descriptor.digest, descriptor.size)
        path = self.blob_path(descriptor.digest)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_MARK, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def fill(
        self, source: Target, descriptor: Descriptor, *, progress: ProgressCallback | None = None
    ) -> Path:
        """Make sure a blob is cached, downloading it (verified while streaming) if it is not."""
        path = self.blob_path(descriptor.digest)
        if not path.is_file():
            await source.fetch_to_file(descriptor, path, progress=progress)
            os.chmod(path, 0o444)  # shared by hard links into revision directories
        elif progress is not None:
            progress(descriptor.size)
        return path

    # ---- revision directories -----------------------------------------------------------------------

    def revision_dir(self, digest: str) -> Path:
        algorithm, encoded = parse_digest(digest)
        return self.root / "revisions" / algorithm / encoded

    def has_revision(self, digest: str) -> bool:
        return self.revision_dir(digest).is_dir()

    def materialize(self, digest: str, files: Iterable[tuple[str, Descriptor]]) -> Path:
        """Assemble a revision directory from cached blobs; it appears whole or not at all.

        ``files`` are (safe relative path, descriptor) pairs, checked by the codec before any download.
        """
        final = self.revision_dir(digest)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=_TEMP_MARK, dir=final.parent))
        try:
            for relative, descriptor in files:
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                blob = self.blob_path(descriptor.digest)
                mode = layer_mode(descriptor)
                if mode is not None and mode & 0o111:
                    # an executable keeps its x bits: a copy, so the shared blob's mode stays as it is
                    shutil.copyfile(blob, target)
                    os.chmod(target, mode & ~0o222)
                    continue
                try:
                    os.link(blob, target)
                except OSError:  # file systems without hard links
                    shutil.copyfile(blob, target)
            try:
                os.rename(staging, final)
            except OSError:
                if not final.is_dir():  # another process finished first; theirs is as good as ours
                    raise
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final

    def evict(self, digest: str) -> None:
        """Forget a manifest and its revision directory (after the revision was deleted upstream)."""
        shutil.rmtree(self.revision_dir(digest), ignore_errors=True)
        self.blob_path(digest).unlink(missing_ok=True)

    # ---- housekeeping -------------------------------------------------------------------------------

    def revisions(self) -> list[CachedRevision]:
        out: list[CachedRevision] = []
        base = self.root / "revisions"
        if not base.is_dir():
            return out
        for algorithm_dir in sorted(base.iterdir()):
            for entry in sorted(algorithm_dir.iterdir()):
                if entry.name.startswith(".") or not entry.is_dir():
                    continue
                size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
                out.append(
                    CachedRevision(f"{algorithm_dir.name}:{entry.name}", entry, size, entry.stat().st_mtime)
                )
        return out

    def size(self) -> int:
        blobs = self.root / "blobs"
        return sum(f.stat().st_size for f in blobs.rglob("*") if f.is_file()) if blobs.is_dir() else 0

    def prune(self, *, older_than: float | None = None) -> int:
        """Remove revision directories (all, or those not used for ``older_than`` seconds), stale temp
        files and blobs no longer linked from any revision directory. Returns bytes freed."""
        before = self.size()
        now = time.time()
        for cached in self.revisions():
            if older_than is None or now - cached.modified > older_than:
                shutil.rmtree(cached.path, ignore_errors=True)
        for base in (self.root / "revisions", self.root / "blobs"):
            if not base.is_dir():
                continue
            for stale in base.rglob(f"*{_TEMP_MARK}"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
        blobs = self.root / "blobs"
        if blobs.is_dir():
            for blob in blobs.rglob("*"):
                # a blob with one link is referenced by no revision directory
                unused = blob.is_file() and blob.stat().st_nlink <= 1
                if unused and (older_than is None or now - blob.stat().st_mtime > older_than):
                    blob.unlink(missing_ok=True)
        return max(0, before - self.size())
