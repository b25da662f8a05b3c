"""``msr login/logout`` against a registry that demands Basic credentials."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import IsolatedEnv
from registry_harness import RegistryServer
from support import msr, push, write_revision_dir


def test_login_verifies_stores_and_logout_erases(
    basic_registry: RegistryServer, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    assert basic_registry.username and basic_registry.password
    config = isolated_env.docker_config / "config.json"
    host = basic_registry.host
    ref = f"{host}/{basic_registry.unique_repository('login')}/guarded:1.0.0"
    source = write_revision_dir(tmp_path / "rev")

    msr("push", str(source), ref, expect=4)  # anonymous: refused

    wrong = msr(
        "login", host, "-u", basic_registry.username, "--password-stdin", stdin="not-the-password\n", expect=4
    )
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert not config.exists()

    right = msr(
        "login", host, "-u", basic_registry.username, "--password-stdin", stdin=basic_registry.password
    )
    assert basic_registry.password not in right.stdout + right.stderr
    assert host in json.loads(config.read_text())["auths"]

    pushed = push(source, ref)  # credentials come from DOCKER_CONFIG/config.json
    assert msr("get", ref, "--output", "json").json()["digest"] == pushed["digest"]

    msr("login", host, "--password-stdin", stdin="x", expect=2)  # no user name
    assert "Removed" in msr("logout", host).stdout
    assert host not in json.loads(config.read_text()).get("auths", {})
    assert "Not logged in" in msr("logout", host).stdout
    msr("get", ref, expect=4)
