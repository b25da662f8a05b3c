"""The blocking ``RemoteRegistry`` covers every public method of ``AsyncRemoteRegistry``, alike.

Checked by signature and docstring (as httpx pins its exported members), so a method or parameter
added to one side only fails here; calls through the facade show the parameters really arrive.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from support import ROOT

from msr_oci.registry import AsyncRemoteRegistry, RemoteRegistry
from msr_oci.revision import ModelServingRevision

#: methods of the async API with a differently named blocking counterpart
RENAMED = {"aclose": "close"}
#: methods the blocking API leaves out, and why
LEFT_OUT = {"target": "hands out an async content store bound to the facade's private loop (use .aio)"}


def _public_methods() -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(AsyncRemoteRegistry, inspect.isfunction)
        if not name.startswith("_") and name not in LEFT_OUT
    )


def _public_properties() -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(AsyncRemoteRegistry, lambda m: isinstance(m, property))
        if not name.startswith("_") and name not in {"governance"}
    )


def test_the_async_api_has_the_methods_the_readme_lists() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = {"copy", "export", "import_archive", "fetch", "pull", "create_revision", "set_alias"}
    assert listed <= set(_public_methods())
    assert all(name in readme for name in listed)


@pytest.mark.parametrize("name", _public_methods())
def test_every_public_method_has_a_blocking_twin_with_the_same_signature(name: str) -> None:
    blocking = getattr(RemoteRegistry, RENAMED.get(name, name), None)
    assert blocking is not None, f"RemoteRegistry has no {name}"
    assert not inspect.iscoroutinefunction(blocking)
    if name in RENAMED:
        return
    asynchronous = getattr(AsyncRemoteRegistry, name)
    assert inspect.signature(blocking) == inspect.signature(asynchronous)
    assert inspect.getdoc(blocking) == inspect.getdoc(asynchronous)


@pytest.mark.parametrize("name", _public_properties())
def test_every_public_property_is_readable_through_the_facade(name: str) -> None:
    """Plain attributes (namespace, cache, ...) are reached through ``aio``; counters are mirrored."""
    mirrored = {"request_count", "pinned_on_first_use"}
    if name in mirrored:
        assert isinstance(getattr(RemoteRegistry, name), property)
    else:
        assert name in {"namespace", "options", "concurrency"}, f"decide how RemoteRegistry offers {name}"


def test_the_constructors_take_the_same_parameters() -> None:
    assert inspect.signature(RemoteRegistry.__init__) == inspect.signature(AsyncRemoteRegistry.__init__)


def test_parameters_pass_through_the_blocking_facade(tmp_path: Path, isolated_env: object) -> None:
    revision = ModelServingRevision(
        name="parity",
        version="1.0.0",
        model_definition={"models": [{"name": "m", "model_path": "/models/m"}]},
        service_configuration={"image": "python:3.11", "runtime_variant": "custom"},
    )
    sent: list[int] = []
    with RemoteRegistry(tmp_path / "store", cache_dir=tmp_path / "cache", concurrency=2) as registry:
        assert registry.aio.concurrency == 2
        revision_id = registry.create_revision(revision, progress=sent.append)
        assert sum(sent) > 0
        assert registry.get_revision(revision_id, with_aliases=False).aliases == []
        entry = registry.set_alias("parity", "production", "1.0.0", by="release-bot")
        assert entry.by == "release-bot"
        assert registry.get_revision("parity:production").aliases == ["production"]
        digest = registry.export("parity:1.0.0", tmp_path / "parity.tar")
        assert revision_id.endswith(digest)
        assert registry.revision_id(registry.locate("parity:1.0.0"), digest) == revision_id
    with RemoteRegistry(tmp_path / "other", cache_dir=tmp_path / "cache") as other:
        [imported] = other.import_archive(tmp_path / "parity.tar")
        assert imported.endswith(digest)
        # the same content is already there: the copy is that revision (keywords pass through)
        assert other.copy("parity:1.0.0", "parity", force=False, referrers=False) == imported
        assert other.list_names() == ["parity"]
