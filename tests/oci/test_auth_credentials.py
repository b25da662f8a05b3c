"""Credential lookup from Docker and containers config files and credential helpers, and login storage."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from support import push_artifact

from msr_oci.oci.auth import Credentials, erase_credentials, load_credentials, store_credentials
from msr_oci.oci.remote import Registry


def _auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


async def test_docker_config_json_auth(basic_registry, isolated_env) -> None:
    config = {
        "auths": {basic_registry.host: {"auth": _auth(basic_registry.username, basic_registry.password)}}
    }
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    assert load_credentials(basic_registry.host) == Credentials(
        basic_registry.username, basic_registry.password
    )
    async with Registry(basic_registry.host) as client:
        await push_artifact(client.repository(basic_registry.unique_repository("cfg")), {"a": b"1"}, tag="v1")


async def test_containers_auth_file(basic_registry, isolated_env) -> None:
    isolated_env.registry_auth_file.parent.mkdir(parents=True)
    config = {
        "auths": {basic_registry.host: {"auth": _auth(basic_registry.username, basic_registry.password)}}
    }
    isolated_env.registry_auth_file.write_text(json.dumps(config))
    async with Registry(basic_registry.host) as client:
        await client.ping()


async def test_credential_helper_on_path(basic_registry, isolated_env, tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "helper-calls"
    helper = bin_dir / "docker-credential-msrtest"
    answer = json.dumps(
        {
            "ServerURL": basic_registry.host,
            "Username": basic_registry.username,
            "Secret": basic_registry.password,
        }
    )
    helper.write_text(f"#!/bin/sh\nread host\necho \"$1 $host\" >> {calls}\necho '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    (isolated_env.docker_config / "config.json").write_text(json.dumps({"credsStore": "msrtest"}))
    async with Registry(basic_registry.host) as client:
        await client.ping()
    assert calls.read_text().split() == ["get", basic_registry.host]


def test_lookup_order_and_url_keys(isolated_env, monkeypatch) -> None:
    config = {
        "auths": {"https://reg.example:5000/v1/": {"auth": _auth("from-docker", "p1")}},
        "credHelpers": {},
    }
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    assert load_credentials("reg.example:5000") == Credentials("from-docker", "p1")
    assert load_credentials("other.example") is None
    monkeypatch.setenv("MSR_REGISTRY_USERNAME", "from-env")
    monkeypatch.setenv("MSR_REGISTRY_PASSWORD", "p2")
    assert load_credentials("reg.example:5000") == Credentials("from-env", "p2")


def test_identity_token_entry(isolated_env) -> None:
    config = {"auths": {"reg.example": {"identitytoken": "refresh-123"}}}
    (isolated_env.docker_config / "config.json").write_text(json.dumps(config))
    found = load_credentials("reg.example")
    assert found is not None and found.identity_token == "refresh-123"
    assert "refresh-123" not in repr(found)


def test_store_and_erase_like_docker_login(isolated_env) -> None:
    path = isolated_env.docker_config / "config.json"
    path.write_text(json.dumps({"auths": {"keep.example": {"auth": _auth("k", "k")}}, "psFormat": "table"}))
    written = store_credentials("reg.example:5000", "alice", "s3cret:with:colons")
    assert written == path
    saved = json.loads(path.read_text())
    assert saved["psFormat"] == "table" and "keep.example" in saved["auths"]
    assert saved["auths"]["reg.example:5000"] == {"auth": _auth("alice", "s3cret:with:colons")}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_credentials("reg.example:5000") == Credentials("alice", "s3cret:with:colons")
    assert erase_credentials("reg.example:5000") is True
    assert erase_credentials("reg.example:5000") is False
    assert load_credentials("reg.example:5000") is None
    assert "keep.example" in json.loads(path.read_text())["auths"]


def test_credentials_repr_masks_the_secret() -> None:
    text = repr(Credentials("bob", "hunter2"))
    assert "bob" in text and "hunter2" not in text
