"""Builders shared by the remote client tests (this module holds no tests)."""

from __future__ import annotations

from msr_oci.oci import EMPTY_DESCRIPTOR, MEDIA_TYPE_IMAGE_MANIFEST, Descriptor, ImageManifest
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.oci.remote import RemoteRepository

LAYER_TYPE = "application/vnd.test.layer"


def blob(data: bytes, media_type: str = LAYER_TYPE, title: str | None = None) -> Descriptor:
    annotations = {"org.opencontainers.image.title": title} if title else None
    return Descriptor.from_bytes(media_type, data, annotations=annotations)


def manifest_bytes(
    layers: list[Descriptor],
    *,
    artifact_type: str = "application/vnd.test.artifact",
    subject: Descriptor | None = None,
) -> tuple[Descriptor, bytes]:
    manifest = ImageManifest(
        artifact_type=artifact_type,
        config=EMPTY_DESCRIPTOR,
        layers=layers or [EMPTY_DESCRIPTOR],
        subject=subject,
    )
    data = manifest.to_bytes()
    return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, data), data


async def push_artifact(
    repo: RemoteRepository,
    files: dict[str, bytes],
    *,
    tag: str | None = None,
    artifact_type: str = "application/vnd.test.artifact",
    subject: Descriptor | None = None,
) -> tuple[Descriptor, bytes]:
    """Push blobs (and the empty config), then the manifest: blobs first, manifest last."""
    await repo.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
    layers = []
    for name, data in files.items():
        descriptor = blob(data, title=name)
        await repo.push(descriptor, data)
        layers.append(descriptor)
    descriptor, data = manifest_bytes(layers, artifact_type=artifact_type, subject=subject)
    await repo.push_manifest(descriptor, data, tag)
    return descriptor, data
