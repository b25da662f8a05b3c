"""The Model Serving Registry interface over a real registry and over the local store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from msr_oci.errors import InputError, NotFoundError
from msr_oci.registry import AsyncRemoteRegistry, FilterError, RemoteRegistry, VersionExists
from msr_oci.revision import ModelServingRevision


def make_revision(name: str = "fraud-detector", version: str = "1.0.0", **extra: Any) -> ModelServingRevision:
    fields: dict[str, Any] = {
        "name": name,
        "version": version,
        "model_definition": {
            "models": [
                {
                    "name": "fraud",
                    "model_path": "/models/fraud",
                    "service": {
                        "start_command": ["python", "-m", "http.server", "8000"],
                        "port": 8000,
                        "health_check": {"path": "/", "max_retries": 3},
                    },
                }
            ]
        },
        "service_configuration": {
            "image": "cr.backend.ai/stable/python:3.11",
            "runtime_variant": "custom",
            "resource_slots": {"cpu": 2, "mem": "4g"},
            "environ": {"LOG_LEVEL": "info"},
        },
    }
    fields.update(extra)
    return ModelServingRevision(**fields)


@pytest.fixture(params=["local", "registry"])
def namespace(request: pytest.FixtureRequest, tmp_path: Path, isolated_env: None) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    server = request.getfixturevalue("registry")
    return f"{server.host}/ns{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def reg(namespace: str, tmp_path: Path) -> AsyncIterator[AsyncRemoteRegistry]:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        yield registry


async def test_every_field_round_trips(reg: AsyncRemoteRegistry, tmp_path: Path) -> None:
    weights = tmp_path / "tokenizer.json"
    weights.write_bytes(b'{"vocab": [1, 2, 3]}')
    from msr_oci.revision.loader import describe_extra_file

    extra = describe_extra_file(weights).model_copy(update={"path": "assets/tokenizer.json"})
    created = datetime(2025, 1, 20, 12, 30, tzinfo=UTC)
    revision = make_revision(
        version="3.1.0",
        description="third training run",
        labels={"team": "risk", "use_case": "real-time"},
        metrics={"accuracy": 0.95, "f1_score": 0.93},
        parameters={"n_estimators": 100, "algorithm": "XGBoost"},
        metadata={"sla": {"p99_ms": 15}},
        lineage={
            "parent": "fraud-detector:3.0.0",
            "run_id": "run_456",
            "dataset_version": "v2.1",
            "code_commit": "abc123",
            "experiment_id": "exp_123",
        },
        created_by="alice",
        created_at=created,
        extra_files=[extra],
    )
    revision_id = await reg.create_revision(revision)
    assert revision_id.endswith("/fraud-detector@" + revision_id.split("@")[1]) or revision_id.startswith(
        "fraud-detector@"
    )
    got = await reg.get_revision(revision_id)
    assert got.id == revision_id
    assert got.digest == revision_id.split("@", 1)[1]
    for field in (
        "name",
        "version",
        "description",
        "labels",
        "metrics",
        "parameters",
        "metadata",
        "lineage",
        "created_by",
        "created_at",
        "model_definition",
        "service_configuration",
    ):
        assert getattr(got, field) == getattr(revision, field), field
    assert [(f.path, f.digest, f.size) for f in got.extra_files] == [
        ("assets/tokenizer.json", extra.digest, extra.size)
    ]
    assert got.updated_at == created
    by_version = await reg.get_revision("fraud-detector:3.1.0")
    assert by_version.digest == got.digest


async def test_same_content_same_digest_and_idempotent_create(reg: AsyncRemoteRegistry) -> None:
    when = datetime(2025, 3, 1, tzinfo=UTC)
    first = await reg.create_revision(make_revision(created_at=when, created_by="bob"))
    second = await reg.create_revision(make_revision(created_at=when, created_by="bob"))
    assert first == second
    # publishing the same content later (new timestamps) returns the existing revision
    again = await reg.create_revision(make_revision())
    assert again == first


async def test_version_conflict_refused_unless_overwrite(reg: AsyncRemoteRegistry) -> None:
    first = await reg.create_revision(make_revision(labels={"v": "a"}))
    with pytest.raises(VersionExists) as info:
        await reg.create_revision(make_revision(labels={"v": "b"}))
    assert "1.0.0" in str(info.value) and info.value.exit_code == 5
    second = await reg.create_revision(make_revision(labels={"v": "b"}), overwrite=True)
    assert second != first
    assert (await reg.get_revision("fraud-detector:1.0.0")).labels == {"v": "b"}
    assert (await reg.get_revision(first)).labels == {"v": "a"}  # the old digest is still there


async def test_semver_build_metadata_is_stored_as_underscore(reg: AsyncRemoteRegistry) -> None:
    await reg.create_revision(make_revision(version="1.2.0+build.5"))
    assert await reg.versions("fraud-detector") == ["1.2.0+build.5"]
    got = await reg.get_revision("fraud-detector:1.2.0+build.5")
    assert got.version == "1.2.0+build.5"
    assert (await reg.get_revision("fraud-detector:1.2.0_build.5")).digest == got.digest


async def test_update_keeps_old_digest_fetchable_and_history_walks_the_chain(
    reg: AsyncRemoteRegistry,
) -> None:
    original = await reg.create_revision(make_revision(labels={"stage": "one"}))
    updated = await reg.update_revision(original, make_revision(labels={"stage": "two"}))
    newest = await reg.update_revision("fraud-detector:1.0.0", make_revision(labels={"stage": "three"}))
    assert len({original, updated, newest}) == 3
    current = await reg.get_revision("fraud-detector:1.0.0")
    assert current.id == newest and current.labels == {"stage": "three"}
    assert current.supersedes == updated.split("@")[1]
    assert (await reg.get_revision(original)).labels == {"stage": "one"}
    history = await reg.history("fraud-detector:1.0.0")
    assert [r.labels["stage"] for r in history] == ["three", "two", "one"]
    assert history[0].created_at == history[-1].created_at
    with pytest.raises(InputError):
        await reg.update_revision(newest, make_revision(version="9.9.9"))


async def test_concurrent_creates_lose_nothing(reg: AsyncRemoteRegistry) -> None:
    versions = [f"2.{i}.0" for i in range(8)]
    ids = await asyncio.gather(*(reg.create_revision(make_revision(version=v)) for v in versions))
    assert len(set(ids)) == 8
    listed = await reg.list_revisions({"name": "fraud-detector"})
    assert [r.version for r in listed] == versions


LISTING_BASE = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["local", "registry"])
def listing_namespace(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A namespace seeded once per module and backend with four revisions and an alias, which the
    filter cases only read."""
    if request.param == "local":
        namespace = str(tmp_path_factory.mktemp("listing") / "store")
    else:
        namespace = f"{request.getfixturevalue('registry').host}/listing{uuid.uuid4().hex[:10]}"
    seeds = [
        (0, "alice", make_revision(version="1.0.0", labels={"team": "risk"}, metrics={"accuracy": 0.85})),
        (10, "bob", make_revision(version="1.2.0", labels={"team": "risk"}, metrics={"accuracy": 0.91})),
        (20, "alice", make_revision(version="2.0.0", labels={"team": "growth"}, metrics={"accuracy": 0.97})),
    ]
    with RemoteRegistry(namespace, cache_dir=tmp_path_factory.mktemp("listing-cache")) as registry:
        for days, who, revision in seeds:
            stamped = {"created_at": LISTING_BASE + timedelta(days=days), "created_by": who}
            registry.create_revision(revision.model_copy(update=stamped))
        registry.create_revision(
            make_revision(
                name="churn-predictor",
                version="0.1.0",
                labels={"team": "risk"},
                service_configuration={"image": "vllm/vllm-openai:v0.6.3", "runtime_variant": "vllm"},
                created_by="carol",
            )
        )
        registry.set_alias("fraud-detector", "production", "1.2.0", by="carol")
    return namespace


FRAUD = ["fraud-detector:1.0.0", "fraud-detector:1.2.0", "fraud-detector:2.0.0"]
LIST_CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("everything", {}, {}, ["churn-predictor:0.1.0", *FRAUD]),
    ("name glob and version range", {"name": "fraud-*", "version": ">=1.2,<2"}, {}, [FRAUD[1]]),
    ("label and exact name", {"labels": {"team": "risk"}, "name": "fraud-detector"}, {}, FRAUD[:2]),
    ("alias", {"alias": "production"}, {}, [FRAUD[1]]),
    ("author", {"created_by": "alice", "name": "fraud-*"}, {}, [FRAUD[0], FRAUD[2]]),
    (
        "creation window",
        {
            "created_after": LISTING_BASE + timedelta(days=5),
            "created_before": LISTING_BASE + timedelta(days=15),
        },
        {},
        [FRAUD[1]],
    ),
    ("runtime variant", {"runtime_variant": "vllm"}, {}, ["churn-predictor:0.1.0"]),
    ("metric threshold", {"metrics": {"accuracy": ">=0.9"}}, {}, FRAUD[1:]),
    ("any of", {"any": [{"version": "1.0.0"}, {"labels": {"team": "growth"}}]}, {}, [FRAUD[0], FRAUD[2]]),
    ("newest first", {"name": "fraud-detector"}, {"sort": "time", "reverse": True}, FRAUD[::-1]),
]


@pytest.mark.parametrize(
    ("filters", "order", "expected"), [case[1:] for case in LIST_CASES], ids=[case[0] for case in LIST_CASES]
)
async def test_list_filters(
    listing_namespace: str,
    tmp_path: Path,
    isolated_env: None,
    filters: dict[str, Any],
    order: dict[str, Any],
    expected: list[str],
) -> None:
    async with AsyncRemoteRegistry(listing_namespace, cache_dir=tmp_path / "cache") as reg:
        listed = await reg.list_revisions(filters, **order)
    assert [f"{r.name}:{r.version}" for r in listed] == expected


async def test_listed_revisions_carry_their_aliases_and_unknown_filter_keys_are_refused(
    listing_namespace: str, tmp_path: Path, isolated_env: None
) -> None:
    async with AsyncRemoteRegistry(listing_namespace, cache_dir=tmp_path / "cache") as reg:
        listed = await reg.list_revisions({"alias": "production"})
        assert listed[0].aliases == ["production"]
        with pytest.raises(FilterError) as info:
            await reg.list_revisions({"colour": "blue"})
    assert "colour" in str(info.value) and info.value.exit_code == 2


async def test_aliases_set_resolve_history_rollback_remove(reg: AsyncRemoteRegistry) -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        await reg.create_revision(make_revision(version=version))
    await reg.set_alias("fraud-detector", "production", "1.0.0")
    await reg.set_alias("fraud-detector", "production", "1.1.0")
    await reg.set_alias("fraud-detector", "staging", "2.0.0")
    await reg.set_alias("fraud-detector", "production", "2.0.0")
    aliases = await reg.list_aliases("fraud-detector")
    assert {a: e.version for a, e in aliases.items()} == {"production": "2.0.0", "staging": "2.0.0"}
    got = await reg.get_revision("fraud-detector:production")
    assert got.version == "2.0.0" and got.aliases == ["production", "staging"]
    # stage names are not versions
    assert await reg.versions("fraud-detector") == ["1.0.0", "1.1.0", "2.0.0"]

    entry = await reg.rollback("fraud-detector", "production")
    assert entry.version == "1.1.0"
    assert (await reg.get_revision("fraud-detector:production")).version == "1.1.0"
    entry = await reg.rollback("fraud-detector", "production", to_version="1.0.0")
    assert (await reg.get_revision("fraud-detector:production")).version == "1.0.0"
    history = await reg.alias_history("fraud-detector", "production")
    assert [(h.version, h.action) for h in history] == [
        ("1.0.0", "rollback"),
        ("1.1.0", "rollback"),
        ("2.0.0", "set"),
        ("1.1.0", "set"),
        ("1.0.0", "set"),
    ]

    await reg.remove_alias("fraud-detector", "staging")
    assert set(await reg.list_aliases("fraud-detector")) == {"production"}
    with pytest.raises(NotFoundError):
        await reg.get_revision("fraud-detector:staging")
    with pytest.raises(InputError):
        await reg.set_alias("fraud-detector", "_hidden", "1.0.0")


async def test_delete_and_archive(reg: AsyncRemoteRegistry) -> None:
    doomed = await reg.create_revision(make_revision(version="0.9.0"))
    kept = await reg.create_revision(make_revision(version="1.0.0", labels={"keep": "yes"}))
    await reg.set_alias("fraud-detector", "staging", "1.0.0")

    await reg.delete_revision(doomed)
    with pytest.raises(NotFoundError):
        await reg.get_revision("fraud-detector:0.9.0")
    with pytest.raises(NotFoundError):
        await reg.get_revision(doomed, with_aliases=False)

    removed = await reg.archive("fraud-detector:1.0.0")
    assert sorted(removed) == ["1.0.0", "staging"]
    assert await reg.versions("fraud-detector") == []
    assert (await reg.get_revision(kept, with_aliases=False)).labels == {"keep": "yes"}


@pytest.mark.parametrize("retire", ["archive", "delete"])
async def test_retiring_a_version_takes_its_aliases_with_it_in_the_log(
    reg: AsyncRemoteRegistry, retire: str
) -> None:
    """An alias is a tag plus a log: archive and delete remove both, so the listing, the lookup and
    the history agree (an alias on another version is left alone)."""
    await reg.create_revision(make_revision(version="1.0.0"))
    await reg.create_revision(make_revision(version="2.0.0"))
    await reg.set_alias("fraud-detector", "production", "2.0.0")
    await reg.set_alias("fraud-detector", "canary", "2.0.0")
    await reg.set_alias("fraud-detector", "staging", "1.0.0")

    if retire == "archive":
        removed = await reg.archive("fraud-detector:2.0.0")
        assert removed == ["2.0.0", "canary", "production"]
    else:
        await reg.delete_revision("fraud-detector:2.0.0")

    assert set(await reg.list_aliases("fraud-detector")) == {"staging"}
    for alias in ("production", "canary"):
        with pytest.raises(NotFoundError):
            await reg.get_revision(f"fraud-detector:{alias}")
        history = await reg.alias_history("fraud-detector", alias)
        assert [(e.action, e.version) for e in history] == [("remove", None), ("set", "2.0.0")]
    staging = await reg.get_revision("fraud-detector:staging")
    assert staging.version == "1.0.0" and staging.aliases == ["staging"]
    # the alias can be set again afterwards, continuing its log
    await reg.set_alias("fraud-detector", "production", "1.0.0")
    assert [e.action for e in await reg.alias_history("fraud-detector", "production")] == [
        "set",
        "remove",
        "set",
    ]


async def test_fetch_by_digest_is_cached_and_second_fetch_makes_no_request(
    reg: AsyncRemoteRegistry, tmp_path: Path, namespace: str
) -> None:
    extra = tmp_path / "weights.bin"
    extra.write_bytes(b"\x00\x01" * 5000)
    from msr_oci.revision.loader import describe_extra_file

    revision_id = await reg.create_revision(make_revision(extra_files=[describe_extra_file(extra)]))
    fetched = await reg.fetch(revision_id)
    files = sorted(p.relative_to(fetched.path).as_posix() for p in fetched.path.rglob("*") if p.is_file())
    assert files == ["deployment-config.yaml", "model-definition.yaml", "weights.bin"]
    assert (fetched.path / "weights.bin").read_bytes() == extra.read_bytes()
    assert b"http.server" in (fetched.path / "model-definition.yaml").read_bytes()

    # a new registry object with the same cache: the digest is served from disk, zero requests
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as fresh:
        again = await fresh.fetch(revision_id)
        assert fresh.request_count == 0
    assert again.path == fetched.path and again.revision.digest == fetched.revision.digest


async def test_pull_writes_files(reg: AsyncRemoteRegistry, tmp_path: Path) -> None:
    await reg.create_revision(make_revision())
    out = tmp_path / "out"
    revision = await reg.pull("fraud-detector:1.0.0", out)
    assert revision.version == "1.0.0"
    assert sorted(p.name for p in out.iterdir()) == ["deployment-config.yaml", "model-definition.yaml"]


async def test_diff(reg: AsyncRemoteRegistry) -> None:
    await reg.create_revision(make_revision(version="1.0.0", labels={"team": "risk"}))
    changed = make_revision(version="1.1.0", labels={"team": "risk", "tier": "gold"})
    data = changed.model_dump()
    data["service_configuration"]["replica_count"] = 3
    await reg.create_revision(ModelServingRevision.model_validate(data))
    entries = {(e.path, e.change) for e in await reg.diff("fraud-detector:1.0.0", "fraud-detector:1.1.0")}
    assert ("labels.tier", "added") in entries
    assert ("service_configuration.replica_count", "changed") in entries
    assert not any(path.startswith("model_definition") for path, _ in entries)


def test_sync_facade(namespace: str, tmp_path: Path) -> None:
    with RemoteRegistry(namespace, cache_dir=tmp_path / "cache") as registry:
        revision_id = registry.create_revision(make_revision())
        assert registry.get_revision(revision_id).version == "1.0.0"
        assert [r.version for r in registry.list_revisions({"name": "fraud-detector"})] == ["1.0.0"]
        registry.delete_revision(revision_id)
        assert registry.list_revisions({"name": "fraud-detector"}) == []


async def test_setting_an_alias_again_records_nothing_new(reg: AsyncRemoteRegistry) -> None:
    await reg.create_revision(make_revision())
    first = await reg.set_alias("fraud-detector", "production", "1.0.0")
    again = await reg.set_alias("fraud-detector", "production", "1.0.0")
    assert again.entry_digest == first.entry_digest
    assert len(await reg.alias_history("fraud-detector", "production")) == 1
