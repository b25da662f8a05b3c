"""``msr archive/unarchive/delete`` and ``list --archived``: what goes is said, asked, and logged.

Confirmation: without a terminal, ``--yes`` (or ``--force``) is needed (exit 2 otherwise); at a
terminal (a real pseudo-terminal here) the answer decides, "no" changes nothing (exit 1).
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest
from registry_harness import RegistryServer
from support import COMMAND_TIMEOUT, MSR, Space, make_space, msr, push, write_revision_dir


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


def test_delete_of_a_bare_name_needs_all_versions(space: Space, tmp_path: Path) -> None:
    old, new = _aliased(space, tmp_path)
    msr("archive", space.ref("model:1.0.0"))
    refused = msr("delete", space.ref("model"), "--yes", expect=2)
    assert "--all-versions" in refused.stderr
    assert _versions(space) == ["1.1.0"]

    unconfirmed = msr("delete", space.ref("model"), "--all-versions", expect=2)
    assert "2 revisions" in unconfirmed.stderr and "production, staging" in unconfirmed.stderr
    msr("delete", space.ref("model:1.1.0"), "--all-versions", "--yes", expect=2)  # a name, not a version

    deleted = msr("delete", space.ref("model"), "--all-versions", "--yes", "--output", "json").json()
    assert deleted["deleted"] is True and deleted["removed_aliases"] == ["production", "staging"]
    assert {(r["version"], r["digest"], r["archived"]) for r in deleted["revisions"]} == {
        ("1.1.0", new["digest"], False),
        ("1.0.0", old["digest"], True),
    }
    assert _versions(space) == [] and _aliases(space) == {} and _archived(space) == []
    for gone in (old["id"], new["id"]):
        msr("get", gone, expect=3)
    history = msr("alias", "history", space.ref("model"), "staging", "--output", "json").json()
    assert history[0]["action"] == "remove"  # the log stays, and says so
    msr("delete", space.ref("model"), "--all-versions", "--yes", expect=3)  # nothing left


def test_delete_of_an_aliased_version_says_which_aliases_go(space: Space, tmp_path: Path) -> None:
    _, new = _aliased(space, tmp_path)
    refused = msr("delete", space.ref("model:production"), expect=2)
    assert "production, staging" in refused.stderr
    deleted = msr("delete", space.ref("model:production"), "--yes", "--output", "json").json()
    assert [r["digest"] for r in deleted["revisions"]] == [new["digest"]]
    assert deleted["removed_tags"] == ["1.1.0"] and deleted["removed_aliases"] == ["production", "staging"]
    assert _versions(space) == ["1.0.0"] and _aliases(space) == {}
    history = msr("alias", "history", space.ref("model"), "production", "--output", "json").json()
    assert [e["action"] for e in history] == ["remove", "set"]


def _at_a_terminal(args: list[str], answer: str) -> tuple[int, str]:
    """Run ``msr ARGS`` with a pseudo-terminal as stdin, typing ``answer``; exit code and stderr."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(MSR), *args], stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        os.write(controller, answer.encode() + b"\n")
        _, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
    finally:
        os.close(terminal)
        os.close(controller)
    return process.returncode, stderr


def test_at_a_terminal_the_answer_decides(space: Space, tmp_path: Path) -> None:
    _aliased(space, tmp_path)
    code, stderr = _at_a_terminal(["archive", space.ref("model:1.1.0")], "n")
    assert code == 1 and "production, staging" in stderr and "nothing changed" in stderr
    assert _versions(space) == ["1.0.0", "1.1.0"]
    code, stderr = _at_a_terminal(["delete", space.ref("model"), "--all-versions"], "y")
    assert code == 0, stderr
    assert "version 1.0.0" in stderr and "version 1.1.0" in stderr and "production, staging" in stderr
    assert _versions(space) == []


def test_a_registry_without_deletion_refuses_before_anything_changes(
    nodelete_registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    space = Space(f"{nodelete_registry.host}/{nodelete_registry.unique_repository('cli')}")
    _aliased(space, tmp_path)
    for command in (
        ["archive", space.ref("model:1.1.0"), "--yes"],
        ["delete", space.ref("model:1.1.0"), "--yes"],
        ["delete", space.ref("model"), "--all-versions", "--yes"],
        ["alias", "rm", space.ref("model"), "staging"],
    ):
        refused = msr(*command, expect=8)
        assert "deletion disabled" in refused.stderr
    assert _versions(space) == ["1.0.0", "1.1.0"] and _archived(space) == []
    assert _aliases(space) == {"production": "1.1.0", "staging": "1.1.0"}
    assert msr("get", space.ref("model:production"), "--output", "json").json()["version"] == "1.1.0"
    history = msr("alias", "history", space.ref("model"), "production", "--output", "json").json()
    assert [e["action"] for e in history] == ["set"]
