"""Moving revision content: fetch (into the cache), pull (into a directory), export (copy:
copies.py; import: imports.py).

Every read goes through ``RevisionReader`` (verified, cached by digest); every write puts blobs first
and the manifest last, through temp files and renames. With a ``policy``, fetch and pull hand out
nothing before the deploy gate passes (governance.py).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from msr_oci.oci import Descriptor, ImageManifest, ProgressCallback, Reference, parse_manifest
from msr_oci.oci.graph_copy import copy_graph
from msr_oci.oci.layout import OCILayout
from msr_oci.oci.progress import events
from msr_oci.oci.tempfiles import atomic_file, scratch_directory
from msr_oci.registry import pull_directory
from msr_oci.registry.archive import write_layout_tar
from msr_oci.registry.cache import DEFAULT_FILE_MODE, ContentCache
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.targets import Targets
from msr_oci.revision import (
    REVISION_FILE,
    ModelServingRevision,
    decode_revision,
    file_mode,
    revision_files,
    version_to_tag,
)
from msr_oci.revision.pulled_record import render_revision_file

if TYPE_CHECKING:
    from msr_oci.registry.governance import PolicyChoice, RevisionGovernance

#: an export builds its layout beside the tarball in ``.msr-export-<random>`` (one a killed export
#: left there is removed by the next export to that directory)
EXPORT_STAGING_PREFIX: Final = ".msr-export-"


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
            events(progress).expect(sum(layer.size for _, layer in files))
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
        force: bool = False,
    ) -> ModelServingRevision:
        ref = await self._gated(revision_ref, policy, stage)
        descriptor, manifest = await self.reader.manifest(ref)
        files = revision_files(manifest)
        target = self.targets.target(ref)
        pull_directory.prepare(destination, force=force)
        with pull_directory.staged(destination) as staging:
            # the config travels with the layers: one round trip fewer than fetching it first
            jobs: list[Awaitable[object]] = [self.reader.small(target, manifest.config)]
            events(progress).expect(sum(layer.size for _, layer in files))
            jobs += [
                target.fetch_to_file(layer, staging / relative, progress=progress)
                for relative, layer in files
            ]
            config = (await self.targets.gather(jobs))[0]
            assert isinstance(config, bytes)
            revision = decode_revision(manifest, config, digest=descriptor.digest, reference_name=ref.name)
            for relative, layer in files:  # the permission bits as published (start.sh stays executable)
                mode = file_mode(layer)
                os.chmod(staging / relative, DEFAULT_FILE_MODE if mode is None else mode)
            record_file = staging / REVISION_FILE
            generated = render_revision_file(revision) if revision.document("revision") is None else None
            if generated is not None and not record_file.exists():
                # the record's description, labels, metrics...: kept by a push of the pulled files
                with atomic_file(record_file, mode=DEFAULT_FILE_MODE) as fh:
                    fh.write(generated)
            pull_directory.install(staging, destination, force=force)
        return revision

    async def _revision_at(self, ref: Reference) -> tuple[Descriptor, ModelServingRevision]:
        descriptor, manifest = await self.reader.manifest(ref)
        config = await self.reader.small(self.targets.target(ref), manifest.config)
        return descriptor, decode_revision(manifest, config, digest=descriptor.digest)

    async def export(self, revision_ref: str, tar_path: Path) -> str:
        ref = self.targets.locate(revision_ref)
        descriptor, revision = await self._revision_at(ref)
        with scratch_directory(tar_path.parent, prefix=EXPORT_STAGING_PREFIX) as staging:
            layout = OCILayout(staging)
            source = self.targets.target(ref)
            await copy_graph(source, layout, descriptor, concurrency=self.targets.concurrency)
            await layout.tag(descriptor, version_to_tag(revision.version))
            write_layout_tar(staging, tar_path)
        return descriptor.digest
