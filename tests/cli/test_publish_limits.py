"""Publish only what readers can read; list what can be read (issue 10, item 5).

- a revision record (config) or a manifest past the 4 MiB readers accept is refused before the first
  upload (exit 2, naming the field or the file count, with a hint), and nothing reaches the store;
- ``msr list`` skips a revision it cannot read (one an older msr or another tool published) and says
  so on stderr, instead of failing for the whole namespace.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import IsolatedEnv
from registry_harness import RegistryServer
from support import Space, make_space, msr, push, space_target, write_revision_dir

from msr_oci.oci import MAX_MANIFEST_SIZE
from msr_oci.oci.errors import NameUnknown
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ExtraFile, ModelServingRevision, encode_revision
from msr_oci.revision.limits import RevisionTooLarge
from msr_oci.revision.loader import load_revision_dir

pytestmark = pytest.mark.timeout(180)

BIG_FIELD = 4 * 1024 * 1024 + 16 * 1024  # past the 4 MiB readers accept


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: IsolatedEnv) -> Space:
    return make_space(request, request.param)


def _with_big_metadata(root: Path) -> Path:
    write_revision_dir(root)
    (root / "revision.yaml").write_text(f"metadata:\n  notes: {'x' * BIG_FIELD}\n")
    return root


async def _repository_exists(space: Space, name: str) -> bool:
    async with space_target(space, name) as target:
        try:
            return [tag async for tag in target.list_tags()] != []
        except NameUnknown:
            return False


def test_an_oversized_record_is_refused_before_any_upload(
    space: Space, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    root = _with_big_metadata(tmp_path / "rev")
    refused = msr("push", str(root), space.ref("big:1.0.0"), expect=2)
    assert "metadata.notes" in refused.stderr
    assert "more than readers accept" in refused.stderr
    assert "put large text or data in a file" in refused.stderr  # the hint
    assert not asyncio.run(_repository_exists(space, "big"))
    if space.namespace is None:
        assert not (isolated_env.store / "big" / "blobs").exists()  # not one blob written


async def test_a_manifest_of_50k_files_is_refused_before_any_request(
    registry: RegistryServer, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    source = tmp_path / "tiny.bin"
    source.write_bytes(b"x")
    digest = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    base = load_revision_dir(write_revision_dir(tmp_path / "rev"), name="many", version="1.0.0")
    files = [
        ExtraFile(path=f"shards/{i:06d}.bin", source=source, digest=digest, size=1) for i in range(50_000)
    ]
    revision = base.model_copy(update={"extra_files": files})
    assert encode_revision(revision).descriptor.size > MAX_MANIFEST_SIZE
    namespace = f"{registry.host}/{registry.unique_repository('limits')}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        with pytest.raises(RevisionTooLarge, match="for 50002 files") as refused:
            await reg.create_revision(revision)
        assert refused.value.exit_code == 2
        assert "pack many small files into an archive" in str(refused.value)
        assert reg.request_count == 0  # refused before the first upload
    assert not await _repository_exists(Space(namespace), "many")


async def _publish_unchecked(space: Space, revision: ModelServingRevision) -> str:
    """Publish without msr's checks, as an older msr or another tool would: blobs, then the manifest."""
    encoded = encode_revision(revision)
    async with space_target(space, revision.name) as target:
        for descriptor, content in encoded.blobs:
            await target.push(descriptor, content)
        await target.push_manifest(encoded.descriptor, encoded.manifest_bytes, tag=revision.version)
    return encoded.descriptor.digest


def test_list_skips_and_reports_a_revision_it_cannot_read(space: Space, tmp_path: Path) -> None:
    push(write_revision_dir(tmp_path / "ok"), space.ref("model:1.0.0"))
    push(write_revision_dir(tmp_path / "other"), space.ref("other:1.0.0"))
    unreadable = load_revision_dir(_with_big_metadata(tmp_path / "big"), name="model", version="2.0.0")
    digest = asyncio.run(_publish_unchecked(space, unreadable))

    listed = msr("list", *space.list_args, "--output", "json")
    assert sorted((r["name"], r["version"]) for r in listed.json()) == [
        ("model", "1.0.0"),
        ("other", "1.0.0"),
    ]
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert f"skipped model:2.0.0 ({digest}): it cannot be read" in warnings[0]
    # reading it directly still fails with the integrity exit code and says why
    assert "larger than" in msr("get", space.ref("model:2.0.0"), expect=7).stderr
