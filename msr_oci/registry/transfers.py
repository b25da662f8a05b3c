"""Moving revision content: fetch (into the cache), pull (into a directory), copy, export (import:
imports.py).

Every read goes through ``RevisionReader`` (verified, cached by digest); every write puts blobs first
and the manifest last, through temp files and renames. With a ``policy``, fetch and pull hand out
nothing before the deploy gate passes (governance.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from msr_oci.oci import Descriptor, ImageManifest, ProgressCallback, Reference, parse_manifest
from msr_oci.oci.copy import copy_graph
from msr_oci.oci.errors import InputError, writing
from msr_oci.oci.layout import OCILayout
from msr_oci.oci.tempfiles import remove_abandoned_beside
from msr_oci.registry.archive import write_layout_tar
from msr_oci.registry.cache import DEFAULT_FILE_MODE, ContentCache
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.targets import Targets
from msr_oci.revision import (
    ModelServingRevision,
    decode_revision,
    file_mode,
    revision_files,
    version_to_tag,
)

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice, RevisionGovernance


@dataclass(frozen=True)
class FetchedRevision:
    """A revision fetched by digest into the local cache: its record and a directory with its files."""

    revision: ModelServingRevision
    path: Path


class Transfers:
    def __init__(
        self,
        targets: Targets,
        reader: RevisionReader,
        cache: ContentCache,
        governance: Callable[[], RevisionGovernance],
    ) -> None:
        self.targets = targets
        self.reader = reader
        self.cache = cache
        self._governance = governance

    async def _gated(self, revision_ref: str, policy: PolicyChoice | None, stage: str | None) -> Reference:
        """The reference located, and pinned to its digest once it meets ``policy`` (if any)."""
        ref = self.targets.locate(revision_ref)
        if policy is not None:
            ref = await self._governance().gate(ref, policy, stage)
        return ref

    async def fetch(
        self,
        revision_ref: str,
        *,
        progress: ProgressCallback | None,
        policy: PolicyChoice | None,
        stage: str | None,
    ) -> FetchedRevision:
        ref = await self._gated(revision_ref, policy, stage)
        if ref.digest and self.cache.has_revision(ref.digest):
            cached = self._load_cached(ref)
            if cached is not None:
                return cached
        with self.cache.in_use():  # ``prune`` keeps this fetch's blobs until its directory exists
            descriptor, manifest = await self.reader.manifest(ref)
            files = revision_files(manifest)  # path safety is checked before anything is downloaded
            target = self.targets.target(ref)
            # the config travels with the layers: one round trip fewer than fetching it first
            jobs: list[Awaitable[object]] = [self.reader.small(target, manifest.config)]
            jobs += [self.cache.fill(target, layer, progress=progress) for _, layer in files]
            config = (await self.targets.gather(jobs))[0]
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
        progress: ProgressCallback | None,
        policy: PolicyChoice | None,
        stage: str | None,
    ) -> ModelServingRevision:
        ref = await self._gated(revision_ref, policy, stage)
        descriptor, manifest = await self.reader.manifest(ref)
        files = revision_files(manifest)
        target = self.targets.target(ref)
        with writing(destination):
            destination.mkdir(parents=True, exist_ok=True)
        root = destination.resolve()
        for relative, _ in files:
            if not (root / relative).resolve().is_relative_to(root):
                raise InputError(f"{relative!r} would leave {destination} (through a symlink)")
        # temp files an interrupted pull of these files left (no live pull holds them) go first
        remove_abandoned_beside(root / relative for relative, _ in files)
        # the config travels with the layers: one round trip fewer than fetching it first
        jobs: list[Awaitable[object]] = [self.reader.small(target, manifest.config)]
        jobs += [target.fetch_to_file(layer, root / relative, progress=progress) for relative, layer in files]
        config = (await self.targets.gather(jobs))[0]
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

    async def _revision_at(self, ref: Reference) -> tuple[Descriptor, ModelServingRevision]:
        descriptor, manifest = await self.reader.manifest(ref)
        config = await self.reader.small(self.targets.target(ref), manifest.config)
        return descriptor, decode_revision(manifest, config, digest=descriptor.digest)

    async def copy(self, source_ref: str, destination_ref: str, *, progress: ProgressCallback | None) -> str:
        source = self.targets.locate(source_ref)
        destination = self.targets.locate(destination_ref)
        descriptor, revision = await self._revision_at(source)
        tag = destination.tag or version_to_tag(revision.version)
        await copy_graph(
            self.targets.target(source),
            self.targets.target(destination),
            descriptor,
            concurrency=self.targets.concurrency,
            progress=progress,
        )
        await self.targets.target(destination).tag(descriptor, tag)
        return self.targets.revision_id(destination, descriptor.digest)

    async def export(self, revision_ref: str, tar_path: Path) -> str:
        ref = self.targets.locate(revision_ref)
        descriptor, revision = await self._revision_at(ref)
        with tempfile.TemporaryDirectory(prefix=".msr-export-", dir=tar_path.parent) as staging:
            layout = OCILayout(Path(staging))
            source = self.targets.target(ref)
            await copy_graph(source, layout, descriptor, concurrency=self.targets.concurrency)
            await layout.tag(descriptor, version_to_tag(revision.version))
            write_layout_tar(Path(staging), tar_path)
        return descriptor.digest
