"""``msr archive/unarchive`` and ``list --archived``: what goes is said, asked, and logged.

Confirmation: without a terminal, ``--yes`` (or ``--force``) is needed (exit 2 otherwise).
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest
from registry_harness import RegistryServer
from test_cli_helpers import COMMAND_TIMEOUT, MSR, Space, make_space, msr, push, write_revision_dir


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: object) -> Space:
    return make_space(request, request.param)


def _aliased(space: Space, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """model 1.0.0 (no aliases) and 1.1.0 (production, staging)."""
    source = write_revision_dir(tmp_path / "rev")
    old = push(source, space.ref("model:1.0.0"))
    new = push(source, space.ref("model:1.1.0"), "--description", "newer")
    msr("alias", "set", space.ref("model"), "production", "1.1.0")
    msr("alias", "set", space.ref("model"), "staging", "1.1.0")
    return old, new


def _aliases(space: Space) -> dict[str, str]:
    active = msr("alias", "ls", space.ref("model"), "--output", "json").json()
    return {alias: entry["version"] for alias, entry in active.items()}


def _versions(space: Space) -> list[str]:
    versions: list[str] = msr("versions", space.ref("model"), "--output", "json").json()["versions"]
    return versions


def _archived(space: Space) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = msr("list", *space.list_args, "--archived", "--output", "json").json()
    return listed


def test_archive_asks_before_removing_aliases_logs_them_and_unarchive_restores(
    space: Space, tmp_path: Path
) -> None:
    _, new = _aliased(space, tmp_path)
    refused = msr("archive", space.ref("model:1.1.0"), expect=2)
    assert "production, staging" in refused.stderr and "--yes" in refused.stderr
    assert _aliases(space) == {"production": "1.1.0", "staging": "1.1.0"}  # nothing changed
    assert _versions(space) == ["1.0.0", "1.1.0"] and _archived(space) == []

    done = msr("archive", space.ref("model:1.1.0"), "--force", "--output", "json")
    record = done.json()
    assert record["removed_tags"] == ["1.1.0", "production", "staging"]
    assert record["removed_aliases"] == ["production", "staging"] and record["digest"] == new["digest"]
    assert "not restore aliases" in done.stderr
    assert _aliases(space) == {} and _versions(space) == ["1.0.0"]
    msr("get", space.ref("model:production"), expect=3)
    history = msr("alias", "history", space.ref("model"), "production", "--output", "json").json()
    assert [(e["action"], e["version"]) for e in history] == [("remove", None), ("set", "1.1.0")]

    archived = _archived(space)
    assert [(a["name"], a["version"], a["digest"]) for a in archived] == [("model", "1.1.0", new["digest"])]
    assert archived[0]["archived_aliases"] == ["production", "staging"] and archived[0]["archived_by"]
    assert archived[0]["description"] == "newer"
    assert "1.1.0" in msr("list", *space.list_args, "--archived").stdout
    # still fetchable by digest, and listed nowhere else
    assert msr("get", new["id"], "--output", "json").json()["description"] == "newer"
    assert [r["version"] for r in msr("list", *space.list_args, "--output", "json").json()] == ["1.0.0"]

    restored = msr("unarchive", space.ref("model:1.1.0"), "--output", "json")
    assert restored.json()["digest"] == new["digest"] and "not restored" in restored.stderr
    assert _versions(space) == ["1.0.0", "1.1.0"] and _archived(space) == []
    assert _aliases(space) == {}  # aliases are not restored
    assert msr("get", space.ref("model:1.1.0"), "--output", "json").json()["digest"] == new["digest"]
    msr("unarchive", space.ref("model:1.1.0"), expect=3)  # nothing archived any more


def test_archive_without_aliases_needs_no_confirmation(space: Space, tmp_path: Path) -> None:
    old, _ = _aliased(space, tmp_path)
    record = msr("archive", space.ref("model:1.0.0"), "--output", "json").json()
    assert record["removed_tags"] == ["1.0.0"] and record["removed_aliases"] == []
    assert [a["digest"] for a in _archived(space)] == [old["digest"]]


def test_unarchive_refuses_a_version_published_again(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    first = push(source, space.ref("model:1.0.0"))
    msr("archive", space.ref("model:1.0.0"))
    second = push(source, space.ref("model:1.0.0"), "--description", "republished")
    refused = msr("unarchive", space.ref("model:1.0.0"), expect=5)
    assert second["digest"] in refused.stderr and first["digest"] in refused.stderr
    # archiving the new one too keeps both records; the version then names two: by digest it is
    msr("archive", space.ref("model:1.0.0"))
    assert sorted(a["digest"] for a in _archived(space)) == sorted([first["digest"], second["digest"]])
    msr("unarchive", space.ref("model:1.0.0"), expect=5)
    msr("unarchive", f"{space.ref('model')}@{first['digest']}")
    assert msr("get", space.ref("model:1.0.0"), "--output", "json").json()["digest"] == first["digest"]
