"""``list_summaries``: what ``list_revisions`` lists, as summaries, read from the repository index or
the manifests' annotations without a single config. ``msr list``'s table takes this path; its JSON
(whole records) and a column only a config holds (``description``) take the whole one. Requests
are counted on the wire (tests/round_trips.py), never timed."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from round_trips import CountingProxy
from support import DATA, msr
from test_listing import COUNT, WANTED, namespace, proxy  # noqa: F401 (fixtures)

from msr_oci.oci import MEDIA_TYPE_IMAGE_MANIFEST, Descriptor
from msr_oci.oci.layout import LocalStore
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision
from msr_oci.revision.summary import RevisionSummary

pytestmark = pytest.mark.timeout(180)

V1 = DATA / "v1-artifact"


def _fields(row: ModelServingRevision | RevisionSummary) -> tuple[object, ...]:
    variant = getattr(row, "runtime_variant", None)
    if isinstance(row, ModelServingRevision):
        variant = row.service_configuration.runtime_variant
        variant = getattr(variant, "value", variant)
    return (
        row.name,
        row.version,
        row.digest,
        row.aliases,
        row.labels,
        row.metrics,
        row.created_at,
        row.created_by,
        variant,
    )


async def test_an_indexed_listing_reads_no_config_and_agrees_with_whole_revisions(
    namespace: str,  # noqa: F811
    proxy: CountingProxy,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "builder") as registry:
        assert await registry.build_index("model") == COUNT
        await registry.set_alias("model", "prod", "1.0.2")
    proxy.reset()
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cold") as registry:
        summaries = await registry.list_summaries(WANTED)
    # the tag list and the index together, then the alias's head: no manifest by tag, no blob
    assert proxy.kinds() == Counter({"GET tags": 1, "GET manifests": 2})
    assert proxy.depth == 2
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "whole") as registry:
        whole = await registry.list_revisions(WANTED)
    assert [s.version for s in summaries] == ["1.0.0", "1.0.2", "1.0.4"]
    assert [_fields(s) for s in summaries] == [_fields(r) for r in whole]
    assert summaries[1].aliases == ["prod"]


async def test_without_an_index_the_manifests_answer_and_an_alias_filter_works(
    namespace: str,  # noqa: F811
    proxy: CountingProxy,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "setter") as registry:
        await registry.set_alias("model", "prod", "1.0.3")
    proxy.reset()
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cold") as registry:
        summaries = await registry.list_summaries({"alias": "prod"}, sort="time", reverse=True)
    assert [(s.version, s.aliases) for s in summaries] == [("1.0.3", ["prod"])]
    kinds = proxy.kinds()
    assert "GET blobs" not in kinds  # every summary came from a manifest's annotations
    assert kinds["GET tags"] == 1


async def test_a_v1_revision_without_a_summary_is_loaded_whole(tmp_path: Path, isolated_env: object) -> None:
    """Fixture: tests/data/v1-artifact (msr-oci's own v1 encoder), whose manifest carries no labels,
    metrics or variant annotations: the config decides, and the filter still applies to it."""
    store = LocalStore(tmp_path / "store")
    layout = store.repository("http-demo")
    for blob in (V1 / "blobs").iterdir():
        data = blob.read_bytes()
        await layout.push(Descriptor.from_bytes("application/octet-stream", data), data)
    manifest = (V1 / "manifest.json").read_bytes()
    await layout.push_manifest(
        Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, manifest), manifest, tag="0.9.0"
    )
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as registry:
        await registry.create_revision(
            ModelServingRevision(
                name="http-demo",
                version="1.0.0",
                model_definition={"models": [{"name": "m", "model_path": "/models/m"}]},
                service_configuration={"runtime_variant": "vllm"},
            )
        )
        summaries = await registry.list_summaries()
        whole = await registry.list_revisions()
        custom = await registry.list_summaries({"runtime_variant": "custom"})
    assert [s.version for s in summaries] == ["0.9.0", "1.0.0"]
    assert [_fields(s) for s in summaries] == [_fields(r) for r in whole]
    assert summaries[0].created_by == "alice" and summaries[0].runtime_variant == "custom"
    assert [s.version for s in custom] == ["0.9.0"]


def test_msr_list_shows_its_table_from_summaries_and_other_columns_from_whole_revisions(
    tmp_path: Path, isolated_env: object
) -> None:
    store = str(tmp_path / "store")

    async def publish() -> None:
        async with AsyncRemoteRegistry(store, cache_dir=tmp_path / "cache") as registry:
            for version, team in (("1.0.0", "a"), ("1.1.0", "b")):
                await registry.create_revision(
                    ModelServingRevision(
                        name="demo",
                        version=version,
                        model_definition={"models": [{"name": "m", "model_path": "/models/m"}]},
                        service_configuration={"runtime_variant": "custom"},
                        labels={"team": team},
                        metrics={"accuracy": 0.5},
                        description=f"release {version}",
                    )
                )

    asyncio.run(publish())
    table = msr("list", store, "-f", "label.team=b", "-m", "accuracy").stdout
    assert "1.1.0" in table and "1.0.0" not in table and "custom" in table and "0.5" in table
    # a column only the config holds takes the whole path and still shows it
    described = msr("list", store, "--columns", "version,description").stdout
    assert "release 1.0.0" in described and "release 1.1.0" in described
    # JSON is whole records, as before
    records = json.loads(msr("list", store, "--output", "json").stdout)
    assert [r["description"] for r in records] == ["release 1.0.0", "release 1.1.0"]
