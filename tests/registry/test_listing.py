"""Listing many revisions: only matches are read whole, a repository index answers in one round trip,
and the index's consistency rules hold (the tag list is the truth; lost entries are read from their
tags; ``verify`` catches an entry a tag has moved past). Requests and depth are counted on the wire
(tests/round_trips.py), never timed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from round_trips import CountingProxy

from msr_oci.oci import Descriptor
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.registry.repository_index import INDEX_TAG
from msr_oci.revision import ModelServingRevision

pytestmark = pytest.mark.timeout(180)

COUNT = 6
WANTED = {"name": "model", "labels": {"team": "a"}}


def revision(index: int) -> ModelServingRevision:
    return ModelServingRevision(
        name="model",
        version=f"1.0.{index}",
        model_definition={"models": [{"name": "m", "model_path": "/models/m", "service": {"port": 8000}}]},
        service_configuration={"image": "cr.backend.ai/stable/python:3.11", "runtime_variant": "custom"},
        labels={"team": "a" if index % 2 == 0 else "b"},
    )


@pytest.fixture
def proxy(registry, isolated_env: object) -> Iterator[CountingProxy]:
    with CountingProxy(registry.host) as counting:
        yield counting


@pytest.fixture
async def namespace(proxy: CountingProxy, tmp_path: Path) -> str:
    namespace = f"{proxy.host}/ls{uuid.uuid4().hex[:10]}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        for index in range(COUNT):
            await registry.create_revision(revision(index))
    return namespace


async def _list(namespace: str, cache: Path, proxy: CountingProxy, **options: bool) -> list[str]:
    proxy.reset()
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as registry:
        found = await registry.list_revisions(WANTED, **options)
    return [r.version for r in found]


async def _index_bytes(namespace: str, cache: Path) -> tuple[Descriptor, bytes]:
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as registry:
        descriptor, _, data = await registry.target(registry.locate("model")).fetch_manifest(INDEX_TAG)
    return descriptor, data


async def _put_index(namespace: str, cache: Path, old: tuple[Descriptor, bytes]) -> None:
    """What a concurrent publisher that read the index earlier does: write back its older copy."""
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as registry:
        await registry.target(registry.locate("model")).push_manifest(old[0], old[1], tag=INDEX_TAG)


async def test_without_an_index_only_matches_are_read_whole(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert await _list(namespace, cache, proxy) == ["1.0.0", "1.0.2", "1.0.4"]
    # the tag list and the index (absent), every manifest by its tag, then the configs of matches only
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 1 + COUNT, "GET blobs": 3})
    assert proxy.depth == 3
    # warm: the configs come from the cache
    assert await _list(namespace, cache, proxy) == ["1.0.0", "1.0.2", "1.0.4"]
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 1 + COUNT})
    assert proxy.depth == 2


async def test_with_an_index_a_warm_listing_is_one_round_trip(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "builder") as registry:
        assert await registry.build_index("model") == COUNT
    cache = tmp_path / "cache"
    assert await _list(namespace, cache, proxy) == ["1.0.0", "1.0.2", "1.0.4"]
    # tag list and index together; then the matches' manifests and configs by digest
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 1 + 3, "GET blobs": 3})
    assert proxy.depth == 3
    assert await _list(namespace, cache, proxy) == ["1.0.0", "1.0.2", "1.0.4"]
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 1})
    assert proxy.depth == 1


async def test_publishing_keeps_the_index_and_a_lost_entry_is_read_from_its_tag(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "builder") as registry:
        await registry.build_index("model")
    before = await _index_bytes(namespace, tmp_path / "reader")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        await registry.create_revision(revision(COUNT))  # 1.0.6, team a
    cache = tmp_path / "cache"
    assert await _list(namespace, cache, proxy) == ["1.0.0", "1.0.2", "1.0.4", "1.0.6"]
    assert proxy.kinds()["GET manifests"] == 1 + 4  # the index had the new entry: no read by tag
    # a concurrent publisher's older copy wins the race: the new version's entry is lost
    await _put_index(namespace, tmp_path / "racer", before)
    assert await _list(namespace, cache, proxy) == ["1.0.0", "1.0.2", "1.0.4", "1.0.6"]
    tag_reads = [s for s in proxy.seen if s.method == "GET" and s.path.endswith("/manifests/1.0.6")]
    assert len(tag_reads) == 1  # the tag without an entry was read from the tag itself


async def test_the_tag_list_is_the_truth_and_verify_catches_a_moved_tag(
    namespace: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "builder") as registry:
        await registry.build_index("model")
    before = await _index_bytes(namespace, tmp_path / "reader")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "publisher") as registry:
        await registry.archive("model:1.0.2")  # its tag goes
        moved = revision(4).model_copy(update={"description": "second take"})
        await registry.update_revision("model:1.0.4", moved)
    await _put_index(namespace, tmp_path / "racer", before)  # still lists 1.0.2, and 1.0.4's old digest
    cache = tmp_path / "cache"
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as registry:
        plain = await registry.list_revisions(WANTED)
        verified = await registry.list_revisions(WANTED, verify=True)
    # an entry whose tag is gone is never listed
    assert [r.version for r in plain] == [r.version for r in verified] == ["1.0.0", "1.0.4"]
    # a lost update leaves the old digest in the index; verify re-resolves the tag and reads the new one
    assert plain[1].description is None
    assert verified[1].description == "second take"
