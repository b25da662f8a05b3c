"""A local content-addressed cache of revisions, safe for several processes.

Layout under the cache root::

    blobs/<alg>/<hex>           verified content, written to a temp file and renamed into place
    revisions/<alg>/<hex>/      a fetched revision's files (copies of the blobs, with their modes),
                                renamed into place whole

Anything at a final path was verified before the rename that put it there, so presence is proof:
a digest already cached is served without a network request. Temp files of a process killed
mid-transfer are never at a final path and ``prune`` removes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from msr_oci.errors import IntegrityError, writing
from msr_oci.oci import Descriptor, ProgressCallback, Target, parse_digest, verify_bytes
from msr_oci.oci.digest import Digester
from msr_oci.oci.file_digests import FileDigests
from msr_oci.oci.progress import events
from msr_oci.oci.tempfiles import TEMP_SUFFIX, atomic_file, locked_temp_dir, remove_abandoned

CACHE_ENV = "MSR_CACHE_DIR"
#: shared by running fetches, tried exclusively by prune (see ``ContentCache.in_use``)
_IN_USE_LOCK = ".in-use.lock"
#: permission bits of a file published without them (a v1 revision, an API-built one)
DEFAULT_FILE_MODE = 0o644


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

    @property
    def file_digests(self) -> FileDigests:
        """Digests of local files already hashed (pushing unchanged weights again reads nothing)."""
        return FileDigests(self.root / "file-digests")

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
        with atomic_file(path, mode=0o444) as fh:
            fh.write(data)

    async def fill(
        self, source: Target, descriptor: Descriptor, *, progress: ProgressCallback | None = None
    ) -> Path:
        """Make sure a blob is cached, downloading it (verified while streaming) if it is not."""
        path = self.blob_path(descriptor.digest)
        downloaded = not path.is_file()
        if downloaded:
            await source.fetch_to_file(descriptor, path, progress=progress)
            os.chmod(path, 0o444)
        else:
            events(progress)(descriptor.size)
        events(progress).blob_done(descriptor, skipped=not downloaded)
        return path

    # ---- revision directories -----------------------------------------------------------------------

    def revision_dir(self, digest: str) -> Path:
        algorithm, encoded = parse_digest(digest)
        return self.root / "revisions" / algorithm / encoded

    def has_revision(self, digest: str) -> bool:
        return self.revision_dir(digest).is_dir()

    def materialize(self, digest: str, files: Iterable[tuple[str, Descriptor, int | None]]) -> Path:
        """Assemble a revision directory from cached blobs; it appears whole or not at all.

        ``files`` are (safe relative path, descriptor, permission bits) triples, checked by the codec
        before any download. Files are copies, never hard links: a consumer writing into its directory
        (root ignores 0444) must not change the blob other revisions are served from.
        """
        final = self.revision_dir(digest)
        if final.is_dir():
            return final
        with writing(final):
            final.parent.mkdir(parents=True, exist_ok=True)
        with locked_temp_dir(final.parent, prefix=f".{final.name}.", suffix=TEMP_SUFFIX) as staging:
            try:
                for relative, descriptor, mode in files:
                    target = staging / relative
                    with writing(target):
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(self.blob_path(descriptor.digest), target)
                        os.chmod(target, DEFAULT_FILE_MODE if mode is None else mode)
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

    def read_revision(self, digest: str) -> tuple[bytes, bytes] | None:
        """The manifest and config of a cached revision directory, each verified; None if damaged."""
        root = self.revision_dir(digest)
        try:
            manifest = (root / "manifest.json").read_bytes()
            verify_bytes(manifest, digest, len(manifest), "cached manifest")
            config_descriptor = json.loads(manifest)["config"]
            config = (root / "config.json").read_bytes()
            verify_bytes(config, config_descriptor["digest"], config_descriptor["size"], "cached config")
        except (OSError, ValueError, KeyError, TypeError, IntegrityError):
            return None
        return manifest, config

    def files_intact(self, digest: str, files: Iterable[tuple[str, Descriptor, int | None]]) -> bool:
        """Cheap check on every cache hit: each file is there with its size and mode (``verify`` hashes)."""
        root = self.revision_dir(digest)
        for relative, descriptor, mode in files:
            try:
                info = (root / relative).stat()
            except OSError:
                return False
            expected = DEFAULT_FILE_MODE if mode is None else mode
            if info.st_size != descriptor.size or (info.st_mode & 0o777) != expected:
                return False
        return True

    def verify_revision(self, digest: str, files: Iterable[tuple[str, Descriptor, int | None]]) -> list[str]:
        """The files of a cached revision whose content no longer matches its digest (hashes every byte)."""
        root = self.revision_dir(digest)
        damaged = []
        for relative, descriptor, _ in files:
            try:
                with (root / relative).open("rb") as fh:
                    digester = Digester.for_digest(descriptor.digest)
                    while chunk := fh.read(1 << 20):
                        digester.update(chunk)
                    digester.verify(descriptor.digest, descriptor.size, relative)
            except (OSError, IntegrityError):
                damaged.append(relative)
        return damaged

    def evict_revision(self, digest: str) -> None:
        root = self.revision_dir(digest)
        if root.is_dir():
            staging = root.with_name(f".{root.name}.evict{TEMP_SUFFIX}")
            try:
                os.rename(root, staging)  # gone for readers at once, then removed
            except OSError:
                return
            shutil.rmtree(staging, ignore_errors=True)

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

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Held (shared) by a fetch from its first cached blob until its revision directory exists.

        Until then its blobs are referenced by nothing, so ``prune`` leaves unreferenced blobs alone
        while any fetch holds this.
        """
        with writing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / _IN_USE_LOCK).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_SH)
            yield

    def prune(self, *, older_than: float | None = None) -> int:
        """Remove revision directories (all, or those not used for ``older_than`` seconds), abandoned
        temp files and blobs no longer referenced by any revision directory. Returns bytes freed.

        Temp files a live fetch holds stay, and so do unreferenced blobs while a fetch runs (``in_use``).
        """
        before = self.size()
        now = time.time()
        for cached in self.revisions():
            if older_than is None or now - cached.modified > older_than:
                shutil.rmtree(cached.path, ignore_errors=True)
        for entry in (self.root / "file-digests").glob("*/*"):
            if older_than is None or now - entry.stat().st_mtime > older_than:
                entry.unlink(missing_ok=True)
        for base in (self.root / "revisions", self.root / "blobs"):
            if base.is_dir():  # only what no live fetch holds (see oci/tempfiles.py)
                remove_abandoned(base.glob(f"*/.*{TEMP_SUFFIX}"))
        blobs = self.root / "blobs"
        if blobs.is_dir():
            with (self.root / _IN_USE_LOCK).open("a") as lock:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return max(0, before - self.size())  # a fetch is running: its blobs stay
                kept = self._referenced_blobs()
                for blob in blobs.glob("*/*"):
                    # temp files (dot names) are not blobs: only remove_abandoned above may take them
                    unused = blob.is_file() and not blob.name.startswith(".")
                    unused = unused and f"{blob.parent.name}:{blob.name}" not in kept
                    if unused and (older_than is None or now - blob.stat().st_mtime > older_than):
                        blob.unlink(missing_ok=True)
        return max(0, before - self.size())

    def _referenced_blobs(self) -> set[str]:
        """Digests of the manifests, configs and layers of the revision directories still here."""
        kept: set[str] = set()
        for cached in self.revisions():
            kept.add(cached.digest)
            try:
                manifest = json.loads((cached.path / "manifest.json").read_bytes())
                kept.add(manifest["config"]["digest"])
                kept.update(layer["digest"] for layer in manifest["layers"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged directory protects nothing; fetch rebuilds it
        return kept
