"""Deleting one revision, or every revision of a name (what goes: removal.py's plan).

Both first check that the store deletes at all (a registry with deletion disabled: exit 8, nothing
changed), then take the aliases with them (``AliasStore.forget``: each removal in its log, so no
alias outlives what it points at), then delete archive records and manifests. Deleting a manifest
by digest removes every tag on it (distribution spec).

What stays: the alias logs (they are the history, and end with the removal), signatures and
approvals attached to the revisions, a stored policy, and earlier revisions of an updated version
(untagged since the update; a registry's garbage collection removes them).
"""

from __future__ import annotations

import contextlib

from msr_oci.errors import NotFoundError
from msr_oci.oci import Target
from msr_oci.registry import repository_index
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.cache import ContentCache
from msr_oci.registry.removal import PlannedRevision, RemovalPlan, RemovalPlanner
from msr_oci.registry.targets import Targets


class Deletion:
    def __init__(
        self, targets: Targets, aliases: AliasStore, cache: ContentCache, planner: RemovalPlanner
    ) -> None:
        self.targets = targets
        self.aliases = aliases
        self.cache = cache
        self.planner = planner

    async def delete(self, revision_id: str) -> RemovalPlan:
        planned = await self.planner.one(revision_id)
        await planned.target.check_deletable()  # refuse (exit 8) before an alias log says otherwise
        revision = planned.plan.revisions[0]
        await self.aliases.forget(planned.target, revision.digest, planned.scan)
        await self._delete(planned.target, revision)
        for tag in revision.tags:  # stale entries are ignored by readers anyway (the tag list is the truth)
            await repository_index.record(planned.target, planned.ref.name, tag, None)
        return planned.plan

    async def delete_all(self, name: str) -> RemovalPlan:
        planned = await self.planner.every(name)
        target = planned.target
        await target.check_deletable()
        aliased = {r.digest for r in planned.plan.revisions if r.aliases}
        for digest in sorted(aliased | await self._other_alias_digests(planned.plan, target)):
            await self.aliases.forget(target, digest, planned.scan)
        for revision in planned.plan.revisions:
            await self._delete(target, revision)
        if repository_index.INDEX_TAG in planned.tags:
            with contextlib.suppress(NotFoundError):  # removed by another writer meanwhile
                await target.delete(await target.resolve(repository_index.INDEX_TAG))
        return planned.plan

    async def _other_alias_digests(self, plan: RemovalPlan, target: Target) -> set[str]:
        """Where the aliases on no planned revision point (earlier revisions of a version)."""
        if not plan.other_aliases:
            return set()
        heads = await self.aliases.heads(target, plan.other_aliases)
        return {e.digest for e in heads.values() if e.active and e.digest is not None}

    async def _delete(self, target: Target, revision: PlannedRevision) -> None:
        # the record before the manifest: a crash between leaves an unreferenced manifest that a
        # second delete (by digest) still finds, never a record of nothing
        if revision.archived is not None:
            with contextlib.suppress(NotFoundError):
                await target.delete(revision.archived.record)
        await target.delete(revision.manifest)
        self.cache.evict(revision.digest)  # or this machine would go on serving it by digest
