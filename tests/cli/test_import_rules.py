"""``msr import`` publishes under the rules of ``push`` (issue 10, item 2).

- an archive whose revision holds other content than the version already published: exit 5,
  nothing replaced; ``--force`` replaces it; the same content again is the revision already there;
- an alias in the archive (``name:production``) is set through the alias log (recorded), so
  ``get name:production`` and ``alias ls`` agree; moving an alias that points elsewhere needs
  ``--force`` (and is recorded);
- ``_`` tags (msr's own records) and tags that are neither the version nor an alias are refused
  (exit 2) before anything is written.

Archives are built as ``msr export`` builds them (an OCI layout tarred with ``write_layout_tar``),
with the tags each case needs; imports go to the real test registry and the local store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import IsolatedEnv
from support import Space, make_space, msr, push, write_revision_dir

from msr_oci.oci import OCILayout
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.registry.archive import write_layout_tar

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: IsolatedEnv) -> Space:
    return make_space(request, request.param)


def _archive(tmp_path: Path, label: str, version: str, tags: list[str]) -> tuple[Path, str]:
    """A tarball holding one revision of ``model`` (content named by ``label``) under ``tags``."""
    source = write_revision_dir(tmp_path / f"src-{label}", weights=f"{label}\n".encode())
    store = tmp_path / f"store-{label}"

    async def build() -> str:
        from msr_oci.revision.loader import load_revision_dir

        revision = load_revision_dir(source, name="model", version=version)
        async with AsyncRemoteRegistry(store, cache_dir=tmp_path / "build-cache") as reg:
            digest = (await reg.create_revision(revision)).rsplit("@", 1)[1]
        layout = OCILayout(store / "model")
        descriptor = await layout.resolve(version)
        for tag in tags:
            await layout.tag(descriptor, tag)
        if version not in tags:
            await layout.untag(version)
        return digest

    digest = asyncio.run(build())
    archive = tmp_path / f"{label}.tar"
    write_layout_tar(store / "model", archive)
    return archive, digest


def _import(space: Space, archive: Path, *extra: str, expect: int = 0) -> tuple[str, str]:
    result = msr("import", str(archive), *space.list_args, *extra, expect=expect)
    return result.stdout, result.stderr


def test_a_version_with_other_content_is_a_conflict_unless_forced(space: Space, tmp_path: Path) -> None:
    published = push(write_revision_dir(tmp_path / "rev", weights=b"published\n"), space.ref("model:1.0.0"))
    archive, archived = _archive(tmp_path, "other", "1.0.0", ["1.0.0"])

    _, err = _import(space, archive, expect=5)
    assert "model version 1.0.0 already exists with different content" in err
    assert str(archive) in err
    assert msr("get", space.ref("model:1.0.0"), "--output", "json").json()["digest"] == published["digest"]

    _import(space, archive, "--force")
    assert msr("get", space.ref("model:1.0.0"), "--output", "json").json()["digest"] == archived
    # the same content again: the revision already there, nothing to do
    out, _ = _import(space, archive)
    assert out.strip().endswith(archived)


def test_an_alias_in_the_archive_is_recorded_and_readers_agree(space: Space, tmp_path: Path) -> None:
    archive, archived = _archive(tmp_path, "release", "1.0.0", ["1.0.0", "production"])
    out, err = _import(space, archive)
    assert out.strip().endswith(archived)
    assert "warning" not in err

    history = msr("alias", "history", space.ref("model"), "production", "--output", "json").json()
    assert [(e["action"], e["digest"]) for e in history] == [("set", archived)]
    listed = msr("alias", "ls", space.ref("model"), "--output", "json")
    assert listed.json()["production"]["digest"] == archived
    got = msr("get", space.ref("model:production"), "--output", "json")
    assert got.json()["digest"] == archived and got.json()["aliases"] == ["production"]
    assert "warning" not in listed.stderr + got.stderr


def test_moving_an_alias_that_points_elsewhere_needs_force(space: Space, tmp_path: Path) -> None:
    current = push(write_revision_dir(tmp_path / "rev", weights=b"current\n"), space.ref("model:1.0.0"))
    msr("alias", "set", space.ref("model"), "production", "1.0.0")
    archive, archived = _archive(tmp_path, "next", "2.0.0", ["2.0.0", "production"])

    _, err = _import(space, archive, expect=5)
    assert "the archive tags model:production at 2.0.0" in err and "--force" in err
    # checked before anything was written: no 2.0.0, production untouched
    assert msr("versions", space.ref("model"), "--output", "json").json()["versions"] == ["1.0.0"]
    assert msr("get", space.ref("model:production"), "--output", "json").json()["digest"] == current["digest"]

    _import(space, archive, "--force")
    history = msr("alias", "history", space.ref("model"), "production", "--output", "json").json()
    assert [e["digest"] for e in history] == [archived, current["digest"]]  # the move is on record
    got = msr("get", space.ref("model:production"), "--output", "json")
    assert got.json()["digest"] == archived and "warning" not in got.stderr


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("_alias.production", "tags starting with '_' are msr's own records"),
        ("_index", "tags starting with '_' are msr's own records"),
        ("latest", "neither its version nor a valid alias"),
        ("9.9.9", "neither its version nor a valid alias"),
    ],
)
def test_reserved_and_foreign_tags_are_refused(
    tag: str, message: str, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    space = Space(None)
    archive, _ = _archive(tmp_path, "odd", "1.0.0", ["1.0.0", tag])
    _, err = _import(space, archive, expect=2)
    assert f"model:{tag}" in err and message in err
    assert not (isolated_env.store / "model").exists()  # nothing written
