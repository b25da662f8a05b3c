"""``AliasStore``: the one writer of alias tags and the alias log (format: alias_log.py).

An alias is a tag plus a log. Every change goes through ``_move``, which appends the log entry
first and then moves or removes the tag, so the two never disagree for longer than a crash between
them (and then the log is one entry ahead, never behind). ``forget`` is how archiving and deleting a
revision take the aliases pointing at it with them, recorded in the log as removals.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from msr_oci.errors import ConflictError, NotFoundError, Remedy, TagChanged
from msr_oci.oci import EMPTY_DESCRIPTOR, Descriptor, ImageManifest, Target, parse_manifest
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.oci.target import READ_BACK_DELAY
from msr_oci.registry import alias_log
from msr_oci.registry.alias_checks import active_by_digest, warn_disagreements
from msr_oci.registry.alias_history import AliasHistory
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

#: a move retries this often when other moves of the same alias land first
MOVE_ATTEMPTS = 12


class NoEarlierVersion(ConflictError):
    pass


class AliasStore:
    def __init__(
        self, targets: Targets, reader: RevisionReader, governance: Callable[[], RevisionGovernance]
    ) -> None:
        self.targets = targets
        self.reader = reader
        self._governance = governance
        self.log = AliasHistory(reader)

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
        return active_by_digest(await self.heads(target, alias_names))

    async def active(self, name: str) -> dict[str, AliasEntry]:
        """Active aliases of ``name`` and what each points at; an alias whose tag disagrees with its
        log is reported (a warning naming both)."""
        target = self.targets.target(self.targets.repository_ref(name))
        scan = await self.targets.scan(target)
        heads = await self.heads(target, scan.alias_names)
        await self.compare_tags(name, target, heads)
        return {alias: entry for alias, entry in heads.items() if entry.active}

    async def compare_tags(self, name: str, target: Target, heads: dict[str, AliasEntry]) -> list[str]:
        """Warn about each alias whose tag disagrees with its log head (one request per alias)."""
        aliases = sorted(heads)
        tags = await self.targets.gather(target.tag_digest(alias) for alias in aliases)
        return warn_disagreements(name, ((a, t, heads[a]) for a, t in zip(aliases, tags, strict=True)))

    async def history(self, name: str, alias: str) -> list[AliasEntry]:
        """Every move of ``alias``, newest first, every link checked (``AliasHistory``): an entry of
        another alias, a missing entry or a rewrite of history this machine saw is refused."""
        validate_alias(alias)
        target = self.targets.target(self.targets.repository_ref(name))
        heads = await self.heads(target, [alias])
        if alias not in heads:
            raise NotFoundError(f"{name} has no alias {alias!r}")
        return await self.log.checked(target, name, alias, heads[alias])

    def forget_record(self, name: str, alias: str) -> bool:
        """Forget the head of ``alias``'s log this machine saw (the next read trusts the log as it is)."""
        validate_alias(alias)
        return self.log.forget(self.targets.target(self.targets.repository_ref(name)), alias)

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
        await self.compare_tags(
            name, self.targets.target(self.targets.repository_ref(name)), {alias: current}
        )
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
        """Append the move to the log (conditional on the head it read: concurrent moves retry on top
        of each other, so every move reported is in the history), then make the tag follow the log."""
        loop = asyncio.get_running_loop()
        if not await target.exists(EMPTY_DESCRIPTOR):
            await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
        for attempt in range(MOVE_ATTEMPTS):
            head = (await self.heads(target, [alias])).get(alias)
            read_at = loop.time()
            if head is not None:  # never build on a log that lost history this machine saw
                await self.log.check_extends(target, str(target), alias, head)
            target_digest = descriptor.digest if descriptor is not None else None
            if head is not None and head.active and action == ACTION_SET and head.digest == target_digest:
                # already there: record nothing new, but re-point the tag in case a crash left it
                # behind. On a registry that head may be a move still waiting for its read-back,
                # about to be lost: it counts once it has stood that long
                if not target.compare_and_set:
                    await asyncio.sleep(READ_BACK_DELAY)
                if await self.log.reaches(target, head, await self._follow_log(target, alias, head)):
                    self.log.remember(target, alias, head)
                    return head
                continue
            entry_descriptor, entry_bytes = alias_log.encode_entry(
                alias,
                version=version,
                digest=target_digest,
                action=action,
                by=by or default_user(),
                previous=head.entry_digest if head is not None else None,
            )
            try:
                # the log first, then the tag: a crash in between leaves the log ahead, never behind
                await target.push_manifest_if(
                    entry_descriptor,
                    entry_bytes,
                    alias_log.log_tag(alias),
                    expected=head.entry_digest if head is not None else None,
                    read_at=read_at,
                )
            except TagChanged:
                await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # another move landed first
                continue
            manifest = parse_manifest(entry_bytes)
            assert isinstance(manifest, ImageManifest)
            entry = alias_log.decode_entry(manifest, entry_descriptor.digest)
            if await self.log.reaches(target, entry, await self._follow_log(target, alias, entry)):
                self.log.remember(target, alias, entry)
                return entry
            # a move that had not seen ours overwrote it (registries only): record ours again on top
        raise ConflictError(
            f"alias {alias!r} of {target}: other moves kept landing first ({MOVE_ATTEMPTS} attempts)",
            hint="try again once the other writers are done",
        )

    async def _follow_log(self, target: Target, alias: str, entry: AliasEntry) -> AliasEntry | None:
        """Point the alias tag where the log head says, until the head stays put across the write.

        Of concurrent movers, the last to write the tag reads the head after it: whoever wrote an
        older target sees a newer head and writes again, so tag and log head end up agreeing."""
        head: AliasEntry | None = entry
        for _ in range(MOVE_ATTEMPTS):
            wanted = head.digest if head is not None and head.active else None
            if wanted is not None:
                descriptor, _ = await self.reader.manifest_by_digest(target, wanted)
                await target.tag(descriptor, alias)
            else:
                with contextlib.suppress(NotFoundError):
                    await target.untag(alias)
            head = (await self.heads(target, [alias])).get(alias)
            if (head.digest if head is not None and head.active else None) == wanted:
                break
        return head
