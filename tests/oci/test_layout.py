"""OCILayout and LocalStore on real directories: round trips, tags, referrers, integrity, locking."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
from pathlib import Path

import pytest
from support import blob, manifest_bytes

from msr_oci.oci import (
    EMPTY_DESCRIPTOR,
    Descriptor,
    DigestMismatch,
    InputError,
    IntegrityError,
    InvalidManifest,
    InvalidReference,
    ManifestUnknown,
    NameUnknown,
    SizeMismatch,
)
from msr_oci.oci.content import EMPTY_JSON, MEDIA_TYPE_IMAGE_MANIFEST
from msr_oci.oci.layout import LocalStore, OCILayout

LAYERS = {"weights.bin": b"w" * 300_000, "config.yaml": b"name: demo\n"}


async def push_sample(
    layout: OCILayout,
    files: dict[str, bytes] = LAYERS,
    *,
    tag: str | None = "v1",
    subject: Descriptor | None = None,
    artifact_type: str = "application/vnd.test.artifact",
) -> tuple[Descriptor, list[Descriptor]]:
    await layout.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
    layers = []
    for name, data in files.items():
        layers.append(blob(data, title=name))
        await layout.push(layers[-1], data)
    descriptor, data = manifest_bytes(layers, subject=subject, artifact_type=artifact_type)
    await layout.push_manifest(descriptor, data, tag)
    return descriptor, layers


def index_entries(layout: OCILayout) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads((layout.path / "index.json").read_text())["manifests"]
    return entries


def stray_files(layout: OCILayout) -> list[Path]:
    """Temp files a write left behind (every temp name starts with a dot)."""
    return [p for p in layout.path.rglob(".*")]


async def test_push_fetch_resolve_tag_round_trip(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    assert not layout.path.exists()  # created lazily, on the first write
    descriptor, layers = await push_sample(layout)

    assert json.loads((layout.path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert await layout.resolve("v1") == descriptor.short()
    assert await layout.resolve(descriptor.digest) == descriptor.short()
    assert await layout.exists(layers[0]) and await layout.exists(descriptor)
    assert await layout.fetch_bytes(layers[1]) == LAYERS["config.yaml"]
    _, manifest, _ = await layout.fetch_manifest("v1")
    assert [layer.title for layer in manifest.layers] == list(LAYERS)  # type: ignore[union-attr]
    # a tagged manifest is listed once, with its tag, not also untagged
    assert index_entries(layout) == [
        {
            "mediaType": MEDIA_TYPE_IMAGE_MANIFEST,
            "digest": descriptor.digest,
            "size": descriptor.size,
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }
    ]
    assert stray_files(layout) == []


async def test_fetch_to_file_streams_a_blob_to_disk(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    _, layers = await push_sample(layout)
    seen: list[int] = []
    out = tmp_path / "out" / "weights.bin"
    await layout.fetch_to_file(layers[0], out, progress=seen.append)
    assert out.read_bytes() == LAYERS["weights.bin"]
    assert sum(seen) == len(LAYERS["weights.bin"]) and len(seen) == 1  # 300 kB is one 1 MiB chunk


async def test_tags_are_sorted_and_paged_with_last(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    descriptor, _ = await push_sample(layout, tag="b")
    for tag in ["c", "a", "1.0", "latest"]:
        await layout.tag(descriptor, tag)
    assert [t async for t in layout.list_tags()] == ["1.0", "a", "b", "c", "latest"]
    assert [t async for t in layout.list_tags(last="b")] == ["c", "latest"]


async def test_retag_moves_a_tag_and_untag_keeps_the_manifest(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    first, _ = await push_sample(layout, tag="stable")
    second, _ = await push_sample(layout, {"other.bin": b"other"}, tag=None)
    await layout.tag(second, "stable")
    assert (await layout.resolve("stable")).digest == second.digest
    # the first manifest lost its tag but stays listed (untagged), the second is listed once
    assert sorted((e["digest"], "annotations" in e) for e in index_entries(layout)) == sorted(
        [(first.digest, False), (second.digest, True)]
    )
    await layout.untag("stable")
    assert [t async for t in layout.list_tags()] == []
    assert await layout.resolve(second.digest) == second.short()
    with pytest.raises(ManifestUnknown):
        await layout.untag("stable")
    with pytest.raises(ManifestUnknown):
        await layout.resolve("stable")


async def test_delete_manifest_removes_its_tags_and_blob_but_not_shared_blobs(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    kept, _ = await push_sample(layout, {"shared.bin": b"shared"}, tag="keep")
    doomed, layers = await push_sample(layout, {"shared.bin": b"shared", "own.bin": b"own"}, tag="v1")
    await layout.tag(doomed, "v2")
    await layout.delete(doomed)
    assert [t async for t in layout.list_tags()] == ["keep"]
    assert not await layout.exists(doomed)
    assert await layout.exists(layers[0]) and await layout.exists(layers[1])
    with pytest.raises(ManifestUnknown):
        await layout.delete(doomed)
    # gc drops what no listed manifest reaches: the layer only the deleted manifest used
    assert await layout.gc() == [layers[1].digest]
    assert await layout.fetch_bytes(kept) and await layout.exists(layers[0])


async def test_missing_layout_reads_raise_name_unknown(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "absent", create=False)
    with pytest.raises(NameUnknown, match="no OCI layout"):
        await layout.resolve("v1")
    with pytest.raises(NameUnknown):
        await layout.fetch_bytes(EMPTY_DESCRIPTOR)
    with pytest.raises(NameUnknown):
        await layout.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
    assert [t async for t in layout.list_tags()] == []
    assert not await layout.exists(EMPTY_DESCRIPTOR)
    assert await layout.referrers(EMPTY_DESCRIPTOR) == []
    assert not layout.path.exists()


async def test_referrers_scan_untagged_manifests_and_filter_by_type(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    subject, _ = await push_sample(layout)
    signature, _ = await push_sample(
        layout, {"sig": b"signature"}, tag=None, subject=subject, artifact_type="application/vnd.test.sig"
    )
    sbom, _ = await push_sample(
        layout, {"sbom": b"sbom"}, tag="sbom", subject=subject, artifact_type="application/vnd.test.sbom"
    )
    found = await layout.referrers(subject)
    assert {(d.digest, d.artifact_type) for d in found} == {
        (signature.digest, "application/vnd.test.sig"),
        (sbom.digest, "application/vnd.test.sbom"),
    }
    assert [d.digest for d in await layout.referrers(subject, "application/vnd.test.sig")] == [
        signature.digest
    ]
    assert await layout.referrers(signature) == []


async def test_corrupted_blob_fails_fetch_and_fetch_to_file_leaves_nothing(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    _, layers = await push_sample(layout)
    path = layout.path / "blobs" / "sha256" / layers[0].digest.split(":")[1]
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch):
        await layout.fetch_bytes(layers[0], max_size=10**7)
    out_dir = tmp_path / "out"
    with pytest.raises(IntegrityError):
        await layout.fetch_to_file(layers[0], out_dir / "weights.bin")
    assert list(out_dir.iterdir()) == []


async def test_push_that_fails_verification_leaves_no_blob_and_no_temp_file(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    descriptor = blob(b"the real content")
    with pytest.raises(DigestMismatch):
        await layout.push(descriptor, b"the fake content")
    with pytest.raises(SizeMismatch):
        await layout.push(descriptor, b"the real content, and more")
    not_json = Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, b"not json")
    with pytest.raises(InvalidManifest):
        await layout.push(not_json, b"not json")
    assert not await layout.exists(descriptor) and not await layout.exists(not_json)
    assert stray_files(layout) == []
    assert list((layout.path / "blobs" / "sha256").iterdir()) == []


async def test_tags_and_digests_cannot_name_paths_outside_the_layout(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    descriptor, _ = await push_sample(layout)
    for tag in ["../escape", "a/b", ".hidden", ""]:
        with pytest.raises(InvalidReference):
            await layout.tag(descriptor, tag)
    for reference in ["sha256:../../../etc/passwd", "../../etc/passwd"]:
        with pytest.raises(InputError):
            await layout.resolve(reference)
    assert [t async for t in layout.list_tags()] == ["v1"]


def _tag_many(path: str, digest: str, size: int, prefix: str, count: int) -> None:
    """Worker for the threads and processes below: tag ``count`` tags, each its own index update."""
    layout = OCILayout(Path(path))
    descriptor = Descriptor(media_type=MEDIA_TYPE_IMAGE_MANIFEST, digest=digest, size=size)

    async def run() -> None:
        for i in range(count):
            await layout.tag(descriptor, f"{prefix}-{i}")

    asyncio.run(run())


def test_concurrent_threads_and_processes_lose_no_tag(tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "repo")
    descriptor, _ = asyncio.run(push_sample(layout, tag=None))
    args = (str(layout.path), descriptor.digest, descriptor.size)
    per_worker = 10
    threads = [threading.Thread(target=_tag_many, args=(*args, f"thread{n}", per_worker)) for n in range(8)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_tag_many, args=(*args, f"proc{n}", per_worker)) for n in range(4)]
    for thread in threads:
        thread.start()
    for process in processes:
        process.start()
    for thread in threads:
        thread.join(timeout=120)
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0

    tags = asyncio.run(_all_tags(layout))
    workers = [f"thread{n}" for n in range(8)] + [f"proc{n}" for n in range(4)]
    assert sorted(tags) == sorted(f"{worker}-{i}" for worker in workers for i in range(per_worker))
    assert len(index_entries(layout)) == 12 * per_worker  # tagged only: the untagged entry was replaced


async def _all_tags(layout: OCILayout) -> list[str]:
    return [t async for t in layout.list_tags()]


async def test_local_store_lists_nested_repositories(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    assert store.repositories() == []
    for name in ["model", "team/model", "team/other"]:
        await push_sample(store.repository(name))
    (tmp_path / "store" / "not-a-layout").mkdir()
    assert store.repositories() == ["model", "team/model", "team/other"]
    assert store.repository("team/model").path == tmp_path / "store" / "team" / "model"
    for bad in ["../escape", "Team", "team//model", "model/blobs", "model/index.json"]:
        with pytest.raises(InvalidReference):
            store.repository(bad)
