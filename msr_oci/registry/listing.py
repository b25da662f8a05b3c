"""Listing the revisions of one name: read only what the filter needs, many requests in flight.

Round trips, not bytes, are the cost on a registry far away, so:

1. the tag list and the repository index go together (``repository_index.py``);
2. the alias heads follow (only when the repository has aliases and the filter or output needs them);
3. every version the index does not cover is resolved by its tag, ``LISTING_CONCURRENCY`` at once
   (``current_versions.py``);
4. the filter runs on each version's summary (manifest annotations) and only matches are loaded
   whole: manifest and config by digest, which the content cache serves without a request once
   they have been read (they are immutable).

The predicate runs again on each whole revision, so a summary never decides what ``revisions``
returns, only what is skipped. ``summaries`` stops at step 4: the summaries are what it returns (as
the manifests' annotations say; the publisher wrote them from the same record as the config, and
the index's copies are checked against the tags with ``verify``); only a revision whose manifest
carries no summary (format v1) is loaded whole. With ``verify``, every tag is resolved (HEAD) and
index entries that disagree are read from their tags, as without an index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from msr_oci.errors import IntegrityError, NotFoundError
from msr_oci.oci import Descriptor, ImageManifest, Reference
from msr_oci.registry import repository_index
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.current_versions import (
    LISTING_CONCURRENCY,
    classified,
    current_versions,
    index_entries_for,
)
from msr_oci.registry.filters import Predicate, compile_filter, could_match
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.targets import Targets, both
from msr_oci.revision import ModelServingRevision, version_sort_key
from msr_oci.revision.errors import NotARevision
from msr_oci.revision.summary import RevisionSummary, revision_summary

T = TypeVar("T")
RowT = TypeVar("RowT", ModelServingRevision, RevisionSummary)
SortOrder = Literal["semver", "time"]

_log = logging.getLogger(__name__)


class Listing:
    def __init__(self, targets: Targets, reader: RevisionReader, aliases: AliasStore) -> None:
        self.targets = targets
        self.reader = reader
        self.aliases = aliases

    async def summaries(
        self, filters: Mapping[str, Any] | None, *, sort: SortOrder, reverse: bool, verify: bool
    ) -> list[RevisionSummary]:
        """What ``revisions`` returns, as summaries: read from the repository index or the manifests
        (their annotations), a config only for a revision whose manifest carries no summary."""
        return await self._every_name(self.repository_summaries, filters, sort, reverse, verify)

    async def revisions(
        self, filters: Mapping[str, Any] | None, *, sort: SortOrder, reverse: bool, verify: bool
    ) -> list[ModelServingRevision]:
        """The current revision of every version in the namespace that matches ``filters``."""
        return await self._every_name(self.repository, filters, sort, reverse, verify)

    async def _every_name(
        self,
        per_name: Callable[..., Awaitable[list[RowT]]],
        filters: Mapping[str, Any] | None,
        sort: SortOrder,
        reverse: bool,
        verify: bool,
    ) -> list[RowT]:
        predicate = compile_filter(filters)
        names = await self.names(filters)
        groups = await asyncio.gather(*(per_name(n, filters, predicate, verify=verify) for n in names))
        return _sorted([row for group in groups for row in group], sort, reverse)

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

    async def _candidates(
        self, name: str, filters: Mapping[str, Any] | None, predicate: Predicate, *, verify: bool
    ) -> _Candidates:
        """The versions of ``name`` that may match: those whose summary matches, and those without
        a summary (their config decides), each with its digest and aliases attached."""
        ref = self.targets.repository_ref(name)
        target = self.targets.target(ref)
        tags, index = await both(
            self.targets.tags(target), repository_index.read(target, name, self.reader.cache)
        )
        scan = classified(name, tags)
        by_digest = await self.aliases.by_digest(target, scan.alias_names) if scan.alias_names else {}
        every_alias = {alias for names in by_digest.values() for alias in names}
        candidates = [t for t, v in scan.versions.items() if could_match(filters, name, v, every_alias)]
        found = await current_versions(self.targets, self.reader, name, candidates, index, verify=verify)
        rows: list[_Row] = []
        for tag, (descriptor, summary) in found.items():
            digest = descriptor.digest
            aliases = sorted(by_digest.get(digest, []))
            version = scan.versions[tag]
            if summary is not None:
                # named where it was found: a copy under another name or version is its own row
                summary = replace(summary, name=name, version=version, aliases=aliases)
                if not predicate(summary):
                    continue
            rows.append(_Row(tag, version, digest, aliases, summary))
        return _Candidates(ref, rows)

    async def _load_all(self, name: str, candidates: _Candidates) -> dict[str, ModelServingRevision]:
        """The revisions of ``candidates`` by digest, leaving out (and reporting) what cannot be
        read: one unreadable revision must not hide every other one of the namespace."""
        tags_of: dict[str, list[str]] = {}
        for row in candidates.rows:
            tags_of.setdefault(row.digest, []).append(row.tag)

        async def load(digest: str) -> ModelServingRevision | None:
            try:
                return await self.reader.load(candidates.ref.with_digest(digest))
            except NotARevision as exc:  # an index entry behind a tag another tool moved
                _log.debug("%s@%s skipped: %s", name, digest, exc.message)
            except (IntegrityError, NotFoundError) as exc:
                versions = ", ".join(f"{name}:{tag}" for tag in sorted(tags_of[digest]))
                _log.warning("skipped %s (%s): it cannot be read: %s", versions, digest, exc)
            return None

        digests = list(tags_of)
        loaded = await self.targets.gather((load(digest) for digest in digests), limit=LISTING_CONCURRENCY)
        return {digest: r for digest, r in zip(digests, loaded, strict=True) if r is not None}

    async def repository(
        self,
        name: str,
        filters: Mapping[str, Any] | None,
        predicate: Predicate,
        *,
        verify: bool = False,
    ) -> list[ModelServingRevision]:
        """The current revision of every version of ``name`` that matches (aliases attached).

        The predicate runs again on each whole revision: a summary decides only what is skipped."""
        candidates = await self._candidates(name, filters, predicate, verify=verify)
        loaded = await self._load_all(name, candidates)
        revisions = [
            revision.model_copy(update={"name": name, "version": row.version, "aliases": row.aliases})
            for row in candidates.rows
            if (revision := loaded.get(row.digest)) is not None
        ]
        return [r for r in revisions if predicate(r)]

    async def repository_summaries(
        self,
        name: str,
        filters: Mapping[str, Any] | None,
        predicate: Predicate,
        *,
        verify: bool = False,
    ) -> list[RevisionSummary]:
        """The summary of every version of ``name`` that matches; only versions whose manifest
        carries no summary (format v1) are loaded whole."""
        candidates = await self._candidates(name, filters, predicate, verify=verify)
        unsummarised = _Candidates(candidates.ref, [r for r in candidates.rows if r.summary is None])
        loaded = await self._load_all(name, unsummarised) if unsummarised.rows else {}
        summaries: list[RevisionSummary] = []
        for row in candidates.rows:
            summary = row.summary
            if summary is None:
                if (revision := loaded.get(row.digest)) is None:
                    continue
                summary = revision_summary(
                    revision, name=name, version=row.version, digest=row.digest, aliases=row.aliases
                )
                if not predicate(summary):
                    continue
            summaries.append(summary)
        return summaries


@dataclass(frozen=True)
class _Row:
    """A version that may match: its tag, digest and aliases, and its summary when it has one."""

    tag: str
    version: str
    digest: str
    aliases: list[str]
    summary: RevisionSummary | None


@dataclass(frozen=True)
class _Candidates:
    ref: Reference
    rows: list[_Row]


def _sorted(rows: list[RowT], sort: SortOrder, reverse: bool) -> list[RowT]:
    if sort == "time":
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: (r.created_at or oldest, r.name), reverse=reverse)
    return sorted(rows, key=lambda r: (r.name, version_sort_key(r.version)), reverse=reverse)
