"""Large blobs take the off-loop path (hashing, reads and writes on worker threads, in batches): the
same guarantees as small ones, against a real registry and a fault proxy in front of it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from faults import Answer, FaultPlan, FaultProxy, Request, ScriptedServer

from msr_oci.errors import DigestMismatch, IntegrityError, NetworkError
from msr_oci.oci import Descriptor
from msr_oci.oci.download import DIRECT_THRESHOLD
from msr_oci.oci.offload import BATCH_SIZE, OFFLOAD_THRESHOLD
from msr_oci.oci.remote import Registry, RegistryOptions
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision
from msr_oci.revision.loader import describe_extra_file

pytestmark = pytest.mark.timeout(120)

#: above the threshold and not a whole number of batches: the last batch is a short one
SIZE = OFFLOAD_THRESHOLD + 2 * BATCH_SIZE + 12_345
DIRECT_SIZE = DIRECT_THRESHOLD + 3 * BATCH_SIZE + 777
OPTIONS = RegistryOptions(retries=0, timeout=30)


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "weights.bin"
    path.parent.mkdir()
    path.write_bytes(os.urandom(SIZE))
    return path


def _descriptor(path: Path) -> Descriptor:
    data = path.read_bytes()
    return Descriptor(
        media_type="application/octet-stream",
        digest="sha256:" + hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


async def test_large_file_round_trip_is_byte_exact(
    registry, isolated_env, weights: Path, tmp_path: Path
) -> None:
    revision = ModelServingRevision(
        name="big",
        version="1.0.0",
        model_definition={"models": [{"name": "m", "model_path": "/models/m", "service": {"port": 8000}}]},
        service_configuration={"image": "cr.backend.ai/stable/python:3.11", "runtime_variant": "custom"},
        extra_files=[describe_extra_file(weights)],
    )
    namespace = f"{registry.host}/{registry.unique_repository('large')}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as client:
        await client.create_revision(revision)
        await client.pull("big:1.0.0", tmp_path / "out")
        fetched = await client.fetch("big:1.0.0")
    assert (tmp_path / "out" / "weights.bin").read_bytes() == weights.read_bytes()
    assert (fetched.path / "weights.bin").read_bytes() == weights.read_bytes()


async def test_large_upload_of_a_file_that_changed_is_refused(registry, isolated_env, weights: Path) -> None:
    """The bytes sent are hashed as they are read: a file changed after it was described never lands."""
    described = _descriptor(weights)
    with weights.open("r+b") as fh:
        fh.seek(SIZE - 1)
        fh.write(b"\x00" if weights.read_bytes()[-1:] != b"\x00" else b"\x01")
    async with Registry(registry.host, OPTIONS) as client:
        repository = client.repository(registry.unique_repository("changed"))
        with pytest.raises(IntegrityError):
            await repository.push(described, weights)
        assert not await repository.exists(described)


@pytest.mark.parametrize("path", ["batched", "direct"])
@pytest.mark.parametrize(("fault", "error"), [("flip", DigestMismatch), ("truncate", NetworkError)])
async def test_large_download_damaged_on_the_way_leaves_nothing(
    registry, isolated_env, tmp_path: Path, path: str, fault: str, error: type[Exception]
) -> None:
    """Both large paths: batched through httpx (4-32 MiB), straight from the socket (32 MiB and more)."""
    source = tmp_path / "blob.bin"
    source.write_bytes(os.urandom(SIZE if path == "batched" else DIRECT_SIZE))
    descriptor = _descriptor(source)
    name = registry.unique_repository("damaged")
    async with Registry(registry.host, OPTIONS) as client:
        await client.repository(name).push(descriptor, source)
    out = tmp_path / "out"
    with FaultProxy(registry.host, FaultPlan(script=[fault])) as proxy:
        async with Registry(proxy.host, OPTIONS) as client:
            with pytest.raises(error):
                await client.repository(name).fetch_to_file(descriptor, out / "blob.bin")
    assert not out.exists() or list(out.iterdir()) == []


# ---- the direct download path (blobs of DIRECT_THRESHOLD bytes and more) ----------------------------


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "huge.bin"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(DIRECT_SIZE))
    return path


async def test_direct_download_is_byte_exact_in_one_request(
    registry, isolated_env, huge: Path, tmp_path: Path
) -> None:
    descriptor = _descriptor(huge)
    name = registry.unique_repository("direct")
    seen: list[int] = []
    async with Registry(registry.host, OPTIONS) as client:
        repository = client.repository(name)
        await repository.push(descriptor, huge)
        before = client.request_count
        await repository.fetch_to_file(descriptor, tmp_path / "out" / "huge.bin", progress=seen.append)
        assert client.request_count - before == 1
    assert (tmp_path / "out" / "huge.bin").read_bytes() == huge.read_bytes()
    assert sum(seen) == DIRECT_SIZE
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["huge.bin"]


async def test_direct_download_keeps_credentials_on_the_registry_origin(
    isolated_env, huge: Path, tmp_path: Path
) -> None:
    """Basic auth at the registry, then a redirect to storage elsewhere: the storage never sees them."""
    descriptor = _descriptor(huge)
    body = huge.read_bytes()

    async def storage_answer(request: Request) -> Answer:
        return Answer(200, {"Content-Type": "application/octet-stream"}, body)

    with ScriptedServer(storage_answer) as storage:

        async def registry_answer(request: Request) -> Answer:
            if "authorization" not in request.headers:
                return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
            return Answer(307, {"Location": f"http://{storage.host}/bucket/huge"})

        with ScriptedServer(registry_answer) as fake_registry:
            options = RegistryOptions(username="alice", password="s3cret-pass", retries=0, timeout=30)
            async with Registry(fake_registry.host, options) as client:
                repository = client.repository("team/model")
                for attempt in range(2):  # the first learns the scheme (general path), the second goes direct
                    await repository.fetch_to_file(descriptor, tmp_path / f"out{attempt}" / "huge.bin")
                    assert (tmp_path / f"out{attempt}" / "huge.bin").read_bytes() == body
    assert any("authorization" in r.headers for r in fake_registry.requests)
    # the first fetch went through httpx (which offers gzip), the second took the direct path
    encodings = [
        r.headers.get("accept-encoding") for r in fake_registry.requests if "authorization" in r.headers
    ]
    assert encodings[0] != "identity" and encodings[-1] == "identity"
    assert storage.requests and all("authorization" not in r.headers for r in storage.requests)
    assert len(storage.requests) == 2
