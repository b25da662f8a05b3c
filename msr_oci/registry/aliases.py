"""``AliasStore``: the one writer of alias tags and the alias log (format: alias_log.py).

An alias is a tag plus a log. Every change goes through ``_move``, which appends the log entry
first and then moves or removes the tag, so the two never disagree for longer than a crash between
them (and then the log is one entry ahead, never behind). ``forget`` is how archiving and deleting a
revision take the aliases pointing at it with them, recorded in the log as removals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from msr_oci.errors import ConflictError, NotFoundError, Remedy
from msr_oci.oci import EMPTY_DESCRIPTOR, Descriptor, ImageManifest, Target, parse_manifest
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.registry import alias_log
from msr_oci.registry.alias_log import (
    ACTION_REMOVE,
    ACTION_ROLLBACK,
    ACTION_SET,
    AliasEntry,
    InvalidAlias,
    validate_alias,
)
from msr_oci.registry.authorship import default_user
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RepositoryTags
from msr_oci.registry.targets import Targets
from msr_oci.revision import version_to_tag

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice, RevisionGovernance

__all__ = [
    "ACTION_REMOVE",
    "ACTION_ROLLBACK",
    "ACTION_SET",
    "AliasEntry",
    "AliasStore",
    "InvalidAlias",
    "NoEarlierVersion",
    "validate_alias",
]

_HISTORY_LIMIT = 10_000


class NoEarlierVersion(ConflictError):
    pass


class AliasStore:
    def __init__(
        self, targets: Targets, reader: RevisionReader, governance: Callable[[], RevisionGovernance]
    ) -> None:
        self.targets = targets
        self.reader = reader
        self._governance = governance

    # ---- reading ------------------------------------------------------------------------------------

    async def heads(self, target: Target, alias_names: Iterable[str]) -> dict[str, AliasEntry]:
        """The newest log entry of each alias (active or removed)."""

        async def head(alias: str) -> AliasEntry | None:
            try:
                descriptor, manifest, _ = await target.fetch_manifest(alias_log.log_tag(alias))
            except NotFoundError:
                return None
            if not isinstance(manifest, ImageManifest):
                return None
            return alias_log.decode_entry(manifest, descriptor.digest)

        names = sorted(alias_names)
        entries = await self.targets.gather(head(name) for name in names)
        return {name: entry for name, entry in zip(names, entries, strict=True) if entry is not None}

    async def by_digest(self, target: Target, alias_names: Iterable[str]) -> dict[str, list[str]]:
        """Active aliases grouped by the digest each points at."""
        grouped: dict[str, list[str]] = {}
        for alias, entry in (await self.heads(target, alias_names)).items():
            if entry.active and entry.digest:
                grouped.setdefault(entry.digest, []).append(alias)
        return grouped

    async def active(self, name: str) -> dict[str, AliasEntry]:
        """Active aliases of ``name`` and what each points at."""
        target = self.targets.target(self.targets.repository_ref(name))
        scan = await self.targets.scan(target)
        heads = await self.heads(target, scan.alias_names)
        return {alias: entry for alias, entry in heads.items() if entry.active}

    async def history(self, name: str, alias: str) -> list[AliasEntry]:
        """Every move of ``alias``, newest first."""
        validate_alias(alias)
        target = self.targets.target(self.targets.repository_ref(name))
        heads = await self.heads(target, [alias])
        if alias not in heads:
            raise NotFoundError(f"{name} has no alias {alias!r}")
        entries = [heads[alias]]
        while entries[-1].previous and len(entries) < _HISTORY_LIMIT:
            digest = entries[-1].previous
            _, manifest = await self.reader.manifest_by_digest(target, digest)
            entries.append(alias_log.decode_entry(manifest, digest))
        return entries

    # ---- writing (the only place that does) ---------------------------------------------------------

    async def set(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        by: str | None = None,
        action: str = ACTION_SET,
        policy: PolicyChoice | None = None,
    ) -> AliasEntry:
        """Point ``alias`` at a version (or ``@sha256:...`` digest) of ``name``, recording the move."""
        validate_alias(alias)
        ref = self.targets.repository_ref(name)
        target = self.targets.target(ref)
        scan = await self.targets.scan(target)
        if alias in scan.versions:
            raise ConflictError(
                f"{name}: {alias!r} is a version, not an alias", hint="choose another alias name"
            )
        located = (
            ref.with_digest(version[1:]) if version.startswith("@") else ref.with_tag(version_to_tag(version))
        )
        descriptor, manifest = await self.reader.manifest(located)
        if policy is not None:
            await self._governance().check_alias_move(located, descriptor, manifest, alias, policy)
        revision = await self.reader.load(located.with_tag(None).with_digest(descriptor.digest))
        return await self._move(target, alias, descriptor, revision.version, action, by)

    async def remove(self, name: str, alias: str, *, by: str | None = None) -> AliasEntry:
        validate_alias(alias)
        target = self.targets.target(self.targets.repository_ref(name))
        heads = await self.heads(target, [alias])
        if alias not in heads or not heads[alias].active:
            raise NotFoundError(f"{name} has no alias {alias!r}")
        await target.check_deletable()  # untagging deletes: refuse before the log says "removed"
        return await self._move(target, alias, None, None, ACTION_REMOVE, by)

    async def rollback(
        self,
        name: str,
        alias: str,
        to_version: str | None = None,
        *,
        by: str | None = None,
        policy: PolicyChoice | None = None,
    ) -> AliasEntry:
        """Move ``alias`` back to the version it held before (or to ``to_version``)."""
        if to_version is not None:
            return await self.set(name, alias, to_version, by=by, action=ACTION_ROLLBACK, policy=policy)
        entries = await self.history(name, alias)
        current = entries[0]
        for entry in entries[1:]:
            if entry.active and entry.digest != current.digest and entry.digest is not None:
                return await self.set(
                    name, alias, "@" + entry.digest, by=by, action=ACTION_ROLLBACK, policy=policy
                )
        raise NoEarlierVersion(
            f"{name}: alias {alias!r} has held no other version",
            what="alias",
            where=f"{name}:{alias}",
            remedies=(Remedy.TO_VERSION,),
        )

    async def forget(
        self, target: Target, digest: str, scan: RepositoryTags, *, by: str | None = None
    ) -> list[str]:
        """Remove every alias of the repository (``scan``: its tags) that points at ``digest``, each
        removal logged.

        Used before a revision is archived or deleted, so no alias outlives what it points at. An
        alias whose tag points here but whose log already says otherwise (a tag moved by another
        tool, or a crash between log and tag) loses its tag too. Returns the aliases removed, sorted.
        """
        names = sorted(scan.alias_names)
        if not names:
            return []
        heads = await self.heads(target, names)
        tagged = set(await self.targets.pointing_at(target, names, digest))
        removed: list[str] = []
        for alias in names:
            head = heads.get(alias)
            if head is not None and head.active and head.digest == digest:
                await self._move(target, alias, None, None, ACTION_REMOVE, by)
            elif alias in tagged:
                await target.untag(alias)
            else:
                continue
            removed.append(alias)
        return removed

    async def _move(
        self,
        target: Target,
        alias: str,
        descriptor: Descriptor | None,
        version: str | None,
        action: str,
        by: str | None,
    ) -> AliasEntry:
        previous = await self.heads(target, [alias])
        head = previous.get(alias)
        unchanged = (
            head is not None and head.active and descriptor is not None and head.digest == descriptor.digest
        )
        if unchanged and action == ACTION_SET:
            assert head is not None and descriptor is not None
            # already there: record nothing new, but re-point the tag in case a crash left it behind
            await target.tag(descriptor, alias)
            return head
        entry_descriptor, entry_bytes = alias_log.encode_entry(
            alias,
            version=version,
            digest=descriptor.digest if descriptor else None,
            action=action,
            by=by or default_user(),
            previous=head.entry_digest if head is not None else None,
        )
        if not await target.exists(EMPTY_DESCRIPTOR):
            await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
        # the log first, then the tag: a crash in between leaves the log ahead, never behind
        await target.push_manifest(entry_descriptor, entry_bytes, tag=alias_log.log_tag(alias))
        if descriptor is not None:
            await target.tag(descriptor, alias)
        else:
            with contextlib.suppress(NotFoundError):
                await target.untag(alias)
        manifest = parse_manifest(entry_bytes)
        assert isinstance(manifest, ImageManifest)
        return alias_log.decode_entry(manifest, entry_descriptor.digest)
