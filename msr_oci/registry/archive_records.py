"""Archive records (pure format): how an archived revision stays findable, fetchable and restorable.

Archiving takes a revision out of circulation: its version tag goes, and so do the aliases pointing
at it (each removal in its alias log). Two reserved tags keep it, named by the hex digits of the
revision manifest digest:

* ``_archived.<hex>.revision`` points at the revision manifest itself. A tag, because that is what
  every garbage collector keeps: CNCF distribution 2.8's ``--delete-untagged`` deletes an untagged
  manifest even when a tagged index references it (tests/registry/test_archiving.py runs it);
* ``_archived.<hex>``, the archive record: a one-entry OCI image index referencing the revision
  manifest, whose annotations say which version was archived, when, by whom, and which aliases
  were removed then. ``list_archived`` reads these; ``unarchive`` knows which version tag to put
  back from it.

The record's annotations say which version was archived, when, by whom, and which aliases were
removed then (``unarchive`` does not restore aliases: they may have moved on). Any OCI tool reads a
record as an ordinary image index. One record per revision: archiving, publishing the version
again and archiving that too keeps both, each under its own digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from msr_oci.oci import ANNOTATION_CREATED, Descriptor, ImageIndex, ImageManifest
from msr_oci.oci.content import (
    ANNOTATION_AUTHORS,
    ANNOTATION_REF_NAME,
    MEDIA_TYPE_IMAGE_INDEX,
    MEDIA_TYPE_IMAGE_MANIFEST,
)
from msr_oci.registry.refs import RESERVED_TAG_PREFIX
from msr_oci.revision import format_timestamp, version_to_tag

ARCHIVE_TAG_PREFIX: Final = f"{RESERVED_TAG_PREFIX}archived."
ARCHIVE_ARTIFACT_TYPE: Final = "application/vnd.backend.ai.model-serving.archived.v1+json"
_ANN: Final = "ai.backend.model-serving.archived"
ANN_VERSION: Final = f"{_ANN}.version"
ANN_ALIASES: Final = f"{_ANN}.aliases"
#: hex digits of the digest in the tag: 64 keeps the tags within 128 characters for sha512 too
_TAG_HEX: Final = 64
_HOLD_SUFFIX: Final = ".revision"


@dataclass(frozen=True)
class ArchiveRecord:
    """One archived revision: where its record is, what it points at, when and why."""

    tag: str
    #: the record itself (an image index), to delete it
    record: Descriptor
    #: the archived revision manifest
    revision: Descriptor
    version: str
    at: datetime | None
    by: str | None
    #: the aliases archiving removed (not restored by unarchive)
    aliases: list[str]

    @property
    def digest(self) -> str:
        return self.revision.digest

    @property
    def version_tag(self) -> str:
        return version_to_tag(self.version)


def record_tag(digest: str) -> str:
    """The tag of a revision's archive record: ``_archived.<hex>``."""
    return ARCHIVE_TAG_PREFIX + digest.partition(":")[2][:_TAG_HEX]


def hold_tag(digest: str) -> str:
    """The tag that keeps an archived revision's manifest: ``_archived.<hex>.revision``."""
    return record_tag(digest) + _HOLD_SUFFIX


def is_record_tag(tag: str) -> bool:
    return tag.startswith(ARCHIVE_TAG_PREFIX) and "." not in tag[len(ARCHIVE_TAG_PREFIX) :]


def encode_record(
    revision: Descriptor, version: str, *, at: datetime, by: str, aliases: list[str]
) -> tuple[Descriptor, bytes]:
    """The archive record of the revision manifest ``revision`` (pure)."""
    entry = Descriptor(
        media_type=revision.media_type or MEDIA_TYPE_IMAGE_MANIFEST,
        digest=revision.digest,
        size=revision.size,
        annotations={ANNOTATION_REF_NAME: version_to_tag(version)},
    )
    index = ImageIndex(
        artifact_type=ARCHIVE_ARTIFACT_TYPE,
        manifests=[entry],
        annotations={
            ANN_VERSION: version,
            ANN_ALIASES: ",".join(sorted(aliases)),
            ANNOTATION_CREATED: format_timestamp(at),
            ANNOTATION_AUTHORS: by,
        },
    )
    data = index.to_bytes()
    return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, data, artifact_type=ARCHIVE_ARTIFACT_TYPE), data


def decode_record(
    tag: str, descriptor: Descriptor, document: ImageIndex | ImageManifest
) -> ArchiveRecord | None:
    """The record under ``tag``, or ``None`` for anything else there (ignored, like a foreign tag)."""
    if not isinstance(document, ImageIndex) or document.artifact_type != ARCHIVE_ARTIFACT_TYPE:
        return None
    annotations = document.annotations or {}
    version = annotations.get(ANN_VERSION)
    if len(document.manifests) != 1 or not version:
        return None
    revision = document.manifests[0]
    if record_tag(revision.digest) != tag:
        return None  # a record copied under another revision's tag: not this revision's record
    try:
        at = datetime.fromisoformat(annotations.get(ANNOTATION_CREATED, "").replace("Z", "+00:00"))
    except ValueError:
        at = None
    aliases = [a for a in annotations.get(ANN_ALIASES, "").split(",") if a]
    return ArchiveRecord(
        tag=tag,
        record=descriptor,
        revision=revision.short(),
        version=version,
        at=at,
        by=annotations.get(ANNOTATION_AUTHORS),
        aliases=aliases,
    )
