"""Shared fixtures: real registries (started lazily, once per session) and an isolated environment.

Registries (see tests/registry_harness.py for ``RegistryServer``):
- ``registry``: plain HTTP, no auth, deletion enabled; or the external MSR_TEST_REGISTRY when set;
- ``basic_registry``, ``tls_registry``, ``token_registry``, ``nodelete_registry``: the other modes,
  skipped (with the reason) only when MSR_TEST_REGISTRY opts into an external registry.
Registries are shared by the whole session: use ``repo_name`` / ``unique_repository()`` so tests
never see each other's content.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from registry_harness import (
    EXTERNAL_REGISTRY_ENV,
    RegistryMode,
    RegistryServer,
    external_registry_from_env,
    start_registry,
)


def _local_registry(mode: RegistryMode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if os.environ.get(EXTERNAL_REGISTRY_ENV):
        pytest.skip(
            f"{EXTERNAL_REGISTRY_ENV} is set, so no registry is started here and the external one "
            f"cannot act as the '{mode}' registry; unset {EXTERNAL_REGISTRY_ENV} to run this test"
        )
    server = start_registry(mode, tmp_path_factory.mktemp(f"registry-{mode}"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Plain HTTP registry without auth, deletion enabled (or the external MSR_TEST_REGISTRY)."""
    external = external_registry_from_env()
    if external is not None:
        yield external
        return
    yield from _local_registry("plain", tmp_path_factory)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """htpasswd Basic auth; ``username``/``password`` are the only valid credentials."""
    yield from _local_registry("basic", tmp_path_factory)


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """HTTPS without auth; trust ``ca_file`` (or ``ssl_context()``) to connect."""
    yield from _local_registry("tls", tmp_path_factory)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Bearer token auth; ``token_server`` records every token request."""
    yield from _local_registry("token", tmp_path_factory)


@pytest.fixture(scope="session")
def nodelete_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Plain HTTP registry with deletion disabled."""
    yield from _local_registry("nodelete", tmp_path_factory)


@pytest.fixture
def repo_name(registry: RegistryServer) -> str:
    """A fresh repository name on ``registry``."""
    return registry.unique_repository()


@dataclass(frozen=True)
class IsolatedEnv:
    """Where ``isolated_env`` pointed the environment (all under the test's tmp_path)."""

    home: Path
    docker_config: Path  # DOCKER_CONFIG (directory, created)
    registry_auth_file: Path  # REGISTRY_AUTH_FILE (not created)
    store: Path  # MSR_STORE (not created: the store creates it)
    cache_dir: Path  # MSR_CACHE_DIR (not created)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedEnv:
    """Point every home/config/cache location into tmp_path and drop MSR_REGISTRY* settings."""
    root = tmp_path / "env"
    env = IsolatedEnv(
        home=root / "home",
        docker_config=root / "docker",
        registry_auth_file=root / "containers" / "auth.json",
        store=root / "msr-store",
        cache_dir=root / "msr-cache",
    )
    directories = {
        "HOME": env.home,
        "XDG_CONFIG_HOME": root / "xdg-config",
        "XDG_DATA_HOME": root / "xdg-data",
        "XDG_CACHE_HOME": root / "xdg-cache",
        "XDG_STATE_HOME": root / "xdg-state",
        "XDG_RUNTIME_DIR": root / "xdg-runtime",
        "DOCKER_CONFIG": env.docker_config,
    }
    for name, path in directories.items():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)  # XDG_RUNTIME_DIR must be private
        monkeypatch.setenv(name, str(path))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env.registry_auth_file))
    monkeypatch.setenv("MSR_STORE", str(env.store))
    monkeypatch.setenv("MSR_CACHE_DIR", str(env.cache_dir))
    monkeypatch.delenv("MSR_STATE_DIR", raising=False)
    for name in list(os.environ):
        if name.startswith("MSR_REGISTRY"):
            monkeypatch.delenv(name)
    return env
