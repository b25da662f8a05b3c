"""Manifests, tags, referrers (fallback tag scheme) and deletion against real registries."""

from __future__ import annotations

import pytest
from support import manifest_bytes, push_artifact

from msr_oci.oci import (
    BlobUnknown,
    DeletionDisabled,
    InputError,
    ManifestUnknown,
)
from msr_oci.oci.remote import Registry, open_repository


async def test_push_resolve_fetch_by_tag_and_digest(registry) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("manifests"))
        before = client.request_count
        descriptor, data = await push_artifact(repo, {"a.txt": b"alpha"}, tag="v1")
        # small blobs are never HEADed first: POST+PUT for the config and for the layer (distribution
        # 2.8 takes no single-request upload), then one PUT of the manifest by tag
        assert client.request_count - before == 5
        assert await repo.resolve("v1") == descriptor
        assert await repo.resolve(descriptor.digest) == descriptor
        for reference in ("v1", descriptor.digest):
            before = client.request_count
            fetched, manifest, raw = await repo.fetch_manifest(reference)
            assert client.request_count - before == 1  # one GET, no HEAD first
            assert (fetched, raw) == (descriptor, data)
            assert manifest.artifact_type == "application/vnd.test.artifact"
        assert await repo.fetch_bytes(descriptor) == data
        await repo.tag(descriptor, "stable")
        assert (await repo.resolve("stable")).digest == descriptor.digest


async def test_missing_things_are_typed_not_found(registry) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("missing"))
        with pytest.raises(ManifestUnknown, match="missing"):
            await repo.resolve("nope")
        assert [t async for t in repo.list_tags()] == []
        with pytest.raises(InputError):
            await repo.resolve("bad tag!")
        # a manifest naming a blob that was never pushed
        descriptor, data = manifest_bytes([])
        with pytest.raises(BlobUnknown):
            await repo.push_manifest(descriptor, data)


async def test_250_tags_sorted_and_after_last(registry) -> None:
    """distribution 2.8 ignores ``n``/``last``; paging itself is tested against a paging server."""
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("tags"))
        descriptor, _ = await push_artifact(repo, {"x": b"x"}, tag="t000")
        for number in range(1, 250):
            await repo.tag(descriptor, f"t{number:03d}")
        tags = [tag async for tag in repo.list_tags(page_size=100)]
        assert tags == [f"t{number:03d}" for number in range(250)]
        after = [tag async for tag in repo.list_tags(last="t247", page_size=100)]
        assert after == ["t248", "t249"]


async def test_referrers_through_the_fallback_tag(registry) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("referrers"))
        subject, _ = await push_artifact(repo, {"model.bin": b"weights"}, tag="v1")
        signature, _ = await push_artifact(
            repo, {"sig": b"signature"}, artifact_type="application/vnd.test.signature", subject=subject
        )
        report, _ = await push_artifact(
            repo, {"report": b"metrics"}, artifact_type="application/vnd.test.report", subject=subject
        )
        found = await repo.referrers(subject)
        assert {d.digest for d in found} == {signature.digest, report.digest}
        only = await repo.referrers(subject, artifact_type="application/vnd.test.report")
        assert [(d.digest, d.artifact_type) for d in only] == [(report.digest, "application/vnd.test.report")]
        fallback_tag = subject.digest.replace(":", "-")
        assert fallback_tag in [t async for t in repo.list_tags()]

        await repo.delete(signature)
        assert [d.digest for d in await repo.referrers(subject)] == [report.digest]
        await repo.delete(report)
        assert await repo.referrers(subject) == []
        # the emptied index and its tag are gone, not left behind
        assert [t async for t in repo.list_tags()] == ["v1"]


async def test_an_index_that_is_the_subject_itself_is_not_a_referrers_list(registry) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("quirk"))
        subject, data = await push_artifact(repo, {"a": b"a"})
        # the fallback tag pointing at the subject itself (a GitLab quirk)
        await repo.push_manifest(subject, data, subject.digest.replace(":", "-"))
        assert await repo.referrers(subject) == []


async def test_delete_and_untag_on_a_deleting_registry(registry) -> None:
    async with open_repository(f"{registry.host}/{registry.unique_repository('delete')}") as repo:
        descriptor, data = await push_artifact(repo, {"a": b"to delete"}, tag="v1")
        await repo.push_manifest(descriptor, data, "v2")
        # distribution 2.8 cannot DELETE a tag: untag goes through a throwaway manifest, so v1 goes,
        # the manifest and its other tag stay
        await repo.untag("v1")
        with pytest.raises(ManifestUnknown):
            await repo.resolve("v1")
        assert (await repo.resolve("v2")).digest == descriptor.digest
        assert (await repo.resolve(descriptor.digest)).digest == descriptor.digest
        assert [t async for t in repo.list_tags()] == ["v2"]
        with pytest.raises(ManifestUnknown):
            await repo.untag("v1")
        await repo.delete(descriptor)
        with pytest.raises(ManifestUnknown):
            await repo.resolve("v2")
        with pytest.raises(ManifestUnknown):
            await repo.delete(descriptor)


async def test_delete_on_a_registry_without_deletion(nodelete_registry) -> None:
    async with Registry(nodelete_registry.host) as client:
        repo = client.repository(nodelete_registry.unique_repository("nodelete"))
        descriptor, _ = await push_artifact(repo, {"a": b"kept"}, tag="v1")
        with pytest.raises(DeletionDisabled, match=r"storage\.delete\.enabled"):
            await repo.delete(descriptor)
        assert (await repo.resolve("v1")).digest == descriptor.digest


async def test_untag_on_a_registry_without_deletion_leaves_the_tag_alone(nodelete_registry) -> None:
    """Such a registry answers a DELETE by tag with 405 as 2.8 does for tags: the placeholder route
    would move the tag and then fail to delete the placeholder, so deletability is checked first."""
    async with Registry(nodelete_registry.host) as client:
        repo = client.repository(nodelete_registry.unique_repository("nodelete-untag"))
        descriptor, _ = await push_artifact(repo, {"a": b"kept"}, tag="v1")
        with pytest.raises(DeletionDisabled):
            await repo.check_deletable()
        with pytest.raises(DeletionDisabled):
            await repo.untag("v1")
        assert (await repo.resolve("v1")).digest == descriptor.digest  # not a placeholder
        assert [t async for t in repo.list_tags()] == ["v1"]


async def test_check_deletable_changes_nothing_on_a_deleting_registry(registry) -> None:
    async with Registry(registry.host) as client:
        repo = client.repository(registry.unique_repository("deletable"))
        descriptor, _ = await push_artifact(repo, {"a": b"kept"}, tag="v1")
        before = client.request_count
        await repo.check_deletable()
        assert client.request_count - before == 1
        assert (await repo.resolve("v1")).digest == descriptor.digest


async def test_catalog_lists_pushed_repositories(registry) -> None:
    async with Registry(registry.host) as client:
        name = registry.unique_repository("catalog")
        await push_artifact(client.repository(name), {"a": b"c"}, tag="v1")
        names = [n async for n in client.catalog()]
        assert name in names
        assert names == sorted(names)
        assert name not in [n async for n in client.catalog(last=name)]
