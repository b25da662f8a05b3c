"""Which version tags of a name are versions, and where each one's manifest and summary come from.

A version is a tag that spells a version and names a revision manifest (other tools' tags, images
and indexes under version-like tags are not). Each is read from the repository index where the
index has it (with ``verify``, only where the tag still points there), else from its tag, which puts
the manifest in the content cache by digest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import Final, TypeVar

from msr_oci.errors import IntegrityError, NotFoundError
from msr_oci.oci import Descriptor, ImageManifest, Target
from msr_oci.registry import repository_index
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RepositoryTags, classify_tags
from msr_oci.registry.targets import Targets, both
from msr_oci.revision import check_artifact, version_sort_key
from msr_oci.revision.errors import NotARevision
from msr_oci.revision.summary import RevisionSummary, summary_of

T = TypeVar("T")

#: requests in flight while a listing resolves tags and loads matches (sized for latency: 32
#: requests in flight hide a 10 ms round trip behind registry time)
LISTING_CONCURRENCY: Final = 32

_log = logging.getLogger(__name__)


async def versions_of(
    targets: Targets, reader: RevisionReader, name: str, tags: list[str] | None = None
) -> list[str]:
    """The versions of ``name``: version tags pointing at revision manifests, in semver order
    (``tags``: the repository's tags when already read)."""
    target = targets.target(targets.repository_ref(name))
    index = repository_index.read(target, name, reader.cache)
    if tags is None:
        tags, read = await both(targets.tags(target), index)
    else:
        read = await index
    assert tags is not None
    scan = classified(name, tags)
    found = await current_versions(targets, reader, name, list(scan.versions), read)
    return sorted((scan.versions[tag] for tag in found), key=version_sort_key)


def classified(name: str, tags: list[str]) -> RepositoryTags:
    scan = classify_tags(tags)
    for tag in scan.foreign:
        _log.debug("%s:%s skipped: not a version tag (another tool's tag)", name, tag)
    return scan


async def current_versions(
    targets: Targets,
    reader: RevisionReader,
    name: str,
    candidates: list[str],
    index: repository_index.RepositoryIndex,
    *,
    verify: bool = False,
) -> dict[str, tuple[Descriptor, RevisionSummary | None]]:
    """Each candidate version tag that points at a revision manifest: its descriptor and summary.

    From the index where it has the tag (with ``verify``: only where the tag still points there),
    else from the manifest the tag names. A tag naming anything else (an image index, another
    tool's artifact) is no version: it is left out and logged at debug level.
    """
    target = targets.target(targets.repository_ref(name))

    async def gather(jobs: Iterable[Awaitable[T]]) -> list[T]:
        return await targets.gather(jobs, limit=LISTING_CONCURRENCY)

    found: dict[str, tuple[Descriptor, RevisionSummary | None]] = {
        tag: (index.entries[tag].descriptor, index.entries[tag].summary)
        for tag in candidates
        if tag in index.entries
    }
    if verify and found:
        resolved = await gather(_resolve(target, tag) for tag in found)
        for tag, descriptor in zip(list(found), resolved, strict=True):
            if descriptor is None or descriptor.digest != found[tag][0].digest:
                del found[tag]  # the index is behind this tag: read the tag itself
    missing = [tag for tag in candidates if tag not in found]
    reads = await gather(_by_tag(reader, target, name, tag) for tag in missing)
    for tag, read in zip(missing, reads, strict=True):
        if read is not None:
            found[tag] = read
    return found


async def _by_tag(
    reader: RevisionReader, target: Target, name: str, tag: str
) -> tuple[Descriptor, RevisionSummary | None] | None:
    """A version the index does not cover: its manifest by tag (kept in the cache by digest), or
    ``None`` when the tag is gone or names something other than a revision."""
    try:
        descriptor, manifest, data = await target.fetch_manifest(tag)
    except NotFoundError:
        return None  # untagged since the tag list was read
    except IntegrityError as exc:  # too large, malformed, or not what the registry said it was
        _log.warning("skipped %s:%s: its manifest cannot be read: %s", name, tag, exc)
        return None
    try:
        check_artifact(manifest)
    except NotARevision as exc:
        _log.debug("%s:%s skipped: %s", name, tag, exc.message)
        return None
    assert isinstance(manifest, ImageManifest)
    reader.cache.put_small(descriptor, data)
    return descriptor, summary_of(manifest.annotations, name=name, digest=descriptor.digest)


async def _resolve(target: Target, tag: str) -> Descriptor | None:
    try:
        return await target.resolve(tag)
    except NotFoundError:
        return None  # untagged since the tag list was read


def index_entries_for(tags: dict[str, tuple[Descriptor, ImageManifest]]) -> list[Descriptor]:
    """Index entries for versions read from their tags (``build_index``)."""
    return [
        repository_index.entry_for(tag, descriptor, manifest.annotations)
        for tag, (descriptor, manifest) in tags.items()
    ]
