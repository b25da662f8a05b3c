"""A repository index too big for one document is a root over 16 shards: listings read the root and
the shards together (shards by digest, cached), a publish rewrites one shard and the root, and the
documents are plain OCI image indexes a standard client (oras-py) reads. Counted on the wire
(tests/round_trips.py), never timed. ``FLAT_LIMIT`` is lowered so a few versions already shard."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from round_trips import CountingProxy
from test_listing import WANTED, _list, proxy, revision

from msr_oci.registry import AsyncRemoteRegistry, repository_index
from msr_oci.registry.repository_index import INDEX_TAG, SHARD_ARTIFACT_TYPE

pytestmark = pytest.mark.timeout(180)
__all__ = ["proxy"]  # the shared fixture, used by name

COUNT = 20
EXPECTED = [f"1.0.{i}" for i in range(0, COUNT, 2)]


@pytest.fixture(autouse=True)
def small_flat_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repository_index, "FLAT_LIMIT", 2048)  # about 4 entries


@pytest.fixture
async def namespace(proxy: CountingProxy, tmp_path: Path) -> str:
    namespace = f"{proxy.host}/sh{uuid.uuid4().hex[:10]}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        for index in range(COUNT):
            await registry.create_revision(revision(index))
        assert await registry.build_index("model") == COUNT
    return namespace


def test_the_sharded_index_is_plain_oci_that_oras_py_reads(namespace: str, registry) -> None:
    import oras.client

    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    container = f"{registry.host}/{namespace.split('/', 1)[1]}/model"
    root = client.get_manifest(f"{container}:{INDEX_TAG}")
    assert root["mediaType"] == "application/vnd.oci.image.index.v1+json"
    shards = root["manifests"]
    assert len(shards) == 16 and {s["artifactType"] for s in shards} == {SHARD_ARTIFACT_TYPE}
    tags: list[str] = []
    for pointer in shards:
        shard = client.get_manifest(f"{container}@{pointer['digest']}")
        key = pointer["annotations"]["ai.backend.model-serving.index.shard"]
        for entry in shard["manifests"]:
            tag = entry["annotations"]["org.opencontainers.image.ref.name"]
            assert hashlib.sha256(tag.encode()).hexdigest()[0] == key  # each entry in its own shard
            tags.append(tag)
            # every entry names a revision manifest the registry serves under that tag
            assert client.get_manifest(f"{container}:{tag}")["config"]["mediaType"].startswith(
                "application/vnd.backend.ai.model-serving.revision"
            )
    assert sorted(tags) == sorted(f"1.0.{i}" for i in range(COUNT))
    assert json.dumps(root).count('"manifests"') == 1  # the root holds pointers only, no entries


async def test_a_cold_listing_reads_root_then_shards_and_a_warm_one_only_the_root(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert await _list(namespace, cache, proxy) == EXPECTED
    matches = len(EXPECTED)
    # tag list + root; the 16 shards together; the matches' manifests and configs by digest
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 1 + 16 + matches, "GET blobs": matches})
    assert proxy.depth == 4
    assert await _list(namespace, cache, proxy) == EXPECTED
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 1})  # shards are cached by digest
    assert proxy.depth == 1
    assert await _list(namespace, tmp_path / "verified", proxy, verify=True) == EXPECTED


async def test_a_publish_rewrites_one_shard_and_the_root(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    proxy.reset()
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        await registry.create_revision(revision(COUNT))  # 1.0.20, team a
    puts = [s.path for s in proxy.seen if s.method == "PUT" and "/manifests/" in s.path]
    # the revision under its tag, one shard by digest, the root under _index
    assert len(puts) == 3, puts
    assert puts[-1].endswith(f"/manifests/{INDEX_TAG}") and "/manifests/sha256:" in puts[1]
    cache = tmp_path / "cache"
    assert await _list(namespace, cache, proxy) == [*EXPECTED, f"1.0.{COUNT}"]
    tag_reads = [s for s in proxy.seen if s.method == "GET" and s.path.endswith(f"/manifests/1.0.{COUNT}")]
    assert tag_reads == []  # its entry is in its shard: not read from its tag


async def test_archive_drops_the_entry_from_its_shard(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        await registry.archive("model:1.0.2")
        index = await repository_index.read(registry.target(registry.locate("model")), "model")
    assert "1.0.2" not in index.entries and len(index.entries) == COUNT - 1 and len(index.shards) > 1
    assert await _list(namespace, tmp_path / "cache", proxy) == [v for v in EXPECTED if v != "1.0.2"]


async def test_the_embedded_store_shards_too(tmp_path: Path, isolated_env: object) -> None:
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as registry:
        for index in range(8):
            await registry.create_revision(revision(index))
        await registry.build_index("model")
        await registry.create_revision(revision(8))
        index = await repository_index.read(registry.target(registry.locate("model")), "model")
        found = await registry.list_revisions(WANTED)
    assert len(index.shards) > 1 and sorted(index.entries) == sorted(f"1.0.{i}" for i in range(9))
    assert [r.version for r in found] == ["1.0.0", "1.0.2", "1.0.4", "1.0.6", "1.0.8"]
