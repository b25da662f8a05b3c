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

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

from msr_oci.oci import Descriptor, ImageManifest, Target
from msr_oci.oci.errors import InvalidManifest, NotFoundError
from msr_oci.registry import repository_index
from msr_oci.registry.filters import Predicate, could_match
from msr_oci.revision import ModelServingRevision, check_artifact
from msr_oci.revision.summary import RevisionSummary, summary_of

if TYPE_CHECKING:
    from msr_oci.registry.async_registry import AsyncRemoteRegistry

T = TypeVar("T")

#: requests in flight while a listing resolves tags and loads matches
LISTING_CONCURRENCY: Final = 32


async def list_repository(
    registry: AsyncRemoteRegistry,
    name: str,
    filters: Mapping[str, Any] | None,
    predicate: Predicate,
    *,
    verify: bool = False,
) -> list[ModelServingRevision]:
    """The current revision of every version of ``name`` that matches (aliases attached)."""
    from msr_oci.registry.async_registry import _both, _classify_tags

    ref = registry._repository_ref(name)
    target = registry.target(ref)
    tags, index = await _both(registry._tags(target), repository_index.read(target, name))
    scan = _classify_tags(tags)
    by_digest = await registry._aliases_by_digest(target, scan.alias_names) if scan.alias_names else {}
    every_alias = {alias for names in by_digest.values() for alias in names}
    candidates = [t for t, v in scan.versions.items() if could_match(filters, name, v, every_alias)]

    async def gather(jobs: Iterable[Awaitable[T]]) -> list[T]:
        return await registry._gather(jobs, limit=LISTING_CONCURRENCY)

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
        missing, await gather(_by_tag(registry, target, name, tag) for tag in missing), strict=True
    ):
        if read is not None:
            found[tag] = read

    def aliases_of(digest: str) -> list[str]:
        return sorted(by_digest.get(digest, []))

    wanted = [
        (tag, descriptor.digest)
        for tag, (descriptor, summary) in found.items()
        if summary is None
        or predicate(
            replace(summary, name=name, version=scan.versions[tag], aliases=aliases_of(descriptor.digest))
        )
    ]
    digests = list(dict.fromkeys(digest for _, digest in wanted))
    loaded = dict(
        zip(digests, await gather(registry._load(ref.with_digest(d)) for d in digests), strict=True)
    )
    # one row per version tag, named where it was found: a copy under another name or version
    # (same digest) is its own row, not a second row of the original
    revisions = [
        loaded[digest].model_copy(
            update={"name": name, "version": scan.versions[tag], "aliases": aliases_of(digest)}
        )
        for tag, digest in wanted
    ]
    return [r for r in revisions if predicate(r)]


async def _resolve(target: Target, tag: str) -> Descriptor | None:
    try:
        return await target.resolve(tag)
    except NotFoundError:
        return None  # untagged since the tag list was read


async def _by_tag(
    registry: AsyncRemoteRegistry, target: Target, name: str, tag: str
) -> tuple[Descriptor, RevisionSummary | None] | None:
    """A version the index does not cover: its manifest by tag (kept in the cache by digest)."""
    try:
        descriptor, manifest, data = await target.fetch_manifest(tag)
    except NotFoundError:
        return None  # untagged since the tag list was read
    if not isinstance(manifest, ImageManifest):
        raise InvalidManifest(f"{name}:{tag} is an image index, not a model serving revision")
    check_artifact(manifest)
    registry.cache.put_small(descriptor, data)
    return descriptor, summary_of(manifest.annotations, name=name, digest=descriptor.digest)


def index_entries_for(tags: dict[str, tuple[Descriptor, ImageManifest]]) -> list[Descriptor]:
    """Index entries for versions read from their tags (``build_index``)."""
    return [
        repository_index.entry_for(tag, descriptor, manifest.annotations)
        for tag, (descriptor, manifest) in tags.items()
    ]
