"""A revision hands Backend.AI what the user wrote: exact bytes under the original names with their
modes; msr reads the files the way Backend.AI HEAD reads them; v1 artifacts are still read."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import DATA

from msr_oci.oci import Descriptor
from msr_oci.oci.content import MEDIA_TYPE_IMAGE_MANIFEST
from msr_oci.oci.layout import LocalStore
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision, RevisionInputError, encode_revision
from msr_oci.revision.loader import load_revision_dir, validate_revision_dir
from msr_oci.revision.pulled_record import GENERATED_HEADER

V1 = DATA / "v1-artifact"

DEFINITION = """\
# written by hand: comments, quoting and key order must survive
models:
- name: "echo"            # the model
  model-path: '/models/echo'
  service:
    pre_start_actions:
    command: null
    start_command: [python, -m, http.server, "8000"]
    start-command: ignored
    port: "8000"
    health_check:
      path: /ready
"""


def write(root: Path, files: dict[str, str], modes: dict[str, int] | None = None) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod((modes or {}).get(name, 0o644))
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_backend_ai_heads_reading_of_a_hand_written_file(tmp_path: Path) -> None:
    revision = load_revision_dir(write(tmp_path, {"model-definition.yml": DEFINITION}), name="m", version="1")
    model = revision.model_definition.models[0]
    assert model.service is not None
    # `command: null` falls through to start_command (a list is shell-joined), not to start-command
    assert model.service.start_command == "python -m http.server 8000"
    assert model.service.port == 8000 and model.service.pre_start_actions is None
    assert model.model_path == "/models/echo"
    # the record holds only what was written: no shell, no enable, no initial_delay
    document = revision.model_definition.to_document()
    assert set(document["models"][0]["service"]) == {
        "pre_start_actions",
        "start_command",
        "port",
        "health_check",
    }
    assert document["models"][0]["service"]["health_check"] == {"path": "/ready"}
    assert (
        revision.model_definition.resolved()["models"][0]["service"]["health_check"]["initial_delay"] == 60.0
    )


def test_a_list_under_command_is_refused_as_backend_ai_does(tmp_path: Path) -> None:
    text = "models:\n- name: m\n  service:\n    command: [python, serve.py]\n    port: 8000\n"
    with pytest.raises(RevisionInputError) as caught:
        load_revision_dir(write(tmp_path, {"model-definition.yaml": text}), name="m", version="1")
    assert "'command' must be a string" in str(caught.value)
    assert caught.value.line == 4  # the service block holding it


async def test_files_come_back_byte_for_byte_with_names_and_modes(
    tmp_path: Path, isolated_env: object
) -> None:
    source = write(
        tmp_path / "src",
        {
            "model-definition.yml": DEFINITION,
            "service-definition.toml": "# 25.x\n[vllm]\nresource_slots = { cpu = 2 }\n",
            "revision.yaml": "description: hand-written\nlabels: {team: 'ml'}\n",
            "start.sh": "#!/bin/sh\nexec python3 -m http.server 8000\n",
            "weights/notes.txt": "private\n",
        },
        modes={"start.sh": 0o755, "weights/notes.txt": 0o600},
    )
    revision = load_revision_dir(source, name="echo", version="1.0.0")
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(revision)
        fetched = await reg.fetch(revision_id)
        pulled = tmp_path / "pulled"
        await reg.pull(revision_id, pulled)
        again = await reg.fetch(revision_id)  # a cache hit serves the same directory
    assert snapshot(fetched.path) == snapshot(source) == snapshot(pulled) == snapshot(again.path)
    assert [d.path for d in fetched.revision.documents] == [
        "model-definition.yml",
        "service-definition.toml",
        "revision.yaml",
    ]


async def test_a_consumer_editing_a_fetched_file_does_not_poison_the_cache(
    tmp_path: Path, isolated_env: object
) -> None:
    source = write(tmp_path / "src", {"model-definition.yaml": "models: []\n", "a.txt": "original\n"})
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(load_revision_dir(source, name="echo", version="1.0.0"))
        fetched = await reg.fetch(revision_id)
        target = fetched.path / "a.txt"
        target.chmod(0o644)
        target.write_text("poisoned, and longer\n")  # root ignores 0444; sizes differ
        again = await reg.fetch(revision_id)
    assert (again.path / "a.txt").read_text() == "original\n"


def test_an_api_built_revision_writes_no_defaults() -> None:
    revision = ModelServingRevision(
        name="api",
        version="1.0.0",
        model_definition={
            "models": [
                {
                    "name": "m",
                    "service": {"start_command": "serve", "port": 8000, "health_check": {"path": "/h"}},
                }
            ]
        },
        service_configuration={"image": "cr.backend.ai/x:1"},
    )
    encoded = encode_revision(revision)
    layers = {layer.title: content for layer, content in encoded.blobs[1:]}
    written = yaml.safe_load(layers["model-definition.yaml"])  # type: ignore[arg-type]
    assert written == {
        "models": [
            {"name": "m", "service": {"start_command": "serve", "port": 8000, "health_check": {"path": "/h"}}}
        ]
    }
    assert yaml.safe_load(layers["deployment-config.yaml"]) == {"image": "cr.backend.ai/x:1"}  # type: ignore[arg-type]


def test_an_edit_through_the_api_re_renders_only_that_document(tmp_path: Path) -> None:
    source = write(
        tmp_path, {"model-definition.yaml": DEFINITION, "deployment-config.yaml": "image: x:1  # pinned\n"}
    )
    revision = load_revision_dir(source, name="m", version="1")
    # a request-only field keeps the file as written
    moved = revision.model_copy(
        update={
            "service_configuration": revision.service_configuration.model_copy(update={"replica_count": 3})
        }
    )
    titles = {layer.title: layer.digest for layer in encode_revision(moved).manifest.layers}
    assert titles == {layer.title: layer.digest for layer in encode_revision(revision).manifest.layers}
    # an edited definition is rendered anew under the same name, without defaults
    edited = revision.model_copy(
        update={"model_definition": {"models": [{"name": "other", "service": {"port": 9000}}]}}
    )
    edited = ModelServingRevision.model_validate(edited.model_dump() | {"documents": revision.documents})
    layer = next(
        layer for layer in encode_revision(edited).manifest.layers if layer.title == "model-definition.yaml"
    )
    assert layer.digest != encode_revision(revision).manifest.layers[0].digest


async def test_a_v1_artifact_is_still_read_fetched_and_pulled(tmp_path: Path, isolated_env: object) -> None:
    store = LocalStore(tmp_path / "store")
    layout = store.repository("http-demo")
    manifest_bytes = (V1 / "manifest.json").read_bytes()
    manifest: dict[str, Any] = json.loads(manifest_bytes)
    for blob in (V1 / "blobs").iterdir():
        data = blob.read_bytes()
        await layout.push(Descriptor.from_bytes("application/octet-stream", data), data)
    await layout.push_manifest(
        Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, manifest_bytes), manifest_bytes, tag="0.9.0"
    )
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as reg:
        revision = await reg.get_revision("http-demo:0.9.0")
        fetched = await reg.fetch(revision.id or "")
        await reg.pull("http-demo:0.9.0", tmp_path / "pulled")
    assert manifest["config"]["mediaType"].endswith("config.v1+json")
    assert revision.model_definition.models[0].name == "static-files"
    assert revision.service_configuration.runtime_variant == "custom"
    assert [d.path for d in revision.documents] == ["model-definition.yaml", "deployment-config.yaml"]
    assert sorted(snapshot(fetched.path)) == [
        "deployment-config.yaml",
        "model-definition.yaml",
        "site/index.html",
    ]
    # pull also writes the record's description and labels into revision.yaml (this v1 revision
    # has no revision.yaml of its own); msr push reads it but does not publish it
    pulled = snapshot(tmp_path / "pulled")
    assert pulled.pop("revision.yaml")[0].startswith(GENERATED_HEADER)
    assert snapshot(fetched.path) == pulled


def test_a_deep_directory_tree_is_a_clear_error() -> None:
    # outside pytest's tmp_path: its cleanup (shutil.rmtree) recurses and would fail on 1,000 levels
    root = Path(tempfile.mkdtemp(prefix="msr-deep-"))
    write(root, {"model-definition.yaml": "models: []\n"})
    levels = [root]
    for _ in range(1000):  # one level at a time: pathlib's parents=True recurses itself
        levels.append(levels[-1] / "d")
        levels[-1].mkdir()
    (levels[-1] / "f").write_text("x")
    try:
        problems = validate_revision_dir(root)
        assert any("nested deeper" in p.message for p in problems if p.severity == "error")
    finally:  # bottom up, without recursion
        (levels[-1] / "f").unlink()
        for level in reversed(levels[1:]):
            level.rmdir()
        shutil.rmtree(root)


def test_deeply_nested_yaml_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, {"model-definition.yaml": "models: " + "[" * 3000 + "]" * 3000 + "\n"})
    problems = [p for p in validate_revision_dir(tmp_path) if p.severity == "error"]
    assert problems and "nests" in problems[0].message
