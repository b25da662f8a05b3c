"""The embedded store: OCI image layout directories (image-spec ``image-layout.md``).

One layout directory is one repository: ``oci-layout``, ``index.json`` and ``blobs/<alg>/<hex>``.
Tags are ``org.opencontainers.image.ref.name`` annotations on ``index.json`` entries, as skopeo
(``oci:DIR:TAG``) and oras (``--oci-layout``) write them. Every manifest pushed gets an entry, so
untagged manifests (index children, referrers) stay discoverable; a tagged one is not listed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from msr_oci.errors import (
    BlobUnknown,
    InputError,
    InvalidManifest,
    InvalidReference,
    ManifestUnknown,
    NameUnknown,
    SizeMismatch,
    TagChanged,
)
from msr_oci.oci.content import (
    ANNOTATION_REF_NAME,
    MAX_MANIFEST_SIZE,
    Descriptor,
    ImageIndex,
    canonical_json,
    is_manifest_media_type,
    parse_manifest,
    referrer_descriptor,
    successors,
)
from msr_oci.oci.digest import Digester, is_digest, parse_digest
from msr_oci.oci.reference import is_tag, validate_repository, validate_tag
from msr_oci.oci.target import CHUNK_SIZE, Content, ProgressCallback, Target, iter_content, verified_stream
from msr_oci.oci.tempfiles import atomic_file, remove_abandoned

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LOCK_FILE = "index.json.lock"
BLOBS_DIR = "blobs"
LAYOUT_VERSION = canonical_json({"imageLayoutVersion": "1.0.0"})
#: names a nested repository may not use below another one: they are that layout's own files
#: temp files of blobs being written: ``.tmp-<random>.part`` (older versions wrote no suffix)
BLOB_TEMP_PREFIX = ".tmp-"
#: temp files of index.json and oci-layout being replaced
_ROOT_TEMP_PREFIXES = (f".{INDEX_FILE}.", f".{LAYOUT_FILE}.")
_LAYOUT_ENTRIES = frozenset({LAYOUT_FILE, INDEX_FILE, LOCK_FILE, BLOBS_DIR})


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    with atomic_file(path, fsync=True) as fh:
        fh.write(data)


def _ref_name(entry: Descriptor) -> str | None:
    return (entry.annotations or {}).get(ANNOTATION_REF_NAME)


def _entry(descriptor: Descriptor, tag: str | None = None) -> Descriptor:
    """What index.json records: identity, artifact type, and the tag annotation if tagged."""
    return Descriptor(
        media_type=descriptor.media_type,
        digest=descriptor.digest,
        size=descriptor.size,
        artifact_type=descriptor.artifact_type,
        annotations={ANNOTATION_REF_NAME: tag} if tag is not None else None,
    )


class OCILayout(Target):
    """One OCI image layout directory; created on first write when ``create`` is true."""

    compare_and_set = True  # tags move under the index lock (``push_manifest_if``)

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.create = create

    def __repr__(self) -> str:
        return f"OCILayout({str(self.path)!r})"

    def __str__(self) -> str:
        return f"oci:{self.path}"

    # ---- files --------------------------------------------------------------------------------------

    def _blob_path(self, digest: str) -> Path:
        algorithm, encoded = parse_digest(digest)  # validated: nothing but [0-9a-f] reaches the path
        return self.path / BLOBS_DIR / algorithm / encoded

    def _is_layout(self) -> bool:
        return (self.path / LAYOUT_FILE).is_file()

    def _require_layout(self) -> None:
        if not self._is_layout():
            raise NameUnknown(
                f"no OCI layout at {self.path}",
                hint="push to it first, or check the path (it needs an oci-layout file)",
            )

    def _ensure_layout(self) -> None:
        if self._is_layout():
            return
        if not self.create:
            self._require_layout()
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.path / LAYOUT_FILE, LAYOUT_VERSION)

    def _read_index(self) -> ImageIndex:
        index_path = self.path / INDEX_FILE
        try:
            data = index_path.read_bytes()
        except FileNotFoundError:
            return ImageIndex()
        try:
            return ImageIndex.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise InvalidManifest(
                f"{index_path} is not a valid image index: {exc}",
                hint="repair or remove the file; blobs are kept in blobs/",
            ) from None

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        # flock on a file opened here: exclusive across processes and across threads (own open file)
        with (self.path / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _update_index_sync(self, change: Callable[[list[Descriptor]], list[Descriptor] | None]) -> None:
        self._ensure_layout()
        with self._index_lock():
            index = self._read_index()
            manifests = change(list(index.manifests))
            if manifests is None and (self.path / INDEX_FILE).exists():
                return
            updated = index.model_copy(update={"manifests": manifests or []})
            _write_atomically(self.path / INDEX_FILE, canonical_json(updated.to_json_dict()))

    async def _update_index(self, change: Callable[[list[Descriptor]], list[Descriptor] | None]) -> None:
        """Read-modify-write index.json under the lock; ``change`` returns ``None`` for no change."""
        await asyncio.to_thread(self._update_index_sync, change)

    def _entries(self) -> list[Descriptor]:
        self._require_layout()
        return list(self._read_index().manifests)

    # ---- reads --------------------------------------------------------------------------------------

    async def resolve(self, reference: str) -> Descriptor:
        if is_digest(reference):
            for entry in self._entries():
                if entry.digest == reference:
                    return _entry(entry)
            return await self._describe_unlisted(reference)
        validate_tag(reference, f"{self}:{reference}")
        for entry in self._entries():
            if _ref_name(entry) == reference:
                return _entry(entry)
        raise ManifestUnknown(f"{self}: no tag {reference!r}", hint="list the tags to see what it holds")

    async def _describe_unlisted(self, digest: str) -> Descriptor:
        """A manifest stored as a blob but not in index.json (children written by other tools)."""
        path = self._blob_path(digest)
        if not path.is_file() or path.stat().st_size > MAX_MANIFEST_SIZE:
            raise ManifestUnknown(f"{self}: no manifest {digest}")
        size = path.stat().st_size
        probe = Descriptor(media_type="application/octet-stream", digest=digest, size=size)
        data = await self.fetch_bytes(probe)
        try:
            media_type = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            media_type = None
        if not isinstance(media_type, str) or not is_manifest_media_type(media_type):
            raise ManifestUnknown(f"{self}: {digest} is not a manifest with a mediaType")
        return Descriptor(media_type=media_type, digest=digest, size=size)

    async def exists(self, descriptor: Descriptor) -> bool:
        path = self._blob_path(descriptor.digest)
        try:
            return path.stat().st_size == descriptor.size
        except FileNotFoundError:
            return False

    @asynccontextmanager
    async def _fetch(self, descriptor: Descriptor) -> AsyncIterator[AsyncIterator[bytes]]:
        path = self._blob_path(descriptor.digest)
        kind = "manifest" if is_manifest_media_type(descriptor.media_type) else "blob"
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            self._require_layout()
            unknown = ManifestUnknown if kind == "manifest" else BlobUnknown
            raise unknown(f"{self}: no {kind} {descriptor.digest}") from None
        with fh:
            yield verified_stream(descriptor, _read_chunks(fh), f"{kind} {self}@{descriptor.digest}")

    def fetch(self, descriptor: Descriptor) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return self._fetch(descriptor)

    async def list_tags(self, *, last: str | None = None) -> AsyncIterator[str]:
        """Tags in lexical order after ``last``; a layout that does not exist has none."""
        if not self._is_layout():
            return
        tags = {name for entry in self._entries() if (name := _ref_name(entry)) and is_tag(name)}
        for tag in sorted(tags):
            if last is None or tag > last:
                yield tag

    async def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests listed in index.json (tagged or not) whose ``subject`` is ``subject``."""
        if not self._is_layout():
            return []
        found: dict[str, Descriptor] = {}
        for entry in self._entries():
            if entry.digest in found or not is_manifest_media_type(entry.media_type):
                continue
            manifest = parse_manifest(await self.fetch_bytes(entry), entry.media_type)
            if manifest.subject is None or manifest.subject.digest != subject.digest:
                continue
            referrer = referrer_descriptor(_entry(entry), manifest)
            if artifact_type is None or referrer.artifact_type == artifact_type:
                found[entry.digest] = referrer
        return list(found.values())

    # ---- writes -------------------------------------------------------------------------------------

    async def push(
        self, descriptor: Descriptor, content: Content, *, progress: ProgressCallback | None = None
    ) -> None:
        if await self._store(descriptor, content, progress):
            await self._update_index(lambda entries: _with_untagged(entries, descriptor))

    async def _store(
        self, descriptor: Descriptor, content: Content, progress: ProgressCallback | None
    ) -> bool:
        """Write the blob unless it is there; whether it is a manifest (it then needs an index entry)."""
        is_manifest = is_manifest_media_type(descriptor.media_type)
        if is_manifest and descriptor.size > MAX_MANIFEST_SIZE:
            raise InvalidManifest(f"manifest {descriptor.digest} is larger than {MAX_MANIFEST_SIZE} bytes")
        self._ensure_layout()
        path = self._blob_path(descriptor.digest)
        if not await self.exists(descriptor):
            await self._write_blob(descriptor, content, path, progress, is_manifest=is_manifest)
        return is_manifest

    async def _write_blob(
        self,
        descriptor: Descriptor,
        content: Content,
        path: Path,
        progress: ProgressCallback | None,
        *,
        is_manifest: bool,
    ) -> None:
        """Stream into ``blobs/<alg>/.tmp-*.part``, verify (and parse a manifest), fsync, rename."""
        digester = Digester.for_digest(descriptor.digest)
        kept: list[bytes] = []
        what = f"content pushed to {self}@{descriptor.digest}"
        with atomic_file(path, prefix=BLOB_TEMP_PREFIX, fsync=True) as fh:
            async for chunk in iter_content(content):
                if digester.size + len(chunk) > descriptor.size:
                    raise SizeMismatch(descriptor.size, digester.size + len(chunk), what)
                digester.update(chunk)
                fh.write(chunk)
                if is_manifest:
                    kept.append(chunk)
                if progress is not None:
                    progress(len(chunk))
            digester.verify(descriptor.digest, descriptor.size, what)
            if is_manifest:  # only manifests get index entries, so refuse what does not parse
                parse_manifest(b"".join(kept), descriptor.media_type)

    async def tag(self, descriptor: Descriptor, tag: str) -> None:
        validate_tag(tag, f"{self}:{tag}")
        if not is_manifest_media_type(descriptor.media_type):
            raise InputError(f"cannot tag {descriptor.digest}: {descriptor.media_type} is not a manifest")
        self._ensure_layout()
        if not await self.exists(descriptor):
            raise ManifestUnknown(
                f"{self}: no manifest {descriptor.digest} to tag {tag!r}", hint="push it first"
            )

        await self._update_index(lambda entries: _retagged(entries, descriptor, tag))

    async def push_manifest_if(
        self,
        descriptor: Descriptor,
        data: bytes,
        tag: str,
        *,
        expected: str | None,
        read_at: float | None = None,
    ) -> None:
        """Compare and set: ``tag`` is checked and moved under the index lock, so of any number of
        writers (threads or processes) expecting the same state exactly one succeeds."""
        validate_tag(tag, f"{self}:{tag}")
        if not await self._store(descriptor, data, None):
            raise InputError(f"cannot tag {descriptor.digest}: {descriptor.media_type} is not a manifest")
        found: list[str | None] = []  # a loser's manifest is left unlisted: gc removes it

        def swap(entries: list[Descriptor]) -> list[Descriptor] | None:
            current = next((e.digest for e in entries if _ref_name(e) == tag), None)
            if current != expected:
                found.append(current)
                return None
            return _retagged(entries, descriptor, tag)

        await self._update_index(swap)
        if found:
            raise TagChanged(str(self), tag, found[0])

    async def untag(self, tag: str) -> None:
        validate_tag(tag, f"{self}:{tag}")
        self._require_layout()
        missing: list[bool] = []

        def drop(entries: list[Descriptor]) -> list[Descriptor] | None:
            if not any(_ref_name(e) == tag for e in entries):
                missing.append(True)
                return None
            return _without_tag(entries, tag)

        await self._update_index(drop)
        if missing:
            raise ManifestUnknown(f"{self}: no tag {tag!r}")

    async def delete(self, descriptor: Descriptor) -> None:
        """Delete a manifest (its index entries, every tag, and its blob) or a blob.

        Blobs the manifest points to stay: other manifests may share them (see ``gc``).
        """
        self._require_layout()
        path = self._blob_path(descriptor.digest)
        if not is_manifest_media_type(descriptor.media_type):
            try:
                path.unlink()
            except FileNotFoundError:
                raise BlobUnknown(f"{self}: no blob {descriptor.digest}") from None
            return
        missing: list[bool] = []

        def drop(entries: list[Descriptor]) -> list[Descriptor] | None:
            kept = [e for e in entries if e.digest != descriptor.digest]
            # unlinked under the index lock, so a concurrent push cannot list a manifest just removed
            try:
                path.unlink()
            except FileNotFoundError:
                if len(kept) == len(entries):
                    missing.append(True)
                    return None
            return kept

        await self._update_index(drop)
        if missing:
            raise ManifestUnknown(f"{self}: no manifest {descriptor.digest}")

    async def gc(self) -> list[str]:
        """Delete blobs no manifest in index.json reaches, and temp files of interrupted writers.

        Returns the digests of the blobs deleted. A temp file a live writer still holds is kept (see
        ``tempfiles``); a blob a concurrent push has written but not yet listed is not protected, so do
        not run this while pushing to the same layout.
        """
        self._require_layout()
        self.remove_abandoned_temp_files()
        reachable: set[str] = set()
        pending = self._entries()
        while pending:
            entry = pending.pop()
            if entry.digest in reachable:
                continue
            reachable.add(entry.digest)
            if is_manifest_media_type(entry.media_type) and await self.exists(entry):
                manifest = parse_manifest(await self.fetch_bytes(entry), entry.media_type)
                pending.extend(successors(manifest))
        removed: list[str] = []
        for algorithm_dir in sorted((self.path / BLOBS_DIR).glob("*")):
            for blob in sorted(algorithm_dir.iterdir()):
                digest = f"{algorithm_dir.name}:{blob.name}"
                if is_digest(digest) and digest not in reachable:
                    blob.unlink(missing_ok=True)
                    removed.append(digest)
        return removed

    def remove_abandoned_temp_files(self) -> int:
        """Remove temp files that interrupted writers left (no live writer holds them); bytes freed."""
        candidates = [p for p in self.path.glob(".*") if p.name.startswith(_ROOT_TEMP_PREFIXES)]
        candidates += [p for p in self.path.glob(f"{BLOBS_DIR}/*/{BLOB_TEMP_PREFIX}*") if p.is_file()]
        return remove_abandoned(candidates)


def _with_untagged(entries: list[Descriptor], descriptor: Descriptor) -> list[Descriptor] | None:
    """``entries`` plus an untagged entry for ``descriptor``, or ``None`` if it is already listed."""
    if any(e.digest == descriptor.digest for e in entries):
        return None
    return [*entries, _entry(descriptor)]


def _retagged(entries: list[Descriptor], descriptor: Descriptor, tag: str) -> list[Descriptor]:
    """``entries`` with ``tag`` on ``descriptor`` (its untagged entry, if any, replaced)."""
    kept = _without_tag(entries, tag)
    kept = [e for e in kept if not (e.digest == descriptor.digest and _ref_name(e) is None)]
    return [*kept, _entry(descriptor, tag)]


def _without_tag(entries: list[Descriptor], tag: str) -> list[Descriptor]:
    """``entries`` without ``tag``; the manifest it named stays listed, untagged if nothing else lists it."""
    kept = [e for e in entries if _ref_name(e) != tag]
    for entry in entries:
        if _ref_name(entry) == tag:
            kept = _with_untagged(kept, entry) or kept
    return kept


async def _read_chunks(fh: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := fh.read(CHUNK_SIZE):
        yield chunk


class LocalStore:
    """The embedded default store: one OCI layout per repository under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def repository(self, name: str) -> OCILayout:
        """The layout of repository ``name`` (``team/model`` is a subdirectory ``team/model``)."""
        validate_repository(name)
        components = name.split("/")
        if any(part in _LAYOUT_ENTRIES for part in components[1:]):
            raise InvalidReference(name, "a nested repository name may not use an OCI layout file name")
        return OCILayout(self.root.joinpath(*components))

    def remove_abandoned_temp_files(self) -> int:
        """Temp files interrupted writers left in every layout of the store (live ones stay); bytes freed."""
        return sum(self.repository(name).remove_abandoned_temp_files() for name in self.repositories())

    def repositories(self) -> list[str]:
        """Names of the layouts under ``root``, sorted."""
        names: list[str] = []
        if not self.root.is_dir():
            return names
        for directory, subdirs, files in os.walk(self.root):
            here = Path(directory)
            is_layout = LAYOUT_FILE in files
            if is_layout and here != self.root:
                name = here.relative_to(self.root).as_posix()
                with contextlib.suppress(InvalidReference):
                    names.append(validate_repository(name))
            # a layout's blobs are not repositories; nested repositories sit beside them
            subdirs[:] = sorted(
                d for d in subdirs if not d.startswith(".") and not (is_layout and d == BLOBS_DIR)
            )
        return sorted(names)


__all__ = ["LocalStore", "OCILayout"]
