"""Credentials against hostile hosts: challenges from other origins, token realms over plain HTTP.

Every server here is a real one on a loopback socket (tests/faults.py). A "storage host" is a second
server on another port, so another origin; "token.example.test" is reached only through a recording
forward proxy on loopback (``HTTP_PROXY``), so nothing leaves the machine.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import Answer, Request, ScriptedServer
from registry_harness import _write_tls_material
from support import msr
from test_hostile_registry import REPOSITORY, TAG, HostileRegistry

from msr_oci.cli.errors import describe
from msr_oci.errors import AuthError
from msr_oci.oci import Descriptor
from msr_oci.oci.remote import Registry, RegistryOptions
from msr_oci.registry import AsyncRemoteRegistry

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "alice", "s3cret-pw"
CREDENTIALS = RegistryOptions(username=USER, password=PASSWORD, retries=1, backoff=0.001, timeout=5)
TOKEN_BODY = json.dumps({"token": "t0ken", "expires_in": 300}).encode()


def _leaked(requests: list[Request]) -> list[str]:
    """Requests that carried credentials or asked a token endpoint (what a storage host must never see)."""
    return [
        f"{r.method} {r.target}"
        for r in requests
        if "authorization" in r.headers or r.path.endswith("/token") or PASSWORD in json.dumps(r.headers)
    ]


def _storage_demanding_a_token() -> ScriptedServer:
    """A storage host that answers everything but its own token endpoint with a Bearer challenge."""

    async def handle(request: Request) -> Answer:
        if request.path == "/token":
            return Answer(200, {"Content-Type": "application/json"}, TOKEN_BODY)
        realm = f'Bearer realm="http://{server.host}/token",service="storage"'
        return Answer(401, {"WWW-Authenticate": realm})

    server = ScriptedServer(handle)
    return server


def _basic_registry(blob_answer: Answer) -> ScriptedServer:
    """A registry behind Basic auth serving a revision; every blob GET gets ``blob_answer``."""
    hostile = HostileRegistry.serving_a_revision()

    async def handle(request: Request) -> Answer:
        if "authorization" not in request.headers:
            return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
        if request.method == "GET" and "/blobs/" in request.path:
            return blob_answer
        return await hostile.handle(request)

    return ScriptedServer(handle)


# ---- item: a challenge from another origin is never answered with the registry's credentials ------


async def test_blob_redirected_to_a_storage_host_that_asks_for_a_token(tmp_path: Path) -> None:
    with _storage_demanding_a_token() as storage:
        redirect = Answer(307, {"Location": f"http://{storage.host}/bucket/object?sig=1"})
        with _basic_registry(redirect) as server:
            async with AsyncRemoteRegistry(
                f"{server.host}/team", options=CREDENTIALS, cache_dir=tmp_path / "cache"
            ) as reg:
                with pytest.raises(AuthError) as caught:
                    await reg.pull(f"model:{TAG}", tmp_path / "dest")
    assert storage.requests, "the redirect was not followed at all"
    assert _leaked(storage.requests) == []
    message = str(caught.value)
    assert f"http://{storage.host}" in message and f"reached from {server.host}" in message
    assert "answers authentication challenges only from" in message
    assert PASSWORD not in message
    assert not list((tmp_path / "dest").rglob("*.yaml"))


async def test_upload_location_on_a_storage_host_that_asks_for_a_token() -> None:
    data = b"weights that go to the storage host"
    descriptor = Descriptor.from_bytes("application/octet-stream", data)
    with _storage_demanding_a_token() as storage:
        upload = Answer(202, {"Location": f"http://{storage.host}/upload/session-1"})

        async def registry(request: Request) -> Answer:
            if "authorization" not in request.headers:
                return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
            if request.method == "HEAD":
                return Answer(404)
            return upload

        with ScriptedServer(registry) as server:
            async with Registry(server.host, CREDENTIALS) as client:
                with pytest.raises(AuthError, match="asked for credentials"):
                    await client.repository(REPOSITORY).push(descriptor, data)
    assert [r.method for r in storage.requests] == ["PUT"]  # the blob went there, and nothing else
    assert _leaked(storage.requests) == []


async def test_a_declined_mount_whose_session_lives_on_a_storage_host_is_abandoned_quietly() -> None:
    descriptor = Descriptor.from_bytes("application/octet-stream", b"shared layer")
    with _storage_demanding_a_token() as storage:
        declined = Answer(202, {"Location": f"http://{storage.host}/upload/session-2"})

        async def registry(request: Request) -> Answer:
            if "authorization" not in request.headers:
                return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
            return declined

        with ScriptedServer(registry) as server:
            async with Registry(server.host, CREDENTIALS) as client:
                assert await client.repository(REPOSITORY).mount(descriptor, "team/other") is False
    assert _leaked(storage.requests) == []


async def test_token_realm_redirecting_elsewhere_gets_no_credentials_along() -> None:
    with _storage_demanding_a_token() as storage:

        async def registry(request: Request) -> Answer:
            if request.path == "/token":
                return Answer(307, {"Location": f"http://{storage.host}/token"})
            return Answer(401, {"WWW-Authenticate": f'Bearer realm="http://{server.host}/token"'})

        with ScriptedServer(registry) as server:
            async with Registry(server.host, CREDENTIALS) as client:
                with pytest.raises(AuthError, match="token server"):
                    await client.repository(REPOSITORY).resolve(TAG)
    assert storage.requests == []


def test_cli_pull_through_a_storage_challenge_exits_4_with_one_line(
    tmp_path: Path, isolated_env: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSR_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("MSR_REGISTRY_PASSWORD", PASSWORD)
    with _storage_demanding_a_token() as storage:
        redirect = Answer(307, {"Location": f"http://{storage.host}/bucket/object"})
        with _basic_registry(redirect) as server:
            done = msr("pull", f"{server.host}/{REPOSITORY}:{TAG}", "--dir", str(tmp_path / "dest"), expect=4)
    assert done.stderr.startswith(f"error: http://{storage.host}, reached from {server.host}")
    assert done.stderr.count("\n") == 1 and PASSWORD not in done.stderr
    assert _leaked(storage.requests) == []


# ---- item: a token realm over plain HTTP named by an HTTPS registry ------------------------------


@pytest.fixture
def token_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    """A forward proxy on loopback for plain-HTTP requests to other hosts; records and answers tokens."""

    async def handle(request: Request) -> Answer:
        return Answer(200, {"Content-Type": "application/json"}, TOKEN_BODY)

    proxy = ScriptedServer(handle)
    proxy.__enter__()
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.host}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield proxy
    proxy.__exit__()


def _bearer_registry(realm: str, tls: ssl.SSLContext | None) -> ScriptedServer:
    hostile = HostileRegistry.serving_a_revision()

    async def handle(request: Request) -> Answer:
        if request.headers.get("authorization") != "Bearer t0ken":
            return Answer(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="registry"'})
        return await hostile.handle(request)

    return ScriptedServer(handle, tls=tls)


async def test_https_registry_naming_a_plain_http_realm_gets_no_credentials_sent(
    tmp_path: Path, token_proxy: ScriptedServer
) -> None:
    ca_file, cert_file, key_file = _write_tls_material(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    options = RegistryOptions(
        plain_http=False, ca_file=str(ca_file), username=USER, password=PASSWORD, retries=1, timeout=5
    )
    with _bearer_registry("http://token.example.test/token", tls) as server:
        async with Registry(server.host, options) as client:
            with pytest.raises(AuthError, match="over plain HTTP") as caught:
                await client.repository(REPOSITORY).resolve(TAG)
        assert server.requests, "the HTTPS registry was never asked"
    assert token_proxy.requests == []  # neither the password nor a token request went out in clear
    assert "token.example.test" in str(caught.value) and "--plain-http" not in str(caught.value)
    assert "--plain-http" in describe(caught.value)[0]  # the CLI words the remedy as its flag
    assert PASSWORD not in str(caught.value)


async def test_a_plain_http_realm_is_used_when_plain_http_was_chosen(
    tmp_path: Path, token_proxy: ScriptedServer
) -> None:
    options = RegistryOptions(plain_http=True, username=USER, password=PASSWORD, retries=1, timeout=5)
    with _bearer_registry("http://token.example.test/token", None) as server:
        async with Registry(server.host, options) as client:
            descriptor = await client.repository(REPOSITORY).resolve(TAG)
    assert descriptor.digest.startswith("sha256:")
    assert [r.target.split("?")[0] for r in token_proxy.requests] == ["http://token.example.test/token"]
