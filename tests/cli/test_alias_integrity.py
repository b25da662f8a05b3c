"""The alias history's integrity (issue 10, item 9), against someone with push rights.

The log is rewritten with the generic OCI layer, as such a person could: an entry of another alias
spliced in, a middle entry deleted, the whole log replaced. ``msr alias history`` (and moves) name
the broken link; a rewrite of history this machine already saw is refused (trust on first use) until
``msr alias forget``; a machine that never saw the log (another state directory) cannot tell.
On the real test registry and the local store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import IsolatedEnv
from support import Space, make_space, msr, push, space_target, write_revision_dir

from msr_oci.oci import Descriptor
from msr_oci.registry import alias_log

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: IsolatedEnv) -> Space:
    return make_space(request, request.param)


@pytest.fixture
def other_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Call to make the following ``msr`` runs those of a machine that never saw any alias log (its
    own state directory, and its own cache: entries cached by digest are served from it)."""
    counter = iter(range(100))

    def switch() -> None:
        machine = tmp_path / f"machine-{next(counter)}"
        monkeypatch.setenv("MSR_STATE_DIR", str(machine / "state"))
        monkeypatch.setenv("MSR_CACHE_DIR", str(machine / "cache"))

    return switch


def _published(space: Space, tmp_path: Path) -> dict[str, str]:
    return {
        version: push(
            write_revision_dir(tmp_path / version, weights=version.encode()), space.ref(f"model:{version}")
        )["digest"]
        for version in ("1.0.0", "2.0.0", "3.0.0")
    }


def _history(space: Space, alias: str = "production", expect: int = 0) -> Any:
    result = msr("alias", "history", space.ref("model"), alias, "--output", "json", expect=expect)
    return result.json() if expect == 0 else result.stderr


async def _write_head(space: Space, alias: str, previous: str | None, digest: str, version: str) -> str:
    """Push a log entry of ``alias`` with the given ``previous`` as the log's head (a forged head)."""
    descriptor, data = alias_log.encode_entry(
        alias, version=version, digest=digest, action="set", by="mallory", previous=previous
    )
    async with space_target(space, "model") as target:
        await target.push_manifest(descriptor, data, tag=alias_log.log_tag(alias))
    return descriptor.digest


async def _delete(space: Space, digest: str) -> None:
    async with space_target(space, "model") as target:
        await target.delete(
            Descriptor(media_type="application/vnd.oci.image.manifest.v1+json", digest=digest, size=0)
        )


def test_an_entry_of_another_alias_spliced_in_is_named(
    space: Space, tmp_path: Path, other_machine: Any
) -> None:
    digests = _published(space, tmp_path)
    msr("alias", "set", space.ref("model"), "staging", "1.0.0")
    staging = _history(space, "staging")[0]["entry_digest"]
    msr("alias", "set", space.ref("model"), "production", "2.0.0")
    forged = asyncio.run(_write_head(space, "production", staging, digests["3.0.0"], "3.0.0"))

    other_machine()  # a reader with no record: only the chain itself can give it away
    err = _history(space, expect=7)
    assert f"entry {staging}, the one before {forged}, is an entry of alias 'staging', spliced in" in err
    assert "the alias log of model:production is broken" in err
    # rollback reads the history to find the version before: refused the same way
    assert "spliced in" in msr("rollback", space.ref("model"), "--alias", "production", expect=7).stderr


def test_a_missing_middle_entry_is_named(space: Space, tmp_path: Path, other_machine: Any) -> None:
    _published(space, tmp_path)
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        msr("alias", "set", space.ref("model"), "production", version)
    newest, middle, _ = (e["entry_digest"] for e in _history(space))
    asyncio.run(_delete(space, middle))

    other_machine()
    err = _history(space, expect=7)
    assert (
        f"the alias log of model:production is broken: entry {middle}, the one before {newest}, is missing"
        in err
    )
    assert "manifest unknown" not in err


def test_a_rewrite_of_history_this_machine_saw_is_refused_until_forgotten(
    space: Space, tmp_path: Path, other_machine: Any
) -> None:
    digests = _published(space, tmp_path)
    msr("alias", "set", space.ref("model"), "production", "1.0.0")
    msr("alias", "set", space.ref("model"), "production", "2.0.0")
    seen = _history(space)[0]["entry_digest"]  # this machine now knows that head

    # the log replaced by a fresh one-entry chain: production "always" pointed at 3.0.0
    forged = asyncio.run(_write_head(space, "production", None, digests["3.0.0"], "3.0.0"))
    err = _history(space, expect=7)
    assert f"the alias log of model:production was rewritten: entry {seen}" in err
    assert f"is not in the history of its head now ({forged})" in err
    assert "msr alias forget model production" in err
    # nor is a move built on the rewritten log
    assert "was rewritten" in msr("alias", "set", space.ref("model"), "production", "1.0.0", expect=7).stderr

    # a machine that never saw the log cannot tell (trust on first use): documented, shown here
    other_machine()
    assert [e["entry_digest"] for e in _history(space)] == [forged]


def test_forgetting_the_record_trusts_the_log_as_it_is(space: Space, tmp_path: Path) -> None:
    digests = _published(space, tmp_path)
    msr("alias", "set", space.ref("model"), "production", "1.0.0")
    _history(space)
    forged = asyncio.run(_write_head(space, "production", None, digests["2.0.0"], "2.0.0"))
    _history(space, expect=7)
    forgot = msr("alias", "forget", space.ref("model"), "production", "--output", "json").json()
    assert forgot["forgotten"] is True
    assert [e["entry_digest"] for e in _history(space)] == [forged]
    # and from here on the new head is the one this machine guards
    msr("alias", "set", space.ref("model"), "production", "3.0.0")
    assert [e["version"] for e in _history(space)] == ["3.0.0", "2.0.0"]
