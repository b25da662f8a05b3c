"""What msr-oci pushes, independent clients read: the oras-py SDK and skopeo."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support import push_artifact

from msr_oci.oci import EMPTY_DESCRIPTOR, parse_manifest
from msr_oci.oci.remote import Registry

FILES = {"model.bin": os.urandom(200_000), "config.yaml": b"name: demo\n"}


async def test_oras_py_pulls_what_we_pushed(registry, tmp_path: Path) -> None:
    import oras.client

    name = registry.unique_repository("interop-oras")
    async with Registry(registry.host) as client:
        await push_artifact(client.repository(name), FILES, tag="v1")
    oras_client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    out = tmp_path / "oras"
    oras_client.pull(target=f"{registry.host}/{name}:v1", outdir=str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == FILES


async def test_skopeo_copies_it_into_an_oci_layout(registry, tmp_path: Path) -> None:
    name = registry.unique_repository("interop-skopeo")
    async with Registry(registry.host) as client:
        descriptor, data = await push_artifact(client.repository(name), FILES, tag="v1")
    layout = tmp_path / "layout"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{registry.host}/{name}:v1",
            f"oci:{layout}:v1",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    index = json.loads((layout / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [descriptor.digest]

    def blob_path(digest: str) -> Path:
        return layout / "blobs" / digest.replace(":", "/")

    assert blob_path(descriptor.digest).read_bytes() == data
    manifest = parse_manifest(data)
    assert blob_path(EMPTY_DESCRIPTOR.digest).read_bytes() == b"{}"
    copied = {layer.title: blob_path(layer.digest).read_bytes() for layer in manifest.layers}  # type: ignore[union-attr]
    assert copied == FILES
