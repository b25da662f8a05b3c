"""Tags other tools put beside revisions are not versions (issue 10, item 6).

cosign writes ``sha256-<hex>.sig`` / ``.att`` / ``.sbom`` tags into the repository of what it signs;
a registry may also hold a container image or an image index under a version-like tag. None of them
is a version: ``msr versions`` leaves them out, ``msr list`` skips them (saying so under --debug)
instead of failing for the whole namespace. Both on the real test registry and the local store.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import IsolatedEnv
from support import Space, make_space, msr, push, space_target, write_revision_dir

from msr_oci.oci import (
    MEDIA_TYPE_IMAGE_INDEX,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    Target,
    canonical_json,
)

pytestmark = pytest.mark.timeout(120)

IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: IsolatedEnv) -> Space:
    return make_space(request, request.param)


async def _push_manifest(target: Target, layers: list[tuple[str, bytes]], tag: str) -> Descriptor:
    """An image manifest with an image config and the given layers, tagged ``tag``."""
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_descriptor = Descriptor.from_bytes(IMAGE_CONFIG, config)
    await target.push(config_descriptor, config)
    layer_descriptors = []
    for media_type, data in layers:
        descriptor = Descriptor.from_bytes(media_type, data)
        await target.push(descriptor, data)
        layer_descriptors.append(descriptor.to_json_dict())
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_IMAGE_MANIFEST,
            "config": config_descriptor.to_json_dict(),
            "layers": layer_descriptors,
        }
    )
    descriptor = Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, manifest)
    await target.push_manifest(descriptor, manifest, tag=tag)
    return descriptor


async def _add_foreign_tags(target: Target, revision_digest: str) -> list[str]:
    """What cosign and docker leave in a repository: signature, attestation, SBOM, an image, an index."""
    hex_part = revision_digest.split(":", 1)[1]
    signature = json.dumps({"critical": {"image": {"docker-manifest-digest": revision_digest}}}).encode()
    tags = []
    for suffix, media_type in (
        ("sig", "application/vnd.dev.cosign.simplesigning.v1+json"),
        ("att", "application/vnd.dsse.envelope.v1+json"),
        ("sbom", "text/spdx+json"),
    ):
        tag = f"sha256-{hex_part}.{suffix}"
        await _push_manifest(target, [(media_type, signature + suffix.encode())], tag)
        tags.append(tag)
    # a container image under a version-like tag, and an image index under another one
    image = await _push_manifest(
        target, [("application/vnd.oci.image.layer.v1.tar+gzip", b"not a revision")], "2.0.0"
    )
    index = canonical_json(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_IMAGE_INDEX, "manifests": [image.to_json_dict()]}
    )
    await target.push_manifest(Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, index), index, tag="3.0.0")
    await target.tag(image, "latest")
    return [*tags, "2.0.0", "3.0.0", "latest"]


def _add_foreign_tags_to(space: Space, revision_digest: str) -> list[str]:
    async def run() -> list[str]:
        async with space_target(space, "model") as target:
            return await _add_foreign_tags(target, revision_digest)

    return asyncio.run(run())


def test_foreign_tags_are_not_versions_and_list_skips_them(space: Space, tmp_path: Path) -> None:
    pushed = push(write_revision_dir(tmp_path / "rev"), space.ref("model:1.0.0"))
    foreign = _add_foreign_tags_to(space, pushed["digest"])

    versions = msr("versions", space.ref("model"), "--output", "json").json()
    assert versions["versions"] == ["1.0.0"]

    listed = msr("list", *space.list_args, "--output", "json").json()
    assert [(r["name"], r["version"]) for r in listed] == [("model", "1.0.0")]

    debug = msr("--debug", "list", *space.list_args)
    for tag in foreign:
        assert f"model:{tag} skipped" in debug.stderr
    assert "model:1.0.0 skipped" not in debug.stderr
    assert "skipped" not in msr("list", *space.list_args).stderr  # only under --debug

    # a bare name means the newest version that is a revision (not the image under 3.0.0 or 2.0.0)
    assert msr("get", space.ref("model"), "--output", "json").json()["digest"] == pushed["digest"]
