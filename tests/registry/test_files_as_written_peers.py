"""Files as written, second angle (a .yml, an executable start.sh, a 0640 file): push + pull,
push + fetch and an independent client (oras-py); the record holds what was set plus a resolved view;
v1 artifacts still read."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from support import DATA

from msr_oci.oci import Descriptor
from msr_oci.oci.content import ImageManifest
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import decode_revision, encode_revision
from msr_oci.revision.codec import (
    ANNOTATION_FILE_MODE,
    ARTIFACT_TYPE,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_MODEL_DEFINITION,
    MEDIA_TYPE_REVISION_FILE,
    MEDIA_TYPE_SERVICE_CONFIGURATION,
)
from msr_oci.revision.loader import load_revision_dir

V1 = DATA / "revisions" / "v1"

DEFINITION = """\
# written by hand: comments, quoting and key order must survive
models:
  - name: "echo"
    model_path: /models
    service:
      start_command: ./start.sh
      port: '8000'
      health_check:
        path: /ready
"""
CONFIG = "image: 'cr.backend.ai/stable/python:3.11'   # pinned\nenviron: {A: '1'}\n"
REVISION = "description: hand written\nlabels: {team: ml}\n"


def _revision_dir(root: Path) -> Path:
    root.mkdir()
    (root / "model-definition.yml").write_text(DEFINITION)
    (root / "deployment-config.yaml").write_text(CONFIG)
    (root / "revision.yaml").write_text(REVISION)
    (root / "start.sh").write_text("#!/bin/sh\nexec python -m http.server 8000\n")
    (root / "start.sh").chmod(0o755)
    (root / "data").mkdir()
    (root / "data" / "vocab.txt").write_text("a\nb\n")
    (root / "data" / "vocab.txt").chmod(0o640)
    return root


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode) & 0o111)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layers_are_the_files_with_roles_by_media_type(tmp_path: Path) -> None:
    revision = load_revision_dir(_revision_dir(tmp_path / "src"), name="echo", version="1.0.0")
    encoded = encode_revision(revision)
    assert (
        encoded.manifest.artifact_type == ARTIFACT_TYPE
        and encoded.manifest.config.media_type == MEDIA_TYPE_CONFIG
    )
    roles = {layer.title: layer.media_type for layer in encoded.manifest.layers}
    assert roles["model-definition.yml"] == MEDIA_TYPE_MODEL_DEFINITION
    assert roles["deployment-config.yaml"] == MEDIA_TYPE_SERVICE_CONFIGURATION
    assert roles["revision.yaml"] == MEDIA_TYPE_REVISION_FILE
    modes = {
        layer.title: (layer.annotations or {}).get(ANNOTATION_FILE_MODE) for layer in encoded.manifest.layers
    }
    assert modes["start.sh"] == "0755" and modes["data/vocab.txt"] == "0640"
    record = json.loads(encoded.blobs[0][1])  # type: ignore[arg-type]
    # only what the user set; the resolved view apart, with Backend.AI's defaults
    service = record["model_definition"]["models"][0]["service"]
    assert "shell" not in service and "initial_delay" not in service["health_check"]
    assert service["port"] == 8000  # a string port, converted
    resolved = record["resolved"]["model_definition"]["models"][0]["service"]
    assert (resolved["shell"], resolved["health_check"]["initial_delay"]) == ("/bin/bash", 60.0)
    assert "replica_count" not in record["service_configuration"]


async def test_push_pull_and_fetch_return_the_files_as_written(
    registry, tmp_path: Path, isolated_env
) -> None:
    import oras.client

    source = _revision_dir(tmp_path / "src")
    expected = _tree(source)
    assert expected["start.sh"][1] == 0o111
    namespace = f"{registry.host}/{registry.unique_repository('as-written')}"
    revision = load_revision_dir(source, name="echo", version="1.0.0")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(revision)
        pulled = await reg.pull(revision_id, tmp_path / "pulled")
        fetched = await reg.fetch(revision_id)
    assert _tree(tmp_path / "pulled") == expected
    assert _tree(fetched.path) == expected
    assert pulled.description == "hand written" and pulled.labels == {"team": "ml"}
    assert pulled.model_definition.models[0].service is not None
    assert pulled.model_definition.models[0].service.port == 8000

    out = tmp_path / "oras"
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    client.pull(target=f"{namespace}/echo:1.0.0", outdir=str(out))
    assert {k: v[0] for k, v in _tree(out).items()} == {k: v[0] for k, v in expected.items()}


def test_revisions_built_in_code_get_a_canonical_rendering_without_defaults() -> None:
    from msr_oci.revision import ModelServingRevision

    revision = ModelServingRevision.model_validate(
        {
            "name": "coded",
            "version": "1.0.0",
            "model_definition": {"models": [{"name": "m", "service": {"start_command": "x", "port": 8000}}]},
            "service_configuration": {"image": "img:1"},
        }
    )
    encoded = encode_revision(revision)
    texts = {d.title: bytes(c) for d, c in encoded.blobs[1:] if isinstance(c, bytes)}
    assert texts["deployment-config.yaml"] == b"image: img:1\n"
    definition = texts["model-definition.yaml"].decode()
    assert "shell" not in definition and "enable" not in definition and "model_path" not in definition


def test_a_v1_artifact_still_reads() -> None:
    """tests/data/revisions/v1 was written by the v1 encoder (commit 6443382) from examples/vllm-llama."""
    manifest = ImageManifest.model_validate_json((V1 / "manifest.json").read_bytes())
    config = (V1 / "config.json").read_bytes()
    digest = Descriptor.from_bytes(
        "application/vnd.oci.image.manifest.v1+json", (V1 / "manifest.json").read_bytes()
    )
    revision = decode_revision(manifest, config, digest=digest.digest)
    assert revision.service_configuration.image == "cr.backend.ai/stable/vllm:0.6.3-cuda12.4-ubuntu22.04"
    assert revision.service_configuration.replica_count == 2  # v1 wrote `replicas`
    assert revision.model_definition.models[0].name
