"""Revisions published by msr-oci, read by independent OCI clients (the oras-py SDK, skopeo)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from support import EXAMPLES

from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelDefinition
from msr_oci.revision.loader import load_revision_dir


async def test_oras_py_pulls_a_revision_with_real_file_names(registry, tmp_path: Path, isolated_env) -> None:
    import oras.client

    namespace = f"{registry.host}/{registry.unique_repository('oras')}"
    revision = load_revision_dir(EXAMPLES / "custom-http-server", name="http-demo", version="1.0.0")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(revision)
        fetched = await reg.fetch(revision_id)

    out = tmp_path / "oras"
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    client.pull(target=f"{namespace}/http-demo:1.0.0", outdir=str(out))
    pulled = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert pulled == ["deployment-config.yaml", "model-definition.yaml", "revision.yaml", "site/index.html"]
    # a peer that knows nothing of msr gets the user's files byte for byte, as the fetch path does
    source = EXAMPLES / "custom-http-server"
    for name in pulled:
        assert (out / name).read_bytes() == (source / name).read_bytes() == (fetched.path / name).read_bytes()
    definition = ModelDefinition.model_validate(yaml.safe_load((out / "model-definition.yaml").read_text()))
    assert definition == revision.model_definition
    service = yaml.safe_load((out / "deployment-config.yaml").read_text())
    assert service["image"] == revision.service_configuration.image
    assert service["runtime_variant"] == "custom"
    assert (out / "site/index.html").read_bytes() == (
        EXAMPLES / "custom-http-server/site/index.html"
    ).read_bytes()


async def test_skopeo_copies_a_revision_and_msr_reads_the_copy(
    registry, tmp_path: Path, isolated_env
) -> None:
    namespace = f"{registry.host}/{registry.unique_repository('skopeo')}"
    revision = load_revision_dir(EXAMPLES / "vllm-llama", name="llama-chat", version="1.0.0")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(revision)
    (tmp_path / "store").mkdir()  # skopeo creates the layout, not its parent
    subprocess.run(
        ["skopeo", "copy", "--preserve-digests", "--src-tls-verify=false",
         f"docker://{namespace}/llama-chat:1.0.0", f"oci:{tmp_path / 'store' / 'llama-chat'}:1.0.0"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    async with AsyncRemoteRegistry(str(tmp_path / "store"), cache_dir=tmp_path / "cache2") as local:
        copied = await local.get_revision("llama-chat:1.0.0")
    assert copied.digest == revision_id.split("@")[1]
    assert copied.model_definition == revision.model_definition
    assert copied.labels == revision.labels
