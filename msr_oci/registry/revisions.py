"""Revisions: publish, get, update, history, versions (listing: listing.py; archiving and deleting:
archiving.py and deletion.py; metadata edits: metadata_edits.py).

Publishing writes blobs first and the manifest last, tagged with the version, then the repository
index entry (where the repository keeps one). Aliases are left to ``AliasStore``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from msr_oci.errors import InputError, InvalidManifest, NameUnknown
from msr_oci.oci import Descriptor, ProgressCallback, Reference, Target
from msr_oci.oci.progress import events
from msr_oci.registry.alias_checks import active_by_digest, warn_disagreements
from msr_oci.registry.alias_log import AliasEntry
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.authorship import default_user, now
from msr_oci.registry.cache import ContentCache
from msr_oci.registry.current_versions import versions_of
from msr_oci.registry.not_found import explain_not_found, tags_if_known
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.refs import RESERVED_TAG_PREFIX
from msr_oci.registry.targets import Targets, both, cancel
from msr_oci.registry.version_tags import VersionState, VersionTags, content_of
from msr_oci.revision import (
    EncodedRevision,
    ModelServingRevision,
    check_publishable_version,
    encode_revision,
    version_to_tag,
)
from msr_oci.revision.limits import check_readable

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice, RevisionGovernance

_HISTORY_LIMIT = 10_000


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
        self.version_tags = VersionTags(targets, reader)

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
        encoded = encode_revision(revision)
        check_readable(encoded, f"{revision.name}:{revision.version}")  # before any request
        # the version check and the uploads go together: a small revision is then published in two
        # round trips (three where the registry takes no single-request uploads)
        check = self.version_tags.check(ref, revision, version_tag, overwrite=overwrite)
        return await self._publish(
            ref, encoded, revision, version_tag, progress, check=check, overwrite=overwrite
        )

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
        encoded: EncodedRevision,
        revision: ModelServingRevision,
        version_tag: str,
        progress: ProgressCallback | None,
        *,
        check: Awaitable[VersionState] | None = None,
        overwrite: bool = False,
        replacing: str | None = None,
    ) -> str:
        """Blobs first, then the manifest tagged with the version (``VersionTags.claim``: of two racing
        writers one wins), then its repository index entry (where the repository keeps one).
        ``check`` runs alongside the uploads: an id it returns is the answer (the uploads stop), an
        error it raises stops them. ``replacing``: an update, moving the tag from that digest."""
        target = self.targets.target(ref)
        target.expect_push()
        events(progress).expect(sum(descriptor.size for descriptor, _ in encoded.blobs))
        uploads = asyncio.ensure_future(self._push_blobs(target, encoded.blobs, progress))
        try:
            state = await check if check is not None else VersionState(None, True, replacing)
        except BaseException:
            await cancel(uploads)
            raise
        if state.existing is not None:
            await cancel(uploads)
            return state.existing
        await uploads
        descriptor, data = encoded.descriptor, encoded.manifest_bytes
        if replacing is not None:
            await self.version_tags.claim_update(target, descriptor, data, version_tag, replacing)
        else:
            won_by = await self.version_tags.claim(
                ref, descriptor, data, revision, version_tag, state, overwrite=overwrite
            )
            if won_by is not None:
                return won_by  # the same content, published by another writer meanwhile
        events(progress).manifest_pushed(encoded.descriptor)
        await self.version_tags.record_index(target, ref, version_tag, descriptor, encoded.manifest, state)
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
        if content_of(updated) == content_of(old):
            return old.id or self.targets.revision_id(ref, old.digest or "")
        encoded = encode_revision(updated)
        check_readable(encoded, f"{old.name}:{old.version}")
        repository = Reference(repository=ref.repository, registry=ref.registry)
        return await self._publish(
            repository, encoded, updated, version_to_tag(old.version), progress, replacing=old.digest
        )

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
            ref = await self.reader.latest(ref, devel=True)
        if policy is not None:
            ref = await self._governance().gate(ref, policy, stage)
        if not with_aliases:
            return await self.reader.load(ref)
        target = self.targets.target(ref)

        async def alias_heads() -> dict[str, AliasEntry]:
            scan = await self.targets.scan(target)
            return await self.aliases.heads(target, scan.alias_names)

        # the revision and the tag list together: two round trips for a revision without aliases
        revision, heads = await both(self.reader.load(ref), alias_heads())
        if ref.tag in heads and ref.digest is None:  # NAME:ALIAS: read through the tag, not the log
            warn_disagreements(revision.name, [(ref.tag, revision.digest, heads[ref.tag])])
        by_digest = active_by_digest(heads)
        return revision.model_copy(update={"aliases": sorted(by_digest.get(revision.digest or "", []))})

    async def versions(self, name: str, *, missing_ok: bool = True) -> list[str]:
        """Version tags pointing at revision manifests (other tools' tags are no versions); an
        unknown name is ``[]``, or with ``missing_ok=False`` a not-found error saying what exists."""
        ref = self.targets.repository_ref(name)
        tags: list[str] | None = None
        if not missing_ok:
            tags, _ = await tags_if_known(self.targets, ref)
            if tags is None:
                raise await explain_not_found(self.targets, ref, NameUnknown(f"no repository {name}"))
        return await versions_of(self.targets, self.reader, name, tags)

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
