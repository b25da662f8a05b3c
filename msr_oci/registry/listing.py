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
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from msr_oci.errors import InvalidManifest, NotFoundError
from msr_oci.oci import Descriptor, ImageManifest, Target
from msr_oci.registry import repository_index
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.filters import Predicate, compile_filter, could_match
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import classify_tags
from msr_oci.registry.targets import Targets, both
from msr_oci.revision import ModelServingRevision, check_artifact, version_sort_key
from msr_oci.revision.summary import RevisionSummary, summary_of

T = TypeVar("T")
SortOrder = Literal["semver", "time"]

#: requests in flight while a listing resolves tags and loads matches
LISTING_CONCURRENCY: Final = 32


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
        scan = classify_tags(tags)
        by_digest = await self.aliases.by_digest(target, scan.alias_names) if scan.alias_names else {}
        every_alias = {alias for names in by_digest.values() for alias in names}
        candidates = [t for t, v in scan.versions.items() if could_match(filters, name, v, every_alias)]

        async def gather(jobs: Iterable[Awaitable[T]]) -> list[T]:
            return await self.targets.gather(jobs, limit=LISTING_CONCURRENCY)

        # each candidate's manifest descriptor and summary: from the index, else from its tag
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
        for tag, read in zip(
            missing, await gather(self._by_tag(target, name, tag) for tag in missing), strict=True
        ):
            if read is not None:
                found[tag] = read

        def aliases_of(digest: str) -> list[str]:
            return sorted(by_digest.get(digest, []))

        def located(summary: RevisionSummary, tag: str, digest: str) -> RevisionSummary:
            return replace(summary, name=name, version=scan.versions[tag], aliases=aliases_of(digest))

        wanted = [
            (tag, descriptor.digest)
            for tag, (descriptor, summary) in found.items()
            if summary is None or predicate(located(summary, tag, descriptor.digest))
        ]
        digests = list(dict.fromkeys(digest for _, digest in wanted))
        loaded = await gather(self.reader.load(ref.with_digest(digest)) for digest in digests)
        by_digest_loaded = dict(zip(digests, loaded, strict=True))
        # one row per version tag, named where it was found: a copy under another name or version
        # (same digest) is its own row, not a second row of the original
        revisions = [
            by_digest_loaded[digest].model_copy(
                update={"name": name, "version": scan.versions[tag], "aliases": aliases_of(digest)}
            )
            for tag, digest in wanted
        ]
        return [r for r in revisions if predicate(r)]

    async def _by_tag(
        self, target: Target, name: str, tag: str
    ) -> tuple[Descriptor, RevisionSummary | None] | None:
        """A version the index does not cover: its manifest by tag (kept in the cache by digest)."""
        try:
            descriptor, manifest, data = await target.fetch_manifest(tag)
        except NotFoundError:
            return None  # untagged since the tag list was read
        if not isinstance(manifest, ImageManifest):
            raise InvalidManifest(f"{name}:{tag} is an image index, not a model serving revision")
        check_artifact(manifest)
        self.reader.cache.put_small(descriptor, data)
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
