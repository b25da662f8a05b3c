"""What archiving or deleting would remove, worked out before anything changes (reads only).

``archive``, ``delete_revision`` and ``delete_all_versions`` act on such a plan, and the CLI shows it
(and asks) first: the revision (or every revision of a name, archived ones too), the version tags on
it, and the aliases pointing at it (their removal is recorded in each alias log). A reference must
name a version, an alias or a digest: a bare name never stands for "the latest version" here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msr_oci.errors import InputError, NameUnknown, NotFoundError, Remedy
from msr_oci.oci import Descriptor, Reference, Target
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.archive_records import ArchiveRecord, decode_record, is_record_tag, record_tag
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RepositoryTags, classify_tags
from msr_oci.registry.targets import Targets, both
from msr_oci.revision import version_sort_key, version_to_tag


@dataclass(frozen=True)
class PlannedRevision:
    """One revision that would go: its version, manifest, the tags and aliases on it."""

    version: str
    manifest: Descriptor
    #: version tags pointing at it (none when it is archived, or an earlier revision of its version)
    tags: list[str] = field(default_factory=list)
    #: aliases pointing at it
    aliases: list[str] = field(default_factory=list)
    #: its archive record, when it is archived
    archived: ArchiveRecord | None = None

    @property
    def digest(self) -> str:
        return self.manifest.digest


@dataclass(frozen=True)
class RemovalPlan:
    """What ``archive``/``delete_revision`` (one revision) or ``delete_all_versions`` (every
    revision of ``name``, archived ones too) remove."""

    name: str
    revisions: list[PlannedRevision]
    #: aliases pointing at none of ``revisions`` (at an earlier revision of a version): removed by
    #: ``delete_all_versions`` too
    other_aliases: list[str] = field(default_factory=list)

    @property
    def aliases(self) -> list[str]:
        """Every alias removed (each removal recorded in its log)."""
        return sorted({a for r in self.revisions for a in r.aliases} | set(self.other_aliases))

    @property
    def tags(self) -> list[str]:
        """Every version tag removed."""
        return sorted({t for r in self.revisions for t in r.tags})


@dataclass(frozen=True)
class Planned:
    """A plan and what acting on it needs (not part of the API's answer)."""

    plan: RemovalPlan
    ref: Reference
    target: Target
    scan: RepositoryTags
    tags: list[str]


def require_version(ref: Reference, text: str) -> None:
    """Refuse a bare name: removing "whatever is latest" is never what a destructive command means."""
    if ref.tag is None and ref.digest is None:
        raise InputError(
            f"{text!r} names no version",
            hint="name a version, an alias or a digest (NAME:VERSION, NAME:ALIAS, NAME@DIGEST)",
            where=ref.name,
            remedies=(Remedy.ALL_VERSIONS,),
        )


class RemovalPlanner:
    def __init__(self, targets: Targets, reader: RevisionReader, aliases: AliasStore) -> None:
        self.targets = targets
        self.reader = reader
        self.aliases = aliases

    async def records(self, target: Target, tags: list[str]) -> list[ArchiveRecord]:
        """The archive records among ``tags`` (each read and verified; anything else is skipped)."""

        async def read(tag: str) -> ArchiveRecord | None:
            try:
                descriptor, document, _ = await target.fetch_manifest(tag)
            except NotFoundError:
                return None  # removed since the tag list was read
            return decode_record(tag, descriptor, document)

        found = await self.targets.gather(read(tag) for tag in tags if is_record_tag(tag))
        return [record for record in found if record is not None]

    async def aliases_on(self, target: Target, digest: str, scan: RepositoryTags) -> list[str]:
        """Aliases ``AliasStore.forget`` would remove for ``digest``: those whose log says they point
        there, and those whose tag does."""
        names = sorted(scan.alias_names)
        if not names:
            return []
        heads, tagged = await both(
            self.aliases.heads(target, names), self.targets.pointing_at(target, names, digest)
        )
        by_log = {a for a, e in heads.items() if e.active and e.digest == digest}
        return sorted(by_log | set(tagged))

    async def one(self, revision_id: str) -> Planned:
        """The plan for the one revision ``revision_id`` names (a version, an alias or a digest)."""
        ref = self.targets.locate(revision_id)
        require_version(ref, revision_id)
        target = self.targets.target(ref)
        (descriptor, _), tags = await both(self.reader.manifest(ref), self.targets.tags(target))
        revision = await self.reader.load(ref.with_tag(None).with_digest(descriptor.digest))
        scan = classify_tags(tags)
        own_tag = version_to_tag(revision.version)
        candidates = {t for t in (own_tag, ref.tag) if t is not None and t in scan.versions}
        record_tags = [record_tag(descriptor.digest)] if record_tag(descriptor.digest) in tags else []
        (on_tags, aliases), records = await both(
            both(
                self.targets.pointing_at(target, sorted(candidates), descriptor.digest),
                self.aliases_on(target, descriptor.digest, scan),
            ),
            self.records(target, record_tags),
        )
        planned = PlannedRevision(
            version=revision.version,
            manifest=descriptor,
            tags=on_tags,
            aliases=aliases,
            archived=records[0] if records else None,
        )
        return Planned(RemovalPlan(ref.name, [planned]), ref, target, scan, tags)

    async def every(self, name: str) -> Planned:
        """The plan for every revision of ``name``: each version's, each archived one, every alias."""
        ref = self.targets.repository_ref(name)
        target = self.targets.target(ref)
        tags = await self.targets.tags(target)
        scan = classify_tags(tags)
        version_tags = sorted(scan.versions)

        async def resolve(tag: str) -> Descriptor | None:
            try:
                return await target.resolve(tag)
            except NotFoundError:
                return None  # untagged since the tag list was read

        (resolved, heads), records = await both(
            both(
                self.targets.gather(resolve(t) for t in version_tags),
                self.aliases.heads(target, scan.alias_names),
            ),
            self.records(target, tags),
        )
        on_digest: dict[str, list[str]] = {}
        for alias, entry in sorted(heads.items()):
            if entry.active and entry.digest is not None:
                on_digest.setdefault(entry.digest, []).append(alias)
        by_digest: dict[str, PlannedRevision] = {}
        for tag, descriptor in zip(version_tags, resolved, strict=True):
            if descriptor is None:
                continue
            known = by_digest.get(descriptor.digest)
            tagged = [*known.tags, tag] if known else [tag]
            by_digest[descriptor.digest] = PlannedRevision(
                scan.versions[tag], descriptor, tagged, on_digest.get(descriptor.digest, [])
            )
        for record in records:
            known = by_digest.get(record.digest)
            by_digest[record.digest] = PlannedRevision(
                known.version if known else record.version,
                known.manifest if known else record.revision,
                known.tags if known else [],
                on_digest.get(record.digest, []),
                archived=record,
            )
        other = sorted(a for d, names in on_digest.items() if d not in by_digest for a in names)
        if not by_digest and not other:
            raise NameUnknown(
                f"{name} has no versions, archived revisions or aliases to delete",
                hint="list_names shows the names in the namespace",
            )
        revisions = sorted(
            by_digest.values(), key=lambda p: (p.archived is not None, version_sort_key(p.version))
        )
        return Planned(RemovalPlan(name, revisions, other), ref, target, scan, tags)
