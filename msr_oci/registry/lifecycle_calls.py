"""The lifecycle calls of ``AsyncRemoteRegistry``: archiving and deleting, delegated to
``Archiving`` (archiving.py) and ``Deletion`` (deletion.py), which act on what ``RemovalPlanner``
(removal.py) worked out first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msr_oci.registry.archiving import ArchivedRevision, Archiving
from msr_oci.registry.deletion import Deletion
from msr_oci.registry.removal import RemovalPlan, RemovalPlanner


class LifecycleCalls:
    """Mixed into ``AsyncRemoteRegistry``, which provides the collaborators below."""

    planner: RemovalPlanner
    archiving: Archiving
    deletion: Deletion

    async def removal_plan(self, reference: str, *, all_versions: bool = False) -> RemovalPlan:
        """What ``archive``/``delete_revision`` of ``reference`` (a version, alias or digest) would
        remove, or with ``all_versions`` what ``delete_all_versions`` of the name would; changes
        nothing."""
        planned = await (self.planner.every(reference) if all_versions else self.planner.one(reference))
        return planned.plan

    async def delete_all_versions(self, name: str) -> RemovalPlan:
        """Delete every revision of ``name``: each version, each archived revision, every alias (each
        removal logged) and the repository index. Returns what was removed."""
        return await self.deletion.delete_all(name)

    async def archive(self, revision_id: str, *, by: str | None = None) -> list[str]:
        """Untag the revision (version, aliases) but keep it, fetchable by digest, under an archive
        record (see ``list_archived``, ``unarchive``); returns the tags removed.

        Each alias removed is recorded in its log; aliases are not restored by ``unarchive``."""
        return await self.archiving.archive(revision_id, by=by)

    async def unarchive(self, revision_id: str) -> str:
        """Tag an archived revision (``name:version`` or ``name@digest``) with its version again;
        refused (``VersionExists``) when the version holds other content now. Returns its id."""
        return await self.archiving.unarchive(revision_id)

    async def list_archived(self, filters: Mapping[str, Any] | None = None) -> list[ArchivedRevision]:
        """Archived revisions in the namespace that match ``filters`` (as ``list_revisions``), each
        with its archive record (when, by whom, which aliases were removed)."""
        return await self.archiving.archived(filters)
