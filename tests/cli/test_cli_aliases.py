"""``msr alias set/rm/ls/history``, ``promote`` and ``rollback`` on a registry and the local store."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Space, make_space, msr, push, write_revision_dir


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: object) -> Space:
    return make_space(request, request.param)


def test_alias_lifecycle(space: Space, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    v1 = push(source, space.ref("model:1.0.0"))
    v2 = push(source, space.ref("model:1.1.0"), "--description", "better")
    name = space.ref("model")

    entry = msr("alias", "set", name, "production", "1.0.0", "--output", "json").json()
    assert entry["alias"] == "production" and entry["version"] == "1.0.0" and entry["digest"] == v1["digest"]
    assert entry["action"] == "set"
    assert entry.keys() >= {"at", "by", "entry_digest", "previous"}

    promoted = msr("promote", name, "1.1.0", "--to", "production", "--output", "json").json()
    assert promoted["digest"] == v2["digest"]
    msr("alias", "set", name, "staging", "1.1.0")

    active = msr("alias", "ls", name, "--output", "json").json()
    assert {alias: e["version"] for alias, e in active.items()} == {"production": "1.1.0", "staging": "1.1.0"}
    assert "production" in msr("alias", "ls", name).stdout

    got = msr("get", space.ref("model:production"), "--output", "json").json()
    assert got["digest"] == v2["digest"] and sorted(got["aliases"]) == ["production", "staging"]
    listed = msr("list", *space.list_args, "--filter", "alias=production", "--output", "json").json()
    assert [r["version"] for r in listed] == ["1.1.0"]

    back = msr("rollback", name, "--alias", "production", "--output", "json").json()
    assert back["version"] == "1.0.0" and back["action"] == "rollback"
    history = msr("alias", "history", name, "production", "--output", "json").json()
    assert [e["version"] for e in history] == ["1.0.0", "1.1.0", "1.0.0"]
    forward = msr("rollback", name, "--alias", "production", "--to", "1.1.0", "--output", "json").json()
    assert forward["version"] == "1.1.0"

    removed = msr("alias", "rm", name, "staging", "--output", "json").json()
    assert removed["version"] is None and removed["action"] == "remove"
    assert set(msr("alias", "ls", name, "--output", "json").json()) == {"production"}


def test_alias_errors(space: Space, tmp_path: Path) -> None:
    push(write_revision_dir(tmp_path / "rev"), space.ref("model:1.0.0"))
    name = space.ref("model")
    msr("alias", "rm", name, "production", expect=3)
    msr("alias", "history", name, "production", expect=3)
    msr("alias", "set", name, "production", "9.9.9", expect=3)
    msr("alias", "set", name, "_reserved", "1.0.0", expect=2)
    msr("alias", "set", space.ref("model:1.0.0"), "production", "1.0.0", expect=2)  # a NAME, not a REF
    msr("alias", "set", name, "1.0.0", "1.0.0", expect=2)  # an alias may not read as a version
    msr("alias", "set", name, "production", "1.0.0")
    msr("rollback", name, "--alias", "production", expect=5)  # nothing earlier to roll back to
