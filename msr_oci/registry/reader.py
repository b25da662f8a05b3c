"""The one read-and-verify path for revision manifests and configs, through the content cache.

Everything read by digest is immutable, so a verified cache copy serves it without a request; what is
read by tag is fetched (the tag may have moved) and its verified bytes cached by digest.
"""

from __future__ import annotations

from msr_oci.errors import InvalidManifest, NameUnknown, NotFoundError, Remedy
from msr_oci.oci import (
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageManifest,
    Reference,
    Target,
    parse_manifest,
)
from msr_oci.registry.cache import ContentCache
from msr_oci.registry.not_found import explain_not_found
from msr_oci.registry.targets import Targets
from msr_oci.revision import (
    ModelServingRevision,
    check_artifact,
    decode_revision,
    is_prerelease,
    version_sort_key,
)


class RevisionReader:
    def __init__(self, targets: Targets, cache: ContentCache) -> None:
        self.targets = targets
        self.cache = cache

    async def small(self, target: Target, descriptor: Descriptor) -> bytes:
        """A manifest or config by digest: from the cache, else fetched (verified) and cached."""
        cached = self.cache.read_small(descriptor)
        if cached is not None:
            return cached
        data = await target.fetch_bytes(descriptor)
        self.cache.put_small(descriptor, data)
        return data

    def cached_manifest(self, digest: str) -> tuple[Descriptor, ImageManifest] | None:
        """An image manifest from the cache alone (re-verified), or ``None``."""
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

    async def manifest_by_digest(self, target: Target, digest: str) -> tuple[Descriptor, ImageManifest]:
        """An image manifest by digest: immutable, so the verified cache copy serves without a request."""
        cached = self.cached_manifest(digest)
        if cached is not None:
            return cached
        descriptor, manifest, data = await target.fetch_manifest(digest)
        if not isinstance(manifest, ImageManifest):
            raise InvalidManifest(f"{digest} is an image index, not a manifest")
        self.cache.put_small(descriptor, data)
        return descriptor, manifest

    async def manifest(self, ref: Reference) -> tuple[Descriptor, ImageManifest]:
        """The revision manifest ``ref`` names, verified (a bare name means its latest version);
        ``RevisionNotFound`` says which name, version, alias or digest is missing."""
        try:
            return await self._manifest(ref)
        except NotFoundError as exc:
            raise await explain_not_found(self.targets, ref, exc) from None

    async def _manifest(self, ref: Reference) -> tuple[Descriptor, ImageManifest]:
        target = self.targets.target(ref)
        if ref.digest:
            descriptor, manifest = await self.manifest_by_digest(target, ref.digest)
        else:
            tag = ref.tag or await self.latest_tag(ref)
            descriptor, fetched, data = await target.fetch_manifest(tag)
            if not isinstance(fetched, ImageManifest):
                raise InvalidManifest(f"{ref} is an image index, not a model serving revision")
            self.cache.put_small(descriptor, data)
            manifest = fetched
        check_artifact(manifest)
        return descriptor, manifest

    async def load(self, ref: Reference) -> ModelServingRevision:
        """The revision record ``ref`` names, its manifest and config verified."""
        descriptor, manifest = await self.manifest(ref)
        config = await self.small(self.targets.target(ref), manifest.config)
        return decode_revision(manifest, config, digest=descriptor.digest, reference_name=ref.name)

    async def latest_tag(self, ref: Reference, *, devel: bool = False) -> str:
        """The newest stable version's tag (like helm: prereleases only with ``devel`` or when there
        is nothing else)."""
        scan = await self.targets.scan(self.targets.target(ref))
        if not scan.versions:
            missing = NameUnknown(
                f"no versions of {ref.name}", what="versions", where=ref.name, remedies=(Remedy.PUBLISH,)
            )
            raise await explain_not_found(self.targets, ref, missing)
        stable = {t: v for t, v in scan.versions.items() if not is_prerelease(v)}
        candidates = scan.versions if devel or not stable else stable
        return max(candidates, key=lambda tag: version_sort_key(candidates[tag]))
