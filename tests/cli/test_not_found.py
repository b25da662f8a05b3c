"""Not-found errors speak of revisions (names, versions, aliases), not store paths or MANIFEST_UNKNOWN."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_harness import RegistryServer
from support import Space, make_space, msr, push, write_revision_dir

from msr_oci.oci.errors import NotFoundError
from msr_oci.registry import AsyncRemoteRegistry, RevisionNotFound

_OCI_WORDS = ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "no tag", "oci:", "layout", "msr-store", "/v2/")


@pytest.fixture(params=["local", "registry"])
def space(request: pytest.FixtureRequest, isolated_env: object) -> Space:
    return make_space(request, request.param)


def _error(*args: str) -> str:
    stderr = msr(*args, expect=3).stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert not any(word in stderr for word in _OCI_WORDS), stderr
    return stderr


def test_missing_versions_aliases_and_names_are_named(space: Space, tmp_path: Path) -> None:
    root = write_revision_dir(tmp_path / "rev")
    for version in ("1.0.0", "1.1.0"):
        push(root, space.ref(f"fraud-detector:{version}"), "--label", f"v={version}")
    msr("promote", space.ref("fraud-detector:1.1.0"), "--to", "production")

    expected = "no version 9.9.9 of fraud-detector; versions: 1.0.0, 1.1.0; aliases: production"
    for command in (["get"], ["pull", "-o", str(tmp_path / "out")], ["history"], ["fetch"]):
        assert expected in _error(command[0], space.ref("fraud-detector:9.9.9"), *command[1:])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert expected in _error("promote", space.ref("fraud-detector:9.9.9"), "--to", "staging")
    assert expected in _error("push", str(root), space.ref("fraud-detector:9.9.9"), "--update")

    assert "no alias 'staging' of fraud-detector; versions: 1.0.0, 1.1.0" in _error(
        "get", space.ref("fraud-detector:staging")
    )
    digest = "sha256:" + "0" * 64
    assert f"no revision fraud-detector@{digest}" in _error("get", space.ref(f"fraud-detector@{digest}"))

    # an unknown name: a close one is suggested, and `versions` exits 3 like `get`
    for command in ("get", "versions"):
        stderr = _error(command, space.ref("fraud-detectr"))
        assert "no revision named 'fraud-detectr' in " in stderr and "did you mean fraud-detector?" in stderr
    assert "names: fraud-detector" in _error("versions", space.ref("zzz"))

    msr("alias", "rm", space.ref("fraud-detector"), "production")
    assert "no alias 'production' of fraud-detector (it was removed)" in _error(
        "get", space.ref("fraud-detector:production")
    )


async def test_the_api_raises_revision_not_found(registry: RegistryServer, tmp_path: Path) -> None:
    namespace = f"{registry.host}/{registry.unique_repository('missing')}"
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        assert await reg.versions("nothing-here") == []
        with pytest.raises(RevisionNotFound, match="no revision named 'nothing-here'") as caught:
            await reg.versions("nothing-here", missing_ok=False)
        assert isinstance(caught.value, NotFoundError) and caught.value.exit_code == 3
        with pytest.raises(RevisionNotFound, match="no revision named 'nothing-here'"):
            await reg.get_revision("nothing-here:1.0.0")
