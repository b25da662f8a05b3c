"""``import``: publish the revisions of an OCI-layout tarball under the same rules as a push.

Every tag of the archive is sorted before anything is written:

* the revision's own version tag: published as ``push`` publishes (``VersionTags``): the same
  content is the revision already there; other content under that version is ``VersionExists``
  (exit 5) unless ``force``; two racing writers are told apart as for a push;
* an alias name (``production``): set through ``AliasStore``, so the move is recorded in the alias
  log like any other; moving an alias that points at another revision needs ``force``;
* anything else (a reserved ``_`` tag, ``latest``, a version that is not the revision's own): refused,
  naming the tag (exit 2).

A revision the archive tags only by an alias is published under its own version as well. All checks
run before the first write; blobs go first, tags last.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from msr_oci.errors import ConflictError, InputError, InvalidManifest, Remedy
from msr_oci.oci import Descriptor, ImageManifest, Reference
from msr_oci.oci.layout import OCILayout
from msr_oci.oci.tempfiles import scratch_directory
from msr_oci.registry.alias_log import InvalidAlias, validate_alias
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.archive import extract_layout_tar
from msr_oci.registry.refs import RESERVED_TAG_PREFIX, digest_of
from msr_oci.registry.targets import Targets
from msr_oci.registry.version_tags import VersionExists, VersionState, VersionTags
from msr_oci.revision import ModelServingRevision, check_artifact, decode_revision, version_to_tag

#: an import extracts the tarball into ``$TMPDIR/.msr-import-<random>`` (one a killed import left
#: there is removed by the next import)
IMPORT_STAGING_PREFIX: Final = ".msr-import-"


@dataclass(frozen=True)
class _Revision:
    """One revision of the archive, with the tags the archive gives it."""

    descriptor: Descriptor
    manifest: ImageManifest
    manifest_bytes: bytes
    revision: ModelServingRevision
    aliases: tuple[str, ...]

    @property
    def version_tag(self) -> str:
        return version_to_tag(self.revision.version)


class ArchiveImport:
    def __init__(self, targets: Targets, version_tags: VersionTags, aliases: AliasStore) -> None:
        self.targets = targets
        self.version_tags = version_tags
        self.aliases = aliases

    async def run(self, tar_path: Path, *, force: bool) -> list[str]:
        """Publish every revision the archive tags; returns their ids (one per revision)."""
        scratch = Path(tempfile.gettempdir())
        with scratch_directory(scratch, prefix=IMPORT_STAGING_PREFIX) as staging:
            extract_layout_tar(tar_path, staging)
            layout = OCILayout(staging, create=False)
            revisions = await _read(layout, tar_path)
            if not revisions:
                raise InputError(f"{tar_path}: the archive holds no tagged revision")
            states = [await self._check(tar_path, r, force=force) for r in revisions]
            await self._check_aliases(tar_path, revisions, states, force=force)
            ids = [
                await self._publish(layout, r, state, force=force)
                for r, state in zip(revisions, states, strict=True)
            ]
        for revision, revision_id in zip(revisions, ids, strict=True):
            digest = digest_of(revision_id)
            for alias in revision.aliases:
                await self.aliases.set(revision.revision.name, alias, "@" + digest)
        return ids

    def _ref(self, revision: _Revision) -> Reference:
        return self.targets.repository_ref(revision.revision.name)

    async def _check(self, tar_path: Path, revision: _Revision, *, force: bool) -> VersionState:
        try:
            return await self.version_tags.check(
                self._ref(revision), revision.revision, revision.version_tag, overwrite=force
            )
        except VersionExists as exc:
            raise VersionExists(
                f"{tar_path}: {exc.message}", where=exc.where, remedies=(Remedy.OVERWRITE,)
            ) from None

    async def _check_aliases(
        self, tar_path: Path, revisions: list[_Revision], states: list[VersionState], *, force: bool
    ) -> None:
        """An alias the archive would move away from another revision needs ``force``."""
        for revision, state in zip(revisions, states, strict=True):
            if not revision.aliases or force:
                continue
            target = self.targets.target(self._ref(revision))
            heads = await self.aliases.heads(target, revision.aliases)
            published = digest_of(state.existing) if state.existing else revision.descriptor.digest
            for alias, head in sorted(heads.items()):
                if head.active and head.digest != published:
                    raise ConflictError(
                        f"{tar_path}: the archive tags {revision.revision.name}:{alias} at "
                        f"{revision.revision.version} ({published}), but {alias} points at "
                        f"{head.version} ({head.digest}) here",
                        where=f"{revision.revision.name}:{alias}",
                        remedies=(Remedy.MOVE_ALIASES,),
                    )

    async def _publish(
        self, layout: OCILayout, revision: _Revision, state: VersionState, *, force: bool
    ) -> str:
        return await self.version_tags.publish_from(
            layout,
            self._ref(revision),
            revision.descriptor,
            revision.manifest,
            revision.manifest_bytes,
            revision.revision,
            revision.version_tag,
            state,
            overwrite=force,
        )


async def _read(layout: OCILayout, tar_path: Path) -> list[_Revision]:
    """The archive's revisions, each tag sorted (version or alias) or refused, in tag order."""
    found: dict[str, tuple[Descriptor, ImageManifest, bytes, ModelServingRevision, list[str]]] = {}
    async for tag in layout.list_tags():
        descriptor, manifest, data = await layout.fetch_manifest(tag)
        if not isinstance(manifest, ImageManifest):
            raise InvalidManifest(f"{tar_path}: {tag} is not a model serving revision")
        check_artifact(manifest)
        config = await layout.fetch_bytes(manifest.config)
        revision = decode_revision(manifest, config, digest=descriptor.digest)
        entry = found.setdefault(descriptor.digest, (descriptor, manifest, data, revision, []))
        if tag != version_to_tag(revision.version):
            entry[4].append(_alias_tag(tar_path, revision, tag))
    return [
        _Revision(descriptor, manifest, data, revision, tuple(aliases))
        for descriptor, manifest, data, revision, aliases in found.values()
    ]


def _alias_tag(tar_path: Path, revision: ModelServingRevision, tag: str) -> str:
    """A tag other than the revision's version: an alias, or refused with the reason."""
    what = f"{tar_path}: the archive tags {revision.name}:{tag} (a revision of version {revision.version})"
    if tag.startswith(RESERVED_TAG_PREFIX):
        raise InputError(
            f"{what}; tags starting with '_' are msr's own records (alias logs, indexes), never imported",
            hint="export the revision again, or remove that tag from the archive's index.json",
        )
    try:
        return validate_alias(tag)
    except InvalidAlias as exc:
        raise InputError(
            f"{what}, which is neither its version nor a valid alias: {exc.message}",
            hint="tag the archive with the revision's version (as export does) or with an alias name",
        ) from None
