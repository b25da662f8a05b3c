"""Archive, unarchive and list archived revisions (the record format: archive_records.py).

``archive`` first checks that the store can delete (untagging needs it on most registries), then
tags the revision to keep it and writes the archive record, then takes the aliases with it
(``AliasStore.forget``: each removal in its log) and untags the version, dropping its repository
index entry. A crash part way leaves the record and some tags: the revision is then both listed
and archived, and archiving it again finishes the job. ``unarchive`` tags the version again
(refusing when the version now holds other content), restores its index entry and removes the
record and the keeping tag; aliases are not restored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from msr_oci.errors import ConflictError, NotFoundError, Remedy
from msr_oci.oci import Reference, Target
from msr_oci.registry import repository_index
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.archive_records import ArchiveRecord, encode_record, hold_tag, record_tag
from msr_oci.registry.authorship import default_user, now
from msr_oci.registry.filters import compile_filter
from msr_oci.registry.listing import LISTING_CONCURRENCY, Listing
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.removal import RemovalPlan, RemovalPlanner, require_version
from msr_oci.registry.revisions import VersionExists
from msr_oci.registry.targets import Targets
from msr_oci.revision import ModelServingRevision, version_sort_key


@dataclass(frozen=True)
class ArchivedRevision:
    """An archived revision and its archive record (when, by whom, which aliases went)."""

    revision: ModelServingRevision
    record: ArchiveRecord


class Archiving:
    def __init__(
        self,
        targets: Targets,
        reader: RevisionReader,
        aliases: AliasStore,
        planner: RemovalPlanner,
        listing: Listing,
    ) -> None:
        self.targets = targets
        self.reader = reader
        self.aliases = aliases
        self.planner = planner
        self.listing = listing

    async def plan(self, revision_id: str) -> RemovalPlan:
        return (await self.planner.one(revision_id)).plan

    async def archive(self, revision_id: str, *, by: str | None = None) -> list[str]:
        planned = await self.planner.one(revision_id)
        revision = planned.plan.revisions[0]
        target = planned.target
        if revision.archived is not None and not revision.tags and not revision.aliases:
            return []  # archived already
        await target.check_deletable()  # untagging deletes: refuse (exit 8) before anything changes
        kept_aliases = set(revision.archived.aliases) if revision.archived is not None else set()
        descriptor, data = encode_record(
            revision.manifest,
            revision.version,
            at=now(),
            by=by or default_user(),
            aliases=sorted(kept_aliases | set(revision.aliases)),
        )
        # the hold, then the record: from here on the revision is kept (and listed as archived)
        await target.tag(revision.manifest, hold_tag(revision.digest))
        await target.push_manifest(descriptor, data, tag=record_tag(revision.digest))
        removed_aliases = await self.aliases.forget(target, revision.digest, planned.scan, by=by)
        for tag in revision.tags:
            await target.untag(tag)
        for tag in revision.tags:  # stale entries are ignored by readers anyway (the tag list is the truth)
            await repository_index.record(target, planned.ref.name, tag, None)
        return revision.tags + removed_aliases

    async def unarchive(self, revision_id: str) -> str:
        ref = self.targets.locate(revision_id)
        require_version(ref, revision_id)
        target = self.targets.target(ref)
        tags = await self.targets.tags(target)
        record = _the_record(ref, await self.planner.records(target, tags))
        await target.check_deletable()  # removing the record deletes: refuse before the tag moves
        if record.version_tag in tags:
            current = await target.resolve(record.version_tag)
            if current.digest != record.digest:
                raise VersionExists(
                    f"{ref.name} version {record.version} holds other content now ({current.digest}); "
                    f"the archived revision is {record.digest}",
                    hint="archive or delete the current one first, or copy the archived revision (by "
                    "its digest) to a new version",
                )
        await target.tag(record.revision, record.version_tag)
        if repository_index.INDEX_TAG in tags:
            descriptor, manifest = await self.reader.manifest_by_digest(target, record.digest)
            entry = repository_index.entry_for(record.version_tag, descriptor, manifest.annotations)
            await repository_index.record(target, ref.name, record.version_tag, entry)
        await target.untag(record.tag)
        with contextlib.suppress(NotFoundError):  # (gone already: an interrupted unarchive)
            await target.untag(hold_tag(record.digest))
        return self.targets.revision_id(ref, record.digest)

    async def archived(self, filters: Mapping[str, Any] | None) -> list[ArchivedRevision]:
        predicate = compile_filter(filters)
        found: list[ArchivedRevision] = []
        for name in await self.listing.names(filters):
            ref = self.targets.repository_ref(name)
            target = self.targets.target(ref)
            tags = await self.targets.tags(target)
            records = [
                r for r in await self.planner.records(target, tags) if await _still_archived(target, r, tags)
            ]
            loaded = await self.targets.gather(
                (self._load(ref, record) for record in records), limit=LISTING_CONCURRENCY
            )
            found += [
                ArchivedRevision(revision, record)
                for revision, record in zip(loaded, records, strict=True)
                if revision is not None and predicate(revision)
            ]
        found.sort(key=lambda a: (a.revision.name, version_sort_key(a.revision.version), a.record.digest))
        return found

    async def _load(self, ref: Reference, record: ArchiveRecord) -> ModelServingRevision | None:
        try:
            return await self.reader.load(ref.with_digest(record.digest))
        except NotFoundError:
            return None  # a record left by an interrupted delete: its revision is gone


async def _still_archived(target: Target, record: ArchiveRecord, tags: list[str]) -> bool:
    """False for a record whose version tag points at its revision again (an interrupted unarchive)."""
    if record.version_tag not in tags:
        return True
    try:
        return (await target.resolve(record.version_tag)).digest != record.digest
    except NotFoundError:
        return True


def _the_record(ref: Reference, records: list[ArchiveRecord]) -> ArchiveRecord:
    """The one archive record ``ref`` (``NAME:VERSION`` or ``NAME@DIGEST``) names."""
    if ref.digest:
        matching = [r for r in records if r.digest == ref.digest]
        what = ref.digest
    else:
        matching = [r for r in records if r.version_tag == ref.tag]
        what = f"version {ref.tag}"
    if not matching:
        archived = ", ".join(sorted({r.version for r in records}, key=version_sort_key)) or "none"
        raise NotFoundError(
            f"{ref.name} has no archived revision {what} (archived versions: {archived})",
            remedies=(Remedy.LIST_ARCHIVED,),
        )
    if len(matching) > 1:
        digests = ", ".join(r.digest for r in matching)
        raise ConflictError(
            f"{ref.name} {what} was archived more than once: {digests}",
            hint="unarchive one by its digest: NAME@sha256:...",
        )
    return matching[0]
