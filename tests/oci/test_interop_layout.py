"""skopeo (a real, independent client) reads the layouts we write, and we read the layouts it writes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from registry_harness import RegistryServer
from test_layout import LAYERS, push_sample

from msr_oci.oci.layout import OCILayout


def skopeo_copy(source: str, destination: str) -> None:
    # --preserve-digests: fail rather than silently rewrite the manifest (no layer conversion here)
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            source,
            destination,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


async def read_back(path: Path) -> tuple[str, dict[str, bytes]]:
    layout = OCILayout(path, create=False)
    descriptor, manifest, _ = await layout.fetch_manifest("v1")
    files = {layer.title or "": await layout.fetch_bytes(layer, 10**7) for layer in manifest.layers}  # type: ignore[union-attr]
    return descriptor.digest, files


async def test_skopeo_copies_our_layout_to_a_layout_we_read(tmp_path: Path) -> None:
    ours = OCILayout(tmp_path / "ours")
    descriptor, _ = await push_sample(ours)
    skopeo_copy(f"oci:{ours.path}:v1", f"oci:{tmp_path / 'theirs'}:v1")

    index = json.loads((tmp_path / "theirs" / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "v1"}
    assert await read_back(tmp_path / "theirs") == (descriptor.digest, LAYERS)


async def test_skopeo_carries_our_layout_through_a_registry_and_back(
    registry: RegistryServer, tmp_path: Path
) -> None:
    ours = OCILayout(tmp_path / "ours")
    descriptor, _ = await push_sample(ours)
    remote = f"docker://{registry.host}/{registry.unique_repository('skopeo-layout')}:v1"
    skopeo_copy(f"oci:{ours.path}:v1", remote)
    skopeo_copy(remote, f"oci:{tmp_path / 'back'}:v1")
    assert await read_back(tmp_path / "back") == (descriptor.digest, LAYERS)
    # and our layout accepts further writes in a directory skopeo wrote
    back = OCILayout(tmp_path / "back")
    await back.tag(descriptor, "v2")
    assert [t async for t in back.list_tags()] == ["v1", "v2"]
