"""Label, metric and description edits: an update of the version with the same files.

Through the API on both stores, through a recording proxy in front of the real registry (only the
new config and manifest are uploaded), and through the ``msr`` entry point.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faults import FaultProxy
from registry_harness import RegistryServer
from support import Space, make_space, msr, push, write_revision_dir
from test_registry_revisions import make_revision

from msr_oci.oci.errors import ConflictError, InputError
from msr_oci.registry import AsyncRemoteRegistry, repository_index
from msr_oci.revision import ModelServingRevision, encode_revision
from msr_oci.revision.labels import InvalidMetadata
from msr_oci.revision.loader import describe_extra_file


@pytest.fixture(params=["local", "registry"])
def namespace(request: pytest.FixtureRequest, tmp_path: Path, isolated_env: None) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    server = request.getfixturevalue("registry")
    return f"{server.host}/meta{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def reg(namespace: str, tmp_path: Path) -> AsyncIterator[AsyncRemoteRegistry]:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        yield registry


def _with_weights(tmp_path: Path, **fields: Any) -> ModelServingRevision:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x07" * 4096)
    return make_revision(extra_files=[describe_extra_file(weights)], **fields)


async def test_a_label_edit_is_an_update_with_the_same_files(
    reg: AsyncRemoteRegistry, tmp_path: Path
) -> None:
    first = await reg.create_revision(
        _with_weights(tmp_path, labels={"team": "risk", "tier": "gold"}, description="v1")  # type: ignore[arg-type]
    )
    await reg.set_alias("fraud-detector", "production", "1.0.0")
    before = await reg.get_revision(first)

    edited = await reg.update_metadata(
        "fraud-detector:1.0.0", labels={"owner": "bob", "team": "ops"}, remove_labels=["tier"]
    )
    after = await reg.get_revision(edited)
    assert edited != first and after.supersedes == before.digest
    assert after.labels == {"team": "ops", "owner": "bob"}
    assert (after.description, after.created_at, after.created_by) == (
        "v1",
        before.created_at,
        before.created_by,
    )
    assert (
        after.updated_at is not None
        and before.updated_at is not None
        and after.updated_at > before.updated_at
    )
    # the same files: every layer is the one already published
    assert encode_revision(after).manifest.layers == encode_revision(before).manifest.layers
    assert [r.digest for r in await reg.history("fraud-detector:1.0.0")] == [after.digest, before.digest]
    # the version moved, the alias stayed with what it pinned, the old digest is still there
    assert (await reg.get_revision("fraud-detector:1.0.0")).digest == after.digest
    assert (await reg.get_revision("fraud-detector:production")).digest == before.digest
    assert (await reg.get_revision(first)).labels == {"team": "risk", "tier": "gold"}

    metrics = await reg.update_metadata("fraud-detector:1.0.0", metrics={"accuracy": 0.97})
    described = await reg.update_metadata("fraud-detector:1.0.0", description="second look")
    final = await reg.get_revision(described)
    assert final.metrics == {"accuracy": 0.97} and final.description == "second look"
    assert final.labels == {"team": "ops", "owner": "bob"}
    assert [r.digest for r in await reg.history(described)][1] == metrics.rpartition("@")[2]
    cleared = await reg.get_revision(await reg.update_metadata("fraud-detector:1.0.0", description=""))
    assert cleared.description is None

    # setting what is already there changes nothing
    assert await reg.update_metadata("fraud-detector:1.0.0", labels={"owner": "bob"}) == cleared.id


async def test_bad_edits_are_refused_before_anything_changes(reg: AsyncRemoteRegistry) -> None:
    revision_id = await reg.create_revision(make_revision(labels={"team": "risk"}))
    requests = reg.request_count
    for bad in ({"bad key": "x"}, {"-dash": "x"}, {"k" * 129: "x"}, {"team": "two\nlines"}):
        with pytest.raises(InvalidMetadata):
            await reg.update_metadata("fraud-detector:1.0.0", labels=bad)
    with pytest.raises(InvalidMetadata):
        await reg.update_metadata("fraud-detector:1.0.0", metrics={"f 1": 0.5})
    with pytest.raises(InvalidMetadata):
        await reg.update_metadata("fraud-detector:1.0.0", metrics={"f1": float("nan")})
    assert reg.request_count == requests  # refused before any request
    with pytest.raises(InputError, match=r"no label 'owner' \(labels: team\)"):
        await reg.update_metadata("fraud-detector:1.0.0", remove_labels=["owner"])
    with pytest.raises(InputError, match="names no version"):
        await reg.update_metadata("fraud-detector", labels={"a": "b"})
    # an alias left on the previous revision names no current revision of the version
    await reg.set_alias("fraud-detector", "production", "1.0.0")
    await reg.update_metadata("fraud-detector:production", labels={"team": "ops"})  # current: allowed
    with pytest.raises(ConflictError, match="not the current revision"):
        await reg.update_metadata("fraud-detector:production", labels={"team": "x"})
    with pytest.raises(ConflictError):
        await reg.update_metadata(revision_id, labels={"team": "x"})
    # the same rules hold for publishing
    with pytest.raises(InputError, match="label name 'bad key'"):
        await reg.create_revision(make_revision(version="2.0.0", labels={"bad key": "x"}))


async def test_the_repository_index_follows_an_edit(reg: AsyncRemoteRegistry) -> None:
    for version in ("1.0.0", "1.1.0"):
        await reg.create_revision(make_revision(version=version, labels={"stage": "dev"}))
    await reg.build_index("fraud-detector")
    edited = await reg.update_metadata("fraud-detector:1.1.0", labels={"stage": "prod"}, metrics={"f1": 0.9})
    index = await repository_index.read(reg.target(reg.locate("fraud-detector")), "fraud-detector")
    entry = index.entries["1.1.0"]
    assert entry.descriptor.digest == edited.rpartition("@")[2]
    assert entry.summary is not None and entry.summary.labels == {"stage": "prod"}
    assert entry.summary.metrics == {"f1": 0.9}
    found = await reg.list_revisions({"name": "fraud-detector", "labels": {"stage": "prod"}})
    assert [r.id for r in found] == [edited]
    assert [r.version for r in await reg.list_revisions({"labels": {"stage": "dev"}})] == ["1.0.0"]
    assert [r.id for r in await reg.list_revisions({"metrics": {"f1": ">0.5"}}, verify=True)] == [edited]


async def test_an_edit_uploads_the_config_and_manifest_only(
    registry: RegistryServer, isolated_env: None, tmp_path: Path
) -> None:
    with FaultProxy(registry.host) as proxy:
        namespace = f"{proxy.host}/meta{uuid.uuid4().hex[:10]}"
        async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
            await reg.create_revision(_with_weights(tmp_path))
            published = len(proxy.requests)
            edited = await reg.update_metadata("fraud-detector:1.0.0", labels={"owner": "bob"})
            after = await reg.get_revision(edited, with_aliases=False)
        # the manifest by its tag; the config upload; the manifest; the index (none here): the
        # config and the new manifest are served from the cache by digest afterwards. The version
        # tag is also read (HEAD) after the write, and before it when the uploads outlasted the
        # check by more than READ_BACK_DELAY (a registry has no conditional write): 1 or 2 reads
        during = proxy.requests[published:]
        tag_reads = [r for r in during if r.method == "HEAD" and r.path.endswith("/manifests/1.0.0")]
        assert len(tag_reads) in (1, 2)
        assert len(during) - len(tag_reads) == 5
    writes = [(r.method, r.path.rsplit("/", 2)[-2]) for r in during if r.method in ("POST", "PUT", "PATCH")]
    # one blob upload (POST, PUT: the new config) and one manifest PUT (the version tag)
    assert writes == [("POST", "uploads"), ("PUT", "uploads"), ("PUT", "manifests")]
    uploaded = [r.query["digest"][0] for r in during if r.method == "PUT" and "digest" in r.query]
    manifest = encode_revision(after).manifest
    assert uploaded == [manifest.config.digest]
    assert not {layer.digest for layer in manifest.layers} & {r.path.rsplit("/", 1)[-1] for r in during}


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: object) -> Space:
    return make_space(request, request.param)


def test_label_metric_and_describe_commands(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    pushed = push(source, space.ref("model:1.0.0"), "--label", "tier=gold", "--label", "team=risk")
    msr("promote", space.ref("model"), "1.0.0", "--to", "production")

    result = msr(
        "label", space.ref("model:1.0.0"), "owner=bob", "team=ops", "--remove", "tier", "--output", "json"
    )
    record = result.json()
    assert record["changed"] is True and record["supersedes"] == pushed["digest"]
    assert record["labels"] == {"team": "ops", "owner": "bob"}
    assert "production" in result.stderr and "previous revision" in result.stderr
    listed = msr("list", *space.list_args, "--filter", "label.owner=bob", "--output", "json").json()
    assert [r["digest"] for r in listed] == [record["digest"]]
    assert msr("list", *space.list_args, "--filter", "label.tier=gold", "--output", "json").json() == []

    metric = msr("metric", space.ref("model:1.0.0"), "accuracy=0.97", "--output", "json").json()
    assert metric["metrics"] == {"accuracy": 0.97} and metric["labels"]["owner"] == "bob"
    text = msr("describe", space.ref("model:1.0.0"), "retrained on May data").stdout
    assert "supersedes" in text
    got = msr("get", space.ref("model:1.0.0"), "--output", "json").json()
    assert got["description"] == "retrained on May data" and got["metrics"] == {"accuracy": 0.97}
    history = msr("history", space.ref("model:1.0.0"), "--output", "json").json()
    assert len(history) == 4 and history[-1]["digest"] == pushed["digest"]
    again = msr("label", space.ref("model:1.0.0"), "owner=bob", "--output", "json").json()
    assert again["changed"] is False and again["digest"] == got["digest"]

    for bad in (
        ["label", space.ref("model:1.0.0"), "bad key=x"],
        ["label", space.ref("model:1.0.0"), "novalue"],
        ["label", space.ref("model:1.0.0")],
        ["label", space.ref("model:1.0.0"), "--remove", "missing"],
        ["label", space.ref("model"), "a=b"],
        ["metric", space.ref("model:1.0.0"), "accuracy=high"],
        ["push", str(source), space.ref("model:2.0.0"), "--label", "bad key=x"],
    ):
        refused = msr(*bad, expect=2)
        assert refused.stderr.startswith("error: ")
    assert msr("get", space.ref("model:1.0.0"), "--output", "json").json()["digest"] == got["digest"]
