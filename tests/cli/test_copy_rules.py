"""``msr copy`` publishes under the rules of ``push``.

A copy keeps the revision's bytes (digest, signatures), and its name and version are in those bytes:
- a destination with another name or version, an alias, ``latest``, a ``_`` tag or a digest is
  refused (exit 2, naming what works) before anything is written;
- a version at the destination holding other content is a conflict (exit 5) unless ``--force``; the
  same content again is the revision already there;
- a destination repository that keeps an index gets the copied version's entry, so listings that
  trust the index show it.

Copies go from the local store to a namespace on the real test registry.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import IsolatedEnv
from registry_harness import RegistryServer
from support import msr, push, write_revision_dir

from msr_oci.oci import Registry
from msr_oci.registry import repository_index

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def namespace(registry: RegistryServer, isolated_env: IsolatedEnv) -> str:
    return f"{registry.host}/{registry.unique_repository('copy')}"


@pytest.mark.parametrize(
    ("destination", "says", "fix"),
    [
        (
            "renamed",
            "the revision's name is 'model', and a copy keeps",
            "`msr pull model:1.0.0 -o DIR` then `msr push DIR NAME:VERSION`",
        ),
        ("model:1.0.1", "the revision's version is '1.0.0'", "`msr pull model:1.0.0 -o DIR` then"),
        ("model:2.0.0-rc.1", "so it cannot be '2.0.0-rc.1' there", "copy to model:1.0.0"),
        ("model:production", "aliases are not set by a copy", "msr promote model:1.0.0 --to production"),
        ("model:latest", "'latest' is reserved", "copy to model or model:1.0.0"),
        ("model:_index", "tags starting with '_' are msr's own records", "copy to model"),
        ("model@sha256:" + "a" * 64, "not a digest", "drop the @digest"),
    ],
)
def test_a_copy_under_another_name_version_or_tag_is_refused_before_any_write(
    namespace: str, tmp_path: Path, destination: str, says: str, fix: str
) -> None:
    push(write_revision_dir(tmp_path / "rev"), "model:1.0.0")
    err = msr("copy", "model:1.0.0", f"{namespace}/{destination}", expect=2).stderr
    assert says in err and fix in err, err
    assert err.startswith(f"error: copy destination '{namespace}/{destination}'")
    # nothing reached the registry: the name is unknown there
    msr("versions", f"{namespace}/model", expect=3)
    msr("versions", f"{namespace}/renamed", expect=3)


def test_a_version_holding_other_content_is_a_conflict_unless_forced(namespace: str, tmp_path: Path) -> None:
    there = push(write_revision_dir(tmp_path / "there", weights=b"there\n"), f"{namespace}/model:1.0.0")
    here = push(write_revision_dir(tmp_path / "here", weights=b"here\n"), "model:1.0.0")

    err = msr("copy", "model:1.0.0", namespace + "/model", expect=5).stderr
    assert "model version 1.0.0 already exists with different content" in err and "--force" in err
    assert msr("get", f"{namespace}/model:1.0.0", "--output", "json").json()["digest"] == there["digest"]

    copied = msr("copy", "model:1.0.0", namespace + "/model", "--force", "--output", "json").json()
    assert copied["id"] == f"{namespace}/model@{here['digest']}"
    assert msr("get", f"{namespace}/model:1.0.0", "--output", "json").json()["digest"] == here["digest"]
    # the same content again is the revision already there
    again = msr("copy", "model:1.0.0", f"{namespace}/model:1.0.0", "--output", "json").json()
    assert again["id"] == copied["id"]


def test_a_copy_into_an_indexed_repository_gets_its_index_entry(namespace: str, tmp_path: Path) -> None:
    push(write_revision_dir(tmp_path / "first", weights=b"first\n"), f"{namespace}/model:1.0.0")
    msr("index", f"{namespace}/model")
    second = push(write_revision_dir(tmp_path / "second", weights=b"second\n"), "model:2.0.0")

    msr("copy", "model:2.0.0", f"{namespace}/model")

    async def indexed() -> dict[str, str]:
        host, path = namespace.split("/", 1)
        async with Registry(host) as registry:
            index = await repository_index.read(registry.repository(f"{path}/model"), "model")
        return {tag: entry.descriptor.digest for tag, entry in index.entries.items()}

    # (a listing would not tell: it reads a version the index lacks from its tag)
    assert asyncio.run(indexed())["2.0.0"] == second["digest"]
    rows = msr("list", namespace, "--output", "json").json()
    assert [(r["version"], r["digest"]) for r in rows][-1] == ("2.0.0", second["digest"])
