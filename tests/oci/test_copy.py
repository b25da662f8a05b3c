"""copy/copy_graph between real stores: layout to layout, and layout to a real registry and back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from registry_harness import RegistryServer
from test_layout import LAYERS, push_sample, stray_files

from msr_oci.oci import (
    MEDIA_TYPE_IMAGE_INDEX,
    Content,
    Descriptor,
    DigestMismatch,
    ImageIndex,
    ProgressCallback,
    Registry,
    copy,
    copy_graph,
)
from msr_oci.oci.layout import OCILayout

SIG_TYPE = "application/vnd.test.sig"


class CountingLayout(OCILayout):
    """A real layout that records what ``push`` is asked to store and how many pushes overlap."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pushed: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def push(
        self, descriptor: Descriptor, content: Content, *, progress: ProgressCallback | None = None
    ) -> None:
        self.pushed.append(descriptor.digest)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let other copies start, so overlap can show
            await super().push(descriptor, content, progress=progress)
        finally:
            self.in_flight -= 1


async def sample_with_referrers(layout: OCILayout) -> tuple[Descriptor, Descriptor, Descriptor]:
    """A tagged artifact, a signature of it, and a signature of that signature (untagged)."""
    root, _ = await push_sample(layout)
    signature, _ = await push_sample(
        layout, {"sig": b"signature"}, tag=None, subject=root, artifact_type=SIG_TYPE
    )
    countersignature, _ = await push_sample(
        layout, {"sig": b"counter"}, tag=None, subject=signature, artifact_type=SIG_TYPE
    )
    return root, signature, countersignature


async def test_copy_layout_to_layout_with_referrers_then_nothing_is_resent(tmp_path: Path) -> None:
    src = OCILayout(tmp_path / "src")
    root, signature, countersignature = await sample_with_referrers(src)
    dst = CountingLayout(tmp_path / "dst")
    transferred: list[int] = []

    copied = await copy(src, dst, "v1", referrers=True, progress=transferred.append)

    assert copied == root.short()
    assert [t async for t in dst.list_tags()] == ["v1"]
    _, manifest, _ = await dst.fetch_manifest("v1")
    assert {layer.title: await dst.fetch_bytes(layer, 10**7) for layer in manifest.layers} == LAYERS  # type: ignore[union-attr]
    assert [d.digest for d in await dst.referrers(root)] == [signature.digest]
    assert [d.digest for d in await dst.referrers(signature)] == [countersignature.digest]
    # every blob once: 2 layers + empty config + 2 signature layers + 3 manifests
    assert len(dst.pushed) == len(set(dst.pushed)) == 8
    # progress counts what was sent and what was found already there: each referrer's copy finds
    # the empty config ({}, 2 bytes) the root's copy sent
    sent = sum(len(data) for data in LAYERS.values()) + 2 + len(b"signaturecounter")
    assert sum(transferred) == sent + 2 * 2
    # manifests went after what they point to, the root before its referrers
    assert dst.pushed.index(root.digest) > max(dst.pushed.index(layer.digest) for layer in manifest.layers)  # type: ignore[union-attr]
    assert dst.pushed.index(root.digest) < dst.pushed.index(signature.digest)

    dst.pushed.clear()
    await copy(src, dst, "v1", dst_tag="again", referrers=True)
    assert dst.pushed == []
    assert (await dst.resolve("again")).digest == root.digest


async def test_copy_an_index_of_two_manifests_by_digest(tmp_path: Path) -> None:
    src = OCILayout(tmp_path / "src")
    first, _ = await push_sample(src, {"a.bin": b"a" * 1000}, tag=None)
    second, _ = await push_sample(src, {"b.bin": b"b" * 2000}, tag=None)
    index_data = ImageIndex(manifests=[first.short(), second.short()]).to_bytes()
    index = Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, index_data)
    await src.push_manifest(index, index_data, "multi")
    dst = CountingLayout(tmp_path / "dst")

    copied = await copy(src, dst, index.digest)

    assert copied == index.short()
    assert [t async for t in dst.list_tags()] == []  # a digest reference gives no tag
    assert await dst.fetch_bytes(index) == index_data
    for child in (first, second):
        assert await dst.resolve(child.digest) == child.short()
        assert await dst.fetch_bytes(child) == await src.fetch_bytes(child)
    assert dst.pushed[-1] == index.digest
    assert dst.pushed.count("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a") == 1


async def test_copy_graph_respects_the_concurrency_limit(tmp_path: Path) -> None:
    src = OCILayout(tmp_path / "src")
    files = {f"part{n}.bin": bytes([n]) * 1000 for n in range(10)}
    root, _ = await push_sample(src, files)
    bounded = CountingLayout(tmp_path / "bounded")
    await copy_graph(src, bounded, root, concurrency=2)
    assert bounded.most_in_flight == 2
    wide = CountingLayout(tmp_path / "wide")
    await copy_graph(src, wide, root, concurrency=8)
    assert wide.most_in_flight > 2
    assert sorted(bounded.pushed) == sorted(wide.pushed)


async def test_a_corrupt_source_blob_stops_the_copy_before_the_manifest(tmp_path: Path) -> None:
    src = OCILayout(tmp_path / "src")
    root, layers = await push_sample(src)
    path = src.path / "blobs" / "sha256" / layers[1].digest.split(":")[1]
    path.write_bytes(path.read_bytes().upper())
    dst = OCILayout(tmp_path / "dst")
    with pytest.raises(DigestMismatch):
        await copy(src, dst, "v1")
    assert not await dst.exists(root)
    assert not await dst.exists(layers[1])
    assert [t async for t in dst.list_tags()] == []
    assert stray_files(dst) == []


async def test_copy_layout_to_registry_and_back(registry: RegistryServer, tmp_path: Path) -> None:
    src = OCILayout(tmp_path / "src")
    root, signature, countersignature = await sample_with_referrers(src)
    name = registry.unique_repository("copy")
    async with Registry(registry.host) as client:
        remote = client.repository(name)
        await copy(src, remote, "v1", referrers=True)
        assert [t async for t in remote.list_tags() if not t.startswith("sha256-")] == ["v1"]
        before = client.request_count
        await copy(src, remote, "v1", referrers=True)
        # the root and both referrers exist (one HEAD each), plus listing referrers and the tag
        assert client.request_count - before <= 8

        back = OCILayout(tmp_path / "back")
        assert await copy(remote, back, "v1", referrers=True) == root.short()
    assert (await back.resolve("v1")).digest == root.digest
    assert [d.digest for d in await back.referrers(root)] == [signature.digest]
    assert [d.digest for d in await back.referrers(signature)] == [countersignature.digest]
    _, manifest, _ = await back.fetch_manifest("v1")
    assert {layer.title: await back.fetch_bytes(layer, 10**7) for layer in manifest.layers} == LAYERS  # type: ignore[union-attr]
