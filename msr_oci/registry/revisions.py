"""Revisions: publish, get, update, history, versions (listing: listing.py; archiving and deleting:
archiving.py and deletion.py; metadata edits: metadata_edits.py).

Publishing writes blobs first and the manifest last, tagged with the version, then the repository
index entry (where the repository keeps one). Aliases are left to ``AliasStore``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from msr_oci.errors import ConflictError, InputError, InvalidManifest, NameUnknown, Remedy
from msr_oci.oci import Descriptor, ProgressCallback, Reference, Target
from msr_oci.oci.progress import events
from msr_oci.registry import repository_index
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.authorship import default_user, now
from msr_oci.registry.cache import ContentCache
from msr_oci.registry.not_found import explain_not_found, tags_if_known
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RESERVED_TAG_PREFIX, classify_tags
from msr_oci.registry.targets import Targets, both, cancel
from msr_oci.revision import (
    ModelServingRevision,
    check_publishable_version,
    encode_revision,
    file_mode,
    version_sort_key,
    version_to_tag,
)

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice, RevisionGovernance

#: fields that are not content: two revisions differing only here are the same revision
_NON_CONTENT_FIELDS = {"id", "digest", "aliases", "created_at", "updated_at", "created_by", "supersedes"}
_HISTORY_LIMIT = 10_000


class VersionExists(ConflictError):
    pass


def _content_of(revision: ModelServingRevision) -> dict[str, Any]:
    """What makes two revisions the same: their record and their files' names, bytes and modes."""
    data = revision.model_dump(mode="json", exclude=_NON_CONTENT_FIELDS | {"documents", "extra_files"})
    layers = encode_revision(revision).manifest.layers
    data["files"] = sorted((layer.title or "", layer.digest, file_mode(layer)) for layer in layers)
    return data


class Revisions:
    def __init__(
        self,
        targets: Targets,
        reader: RevisionReader,
        aliases: AliasStore,
        cache: ContentCache,
        governance: Callable[[], RevisionGovernance],
    ) -> None:
        self.targets = targets
        self.reader = reader
        self.aliases = aliases
        self.cache = cache
        self._governance = governance

    # ---- publishing ---------------------------------------------------------------------------------

    async def create(
        self,
        revision: ModelServingRevision,
        *,
        overwrite: bool,
        progress: ProgressCallback | None,
        any_version: bool,
    ) -> str:
        revision = ModelServingRevision.checked(revision)
        ref = self.targets.repository_ref(revision.name)
        check_publishable_version(revision.version, any_scheme=any_version)
        version_tag = version_to_tag(revision.version)
        if version_tag.startswith(RESERVED_TAG_PREFIX):
            raise InputError(f"version {revision.version!r} may not start with '_' (reserved)")
        stamp = now()
        revision = revision.model_copy(
            update={
                "created_at": revision.created_at or stamp,
                "updated_at": revision.updated_at or revision.created_at or stamp,
                "created_by": revision.created_by or default_user(),
            }
        )
        # the version check and the uploads go together: a small revision is then published in two
        # round trips (three where the registry takes no single-request uploads)
        check = self._version_check(ref, revision, version_tag, overwrite)
        return await self._publish(ref, revision, version_tag, progress, check=check)

    async def _version_check(
        self, ref: Reference, revision: ModelServingRevision, version_tag: str, overwrite: bool
    ) -> tuple[str | None, bool]:
        """The id of the same content already published under the version (or ``None`` to publish),
        and whether the repository keeps an index; ``VersionExists`` when the version (or an alias
        of that name) holds something else."""
        tags = await self.targets.tags(self.targets.target(ref))
        indexed = repository_index.INDEX_TAG in tags
        scan = classify_tags(tags)
        if version_tag in scan.alias_names:
            raise VersionExists(
                f"{revision.name}: {revision.version!r} is already the name of an alias",
                hint="choose another version string",
            )
        if version_tag not in scan.versions:
            return None, indexed
        existing = await self.reader.load(ref.with_tag(version_tag))
        if _content_of(existing) == _content_of(revision):
            return existing.id or self.targets.revision_id(ref, existing.digest or ""), indexed
        if not overwrite:
            raise VersionExists(
                f"{revision.name} version {revision.version} already exists with different content "
                f"({existing.digest})",
                hint="publish a new version",
                what="version",
                where=f"{revision.name}:{revision.version}",
                remedies=(Remedy.UPDATE, Remedy.OVERWRITE),
            )
        return None, indexed

    async def _push_blobs(
        self, target: Target, blobs: list[tuple[Descriptor, Any]], progress: ProgressCallback | None
    ) -> None:
        async def push_blob(descriptor: Descriptor, content: Any) -> None:
            # every store's push skips content it holds (remotes: small blobs are sent, large asked for)
            sent = 0

            def advance(size: int) -> None:
                nonlocal sent
                sent += size
                if progress is not None:
                    progress(size)

            await target.push(descriptor, content, progress=advance)
            if progress is not None and sent < descriptor.size:
                progress(descriptor.size - sent)  # skipped: already there
            events(progress).blob_done(descriptor, skipped=sent < descriptor.size)

        await self.targets.gather(push_blob(d, c) for d, c in blobs)

    async def _publish(
        self,
        ref: Reference,
        revision: ModelServingRevision,
        version_tag: str,
        progress: ProgressCallback | None,
        *,
        check: Awaitable[tuple[str | None, bool]] | None = None,
    ) -> str:
        """Blobs first, then the manifest tagged with the version, then its repository index entry
        (where the repository keeps one). ``check`` runs alongside the uploads: an id it returns is
        the answer (the uploads stop), an error it raises stops them."""
        target = self.targets.target(ref)
        target.expect_push()
        encoded = encode_revision(revision)
        events(progress).expect(sum(descriptor.size for descriptor, _ in encoded.blobs))
        uploads = asyncio.ensure_future(self._push_blobs(target, encoded.blobs, progress))
        try:
            existing, indexed = await check if check is not None else (None, True)
        except BaseException:
            await cancel(uploads)
            raise
        if existing is not None:
            await cancel(uploads)
            return existing
        await uploads
        await target.push_manifest(encoded.descriptor, encoded.manifest_bytes, tag=version_tag)
        events(progress).manifest_pushed(encoded.descriptor)
        if indexed:  # (without a check: ``record`` finds out, and does nothing without an index)
            entry = repository_index.entry_for(version_tag, encoded.descriptor, encoded.manifest.annotations)
            await repository_index.record(target, ref.name, version_tag, entry)
        self.cache.put_small(encoded.descriptor, encoded.manifest_bytes)
        config_descriptor, config_content = encoded.blobs[0]
        if isinstance(config_content, bytes):
            self.cache.put_small(config_descriptor, config_content)
        return self.targets.revision_id(ref, encoded.descriptor.digest)

    async def update(
        self, revision_id: str, revision: ModelServingRevision, *, progress: ProgressCallback | None
    ) -> str:
        revision = ModelServingRevision.checked(revision)
        ref = self.targets.locate(revision_id)
        old = await self.reader.load(ref)
        if revision.name != old.name or revision.version != old.version:
            raise InputError(
                f"update_revision keeps name and version ({old.name} {old.version}); "
                f"got {revision.name} {revision.version}",
                hint="publish a new version with create_revision instead",
            )
        updated = revision.model_copy(
            update={
                "supersedes": old.digest,
                "created_at": old.created_at,
                "updated_at": now(),
                "created_by": revision.created_by or old.created_by,
            }
        )
        if _content_of(updated) == _content_of(old):
            return old.id or self.targets.revision_id(ref, old.digest or "")
        repository = Reference(repository=ref.repository, registry=ref.registry)
        return await self._publish(repository, updated, version_to_tag(old.version), progress)

    # ---- reading ------------------------------------------------------------------------------------

    async def get(
        self,
        revision_id: str,
        *,
        with_aliases: bool,
        devel: bool,
        policy: PolicyChoice | None,
        stage: str | None,
    ) -> ModelServingRevision:
        ref = self.targets.locate(revision_id)
        if devel and ref.tag is None and ref.digest is None:
            ref = ref.with_tag(await self.reader.latest_tag(ref, devel=True))
        if policy is not None:
            ref = await self._governance().gate(ref, policy, stage)
        if not with_aliases:
            return await self.reader.load(ref)
        target = self.targets.target(ref)

        async def aliases_by_digest() -> dict[str, list[str]]:
            scan = await self.targets.scan(target)
            return await self.aliases.by_digest(target, scan.alias_names)

        # the revision and the tag list together: two round trips for a revision without aliases
        revision, by_digest = await both(self.reader.load(ref), aliases_by_digest())
        return revision.model_copy(update={"aliases": sorted(by_digest.get(revision.digest or "", []))})

    async def versions(self, name: str, *, missing_ok: bool = True) -> list[str]:
        ref = self.targets.repository_ref(name)
        if missing_ok:
            tags: list[str] | None = await self.targets.tags(self.targets.target(ref))
        else:
            tags, _ = await tags_if_known(self.targets, ref)
            if tags is None:
                raise await explain_not_found(self.targets, ref, NameUnknown(f"no repository {name}"))
        return sorted(classify_tags(tags or []).versions.values(), key=version_sort_key)

    async def history(self, revision_id: str) -> list[ModelServingRevision]:
        ref = self.targets.locate(revision_id)
        chain = [await self.reader.load(ref)]
        seen = {chain[0].digest}
        while chain[-1].supersedes and len(chain) < _HISTORY_LIMIT:
            digest = chain[-1].supersedes
            if digest in seen:
                raise InvalidManifest(f"supersedes chain of {ref} loops at {digest}")
            seen.add(digest)
            chain.append(await self.reader.load(ref.with_tag(None).with_digest(digest)))
        return chain
