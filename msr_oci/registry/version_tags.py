"""The rules of a version tag: who may set it, and how two writers racing for it are told apart.

A version tag names one revision. Publishing content under a version that holds other content is a
``VersionExists`` conflict unless the caller overwrites on purpose; publishing the same content again
is the existing revision. Every writer (push, update, import, copy) checks the version, uploads, and then
moves the tag with ``Target.push_manifest_if``: on the embedded store a compare-and-set under the
index lock, on a registry a write read back (see oci/target.py), so of two different pushes of one
version exactly one is told it won; the other gets ``VersionExists`` (exit 5), or the winner's id
when both pushed the same content.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from msr_oci.errors import ConflictError, Remedy, TagChanged
from msr_oci.oci import Descriptor, ImageManifest, ProgressCallback, Reference, Target
from msr_oci.oci.graph_copy import copy_successors
from msr_oci.oci.progress import events
from msr_oci.registry import repository_index
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import classify_tags
from msr_oci.registry.targets import Targets
from msr_oci.revision import ModelServingRevision, encode_revision, file_mode

#: fields that are not content: two revisions differing only here are the same revision
_NON_CONTENT_FIELDS = {"id", "digest", "aliases", "created_at", "updated_at", "created_by", "supersedes"}


class VersionExists(ConflictError):
    pass


def content_of(revision: ModelServingRevision) -> dict[str, Any]:
    """What makes two revisions the same: their record and their files' names, bytes and modes."""
    data = revision.model_dump(mode="json", exclude=_NON_CONTENT_FIELDS | {"documents", "extra_files"})
    layers = encode_revision(revision).manifest.layers
    data["files"] = sorted((layer.title or "", layer.digest, file_mode(layer)) for layer in layers)
    return data


@dataclass(frozen=True)
class VersionState:
    """What a version check found."""

    #: the id of the same content already published under the version (nothing to publish)
    existing: str | None
    #: whether the repository keeps an index (``_index``)
    indexed: bool
    #: the digest the version tag named when checked (``None``: no such version)
    current: str | None
    #: when the check's answer arrived (``loop.time()``; ``None``: long ago, read the tag again)
    checked_at: float | None = None


class VersionTags:
    def __init__(self, targets: Targets, reader: RevisionReader) -> None:
        self.targets = targets
        self.reader = reader

    async def check(
        self, ref: Reference, revision: ModelServingRevision, version_tag: str, *, overwrite: bool
    ) -> VersionState:
        """``VersionExists`` when the version (or an alias of that name) holds something else."""
        tags = await self.targets.tags(self.targets.target(ref))
        indexed = repository_index.INDEX_TAG in tags
        scan = classify_tags(tags)
        if version_tag in scan.alias_names:
            raise VersionExists(
                f"{revision.name}: {revision.version!r} is already the name of an alias",
                hint="choose another version string",
            )
        existing: str | None = None
        current: str | None = None
        if version_tag in scan.versions:
            held = await self.reader.load(ref.with_tag(version_tag))
            current = held.digest
            existing = self._same_or_refuse(ref, revision, held, overwrite=overwrite)
        return VersionState(existing, indexed, current, asyncio.get_running_loop().time())

    def _same_or_refuse(
        self, ref: Reference, revision: ModelServingRevision, held: ModelServingRevision, *, overwrite: bool
    ) -> str | None:
        """The id of ``held`` when it is ``revision``'s content; else ``None`` with ``overwrite``, or
        ``VersionExists``."""
        if content_of(held) == content_of(revision):
            return held.id or self.targets.revision_id(ref, held.digest or "")
        if overwrite:
            return None
        raise VersionExists(
            f"{revision.name} version {revision.version} already exists with different content "
            f"({held.digest})",
            hint="publish a new version",
            what="version",
            where=f"{revision.name}:{revision.version}",
            remedies=(Remedy.UPDATE, Remedy.OVERWRITE),
        )

    async def claim(
        self,
        ref: Reference,
        descriptor: Descriptor,
        manifest_bytes: bytes,
        revision: ModelServingRevision,
        version_tag: str,
        state: VersionState,
        *,
        overwrite: bool,
    ) -> str | None:
        """Tag the (uploaded) manifest with the version unless another writer got there first.

        Returns ``None`` when the tag is ours, or the id of the same content another writer tagged
        meanwhile; ``VersionExists`` when it holds other content. With ``overwrite`` the tag is
        simply moved. The check's answer is what the write is conditional on (on a registry, read
        again first when it is older than ``READ_BACK_DELAY``, as after long uploads).
        """
        target = self.targets.target(ref)
        if overwrite:
            await target.push_manifest(descriptor, manifest_bytes, tag=version_tag)
            return None
        try:
            await target.push_manifest_if(
                descriptor, manifest_bytes, version_tag, expected=state.current, read_at=state.checked_at
            )
        except TagChanged as changed:
            if changed.current is None:
                raise VersionExists(
                    f"{revision.name} version {revision.version} was removed while this push ran",
                    hint="push again",
                ) from None
            held = await self.reader.load(ref.with_tag(None).with_digest(changed.current))
            same = self._same_or_refuse(ref, revision, held, overwrite=False)
            assert same is not None
            return same
        return None

    async def publish_from(
        self,
        src: Target,
        ref: Reference,
        descriptor: Descriptor,
        manifest: ImageManifest,
        manifest_bytes: bytes,
        revision: ModelServingRevision,
        version_tag: str,
        state: VersionState,
        *,
        overwrite: bool,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Publish a revision stored on ``src`` (an archive, another registry) after ``check``: its
        content first, then its manifest under the version (``claim``, the one manifest write), then
        its repository index entry. Returns its id at ``ref``, or the id ``check`` or a racing writer
        found for the same content."""
        if state.existing is not None:
            return state.existing
        target = self.targets.target(ref)
        target.expect_push()
        events(progress).expect(manifest.config.size + sum(layer.size for layer in manifest.layers))
        await copy_successors(src, target, manifest, concurrency=self.targets.concurrency, progress=progress)
        won_by = await self.claim(
            ref, descriptor, manifest_bytes, revision, version_tag, state, overwrite=overwrite
        )
        if won_by is not None:
            return won_by
        await self.record_index(target, ref, version_tag, descriptor, manifest, state)
        return self.targets.revision_id(ref, descriptor.digest)

    async def record_index(
        self,
        target: Target,
        ref: Reference,
        version_tag: str,
        descriptor: Descriptor,
        manifest: ImageManifest,
        state: VersionState,
    ) -> None:
        """The version's repository index entry, where the repository keeps an index."""
        if state.indexed:  # (without a check: ``record`` finds out, and does nothing without an index)
            entry = repository_index.entry_for(version_tag, descriptor, manifest.annotations)
            await repository_index.record(target, ref.name, version_tag, entry)

    async def claim_update(
        self, target: Target, descriptor: Descriptor, manifest_bytes: bytes, version_tag: str, old: str
    ) -> None:
        """Move the version tag from ``old`` to the new manifest; ``VersionExists`` when another
        update (or push) moved it meanwhile."""
        try:
            await target.push_manifest_if(descriptor, manifest_bytes, version_tag, expected=old)
        except TagChanged as changed:
            raise VersionExists(
                f"{target}:{version_tag} was changed by another writer while this update ran "
                f"(it now names {changed.current or 'nothing'})",
                hint="fetch the version again and re-apply the update",
            ) from None
