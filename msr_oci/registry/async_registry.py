"""``AsyncRemoteRegistry``: the Model Serving Registry over any OCI registry or the local store.

The one implementation. ``RemoteRegistry`` (sync_registry.py) is a thin synchronous facade over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import inspect
import os
import re
import tempfile
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from msr_oci.oci import (
    EMPTY_DESCRIPTOR,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageManifest,
    ProgressCallback,
    Reference,
    Target,
    parse_manifest,
)
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.oci.copy import copy_graph
from msr_oci.oci.errors import (
    ConflictError,
    InputError,
    InvalidManifest,
    NameUnknown,
    NotFoundError,
    writing,
)
from msr_oci.oci.layout import LocalStore, OCILayout
from msr_oci.oci.progress import events
from msr_oci.oci.remote import Registry, RegistryOptions
from msr_oci.oci.tempfiles import remove_abandoned_beside
from msr_oci.registry import aliases, repository_index
from msr_oci.registry.aliases import AliasEntry, validate_alias
from msr_oci.registry.archive import extract_layout_tar, write_layout_tar
from msr_oci.registry.cache import DEFAULT_FILE_MODE, ContentCache
from msr_oci.registry.diff import DiffEntry, diff_revisions
from msr_oci.registry.filters import compile_filter
from msr_oci.registry.listing import LISTING_CONCURRENCY, index_entries_for, list_repository
from msr_oci.registry.namespace import Namespace
from msr_oci.registry.render import DeploymentIds, RenderTarget, render_revision
from msr_oci.revision import (
    ModelServingRevision,
    check_artifact,
    check_publishable_version,
    decode_revision,
    encode_revision,
    file_mode,
    is_prerelease,
    revision_files,
    tag_to_version,
    version_sort_key,
    version_to_tag,
)

if TYPE_CHECKING:
    from msr_oci.governance.audit import AuditEvent
    from msr_oci.governance.bundles import SigningMaterial
    from msr_oci.governance.evaluation import Verdict
    from msr_oci.governance.policy_store import StoredPolicy
    from msr_oci.registry.governance import AttachedAttestation, Discovery, PolicyChoice, RevisionGovernance

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
SortOrder = Literal["semver", "time"]

_REFERRERS_FALLBACK_TAG = re.compile(r"^(sha256|sha512)-[0-9a-f]{64,128}$")
#: fields that are not content: two revisions differing only here are the same revision
_NON_CONTENT_FIELDS = {"id", "digest", "aliases", "created_at", "updated_at", "created_by", "supersedes"}
_HISTORY_LIMIT = 10_000


class VersionExists(ConflictError):
    pass


class NoEarlierVersion(ConflictError):
    pass


@dataclass(frozen=True)
class FetchedRevision:
    """A revision fetched by digest into the local cache: its record and a directory with its files."""

    revision: ModelServingRevision
    path: Path


@dataclass
class _RepositoryTags:
    """A repository's tags sorted into versions and aliases."""

    versions: dict[str, str]  # tag -> version
    alias_names: set[str]


def _classify_tags(tags: Iterable[str]) -> _RepositoryTags:
    tags = list(tags)
    alias_names = {t[len(aliases.ALIAS_LOG_PREFIX) :] for t in tags if t.startswith(aliases.ALIAS_LOG_PREFIX)}
    versions = {
        t: tag_to_version(t)
        for t in tags
        if not t.startswith("_") and t not in alias_names and not _REFERRERS_FALLBACK_TAG.match(t)
    }
    return _RepositoryTags(versions=versions, alias_names=alias_names)


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Run two jobs together; when one fails, the other is stopped (and cleaned up) first."""
    tasks = (asyncio.ensure_future(first), asyncio.ensure_future(second))
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            await _cancel(task)
        raise
    return tasks[0].result(), tasks[1].result()


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Stop a task and wait until it has cleaned up."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return os.environ.get("USER", "unknown")


def _content_of(revision: ModelServingRevision) -> dict[str, Any]:
    """What makes two revisions the same: their record and their files' names, bytes and modes."""
    data = revision.model_dump(mode="json", exclude=_NON_CONTENT_FIELDS | {"documents", "extra_files"})
    layers = encode_revision(revision).manifest.layers
    data["files"] = sorted((layer.title or "", layer.digest, file_mode(layer)) for layer in layers)
    return data


class AsyncRemoteRegistry:
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
        self.namespace = Namespace.parse(namespace)
        self.options = options
        self.cache = ContentCache(cache_dir)
        self.concurrency = concurrency
        self._registries: dict[str, Registry] = {}
        self._stores: dict[Path, LocalStore] = {}
        self._targets: dict[tuple[str | None, str], Target] = {}
        self._governance: RevisionGovernance | None = None

    async def __aenter__(self) -> AsyncRemoteRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()
        for registry in self._registries.values():
            await registry.aclose()
        self._targets.clear()
        self._registries.clear()

    # ---- plumbing -----------------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far to every registry (for tests and benchmarks)."""
        return sum(r.request_count for r in self._registries.values())

    def _store(self) -> LocalStore:
        root = self.namespace.store_root
        assert root is not None
        if root not in self._stores:
            self._stores[root] = LocalStore(root)
        return self._stores[root]

    def target(self, ref: Reference) -> Target:
        """The content store holding ``ref``'s repository (``ref`` already located in the namespace)."""
        key = (ref.registry, ref.repository)
        if key not in self._targets:
            if ref.registry is None:
                self._targets[key] = self._store().repository(ref.repository)
            else:
                if ref.registry not in self._registries:
                    self._registries[ref.registry] = Registry(ref.registry, self.options)
                self._targets[key] = self._registries[ref.registry].repository(ref.repository)
        return self._targets[key]

    def locate(self, ref: str | Reference) -> Reference:
        """A reference made absolute in the namespace (``name:1.0.0+b.5`` names the tag ``1.0.0_b.5``)."""
        if isinstance(ref, str):
            name, at, digest = ref.partition("@")
            slash = name.rfind("/")
            colon = name.find(":", slash + 1)
            if colon >= 0 and "+" in name[colon:]:
                ref = name[: colon + 1] + version_to_tag(name[colon + 1 :]) + at + digest
        return self.namespace.locate(ref)

    def _repository_ref(self, name: str) -> Reference:
        return self.namespace.locate(Reference(repository=name))

    def revision_id(self, ref: Reference, digest: str) -> str:
        return str(Reference(repository=ref.repository, registry=ref.registry, digest=digest))

    async def _gather(self, jobs: Iterable[Awaitable[T]], *, limit: int | None = None) -> list[T]:
        """Run jobs concurrently, at most ``limit`` (default ``concurrency``) at once, results in order."""
        slots = asyncio.Semaphore(limit or self.concurrency)

        async def bounded(job: Awaitable[T]) -> T:
            async with slots:
                return await job

        pending = list(jobs)
        tasks = [asyncio.ensure_future(bounded(job)) for job in pending]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # stop the siblings and let them clean up (temp files) before the error reaches the caller
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for job in pending:  # jobs cancelled before they started were never awaited
                if inspect.iscoroutine(job):
                    job.close()
            raise

    async def _tags(self, target: Target) -> list[str]:
        try:
            return [tag async for tag in target.list_tags()]
        except NameUnknown:
            return []

    async def _small(self, target: Target, descriptor: Descriptor) -> bytes:
        """A manifest or config by digest: from the cache, else fetched (verified) and cached."""
        cached = self.cache.read_small(descriptor)
        if cached is not None:
            return cached
        data = await target.fetch_bytes(descriptor)
        self.cache.put_small(descriptor, data)
        return data

    async def _manifest_by_digest(self, target: Target, digest: str) -> tuple[Descriptor, ImageManifest]:
        """An image manifest by digest: immutable, so the verified cache copy serves without a request."""
        cached = self._cached_manifest(digest)
        if cached is not None:
            return cached
        descriptor, manifest, data = await target.fetch_manifest(digest)
        if not isinstance(manifest, ImageManifest):
            raise InvalidManifest(f"{digest} is an image index, not a manifest")
        self.cache.put_small(descriptor, data)
        return descriptor, manifest

    async def _manifest(self, ref: Reference) -> tuple[Descriptor, ImageManifest]:
        """The revision manifest ``ref`` names, verified (a bare name means its latest version)."""
        target = self.target(ref)
        if ref.digest:
            descriptor, manifest = await self._manifest_by_digest(target, ref.digest)
        else:
            tag = ref.tag or await self._latest_tag(ref)
            descriptor, fetched, data = await target.fetch_manifest(tag)
            if not isinstance(fetched, ImageManifest):
                raise InvalidManifest(f"{ref} is an image index, not a model serving revision")
            self.cache.put_small(descriptor, data)
            manifest = fetched
        check_artifact(manifest)
        return descriptor, manifest

    def _cached_manifest(self, digest: str) -> tuple[Descriptor, ImageManifest] | None:
        path = self.cache.blob_path(digest)
        if not path.is_file():
            return None
        descriptor = Descriptor(media_type=MEDIA_TYPE_IMAGE_MANIFEST, digest=digest, size=path.stat().st_size)
        data = self.cache.read_small(descriptor)
        if data is None:
            return None
        manifest = parse_manifest(data)
        if not isinstance(manifest, ImageManifest):
            return None
        return descriptor, manifest

    async def _load(self, ref: Reference) -> ModelServingRevision:
        descriptor, manifest = await self._manifest(ref)
        config = await self._small(self.target(ref), manifest.config)
        return decode_revision(manifest, config, digest=descriptor.digest, reference_name=ref.name)

    async def _latest_tag(self, ref: Reference, *, devel: bool = False) -> str:
        """The newest stable version's tag (like helm: prereleases only with ``devel`` or when there
        is nothing else)."""
        scan = _classify_tags(await self._tags(self.target(ref)))
        if not scan.versions:
            raise NameUnknown(f"no versions of {ref.name}", hint="publish one with `msr push`")
        stable = {t: v for t, v in scan.versions.items() if not is_prerelease(v)}
        candidates = scan.versions if devel or not stable else stable
        return max(candidates, key=lambda tag: version_sort_key(candidates[tag]))

    async def _alias_heads(self, target: Target, alias_names: Iterable[str]) -> dict[str, AliasEntry]:
        """The newest log entry of each alias (active or removed)."""

        async def head(alias: str) -> AliasEntry | None:
            try:
                descriptor, manifest, _ = await target.fetch_manifest(aliases.log_tag(alias))
            except NotFoundError:
                return None
            if not isinstance(manifest, ImageManifest):
                return None
            return aliases.decode_entry(manifest, descriptor.digest)

        names = sorted(alias_names)
        entries = await self._gather(head(name) for name in names)
        return {name: entry for name, entry in zip(names, entries, strict=True) if entry is not None}

    async def _aliases_by_digest(self, target: Target, alias_names: Iterable[str]) -> dict[str, list[str]]:
        by_digest: dict[str, list[str]] = {}
        for alias, entry in (await self._alias_heads(target, alias_names)).items():
            if entry.active and entry.digest:
                by_digest.setdefault(entry.digest, []).append(alias)
        return by_digest

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
        revision = ModelServingRevision.checked(revision)
        ref = self._repository_ref(revision.name)
        check_publishable_version(revision.version, any_scheme=any_version)
        version_tag = version_to_tag(revision.version)
        if version_tag.startswith("_"):
            raise InputError(f"version {revision.version!r} may not start with '_' (reserved)")
        now = _now()
        revision = revision.model_copy(
            update={
                "created_at": revision.created_at or now,
                "updated_at": revision.updated_at or revision.created_at or now,
                "created_by": revision.created_by or _default_user(),
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
        tags = await self._tags(self.target(ref))
        indexed = repository_index.INDEX_TAG in tags
        scan = _classify_tags(tags)
        if version_tag in scan.alias_names:
            raise VersionExists(
                f"{revision.name}: {revision.version!r} is already the name of an alias",
                hint="choose another version string",
            )
        if version_tag not in scan.versions:
            return None, indexed
        existing = await self._load(ref.with_tag(version_tag))
        if _content_of(existing) == _content_of(revision):
            return existing.id or self.revision_id(ref, existing.digest or ""), indexed
        if not overwrite:
            raise VersionExists(
                f"{revision.name} version {revision.version} already exists with different content "
                f"({existing.digest})",
                hint="publish a new version, use update_revision (`msr push --update`), "
                "or overwrite (`--force`)",
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

        await self._gather(push_blob(d, c) for d, c in blobs)

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
        target = self.target(ref)
        target.expect_push()
        encoded = encode_revision(revision)
        events(progress).expect(sum(descriptor.size for descriptor, _ in encoded.blobs))
        uploads = asyncio.ensure_future(self._push_blobs(target, encoded.blobs, progress))
        try:
            existing, indexed = await check if check is not None else (None, True)
        except BaseException:
            await _cancel(uploads)
            raise
        if existing is not None:
            await _cancel(uploads)
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
        return self.revision_id(ref, encoded.descriptor.digest)

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
        ref = self.locate(revision_id)
        if devel and ref.tag is None and ref.digest is None:
            ref = ref.with_tag(await self._latest_tag(ref, devel=True))
        if policy is not None:
            ref = await self.governance.gate(ref, policy, stage)
        if not with_aliases:
            return await self._load(ref)
        target = self.target(ref)

        async def aliases_by_digest() -> dict[str, list[str]]:
            scan = _classify_tags(await self._tags(target))
            return await self._aliases_by_digest(target, scan.alias_names)

        # the revision and the tag list together: two round trips for a revision without aliases
        revision, by_digest = await _both(self._load(ref), aliases_by_digest())
        return revision.model_copy(update={"aliases": sorted(by_digest.get(revision.digest or "", []))})

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
        predicate = compile_filter(filters)
        names = await self.list_names(filters)
        per_repository = await asyncio.gather(
            *(list_repository(self, name, filters, predicate, verify=verify) for name in names)
        )
        revisions = [r for group in per_repository for r in group]
        if sort == "time":
            revisions.sort(
                key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.name), reverse=reverse
            )
        else:
            revisions.sort(key=lambda r: (r.name, version_sort_key(r.version)), reverse=reverse)
        return revisions

    async def build_index(self, name: str) -> int:
        """Create (or rebuild) the repository index of ``name`` from its version tags; publishes and
        updates keep it from then on. Returns the number of versions indexed."""
        ref = self._repository_ref(name)
        target = self.target(ref)
        scan = _classify_tags(await self._tags(target))
        tags = sorted(scan.versions)

        async def read(tag: str) -> tuple[Descriptor, ImageManifest]:
            return await self._manifest(ref.with_tag(tag))

        manifests = await self._gather((read(tag) for tag in tags), limit=LISTING_CONCURRENCY)
        await repository_index.build(target, index_entries_for(dict(zip(tags, manifests, strict=True))))
        return len(tags)

    async def list_names(self, filters: Mapping[str, Any] | None = None) -> list[str]:
        """Revision names in the namespace (one exact ``name`` filter needs no catalog request)."""
        name_filter = (filters or {}).get("name")
        if isinstance(name_filter, str) and not any(ch in name_filter for ch in "*?["):
            return [name_filter]
        if self.namespace.is_local:
            repositories = self._store().repositories()
        else:
            assert self.namespace.registry is not None
            registry = self._registries.get(self.namespace.registry)
            if registry is None:
                registry = self._registries[self.namespace.registry] = Registry(
                    self.namespace.registry, self.options
                )
            repositories = [r async for r in registry.catalog()]
        prefix = f"{self.namespace.prefix}/" if self.namespace.prefix else ""
        return sorted(
            r[len(prefix) :] for r in repositories if r.startswith(prefix) and "/" not in r[len(prefix) :]
        )

    async def versions(self, name: str) -> list[str]:
        """Versions of a revision, in semver order."""
        scan = _classify_tags(await self._tags(self.target(self._repository_ref(name))))
        return sorted(scan.versions.values(), key=version_sort_key)

    async def update_revision(
        self, revision_id: str, revision: ModelServingRevision, *, progress: ProgressCallback | None = None
    ) -> str:
        """Publish new content for the same version, recording the digest it supersedes, and move the
        version tag. The old digest stays fetchable; aliases keep pointing at what they pinned."""
        revision = ModelServingRevision.checked(revision)
        ref = self.locate(revision_id)
        old = await self._load(ref)
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
                "updated_at": _now(),
                "created_by": revision.created_by or old.created_by,
            }
        )
        if _content_of(updated) == _content_of(old):
            return old.id or self.revision_id(ref, old.digest or "")
        repository = Reference(repository=ref.repository, registry=ref.registry)
        return await self._publish(repository, updated, version_to_tag(old.version), progress)

    async def history(self, revision_id: str) -> list[ModelServingRevision]:
        """The revision and every revision it superseded, newest first."""
        ref = self.locate(revision_id)
        chain = [await self._load(ref)]
        seen = {chain[0].digest}
        while chain[-1].supersedes and len(chain) < _HISTORY_LIMIT:
            digest = chain[-1].supersedes
            if digest in seen:
                raise InvalidManifest(f"supersedes chain of {ref} loops at {digest}")
            seen.add(digest)
            chain.append(await self._load(ref.with_tag(None).with_digest(digest)))
        return chain

    async def _tags_pointing_at(self, ref: Reference, digest: str) -> list[str]:
        target = self.target(ref)
        scan = _classify_tags(await self._tags(target))
        candidates = [*scan.versions, *sorted(scan.alias_names)]

        async def points_here(tag: str) -> bool:
            try:
                return (await target.resolve(tag)).digest == digest
            except NotFoundError:
                return False

        hits = await self._gather(points_here(tag) for tag in candidates)
        return [tag for tag, hit in zip(candidates, hits, strict=True) if hit]

    async def delete_revision(self, revision_id: str) -> None:
        """Remove the revision's manifest and every tag pointing at it (blobs are left to registry GC)."""
        ref = self.locate(revision_id)
        descriptor, _ = await self._manifest(ref)
        # deleting a manifest by digest removes every tag pointing at it (distribution spec)
        await self.target(ref).delete(descriptor)
        self.cache.evict(descriptor.digest)  # or this machine would go on serving it by digest

    async def archive(self, revision_id: str) -> list[str]:
        """Untag the revision (version, aliases) but keep its digest fetchable; returns the tags removed."""
        ref = self.locate(revision_id)
        descriptor, _ = await self._manifest(ref)
        target = self.target(ref)
        removed = await self._tags_pointing_at(ref, descriptor.digest)
        for tag in removed:
            await target.untag(tag)
        for tag in removed:  # stale entries are ignored by readers anyway (the tag list is the truth)
            await repository_index.record(target, ref.name, tag, None)
        return removed

    # ---- aliases ------------------------------------------------------------------------------------

    async def set_alias(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        by: str | None = None,
        action: str = aliases.ACTION_SET,
        policy: PolicyChoice | None = None,
    ) -> AliasEntry:
        """Point ``alias`` at a version (or ``@sha256:...`` digest) of ``name``, recording the move.

        With ``policy``, refused (``PolicyNotSatisfied``) unless the revision meets the policy's rule
        for the alias; ``"repository"`` applies the repository's stored policy when it has one."""
        validate_alias(alias)
        ref = self._repository_ref(name)
        target = self.target(ref)
        scan = _classify_tags(await self._tags(target))
        if alias in scan.versions:
            raise ConflictError(
                f"{name}: {alias!r} is a version, not an alias", hint="choose another alias name"
            )
        located = (
            ref.with_digest(version[1:]) if version.startswith("@") else ref.with_tag(version_to_tag(version))
        )
        descriptor, manifest = await self._manifest(located)
        if policy is not None:
            await self.governance.check_alias_move(located, descriptor, manifest, alias, policy)
        revision = await self._load(located.with_tag(None).with_digest(descriptor.digest))
        return await self._move_alias(target, alias, descriptor, revision.version, action, by)

    async def _move_alias(
        self,
        target: Target,
        alias: str,
        descriptor: Descriptor | None,
        version: str | None,
        action: str,
        by: str | None,
    ) -> AliasEntry:
        previous = await self._alias_heads(target, [alias])
        head = previous.get(alias)
        unchanged = (
            head is not None and head.active and descriptor is not None and head.digest == descriptor.digest
        )
        if unchanged and action == aliases.ACTION_SET:
            assert head is not None and descriptor is not None
            # already there: record nothing new, but re-point the tag in case a crash left it behind
            await target.tag(descriptor, alias)
            return head
        entry_descriptor, entry_bytes = aliases.encode_entry(
            alias,
            version=version,
            digest=descriptor.digest if descriptor else None,
            action=action,
            by=by or _default_user(),
            previous=head.entry_digest if head is not None else None,
        )
        if not await target.exists(EMPTY_DESCRIPTOR):
            await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
        await target.push_manifest(entry_descriptor, entry_bytes, tag=aliases.log_tag(alias))
        if descriptor is not None:
            await target.tag(descriptor, alias)
        else:
            with contextlib.suppress(NotFoundError):
                await target.untag(alias)
        manifest = parse_manifest(entry_bytes)
        assert isinstance(manifest, ImageManifest)
        return aliases.decode_entry(manifest, entry_descriptor.digest)

    async def remove_alias(self, name: str, alias: str, *, by: str | None = None) -> AliasEntry:
        validate_alias(alias)
        target = self.target(self._repository_ref(name))
        heads = await self._alias_heads(target, [alias])
        if alias not in heads or not heads[alias].active:
            raise NotFoundError(f"{name} has no alias {alias!r}")
        return await self._move_alias(target, alias, None, None, aliases.ACTION_REMOVE, by)

    async def list_aliases(self, name: str) -> dict[str, AliasEntry]:
        """Active aliases of ``name`` and what each points at."""
        target = self.target(self._repository_ref(name))
        scan = _classify_tags(await self._tags(target))
        heads = await self._alias_heads(target, scan.alias_names)
        return {alias: entry for alias, entry in heads.items() if entry.active}

    async def alias_history(self, name: str, alias: str) -> list[AliasEntry]:
        """Every move of ``alias``, newest first."""
        validate_alias(alias)
        target = self.target(self._repository_ref(name))
        heads = await self._alias_heads(target, [alias])
        if alias not in heads:
            raise NotFoundError(f"{name} has no alias {alias!r}")
        history = [heads[alias]]
        while history[-1].previous and len(history) < _HISTORY_LIMIT:
            digest = history[-1].previous
            _, manifest = await self._manifest_by_digest(target, digest)
            history.append(aliases.decode_entry(manifest, digest))
        return history

    async def rollback(
        self,
        name: str,
        alias: str,
        to_version: str | None = None,
        *,
        by: str | None = None,
        policy: PolicyChoice | None = None,
    ) -> AliasEntry:
        """Move ``alias`` back to the version it held before (or to ``to_version``); ``policy`` as in
        ``set_alias``."""
        if to_version is not None:
            return await self.set_alias(
                name, alias, to_version, by=by, action=aliases.ACTION_ROLLBACK, policy=policy
            )
        history = await self.alias_history(name, alias)
        current = history[0]
        for entry in history[1:]:
            if entry.active and entry.digest != current.digest and entry.digest is not None:
                return await self.set_alias(
                    name, alias, "@" + entry.digest, by=by, action=aliases.ACTION_ROLLBACK, policy=policy
                )
        raise NoEarlierVersion(f"{name}: alias {alias!r} has held no other version", hint="give --to VERSION")

    # ---- fetching files -----------------------------------------------------------------------------

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
        ref = self.locate(revision_ref)
        if policy is not None:
            ref = await self.governance.gate(ref, policy, stage)
        if ref.digest and self.cache.has_revision(ref.digest):
            cached = self._load_cached(ref)
            if cached is not None:
                return cached
        with self.cache.in_use():  # ``prune`` keeps this fetch's blobs until its directory exists
            descriptor, manifest = await self._manifest(ref)
            files = revision_files(manifest)  # path safety is checked before anything is downloaded
            target = self.target(ref)
            # the config travels with the layers: one round trip fewer than fetching it first
            jobs: list[Awaitable[object]] = [self._small(target, manifest.config)]
            events(progress).expect(sum(layer.size for _, layer in files))
            jobs += [self.cache.fill(target, layer, progress=progress) for _, layer in files]
            config = (await self._gather(jobs))[0]
            assert isinstance(config, bytes)
            revision = decode_revision(manifest, config, digest=descriptor.digest, reference_name=ref.name)
            entries: list[tuple[str, Descriptor, int | None]] = [
                ("manifest.json", descriptor, 0o444),
                ("config.json", manifest.config, 0o444),
            ]
            entries += [(f"files/{relative}", layer, file_mode(layer)) for relative, layer in files]
            root = self.cache.materialize(descriptor.digest, entries)
        return FetchedRevision(revision=revision, path=root / "files")

    def _load_cached(self, ref: Reference) -> FetchedRevision | None:
        """A cached revision directory, if it still holds what was fetched (else None: fetch again)."""
        assert ref.digest is not None
        found = self.cache.read_revision(ref.digest)
        if found is None:
            return None
        manifest_bytes, config = found
        manifest = parse_manifest(manifest_bytes)
        if not isinstance(manifest, ImageManifest):
            return None
        files = [
            (f"files/{relative}", layer, file_mode(layer)) for relative, layer in revision_files(manifest)
        ]
        if not self.cache.files_intact(ref.digest, files):
            self.cache.evict_revision(ref.digest)  # changed in place by a consumer: rebuild it
            return None
        revision = decode_revision(manifest, config, digest=ref.digest, reference_name=ref.name)
        return FetchedRevision(revision=revision, path=self.cache.revision_dir(ref.digest) / "files")

    async def pull(
        self,
        revision_ref: str,
        destination: Path,
        *,
        progress: ProgressCallback | None = None,
        policy: PolicyChoice | None = None,
        stage: str | None = None,
    ) -> ModelServingRevision:
        """Write a revision's files into ``destination``, each verified, through temp files and renames
        (with ``policy``: only once the deploy gate passes, as in ``fetch``)."""
        ref = self.locate(revision_ref)
        if policy is not None:
            ref = await self.governance.gate(ref, policy, stage)
        descriptor, manifest = await self._manifest(ref)
        files = revision_files(manifest)
        target = self.target(ref)
        with writing(destination):
            destination.mkdir(parents=True, exist_ok=True)
        root = destination.resolve()
        for relative, _ in files:
            if not (root / relative).resolve().is_relative_to(root):
                raise InputError(f"{relative!r} would leave {destination} (through a symlink)")
        # temp files an interrupted pull of these files left (no live pull holds them) go first
        remove_abandoned_beside(root / relative for relative, _ in files)
        # the config travels with the layers: one round trip fewer than fetching it first
        jobs: list[Awaitable[object]] = [self._small(target, manifest.config)]
        events(progress).expect(sum(layer.size for _, layer in files))
        jobs += [target.fetch_to_file(layer, root / relative, progress=progress) for relative, layer in files]
        config = (await self._gather(jobs))[0]
        assert isinstance(config, bytes)
        try:
            revision = decode_revision(manifest, config, digest=descriptor.digest, reference_name=ref.name)
            for relative, layer in files:  # the permission bits as published (start.sh stays executable)
                mode = file_mode(layer)
                os.chmod(root / relative, DEFAULT_FILE_MODE if mode is None else mode)
            return revision
        except BaseException:
            for relative, _ in files:  # a record that contradicts its layers leaves nothing behind
                (root / relative).unlink(missing_ok=True)
            raise

    # ---- moving revisions between registries, stores and archives ---------------------------------

    async def copy(
        self, source_ref: str, destination_ref: str, *, progress: ProgressCallback | None = None
    ) -> str:
        """Copy a revision to another repository (registry to registry, to or from the local store).

        ``destination_ref`` names a repository (``host/ns/name``, or ``name`` for the namespace); its
        tag defaults to the revision's version. Blobs go first, the manifest last. Returns the new id.
        """
        source = self.locate(source_ref)
        destination = self.locate(destination_ref)
        descriptor, manifest = await self._manifest(source)
        revision = decode_revision(
            manifest, await self._small(self.target(source), manifest.config), digest=descriptor.digest
        )
        tag = destination.tag or version_to_tag(revision.version)
        events(progress).expect(manifest.config.size + sum(layer.size for layer in manifest.layers))
        await copy_graph(
            self.target(source),
            self.target(destination),
            descriptor,
            concurrency=self.concurrency,
            progress=progress,
        )
        await self.target(destination).tag(descriptor, tag)
        return self.revision_id(destination, descriptor.digest)

    async def export(self, revision_ref: str, tar_path: Path) -> str:
        """Write a revision as an OCI-layout tarball (skopeo: ``oci-archive:``); returns its digest."""
        ref = self.locate(revision_ref)
        descriptor, manifest = await self._manifest(ref)
        revision = decode_revision(
            manifest, await self._small(self.target(ref), manifest.config), digest=descriptor.digest
        )
        with tempfile.TemporaryDirectory(prefix=".msr-export-", dir=tar_path.parent) as staging:
            layout = OCILayout(Path(staging))
            await copy_graph(self.target(ref), layout, descriptor, concurrency=self.concurrency)
            await layout.tag(descriptor, version_to_tag(revision.version))
            write_layout_tar(Path(staging), tar_path)
        return descriptor.digest

    async def import_archive(self, tar_path: Path) -> list[str]:
        """Publish every revision tagged in an OCI-layout tarball into this namespace. Returns their ids."""
        ids: list[str] = []
        with tempfile.TemporaryDirectory(prefix=".msr-import-") as staging:
            extract_layout_tar(tar_path, Path(staging))
            layout = OCILayout(Path(staging), create=False)
            async for tag in layout.list_tags():
                descriptor, manifest, _ = await layout.fetch_manifest(tag)
                if not isinstance(manifest, ImageManifest):
                    raise InvalidManifest(f"{tar_path}: {tag} is not a model serving revision")
                check_artifact(manifest)
                revision = decode_revision(
                    manifest, await layout.fetch_bytes(manifest.config), digest=descriptor.digest
                )
                destination = self._repository_ref(revision.name)
                await copy_graph(layout, self.target(destination), descriptor, concurrency=self.concurrency)
                await self.target(destination).tag(descriptor, tag)
                ids.append(self.revision_id(destination, descriptor.digest))
        if not ids:
            raise InputError(f"{tar_path}: the archive holds no tagged revision")
        return ids

    async def render(
        self, revision_ref: str, target: RenderTarget, ids: DeploymentIds | None = None
    ) -> dict[str, Any]:
        """The JSON Backend.AI takes to deploy this revision (see ``registry/render.py``)."""
        revision = await self.get_revision(revision_ref, with_aliases=False)
        return render_revision(revision, target, ids or DeploymentIds())

    async def diff(self, a: str, b: str) -> list[DiffEntry]:
        """Structural differences between two revisions (definition, configuration, metadata)."""
        left, right = await asyncio.gather(self.get_revision(a), self.get_revision(b))
        return diff_revisions(left, right)

    # ---- governance (msr_oci.registry.governance does the work) ------------------------------------

    @property
    def governance(self) -> RevisionGovernance:
        """Signatures, approvals, policies and the audit timeline of this namespace's revisions."""
        if self._governance is None:
            from msr_oci.registry.governance import RevisionGovernance

            self._governance = RevisionGovernance(self)
        return self._governance

    async def sign(self, revision_ref: str, material: SigningMaterial) -> AttachedAttestation:
        """Sign the revision's files (OpenSSF model signing) and attach the bundle as a referrer."""
        return await self.governance.sign(revision_ref, material)

    async def approve(
        self,
        revision_ref: str,
        stage: str,
        material: SigningMaterial,
        *,
        approver: str | None = None,
        comment: str | None = None,
    ) -> AttachedAttestation:
        """Attach a signed approval of the revision for ``stage``."""
        return await self.governance.approve(
            revision_ref, stage, material, approver=approver or _default_user(), comment=comment
        )

    async def discover(self, revision_ref: str, *, policy: PolicyChoice | None = None) -> Discovery:
        """The revision's signatures and approvals (verified when a ``policy`` is given)."""
        return await self.governance.discover(revision_ref, policy)

    async def verify(self, revision_ref: str, *, policy: PolicyChoice, stage: str | None = None) -> Verdict:
        """Whether the revision meets ``policy`` for ``stage``, with every finding."""
        return await self.governance.verify(revision_ref, policy, stage)

    async def audit(self, name: str) -> list[AuditEvent]:
        """Publishes, updates, alias moves, signatures, approvals and policy changes of ``name``."""
        return await self.governance.audit(name)

    async def set_policy(
        self, name: str, data: bytes, materials: list[SigningMaterial], *, source: str = "policy"
    ) -> StoredPolicy:
        """Store ``data`` (policy YAML) as the signed policy of ``name``."""
        return await self.governance.set_policy(name, data, materials, source=source)

    async def get_policy(self, name: str) -> StoredPolicy:
        """The stored policy of ``name``, verified against this machine's trust pin."""
        return await self.governance.trusted_policy(name)

    def forget_policy(self, name: str) -> bool:
        """Drop this machine's trust pin for the policy of ``name``."""
        return self.governance.forget_policy(name)
