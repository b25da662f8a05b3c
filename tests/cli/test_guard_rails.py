"""Version and alias rules a newcomer would trip over, through the `msr` entry point and the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import EXAMPLES, msr

from msr_oci.errors import InputError
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.registry.aliases import InvalidAlias
from msr_oci.revision import ModelServingRevision

EXAMPLE = EXAMPLES / "custom-http-server"


def revision(version: str) -> ModelServingRevision:
    return ModelServingRevision(
        name="guarded",
        version=version,
        model_definition={"models": [{"name": "m", "service": {"start_command": "serve", "port": 8000}}]},
        service_configuration={"image": "cr.backend.ai/x:1"},
    )


@pytest.mark.parametrize("version", ["production", "v1.0", "01.0.0", "1.0", "1.0.0-01"])
def test_push_refuses_a_version_that_is_not_semver(version: str, isolated_env: object) -> None:
    result = msr("push", str(EXAMPLE), f"guarded:{version}", expect=2)
    assert f"version {version!r} is not SemVer 2.0" in result.stderr
    assert "--any-version" in result.stderr and "Traceback" not in result.stderr


def test_any_version_is_an_explicit_opt_in(isolated_env: object) -> None:
    msr("push", str(EXAMPLE), "guarded:2025.01.20", "--any-version")
    assert "2025.01.20" in msr("versions", "guarded").stdout


@pytest.mark.parametrize(
    ("version", "says"),
    [
        ("latest", "is reserved (a bare NAME means the latest stable version)"),
        ("sha256-" + "ab" * 32, "is a tag other tools derive from a digest"),
        ("sha256-" + "ab" * 32 + ".sig", "is a tag other tools derive from a digest"),
    ],
)
@pytest.mark.parametrize("scheme", [[], ["--any-version"]])
def test_no_scheme_publishes_a_version_listings_would_not_show(
    version: str, says: str, scheme: list[str], isolated_env: object
) -> None:
    result = msr("push", str(EXAMPLE), f"guarded:{version}", *scheme, expect=2)
    assert f"version {version!r} {says}" in result.stderr
    msr("versions", "guarded", expect=3)  # nothing was published


@pytest.mark.parametrize("alias", ["1.2.3", "v2", "latest", "10"])
def test_alias_names_may_not_read_as_versions_or_be_reserved(alias: str, isolated_env: object) -> None:
    msr("push", str(EXAMPLE), "guarded:1.0.0")
    result = msr("promote", "guarded", "1.0.0", "--to", alias, expect=2)
    assert f"invalid alias {alias!r}" in result.stderr


async def test_a_bare_name_means_the_latest_stable_version(tmp_path: Path, isolated_env: object) -> None:
    async with AsyncRemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache") as reg:
        for version in ("3.0.0", "4.0.0-rc.1", "2.9.0"):
            await reg.create_revision(revision(version))
        assert (await reg.get_revision("guarded")).version == "3.0.0"
        assert (await reg.get_revision("guarded", devel=True)).version == "4.0.0-rc.1"
        with pytest.raises(InputError, match="not SemVer"):
            await reg.create_revision(revision("production"))
        with pytest.raises(InvalidAlias):
            await reg.set_alias("guarded", "1.0.0", "3.0.0")
    only_prerelease = tmp_path / "other"
    async with AsyncRemoteRegistry(only_prerelease, cache_dir=tmp_path / "cache") as reg:
        await reg.create_revision(revision("1.0.0-beta.1"))
        assert (await reg.get_revision("guarded")).version == "1.0.0-beta.1"  # nothing else to pick


def test_get_devel_through_the_cli(isolated_env: object) -> None:
    msr("push", str(EXAMPLE), "guarded:1.0.0")
    msr("push", str(EXAMPLE / ".." / "vllm-llama"), "guarded:2.0.0-rc.1")
    assert msr("get", "guarded", "--output", "json").json()["version"] == "1.0.0"
    assert msr("get", "guarded", "--devel", "--output", "json").json()["version"] == "2.0.0-rc.1"
