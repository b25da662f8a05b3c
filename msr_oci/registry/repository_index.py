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
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from msr_oci.errors import ConflictError, NotFoundError
from msr_oci.oci import Descriptor, ImageIndex, Target
from msr_oci.oci.content import (
    ANNOTATION_REF_NAME,
    ANNOTATION_TITLE,
    MAX_MANIFEST_SIZE,
    MEDIA_TYPE_IMAGE_INDEX,
    MEDIA_TYPE_IMAGE_MANIFEST,
)
from msr_oci.revision.summary import SUMMARY_ANNOTATIONS, RevisionSummary, summary_of

INDEX_TAG: Final = "_index"
INDEX_ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.repository-index.v1+json"
ANNOTATION_UPDATED: Final = "ai.backend.model-serving.index.updated"
#: a publisher reads the index back after writing it and writes again this often if its entry is gone
WRITE_ATTEMPTS: Final = 3


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


def encode(entries: list[Descriptor]) -> tuple[Descriptor, bytes]:
    """Canonical bytes: entries sorted by tag, so equal contents give equal digests."""
    ordered = sorted(entries, key=lambda d: (d.annotations or {}).get(ANNOTATION_REF_NAME, ""))
    index = ImageIndex(
        artifact_type=INDEX_ARTIFACT_TYPE,
        manifests=ordered,
        annotations={ANNOTATION_UPDATED: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    data = index.to_bytes()
    return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, data, artifact_type=INDEX_ARTIFACT_TYPE), data


def _decode(name: str, descriptor: Descriptor, index: ImageIndex) -> RepositoryIndex:
    entries: dict[str, IndexEntry] = {}
    for entry in index.manifests:
        tag = (entry.annotations or {}).get(ANNOTATION_REF_NAME)
        if not tag or entry.media_type != MEDIA_TYPE_IMAGE_MANIFEST:
            continue  # not a version entry: ignored, like any annotation we do not know
        summary = summary_of(entry.annotations, name=name, digest=entry.digest)
        entries[tag] = IndexEntry(tag, entry, summary)
    return RepositoryIndex(descriptor, entries)


async def read(target: Target, name: str) -> RepositoryIndex:
    """The repository's index (verified like any manifest), or an empty one when it has none."""
    try:
        descriptor, document, _ = await target.fetch_manifest(INDEX_TAG)
    except NotFoundError:
        return RepositoryIndex(None, {})
    if not isinstance(document, ImageIndex) or document.artifact_type != INDEX_ARTIFACT_TYPE:
        return RepositoryIndex(None, {})  # something else under the tag: as if there were none
    return _decode(name, descriptor, document)


class IndexTooLarge(ConflictError):
    """More versions than one index document can hold (shards are designed, not built)."""


async def _write(target: Target, entries: list[Descriptor]) -> Descriptor:
    descriptor, data = encode(entries)
    if len(data) > MAX_MANIFEST_SIZE:
        raise IndexTooLarge(
            f"a repository index of {len(entries)} versions takes {len(data)} bytes, over the "
            f"{MAX_MANIFEST_SIZE} a registry must accept for one manifest",
            hint="list without an index (untag _index); see docs/repository-index.md, Scale",
        )
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
            await _write(target, kept)
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
