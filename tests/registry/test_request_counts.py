"""HTTP request budgets of the hot paths, counted on a real registry (never timed).

The budgets are what a small revision (config, model definition, service configuration, revision.yaml:
the files of examples/vllm-llama, each a layer since the v2 format) needs:
- push: 1 tag list (version check) + 4 blobs x (POST, PUT) + 1 manifest PUT + 1 read-back of the
  version tag (a registry has no conditional write) = 11 on distribution 2.8, which takes no
  single-request upload (where a registry does, 4 x POST: 7; see test_round_trips.py), and 12 when the
  uploads outlast the version check by more than ``READ_BACK_DELAY`` (the tag is read again first);
- cold fetch or pull: 1 manifest + 1 config + 3 layers = 5;
- warm fetch by digest: 0 (the verified cache answers, offline).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from round_trips import CountingProxy
from support import EXAMPLES

from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision
from msr_oci.revision.loader import load_revision_dir

EXAMPLE = EXAMPLES / "vllm-llama"
PUSH_BUDGET = 12
COLD_FETCH_BUDGET = 5


@pytest.fixture
def namespace(registry, isolated_env: object) -> str:
    return f"{registry.host}/counts{uuid.uuid4().hex[:10]}"


def small_revision(name: str = "llama") -> ModelServingRevision:
    return load_revision_dir(EXAMPLE, name=name, version="1.0.0")


async def test_push_of_a_small_revision_stays_within_budget(namespace: str, tmp_path: Path) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        await registry.create_revision(small_revision())
        assert registry.request_count <= PUSH_BUDGET


async def test_pushing_again_costs_the_same(namespace: str, tmp_path: Path) -> None:
    """Small files are sent rather than asked about (no HEAD): a second version costs what the first
    did (large files already there are asked about and skipped: see test_round_trips.py)."""
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        await registry.create_revision(small_revision())
        before = registry.request_count
        await registry.create_revision(small_revision().model_copy(update={"version": "1.0.1"}))
        assert registry.request_count - before <= PUSH_BUDGET


async def test_cold_then_warm_fetch_by_digest(namespace: str, tmp_path: Path) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        revision_id = await registry.create_revision(small_revision())
    cache = tmp_path / "cache"
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as cold:
        fetched = await cold.fetch(revision_id)
        assert cold.request_count <= COLD_FETCH_BUDGET
    assert (fetched.path / "model-definition.yaml").is_file()
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as warm:
        again = await warm.fetch(revision_id)
        assert warm.request_count == 0
    assert again.revision.digest == fetched.revision.digest


async def test_cold_pull_by_tag_stays_within_budget(namespace: str, tmp_path: Path) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        await registry.create_revision(small_revision())
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as cold:
        await cold.pull(f"{namespace}/llama:1.0.0", tmp_path / "out")
        assert cold.request_count <= COLD_FETCH_BUDGET
    assert (tmp_path / "out" / "deployment-config.yaml").is_file()


async def test_a_copy_writes_the_manifest_once_and_reads_it_once(registry, tmp_path: Path) -> None:
    """A copy between repositories of one registry mounts the blobs, reads the source manifest once
    and writes it once: under its version tag, the write the version claim makes (then read back)."""
    with CountingProxy(registry.host, hold=0) as proxy:
        source = f"{proxy.host}/counts{uuid.uuid4().hex[:10]}"
        mirror = f"{proxy.host}/mirror{uuid.uuid4().hex[:10]}"
        async with AsyncRemoteRegistry(source, cache_dir=tmp_path / "publisher") as publisher:
            published = await publisher.create_revision(small_revision())
        proxy.reset()
        async with AsyncRemoteRegistry(source, cache_dir=tmp_path / "cache") as copier:
            copied = await copier.copy("llama:1.0.0", f"{mirror}/llama")
        manifests = [(s.method, s.path) for s in proxy.seen if s.kind == "manifests"]
        source_path = f"/v2/{source.split('/', 1)[1]}/llama/manifests/1.0.0"
        mirror_path = f"/v2/{mirror.split('/', 1)[1]}/llama/manifests/1.0.0"
        assert manifests.count(("GET", source_path)) == 1
        assert [m for m in manifests if m[0] == "PUT"] == [("PUT", mirror_path)]
        assert {s.method for s in proxy.seen if s.kind == "uploads"} == {"POST"}  # mounted, none sent
    assert copied.rpartition("@")[2] == published.rpartition("@")[2]
