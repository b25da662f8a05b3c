"""The view calls of ``AsyncRemoteRegistry``: a revision rendered as Backend.AI's deployment request
(render.py), and the differences between two revisions (diff.py). Both only read."""

from __future__ import annotations

import asyncio
from typing import Any

from msr_oci.registry.diff import DiffEntry, diff_revisions
from msr_oci.registry.render import DeploymentIds, RenderTarget, render_revision
from msr_oci.registry.revisions import Revisions
from msr_oci.revision import ModelServingRevision


class ViewCalls:
    """Mixed into ``AsyncRemoteRegistry``, which provides the collaborator below."""

    revisions: Revisions

    async def _read(self, revision_ref: str, *, with_aliases: bool) -> ModelServingRevision:
        return await self.revisions.get(
            revision_ref, with_aliases=with_aliases, devel=False, policy=None, stage=None
        )

    async def render(
        self, revision_ref: str, target: RenderTarget, ids: DeploymentIds | None = None
    ) -> dict[str, Any]:
        """The JSON Backend.AI takes to deploy this revision (see ``registry/render.py``)."""
        revision = await self._read(revision_ref, with_aliases=False)
        return render_revision(revision, target, ids or DeploymentIds())

    async def diff(self, a: str, b: str) -> list[DiffEntry]:
        """Structural differences between two revisions (definition, configuration, metadata)."""
        left, right = await asyncio.gather(self._read(a, with_aliases=True), self._read(b, with_aliases=True))
        return diff_revisions(left, right)
