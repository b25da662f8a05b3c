"""``AsyncRemoteRegistry``: the Model Serving Registry over any OCI registry or the local store.

The one implementation, as a thin facade over collaborators that each own one concern:

* ``Targets`` (targets.py): the namespace and the pooled content stores;
* ``RevisionReader`` (reader.py): the one read-and-verify path, through ``ContentCache`` (cache.py);
* ``Revisions`` (revisions.py): publish, get, update, history;
* ``MetadataEdits`` (metadata_edits.py): labels, metrics, description as an update of a version;
* ``Listing`` (listing.py, with repository_index.py): list revisions and names, build the index;
* ``RemovalPlanner`` (removal.py): what archiving or deleting would remove;
  ``Archiving`` (archiving.py, records: archive_records.py): archive, unarchive, list archived;
  ``Deletion`` (deletion.py): delete one revision or every revision of a name (their calls:
  lifecycle_calls.py);
* ``AliasStore`` (aliases.py): the one writer of alias tags and the alias log (its calls:
  alias_calls.py);
* ``Transfers`` (transfers.py): fetch, pull, export; ``RevisionCopy`` (copies.py): copy;
  ``ArchiveImport`` (imports.py): import;
* views (view_calls.py): render (render.py) and diff (diff.py), which only read;
* governance (governance_calls.py, governance.py, policies.py, audit_trail.py): signatures,
  approvals, policies and the audit timeline, built on first use.

``RemoteRegistry`` (sync_registry.py) is a thin synchronous facade over this one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msr_oci.oci import ProgressCallback, Reference, Target
from msr_oci.oci.remote import RegistryOptions
from msr_oci.registry.alias_calls import AliasCalls
from msr_oci.registry.aliases import AliasStore, NoEarlierVersion
from msr_oci.registry.archiving import ArchivedRevision, Archiving
from msr_oci.registry.cache import ContentCache
from msr_oci.registry.copies import RevisionCopy
from msr_oci.registry.deletion import Deletion
from msr_oci.registry.governance_calls import GovernanceCalls
from msr_oci.registry.imports import ArchiveImport
from msr_oci.registry.lifecycle_calls import LifecycleCalls
from msr_oci.registry.listing import Listing, SortOrder
from msr_oci.registry.metadata_edits import MetadataEdits
from msr_oci.registry.namespace import Namespace
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.removal import RemovalPlan, RemovalPlanner
from msr_oci.registry.revisions import Revisions
from msr_oci.registry.targets import Targets
from msr_oci.registry.transfers import FetchedRevision, Transfers
from msr_oci.registry.version_tags import VersionExists
from msr_oci.registry.view_calls import ViewCalls
from msr_oci.revision import ModelServingRevision
from msr_oci.revision.summary import RevisionSummary

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice

__all__ = [
    "ArchivedRevision",
    "AsyncRemoteRegistry",
    "FetchedRevision",
    "NoEarlierVersion",
    "RemovalPlan",
    "SortOrder",
    "VersionExists",
]


class AsyncRemoteRegistry(AliasCalls, LifecycleCalls, GovernanceCalls, ViewCalls):
    """Revisions in ``namespace``: ``registry.example.com/team``, ``127.0.0.1:5000/serving`` or a path.

    ``None`` means ``$MSR_REGISTRY``, else the embedded local store. Connections are pooled per
    registry host; close with ``aclose()`` or use ``async with``.
    """

    def __init__(
        self,
        namespace: str | os.PathLike[str] | None = None,
        *,
        options: RegistryOptions | None = None,
        cache_dir: Path | None = None,
        concurrency: int = 8,
    ) -> None:
        self.targets = Targets(namespace, options, concurrency)
        self.cache = ContentCache(cache_dir)
        self.reader = RevisionReader(self.targets, self.cache)
        # governance (signing libraries) is built on first use: collaborators ask for it then
        governed = self._governed
        self.aliases = AliasStore(self.targets, self.reader, governed)
        self.revisions = Revisions(self.targets, self.reader, self.aliases, self.cache, governed)
        self.listing = Listing(self.targets, self.reader, self.aliases)
        self.metadata = MetadataEdits(self.targets, self.reader, self.revisions)
        self.planner = RemovalPlanner(self.targets, self.reader, self.aliases)
        self.archiving = Archiving(self.targets, self.reader, self.aliases, self.planner, self.listing)
        self.deletion = Deletion(self.targets, self.aliases, self.cache, self.planner)
        self.transfers = Transfers(self.targets, self.reader, self.cache, governed)
        self.imports = ArchiveImport(self.targets, self.revisions.version_tags, self.aliases)
        self.copies = RevisionCopy(self.targets, self.reader, self.revisions.version_tags)

    async def __aenter__(self) -> AsyncRemoteRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.targets.aclose()

    # ---- plumbing -----------------------------------------------------------------------------------

    @property
    def namespace(self) -> Namespace:
        return self.targets.namespace

    @property
    def options(self) -> RegistryOptions | None:
        return self.targets.options

    @property
    def concurrency(self) -> int:
        return self.targets.concurrency

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far to every registry (for tests and benchmarks)."""
        return self.targets.request_count

    def target(self, ref: Reference) -> Target:
        """The content store holding ``ref``'s repository (``ref`` already located in the namespace)."""
        return self.targets.target(ref)

    def locate(self, ref: str | Reference) -> Reference:
        """A reference made absolute in the namespace (``name:1.0.0+b.5`` names the tag ``1.0.0_b.5``)."""
        return self.targets.locate(ref)

    def revision_id(self, ref: Reference, digest: str) -> str:
        return self.targets.revision_id(ref, digest)

    # ---- the proposal's interface -------------------------------------------------------------------

    async def create_revision(
        self,
        revision: ModelServingRevision,
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        any_version: bool = False,
    ) -> str:
        """Publish a revision: blobs first, then the manifest tagged with its version. Returns its id.

        Publishing the same content again returns the existing id. A version that already holds
        different content is refused (``VersionExists``) unless ``overwrite``. Versions are SemVer 2.0
        unless ``any_version``.
        """
        return await self.revisions.create(
            revision, overwrite=overwrite, progress=progress, any_version=any_version
        )

    async def get_revision(
        self,
        revision_id: str,
        *,
        with_aliases: bool = True,
        devel: bool = False,
        policy: PolicyChoice | None = None,
        stage: str | None = None,
    ) -> ModelServingRevision:
        """A revision by id, ``name:version``, ``name@sha256:...``, ``name:<alias>``, ``name`` (latest
        stable version; with ``devel`` prereleases count too) or any full reference; every byte read
        is verified. With ``policy``, only a revision signed and approved as the policy requires for
        ``stage`` (the deploy gate, see ``fetch``)."""
        return await self.revisions.get(
            revision_id, with_aliases=with_aliases, devel=devel, policy=policy, stage=stage
        )

    async def list_revisions(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: SortOrder = "semver",
        reverse: bool = False,
        verify: bool = False,
    ) -> list[ModelServingRevision]:
        """The current revision of every version in the namespace that matches ``filters``.

        Repositories with an index (``build_index``) are listed from it, the tag list staying the
        truth; ``verify`` also re-resolves every tag (see listing.py)."""
        return await self.listing.revisions(filters, sort=sort, reverse=reverse, verify=verify)

    async def list_summaries(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: SortOrder = "semver",
        reverse: bool = False,
        verify: bool = False,
    ) -> list[RevisionSummary]:
        """What ``list_revisions`` lists, as summaries (name, version, digest, aliases, labels,
        metrics, runtime variant, creation): from the repository index or manifests, no configs.
        The fast path for listings that show only these fields (``msr list``'s table)."""
        return await self.listing.summaries(filters, sort=sort, reverse=reverse, verify=verify)

    async def build_index(self, name: str) -> int:
        """Create (or rebuild) the repository index of ``name`` from its version tags; publishes and
        updates keep it from then on. Returns the number of versions indexed."""
        return await self.listing.build_index(name)

    async def list_names(self, filters: Mapping[str, Any] | None = None) -> list[str]:
        """Revision names in the namespace (one exact ``name`` filter needs no catalog request)."""
        return await self.listing.names(filters)

    async def versions(self, name: str, *, missing_ok: bool = True) -> list[str]:
        """Versions of a revision, in semver order; with ``missing_ok=False``, a name the registry
        or store does not know is an error (``RevisionNotFound``) rather than ``[]``."""
        return await self.revisions.versions(name, missing_ok=missing_ok)

    async def update_revision(
        self, revision_id: str, revision: ModelServingRevision, *, progress: ProgressCallback | None = None
    ) -> str:
        """Publish new content for the same version, recording the digest it supersedes, and move the
        version tag. The old digest stays fetchable; aliases keep pointing at what they pinned."""
        return await self.revisions.update(revision_id, revision, progress=progress)

    async def history(self, revision_id: str) -> list[ModelServingRevision]:
        """The revision and every revision it superseded, newest first."""
        return await self.revisions.history(revision_id)

    # delete_revision, with archiving and the metadata edits: LifecycleCalls (lifecycle_calls.py)

    # ---- fetching files and moving revisions --------------------------------------------------------

    async def fetch(
        self,
        revision_ref: str,
        *,
        progress: ProgressCallback | None = None,
        policy: PolicyChoice | None = None,
        stage: str | None = None,
    ) -> FetchedRevision:
        """The revision and a local directory with its files, through the content-addressed cache.

        By digest and already cached: no network request at all (works offline).

        With ``policy`` (a ``Policy``, a policy file, or ``"repository"`` for the repository's signed
        policy), the deploy gate: the revision is pinned to its digest and its signatures and approvals
        are checked against the policy's rule for ``stage`` (default: its ``deploy_stage``) before any
        file is handed out, also on a cache hit; ``PolicyNotSatisfied`` names what is missing.
        """
        return await self.transfers.fetch(revision_ref, progress=progress, policy=policy, stage=stage)

    async def pull(
        self,
        revision_ref: str,
        destination: Path,
        *,
        progress: ProgressCallback | None = None,
        policy: PolicyChoice | None = None,
        stage: str | None = None,
        force: bool = False,
    ) -> ModelServingRevision:
        """Write a revision's files into ``destination``, each verified (with ``policy``: only once
        the deploy gate passes, as in ``fetch``), with the record's description, labels, metrics...
        in ``revision.yaml`` when the revision has none of its own (see ``pulled_record``).

        A destination that holds anything is refused (``DestinationNotEmpty``, exit 5) unless
        ``force``, which makes it hold exactly the revision. Files are staged inside the destination
        and moved into place only once every one is verified: a failed pull changes nothing."""
        return await self.transfers.pull(
            revision_ref, destination, progress=progress, policy=policy, stage=stage, force=force
        )

    async def copy(
        self,
        source_ref: str,
        destination_ref: str,
        *,
        force: bool = False,
        referrers: bool = True,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Copy a revision to another registry, namespace or the local store, under the rules of a
        push; returns its id there.

        ``destination_ref`` is ``[host/ns/]NAME[:VERSION]`` with the revision's own name and version
        (both are in its bytes, which a copy keeps with its digest); anything else is an
        ``InputError``. A version holding other content is ``VersionExists`` unless ``force``; the
        same content already there is that revision. Blobs go first, the manifest last; with
        ``referrers`` the signatures and approvals follow (see copies.py).
        """
        return await self.copies.run(
            source_ref, destination_ref, force=force, referrers=referrers, progress=progress
        )

    async def export(self, revision_ref: str, tar_path: Path) -> str:
        """Write a revision as an OCI-layout tarball (skopeo: ``oci-archive:``); returns its digest."""
        return await self.transfers.export(revision_ref, tar_path)

    async def import_archive(self, tar_path: Path, *, force: bool = False) -> list[str]:
        """Publish every revision tagged in an OCI-layout tarball into this namespace, under the rules
        of a push: a version holding other content is ``VersionExists`` and an alias pointing at
        another revision a ``ConflictError`` unless ``force``; aliases are set through the alias log
        (recorded); ``_`` tags and tags that are neither the revision's version nor an alias are
        refused. Returns the revisions' ids (see imports.py)."""
        return await self.imports.run(tar_path, force=force)
