"""Archive records through the API: what they hold, how listings and the repository index follow,
and that an independent client (skopeo) reads a record as the image index it is."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from registry_harness import REGISTRY_BINARY, registry_environment, start_registry
from test_registry_revisions import make_revision

from msr_oci.oci.errors import InputError, NotFoundError
from msr_oci.registry import AsyncRemoteRegistry, RemoteRegistry, VersionExists, repository_index
from msr_oci.registry.archive_records import ARCHIVE_ARTIFACT_TYPE, record_tag


@pytest.fixture(params=["local", "registry"])
def namespace(request: pytest.FixtureRequest, tmp_path: Path, isolated_env: None) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    server = request.getfixturevalue("registry")
    return f"{server.host}/arch{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def reg(namespace: str, tmp_path: Path) -> AsyncIterator[AsyncRemoteRegistry]:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        yield registry


async def test_archived_revisions_are_listed_with_their_record_and_filtered(reg: AsyncRemoteRegistry) -> None:
    await reg.create_revision(make_revision(version="1.0.0", labels={"team": "risk"}))
    kept = await reg.create_revision(make_revision(version="1.1.0", labels={"team": "ops"}))
    await reg.create_revision(make_revision(name="other", version="2.0.0", labels={"team": "risk"}))
    await reg.set_alias("fraud-detector", "canary", "1.0.0")

    plan = await reg.removal_plan("fraud-detector:canary")  # changes nothing
    assert [(r.version, r.tags, r.aliases) for r in plan.revisions] == [("1.0.0", ["1.0.0"], ["canary"])]
    assert await reg.versions("fraud-detector") == ["1.0.0", "1.1.0"]

    assert await reg.archive("fraud-detector:canary", by="carol") == ["1.0.0", "canary"]
    assert await reg.archive("fraud-detector@" + plan.revisions[0].digest) == []  # archived already
    await reg.archive("other:2.0.0")

    archived = await reg.list_archived()
    assert [(a.revision.name, a.revision.version) for a in archived] == [
        ("fraud-detector", "1.0.0"),
        ("other", "2.0.0"),
    ]
    first = archived[0].record
    assert (first.by, first.aliases, first.version) == ("carol", ["canary"], "1.0.0")
    assert first.digest == plan.revisions[0].digest and first.at is not None
    assert archived[0].revision.aliases == []
    by_label = await reg.list_archived({"labels": {"team": "risk"}, "name": "fraud-*"})
    assert [a.revision.name for a in by_label] == ["fraud-detector"]
    assert await reg.list_archived({"labels": {"team": "nobody"}}) == []
    # the live listing does not show them; the one left is unaffected
    assert [r.version for r in await reg.list_revisions({"name": "fraud-detector"})] == ["1.1.0"]
    assert (await reg.get_revision(kept)).version == "1.1.0"


async def test_unarchive_needs_a_version_or_digest_that_was_archived(reg: AsyncRemoteRegistry) -> None:
    await reg.create_revision(make_revision(version="1.0.0"))
    await reg.create_revision(make_revision(version="1.1.0"))
    await reg.archive("fraud-detector:1.0.0")
    with pytest.raises(InputError, match="names no version"):
        await reg.unarchive("fraud-detector")
    with pytest.raises(NotFoundError, match=r"archived versions: 1\.0\.0"):
        await reg.unarchive("fraud-detector:1.1.0")
    with pytest.raises(InputError, match="names no version"):
        await reg.archive("fraud-detector")
    restored = await reg.unarchive("fraud-detector:1.0.0")
    assert (await reg.get_revision("fraud-detector:1.0.0")).id == restored


async def test_archive_and_unarchive_keep_the_repository_index(reg: AsyncRemoteRegistry) -> None:
    for version in ("1.0.0", "1.1.0"):
        await reg.create_revision(make_revision(version=version))
    await reg.build_index("fraud-detector")
    target = reg.target(reg.locate("fraud-detector"))

    async def indexed() -> dict[str, str]:
        index = await repository_index.read(target, "fraud-detector")
        return {tag: entry.descriptor.digest for tag, entry in index.entries.items()}

    before = await indexed()
    await reg.archive("fraud-detector:1.0.0")
    assert set(await indexed()) == {"1.1.0"}
    await reg.unarchive("fraud-detector:1.0.0")
    assert await indexed() == before
    assert [r.version for r in await reg.list_revisions({"name": "fraud-detector"})] == ["1.0.0", "1.1.0"]


async def test_unarchive_never_replaces_what_the_version_holds_now(reg: AsyncRemoteRegistry) -> None:
    first = await reg.create_revision(make_revision(version="1.0.0", description="first"))
    await reg.archive("fraud-detector:1.0.0")
    second = await reg.create_revision(make_revision(version="1.0.0", description="second"))
    with pytest.raises(VersionExists):
        await reg.unarchive(first)
    assert (await reg.get_revision("fraud-detector:1.0.0")).id == second


def test_skopeo_reads_an_archive_record(registry: object, isolated_env: None, tmp_path: Path) -> None:
    host = registry.host  # type: ignore[attr-defined]
    namespace = f"{host}/arch{uuid.uuid4().hex[:10]}"
    with RemoteRegistry(namespace, cache_dir=tmp_path / "cache") as sync:
        revision_id = sync.create_revision(make_revision())
        digest = revision_id.rpartition("@")[2]
        sync.archive("fraud-detector:1.0.0")
        raw = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false",
             f"docker://{namespace}/fraud-detector:{record_tag(digest)}"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert [a.record.tag for a in sync.list_archived()] == [record_tag(digest)]
    record = json.loads(raw)
    assert record["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert record["artifactType"] == ARCHIVE_ARTIFACT_TYPE
    assert [m["digest"] for m in record["manifests"]] == [digest]


def test_an_archived_revision_survives_garbage_collection_of_untagged_manifests(
    isolated_env: None, tmp_path: Path
) -> None:
    """CNCF distribution 2.8's ``garbage-collect --delete-untagged`` deletes an untagged manifest even
    when a tagged index (the archive record) references it: the keeping tag is what saves it."""
    binary = shutil.which(REGISTRY_BINARY)
    assert binary is not None, (
        f"this test runs `{REGISTRY_BINARY} garbage-collect`: apt-get install docker-registry"
    )
    workdir = tmp_path / "registry"
    server = start_registry("plain", workdir)
    try:
        with RemoteRegistry(f"{server.host}/gc", cache_dir=tmp_path / "publisher") as publisher:
            archived = publisher.create_revision(make_revision(version="1.0.0")).rpartition("@")[2]
            publisher.create_revision(make_revision(version="1.1.0"))
            publisher.archive("fraud-detector:1.0.0")
    finally:
        server.stop()
    collected = subprocess.run(
        [binary, "garbage-collect", str(workdir / "config.yml"), "--delete-untagged"],
        capture_output=True, text=True, timeout=120, check=True, env=registry_environment(),
    )  # fmt: skip
    assert "marking manifest" in collected.stdout  # it did look at the repository
    server = start_registry("plain", workdir)  # the same storage again
    try:
        with RemoteRegistry(f"{server.host}/gc", cache_dir=tmp_path / "reader") as reader:
            assert reader.get_revision(f"fraud-detector@{archived}").version == "1.0.0"
            assert [a.revision.digest for a in reader.list_archived()] == [archived]
            reader.unarchive("fraud-detector:1.0.0")
            assert reader.versions("fraud-detector") == ["1.0.0", "1.1.0"]
    finally:
        server.stop()
