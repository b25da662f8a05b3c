"""The repository index: one document that answers a filter over every version of a name.

An OCI image index under the reserved tag ``_index`` lists one descriptor per version tag: the
revision manifest's digest, with ``org.opencontainers.image.ref.name`` (the tag) and the summary
annotations the manifest itself carries (``revision/summary.py``). A listing reads the tag list and
the index together (one round trip) and fetches manifests and configs only for matches, by digest,
so a warm cache serves them without a request. The design and its consistency rules are in
docs/repository-index.md; in short:

* the tag list stays the truth for which versions exist: an entry whose tag is gone is ignored, and
  a tag without an entry (an index write lost to a concurrent publisher, a tool that does not keep
  the index) is loaded directly from its manifest;
* publishers update the index after moving a version tag, and read it back to repair a lost write;
* ``verify`` re-resolves every tag and loads whatever the index has wrong;
* only repositories that have an index (``build``) are kept indexed; readers never write.

Past about 1,900 versions (``FLAT_LIMIT``) the index under ``_index`` is a root over 16 shard
indexes (an entry's shard: the first hex digit of the SHA-256 of its tag), pushed by digest before
the root; a publish rewrites one shard and the root, a reader fetches the shards together and
keeps them by digest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from msr_oci.errors import ConflictError, InvalidManifest, NotFoundError
from msr_oci.oci import Descriptor, ImageIndex, Target
from msr_oci.oci.content import (
    ANNOTATION_REF_NAME,
    ANNOTATION_TITLE,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_IMAGE_INDEX,
    MEDIA_TYPE_IMAGE_MANIFEST,
    parse_manifest,
)
from msr_oci.revision.summary import SUMMARY_ANNOTATIONS, RevisionSummary, summary_of

INDEX_TAG: Final = "_index"
INDEX_ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.repository-index.v1+json"
ANNOTATION_UPDATED: Final = "ai.backend.model-serving.index.updated"
#: a publisher reads the index back after writing it and writes again this often if its entry is gone
WRITE_ATTEMPTS: Final = 3
SHARD_ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.repository-index-shard.v1+json"
ANNOTATION_SHARD: Final = "ai.backend.model-serving.index.shard"
SHARDS: Final = 16
#: a flat index whose document would pass this many bytes (about 1,900 versions) is split in shards
FLAT_LIMIT = 1 << 20
#: past this many entries a flat document is not even tried (it would pass FLAT_LIMIT anyway)
_FLAT_MAX_ENTRIES: Final = 4096


class SmallContentCache(Protocol):
    """Where verified manifests are kept by digest (``ContentCache``)."""

    def read_small(self, descriptor: Descriptor) -> bytes | None: ...

    def put_small(self, descriptor: Descriptor, data: bytes) -> None: ...


@dataclass(frozen=True)
class IndexEntry:
    tag: str
    #: the entry as stored (the manifest's descriptor with the tag and summary annotations)
    raw: Descriptor
    #: None when the entry carries no summary (the revision's manifest or config then decides)
    summary: RevisionSummary | None

    @property
    def descriptor(self) -> Descriptor:
        return self.raw.short()


@dataclass(frozen=True)
class RepositoryIndex:
    #: None: the repository has no index
    descriptor: Descriptor | None
    entries: dict[str, IndexEntry]
    #: digests of the shards the root references (empty: a flat index)
    shards: frozenset[str] = frozenset()


def entry_for(tag: str, manifest_descriptor: Descriptor, annotations: dict[str, str] | None) -> Descriptor:
    """The index entry of a version: the manifest's descriptor, its tag and its summary annotations."""
    # the title is the repository's name, known to every reader: not repeated per entry
    kept = {
        k: v for k, v in (annotations or {}).items() if k in SUMMARY_ANNOTATIONS and k != ANNOTATION_TITLE
    }
    return Descriptor(
        media_type=manifest_descriptor.media_type or MEDIA_TYPE_IMAGE_MANIFEST,
        digest=manifest_descriptor.digest,
        size=manifest_descriptor.size,
        annotations={**kept, ANNOTATION_REF_NAME: tag},
    )


def _document(entries: list[Descriptor], artifact_type: str, stamped: bool) -> tuple[Descriptor, bytes]:
    """Canonical bytes: entries sorted by tag (or shard), so equal contents give equal digests."""
    ordered = sorted(entries, key=_sort_key)
    index = ImageIndex(
        artifact_type=artifact_type,
        manifests=ordered,
        annotations={ANNOTATION_UPDATED: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if stamped
        else None,
    )
    data = index.to_bytes()
    if len(data) > MAX_MANIFEST_SIZE:
        raise IndexTooLarge(
            f"a repository index document of {len(entries)} entries takes {len(data)} bytes, over the "
            f"{MAX_MANIFEST_SIZE} a registry must accept for one manifest",
            hint="list without an index (untag _index); see docs/repository-index.md, Scale",
        )
    return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, data, artifact_type=artifact_type), data


def _sort_key(descriptor: Descriptor) -> str:
    annotations = descriptor.annotations or {}
    return annotations.get(ANNOTATION_REF_NAME) or annotations.get(ANNOTATION_SHARD, "")


def shard_of(tag: str) -> str:
    """The shard a version's entry lives in: the first hex digit of the SHA-256 of its tag."""
    return hashlib.sha256(tag.encode()).hexdigest()[0]


@dataclass(frozen=True)
class EncodedIndex:
    root: tuple[Descriptor, bytes]
    #: the shard documents the root references (none: a flat index holding the entries itself)
    shards: list[tuple[Descriptor, bytes]]


def encode(entries: list[Descriptor]) -> EncodedIndex:
    """One flat document while it stays under ``FLAT_LIMIT``, else a root over 16 shards.

    Shards carry no timestamp, so a shard whose entries did not change keeps its digest and a
    writer pushes only the shards that changed (one, for a publish).
    """
    if len(entries) <= _FLAT_MAX_ENTRIES:
        with contextlib.suppress(IndexTooLarge):  # huge summaries: shards may still hold them
            flat = _document(entries, INDEX_ARTIFACT_TYPE, stamped=True)
            if len(flat[1]) <= FLAT_LIMIT:
                return EncodedIndex(flat, [])
    groups: dict[str, list[Descriptor]] = {f"{n:x}": [] for n in range(SHARDS)}
    for entry in entries:
        groups[shard_of((entry.annotations or {}).get(ANNOTATION_REF_NAME, ""))].append(entry)
    shards = [_document(group, SHARD_ARTIFACT_TYPE, stamped=False) for group in groups.values()]
    pointers = [
        Descriptor(
            media_type=MEDIA_TYPE_IMAGE_INDEX,
            digest=descriptor.digest,
            size=descriptor.size,
            artifact_type=SHARD_ARTIFACT_TYPE,
            annotations={ANNOTATION_SHARD: key},
        )
        for key, (descriptor, _) in zip(groups, shards, strict=True)
    ]
    return EncodedIndex(_document(pointers, INDEX_ARTIFACT_TYPE, stamped=True), shards)


def _entries_of(name: str, index: ImageIndex, into: dict[str, IndexEntry]) -> None:
    for entry in index.manifests:
        tag = (entry.annotations or {}).get(ANNOTATION_REF_NAME)
        if not tag or entry.media_type != MEDIA_TYPE_IMAGE_MANIFEST:
            continue  # not a version entry: ignored, like any annotation we do not know
        summary = summary_of(entry.annotations, name=name, digest=entry.digest)
        into[tag] = IndexEntry(tag, entry, summary)


def _shard_pointers(index: ImageIndex) -> list[Descriptor]:
    return [
        d
        for d in index.manifests
        if d.media_type == MEDIA_TYPE_IMAGE_INDEX and d.artifact_type == SHARD_ARTIFACT_TYPE
    ]


async def _read_shard(
    target: Target, pointer: Descriptor, cache: SmallContentCache | None
) -> ImageIndex | None:
    """A shard by digest (immutable: a cache serves it without a request), verified; None if unusable."""
    data = cache.read_small(pointer) if cache is not None else None
    try:
        if data is None:
            data = await target.fetch_bytes(pointer.short())
            if cache is not None:
                cache.put_small(pointer, data)
        document = parse_manifest(data, MEDIA_TYPE_IMAGE_INDEX)
    except (NotFoundError, InvalidManifest):
        return None  # a shard gone or broken: its versions are read from their tags
    if not isinstance(document, ImageIndex) or document.artifact_type != SHARD_ARTIFACT_TYPE:
        return None
    return document


async def read(target: Target, name: str, cache: SmallContentCache | None = None) -> RepositoryIndex:
    """The repository's index (verified like any manifest), or an empty one when it has none.

    A sharded index costs one more round trip: the root, then every shard together (those the
    ``cache`` holds by digest need no request).
    """
    try:
        descriptor, document, _ = await target.fetch_manifest(INDEX_TAG)
    except NotFoundError:
        return RepositoryIndex(None, {})
    if not isinstance(document, ImageIndex) or document.artifact_type != INDEX_ARTIFACT_TYPE:
        return RepositoryIndex(None, {})  # something else under the tag: as if there were none
    entries: dict[str, IndexEntry] = {}
    _entries_of(name, document, entries)
    pointers = _shard_pointers(document)
    shards = await asyncio.gather(*(_read_shard(target, p, cache) for p in pointers))
    for shard in shards:
        if shard is not None:
            _entries_of(name, shard, entries)
    return RepositoryIndex(descriptor, entries, frozenset(p.digest for p in pointers))


class IndexTooLarge(ConflictError):
    """More versions than one index document (or one shard) can hold."""


async def _write(
    target: Target, entries: list[Descriptor], present: frozenset[str] = frozenset()
) -> Descriptor:
    """Shards first (only those not already referenced), the root last, under ``_index``."""
    encoded = encode(entries)
    await asyncio.gather(
        *(target.push_manifest(d, data) for d, data in encoded.shards if d.digest not in present)
    )
    descriptor, data = encoded.root
    await target.push_manifest(descriptor, data, tag=INDEX_TAG)
    return descriptor


async def record(target: Target, name: str, tag: str, entry: Descriptor | None) -> None:
    """Put (``entry``) or drop (``None``) one version's entry, if the repository has an index.

    Read-modify-write without a lock (registries have no conditional PUT): the writer reads the index
    back and writes again when a concurrent writer's index replaced its change. What still slips
    through is what readers detect (see the module doc).
    """
    for _ in range(WRITE_ATTEMPTS):
        current = await read(target, name)
        if current.descriptor is None:
            return  # not an indexed repository
        kept = [e.raw for t, e in current.entries.items() if t != tag]
        if entry is not None:
            kept.append(entry)
        try:
            await _write(target, kept, current.shards)
        except IndexTooLarge:
            return  # the version is published; readers find it by its tag (no entry: read directly)
        after = await read(target, name)
        present = after.entries.get(tag)
        if entry is None and present is None:
            return
        if entry is not None and present is not None and present.descriptor.digest == entry.digest:
            return
        await asyncio.sleep(0.01)


async def build(target: Target, entries: list[Descriptor]) -> Descriptor:
    """Write an index from scratch (``entries`` from ``entry_for``, one per version tag)."""
    if not entries:
        raise ConflictError("nothing to index: the repository has no versions")
    return await _write(target, entries)
