"""Blob transfer against a real registry: streaming, chunked uploads, mounts, memory bounds."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest
from support import blob

from msr_oci.oci import BlobUnknown, Descriptor, DigestMismatch, IntegrityError
from msr_oci.oci.remote import Registry, RegistryOptions

BIG_SIZE = 300 * 1024 * 1024


async def test_push_exists_fetch_and_fetch_to_file(registry, tmp_path: Path) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("blobs"))
        data = os.urandom(3 * 1024 * 1024 + 17)
        descriptor = blob(data)
        assert not await repo.exists(descriptor)
        await repo.push(descriptor, data)
        assert await repo.exists(descriptor)
        assert await repo.fetch_bytes(descriptor, max_size=len(data)) == data
        target = tmp_path / "out" / "blob.bin"
        seen: list[int] = []
        await repo.fetch_to_file(descriptor, target, progress=seen.append)
        assert target.read_bytes() == data
        assert sum(seen) == len(data)
        # a second push of existing content is one HEAD and nothing else
        before = client.request_count
        await repo.push(descriptor, data)
        assert client.request_count - before == 1


async def test_unknown_blob_and_wrong_descriptor_are_typed(registry, tmp_path: Path) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("blobs"))
        with pytest.raises(BlobUnknown, match="blobs"):
            await repo.fetch_bytes(blob(b"never pushed"))
        data = b"actual content"
        await repo.push(blob(data), data)
        # same digest, wrong size: the stream refuses it and no file is left behind
        lying = Descriptor(media_type="application/octet-stream", digest=blob(data).digest, size=3)
        with pytest.raises(IntegrityError):
            await repo.fetch_to_file(lying, tmp_path / "x")
        assert list(tmp_path.iterdir()) == []
        # content that does not match its descriptor is refused before the registry stores it
        with pytest.raises(IntegrityError):
            await repo.push(blob(b"other bytes!!!"), b"different bytes")


async def test_chunked_upload_sends_patches_of_the_chunk_size(registry) -> None:
    options = RegistryOptions(chunk_size=64 * 1024)
    async with Registry(registry.host, options) as client:
        repo = client.repository(registry.unique_repository("chunked"))
        data = os.urandom(5 * 64 * 1024 + 100)
        descriptor = blob(data)
        before = client.request_count
        await repo.push(descriptor, data)
        # HEAD, POST, 6 PATCHes, final PUT
        assert client.request_count - before == 9
        assert await repo.fetch_bytes(descriptor, max_size=len(data)) == data


async def test_cross_repository_mount(registry) -> None:
    async with Registry(registry.host) as client:
        source = client.repository(registry.unique_repository("mount-src"))
        target = client.repository(registry.unique_repository("mount-dst"))
        data = os.urandom(256 * 1024)
        descriptor = blob(data)
        await source.push(descriptor, data)
        before = client.request_count
        await target.push(descriptor, data, mount_from=source.name)
        # HEAD (absent) + POST ?mount= answered 201: no upload happened
        assert client.request_count - before == 2
        assert await target.fetch_bytes(descriptor, max_size=len(data)) == data
        # mounting what the source does not have is declined, and push falls back to uploading
        other = os.urandom(1000)
        assert await target.mount(blob(other), source.name) is False
        await target.push(blob(other), other, mount_from=source.name)
        assert await target.exists(blob(other))


async def test_streamed_push_from_an_async_iterator(registry) -> None:
    data = os.urandom(2 * 1024 * 1024)

    async def chunks():
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("stream"))
        await repo.push(blob(data), chunks())
        assert await repo.fetch_bytes(blob(data), max_size=len(data)) == data


def _write_big_file(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes in 1 MiB pieces; return the sha256 digest."""
    digest = hashlib.sha256()
    seed = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        for index in range(size // len(seed)):
            piece = index.to_bytes(8, "big") + seed[8:]
            digest.update(piece)
            fh.write(piece)
    return f"sha256:{digest.hexdigest()}"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while piece := fh.read(1024 * 1024):
            digest.update(piece)
    return f"sha256:{digest.hexdigest()}"


@pytest.mark.slow
async def test_300_mib_blob_streams_both_ways_in_bounded_memory(registry, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    digest = _write_big_file(source, BIG_SIZE)
    descriptor = Descriptor(media_type="application/octet-stream", digest=digest, size=BIG_SIZE)
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("big"))
        tracemalloc.start()
        try:
            await repo.push(descriptor, source)
            _, push_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            target = tmp_path / "pulled.bin"
            await repo.fetch_to_file(descriptor, target)
            _, pull_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert _file_digest(target) == digest
    limit = 64 * 1024 * 1024
    assert push_peak < limit, f"push peak {push_peak} bytes"
    assert pull_peak < limit, f"pull peak {pull_peak} bytes"


async def test_wrong_digest_in_a_pushed_stream_is_refused(registry) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("bad"))
        descriptor = blob(b"abc")
        wrong = Descriptor(media_type=descriptor.media_type, digest=blob(b"abd").digest, size=3)
        with pytest.raises(DigestMismatch):
            await repo.push(wrong, b"abc")
        assert not await repo.exists(wrong)
