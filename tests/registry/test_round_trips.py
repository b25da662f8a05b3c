"""Requests and sequential round trips of the hot paths, counted by a proxy in front of a real registry.

What a client pays on a registry far away is the number of round trips it waits for one after the
other (``depth``), then the number of requests. ``tests/round_trips.py`` counts both on the wire;
nothing here is timed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from round_trips import CountingProxy

from msr_oci.oci.remote import RegistryOptions
from msr_oci.registry import AsyncRemoteRegistry, RemoteRegistry
from msr_oci.revision import ModelServingRevision

pytestmark = pytest.mark.timeout(120)


def small_revision(name: str = "model", version: str = "1.0.0") -> ModelServingRevision:
    """A model definition and a service configuration: config + 2 layers, 3 blobs."""
    return ModelServingRevision(
        name=name,
        version=version,
        model_definition={"models": [{"name": "m", "model_path": "/models/m", "service": {"port": 8000}}]},
        service_configuration={"image": "cr.backend.ai/stable/python:3.11", "runtime_variant": "custom"},
    )


@pytest.fixture
def proxy(registry, isolated_env: object) -> Iterator[CountingProxy]:
    with CountingProxy(registry.host) as counting:
        yield counting


@pytest.fixture
def single_post_proxy(registry, isolated_env: object) -> Iterator[CountingProxy]:
    with CountingProxy(registry.host, single_post=True) as counting:
        yield counting


def _namespace(proxy: CountingProxy) -> str:
    return f"{proxy.host}/rt{uuid.uuid4().hex[:10]}"


async def _publish(namespace: str, cache: Path, revision: ModelServingRevision | None = None) -> str:
    async with AsyncRemoteRegistry(namespace, cache_dir=cache) as registry:
        return await registry.create_revision(revision or small_revision())


# ---- push ----------------------------------------------------------------------------------------


def _version_reads(proxy: CountingProxy) -> int:
    """HEADs of the version tag a push sends (``Target.push_manifest_if``): the read-back after the
    write, and a re-check before it when the uploads outlasted the version check by more than
    ``READ_BACK_DELAY`` (which depends on the machine's speed: 1 or 2). Each is one round trip."""
    reads = proxy.kinds()["HEAD manifests"]
    assert reads in (1, 2)
    return reads


def _without_version_reads(proxy: CountingProxy) -> Counter[str]:
    kinds = proxy.kinds()
    del kinds["HEAD manifests"]
    return kinds


async def test_new_small_revision_pushes_in_two_round_trips_and_five_requests_then_a_read_back(
    single_post_proxy: CountingProxy, tmp_path: Path
) -> None:
    """Where the registry takes a blob in one POST: the version check and all uploads together, then
    the manifest, then the version tag read back (a registry has no conditional write)."""
    await _publish(_namespace(single_post_proxy), tmp_path / "cache")
    reads = _version_reads(single_post_proxy)
    assert _without_version_reads(single_post_proxy) == Counter(
        {"GET tags": 1, "POST uploads": 3, "PUT manifests": 1}
    )
    assert single_post_proxy.requests_seen == 5 + reads
    assert single_post_proxy.depth == 2 + reads
    assert single_post_proxy.kinds()["HEAD blobs"] == 0


async def test_new_small_revision_on_distribution_falls_back_to_post_and_put(
    proxy: CountingProxy, tmp_path: Path
) -> None:
    """distribution 2.8 answers a single-request upload with 202: the blob follows in a PUT."""
    await _publish(_namespace(proxy), tmp_path / "cache")
    reads = _version_reads(proxy)
    assert _without_version_reads(proxy) == Counter(
        {"GET tags": 1, "POST uploads": 3, "PUT uploads": 3, "PUT manifests": 1}
    )
    assert proxy.depth == 3 + reads


async def test_second_version_on_the_same_registry_object(
    single_post_proxy: CountingProxy, tmp_path: Path
) -> None:
    namespace = _namespace(single_post_proxy)
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        await registry.create_revision(small_revision())
        connections = single_post_proxy.connections
        single_post_proxy.reset()
        await registry.create_revision(small_revision(version="1.0.1"))
    reads = _version_reads(single_post_proxy)
    assert single_post_proxy.requests_seen == 5 + reads
    assert single_post_proxy.depth == 2 + reads
    # the connections of the first push carried the second one
    assert single_post_proxy.connections == 0
    assert connections <= 4


async def test_conflicting_version_is_refused_and_nothing_is_tagged(
    proxy: CountingProxy, tmp_path: Path
) -> None:
    namespace = _namespace(proxy)
    await _publish(namespace, tmp_path / "a")
    other = small_revision().model_copy(update={"description": "different content"})
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "b") as registry:
        with pytest.raises(Exception, match="already exists with different content"):
            await registry.create_revision(other)
        assert (await registry.get_revision("model:1.0.0")).description != "different content"


# ---- pull, fetch, get ------------------------------------------------------------------------------


async def test_cold_pull_fetch_and_get_by_tag_take_two_round_trips(
    proxy: CountingProxy, tmp_path: Path
) -> None:
    namespace = _namespace(proxy)
    await _publish(namespace, tmp_path / "publisher")
    blobs = 3  # config, model definition, service configuration
    for index, operation in enumerate(("pull", "fetch", "get")):
        proxy.reset()
        async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / f"cold-{index}") as registry:
            if operation == "pull":
                await registry.pull("model:1.0.0", tmp_path / "out")
            elif operation == "fetch":
                await registry.fetch("model:1.0.0")
            else:
                await registry.get_revision("model:1.0.0")
        assert proxy.depth == 2, operation
        # every connection was opened with the first request, none waited for the manifest first
        used = {s.connection for s in proxy.seen}
        assert all(proxy.opened_after[connection] == 0 for connection in used), operation
        if operation == "get":
            # the manifest and the tag list (aliases) together, then the config
            assert proxy.kinds() == Counter({"GET manifests": 1, "GET tags": 1, "GET blobs": 1})
        else:
            assert proxy.kinds() == Counter({"GET manifests": 1, "GET blobs": blobs}), operation
    assert (tmp_path / "out" / "model-definition.yaml").is_file()


# ---- connections and the sync facade ---------------------------------------------------------------


def test_sync_facade_reuses_its_connections_across_calls(proxy: CountingProxy, tmp_path: Path) -> None:
    namespace = _namespace(proxy)
    with RemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        registry.create_revision(small_revision())
        registry.get_revision("model:1.0.0")
        opened = proxy.connections
        for _ in range(3):
            registry.get_revision("model:1.0.0")
            registry.versions("model")
    assert proxy.connections == opened


# ---- tokens --------------------------------------------------------------------------------------


async def test_token_negotiated_once_per_scope_per_process(
    token_registry, isolated_env, tmp_path: Path
) -> None:
    tokens = token_registry.token_server
    options = RegistryOptions(username=token_registry.username, password=token_registry.password)
    with CountingProxy(token_registry.host, single_post=True) as proxy:
        namespace = _namespace(proxy)
        tokens.reset()
        async with AsyncRemoteRegistry(namespace, options=options, cache_dir=tmp_path / "a") as first:
            await first.create_revision(small_revision())
        # a push needs pull and push on the repository: one token covers every request of it
        repository = f"{namespace.split('/', 1)[1]}/model"
        assert [r.scopes for r in tokens.requests] == [(f"repository:{repository}:pull,push",)]
        # another registry object of the same process: no 401, no token request ("credentials cached")
        tokens.reset()
        proxy.reset()
        async with AsyncRemoteRegistry(namespace, options=options, cache_dir=tmp_path / "b") as second:
            await second.create_revision(small_revision(version="1.0.1"))
            reads = _version_reads(proxy)
            assert proxy.requests_seen == 5 + reads
            assert proxy.depth == 2 + reads
            await second.get_revision("model:1.0.1")
        assert tokens.request_count == 0
        assert all(s.status != 401 for s in proxy.seen)


async def test_a_large_file_already_there_is_asked_about_not_sent(
    single_post_proxy: CountingProxy, tmp_path: Path
) -> None:
    """Large blobs (> 256 KiB) are HEADed first, alongside the other uploads; re-pushing unchanged
    weights sends none of their bytes."""
    from msr_oci.oci.remote import SINGLE_REQUEST_LIMIT
    from msr_oci.revision.loader import describe_extra_file

    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes(range(256)) * (SINGLE_REQUEST_LIMIT // 256 + 1))
    revision = small_revision().model_copy(update={"extra_files": [describe_extra_file(weights)]})
    namespace = _namespace(single_post_proxy)
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        await registry.create_revision(revision)
        _version_reads(single_post_proxy)
        first = _without_version_reads(single_post_proxy)
        single_post_proxy.reset()
        await registry.create_revision(revision.model_copy(update={"version": "1.0.1"}))
        reads = _version_reads(single_post_proxy)
        second = _without_version_reads(single_post_proxy)
    # first: the large file HEAD (absent), POST, PUT; the small ones in one POST each
    assert first == Counter(
        {"GET tags": 1, "HEAD blobs": 1, "POST uploads": 4, "PUT uploads": 1, "PUT manifests": 1}
    )
    # second: the large file HEAD (present) and nothing else of it
    assert second == Counter({"GET tags": 1, "HEAD blobs": 1, "POST uploads": 3, "PUT manifests": 1})
    assert single_post_proxy.depth == 2 + reads
