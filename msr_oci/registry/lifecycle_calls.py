"""The lifecycle calls of ``AsyncRemoteRegistry``: metadata edits, archiving and deleting, delegated to
``MetadataEdits`` (metadata_edits.py), ``Archiving`` (archiving.py) and ``Deletion`` (deletion.py),
which act on what ``RemovalPlanner`` (removal.py) worked out first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from msr_oci.registry.archiving import ArchivedRevision, Archiving
from msr_oci.registry.deletion import Deletion
from msr_oci.registry.metadata_edits import MetadataEdits
from msr_oci.registry.removal import RemovalPlan, RemovalPlanner


class LifecycleCalls:
    """Mixed into ``AsyncRemoteRegistry``, which provides the collaborators below."""

    metadata: MetadataEdits
    planner: RemovalPlanner
    archiving: Archiving
    deletion: Deletion

    async def update_metadata(
        self,
        revision_id: str,
        *,
        labels: Mapping[str, str] | None = None,
        remove_labels: Iterable[str] = (),
        metrics: Mapping[str, float] | None = None,
        remove_metrics: Iterable[str] = (),
        description: str | None = None,
    ) -> str:
        """Set or remove labels and metrics, or set the description (``""`` clears it), of a version:
        an update of its current revision with the same files (only the config and manifest are
        uploaded), history kept through ``supersedes``. Returns the new id (the old one if nothing
        changed). Aliases keep pointing at the revision they pinned."""
        return await self.metadata.update(
            revision_id,
            labels=labels,
            remove_labels=remove_labels,
            metrics=metrics,
            remove_metrics=remove_metrics,
            description=description,
        )

    async def removal_plan(self, reference: str, *, all_versions: bool = False) -> RemovalPlan:
        """What ``archive``/``delete_revision`` of ``reference`` (a version, alias or digest) would
        remove, or with ``all_versions`` what ``delete_all_versions`` of the name would; changes
        nothing."""
        planned = await (self.planner.every(reference) if all_versions else self.planner.one(reference))
        return planned.plan

    async def delete_revision(self, revision_id: str) -> None:
        """Remove the revision's manifest and every tag pointing at it (blobs are left to registry GC).

        ``revision_id`` names a version, alias or digest (a bare name is refused: see
        ``delete_all_versions``). Aliases pointing at it are removed first, each removal recorded in
        its log; an archived revision's record goes too. ``DeletionDisabled`` (exit 8) before
        anything changes when the registry does not delete."""
        await self.deletion.delete(revision_id)

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
