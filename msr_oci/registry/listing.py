"""Listing the revisions of one name: read only what the filter needs, many requests in flight.

Round trips, not bytes, are the cost on a registry far away, so:

1. the tag list and the repository index go together (``repository_index.py``);
2. the alias heads follow (only when the repository has aliases and the filter or output needs them);
3. every version the index does not cover is resolved by its tag, ``LISTING_CONCURRENCY`` at once
   (sized for latency: 32 requests in flight hide a 10 ms round trip behind registry time);
4. the filter runs on each version's summary (manifest annotations) and only matches are loaded
   whole: manifest and config by digest, which the content cache serves without a request once
   they have been read (they are immutable).

The predicate runs again on each whole revision, so a summary never decides what is returned, only
what is skipped. With ``verify``, every tag is resolved (HEAD) and index entries that disagree are
read from their tags, as without an index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from msr_oci.errors import IntegrityError, NotFoundError
from msr_oci.oci import Descriptor, ImageManifest, Target
from msr_oci.registry import repository_index
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.filters import Predicate, compile_filter, could_match
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RepositoryTags, classify_tags
from msr_oci.registry.targets import Targets, both
from msr_oci.revision import ModelServingRevision, check_artifact, version_sort_key
from msr_oci.revision.errors import NotARevision
from msr_oci.revision.summary import RevisionSummary, summary_of

T = TypeVar("T")
SortOrder = Literal["semver", "time"]

#: requests in flight while a listing resolves tags and loads matches
LISTING_CONCURRENCY: Final = 32

_log = logging.getLogger(__name__)


class Listing:
    def __init__(self, targets: Targets, reader: RevisionReader, aliases: AliasStore) -> None:
        self.targets = targets
        self.reader = reader
        self.aliases = aliases

    async def revisions(
        self, filters: Mapping[str, Any] | None, *, sort: SortOrder, reverse: bool, verify: bool
    ) -> list[ModelServingRevision]:
        """The current revision of every version in the namespace that matches ``filters``."""
        predicate = compile_filter(filters)
        names = await self.names(filters)
        per_repository = await asyncio.gather(
            *(self.repository(name, filters, predicate, verify=verify) for name in names)
        )
        revisions = [r for group in per_repository for r in group]
        if sort == "time":
            revisions.sort(
                key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.name), reverse=reverse
            )
        else:
            revisions.sort(key=lambda r: (r.name, version_sort_key(r.version)), reverse=reverse)
        return revisions

    async def names(self, filters: Mapping[str, Any] | None = None) -> list[str]:
        """Revision names in the namespace (one exact ``name`` filter needs no catalog request)."""
        name_filter = (filters or {}).get("name")
        if isinstance(name_filter, str) and not any(ch in name_filter for ch in "*?["):
            return [name_filter]
        repositories = await self.targets.repositories()
        prefix = f"{self.targets.namespace.prefix}/" if self.targets.namespace.prefix else ""
        return sorted(
            r[len(prefix) :] for r in repositories if r.startswith(prefix) and "/" not in r[len(prefix) :]
        )

    async def build_index(self, name: str) -> int:
        """Create (or rebuild) the repository index of ``name`` from its version tags."""
        ref = self.targets.repository_ref(name)
        target = self.targets.target(ref)
        scan = await self.targets.scan(target)
        tags = sorted(scan.versions)

        async def read(tag: str) -> tuple[Descriptor, ImageManifest]:
            return await self.reader.manifest(ref.with_tag(tag))

        manifests = await self.targets.gather((read(tag) for tag in tags), limit=LISTING_CONCURRENCY)
        await repository_index.build(target, index_entries_for(dict(zip(tags, manifests, strict=True))))
        return len(tags)

    async def repository(
        self,
        name: str,
        filters: Mapping[str, Any] | None,
        predicate: Predicate,
        *,
        verify: bool = False,
    ) -> list[ModelServingRevision]:
        """The current revision of every version of ``name`` that matches (aliases attached)."""
        ref = self.targets.repository_ref(name)
        target = self.targets.target(ref)
        tags, index = await both(
            self.targets.tags(target), repository_index.read(target, name, self.reader.cache)
        )
        scan = _classified(name, tags)
        by_digest = await self.aliases.by_digest(target, scan.alias_names) if scan.alias_names else {}
        every_alias = {alias for names in by_digest.values() for alias in names}
        candidates = [t for t, v in scan.versions.items() if could_match(filters, name, v, every_alias)]
        found = await current_versions(self.targets, self.reader, name, candidates, index, verify=verify)

        def aliases_of(digest: str) -> list[str]:
            return sorted(by_digest.get(digest, []))

        def located(summary: RevisionSummary, tag: str, digest: str) -> RevisionSummary:
            return replace(summary, name=name, version=scan.versions[tag], aliases=aliases_of(digest))

        wanted = [
            (tag, descriptor.digest)
            for tag, (descriptor, summary) in found.items()
            if summary is None or predicate(located(summary, tag, descriptor.digest))
        ]
        tags_of: dict[str, list[str]] = {}
        for tag, digest in wanted:
            tags_of.setdefault(digest, []).append(tag)

        async def load(digest: str) -> ModelServingRevision | None:
            """The revision, or ``None`` (reported) when it cannot be read: one unreadable revision
            must not hide every other one of the namespace."""
            try:
                return await self.reader.load(ref.with_digest(digest))
            except NotARevision as exc:  # an index entry behind a tag another tool moved
                _log.debug("%s@%s skipped: %s", name, digest, exc.message)
            except (IntegrityError, NotFoundError) as exc:
                versions = ", ".join(f"{name}:{tag}" for tag in sorted(tags_of[digest]))
                _log.warning("skipped %s (%s): it cannot be read: %s", versions, digest, exc)
            return None

        digests = list(tags_of)
        loaded = await self.targets.gather((load(digest) for digest in digests), limit=LISTING_CONCURRENCY)
        by_digest_loaded = dict(zip(digests, loaded, strict=True))
        # one row per version tag, named where it was found: a copy under another name or version
        # (same digest) is its own row, not a second row of the original
        revisions = [
            revision.model_copy(
                update={"name": name, "version": scan.versions[tag], "aliases": aliases_of(digest)}
            )
            for tag, digest in wanted
            if (revision := by_digest_loaded[digest]) is not None
        ]
        return [r for r in revisions if predicate(r)]


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
    scan = _classified(name, tags)
    found = await current_versions(targets, reader, name, list(scan.versions), read)
    return sorted((scan.versions[tag] for tag in found), key=version_sort_key)


def _classified(name: str, tags: list[str]) -> RepositoryTags:
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
