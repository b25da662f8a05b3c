"""Authentication and TLS against real registries: Basic (htpasswd), Bearer tokens, HTTPS."""

from __future__ import annotations

import os

import pytest
from support import blob, push_artifact

from msr_oci.cli.errors import describe
from msr_oci.errors import Remedy, TlsVerificationFailed
from msr_oci.oci import NetworkError, Unauthorized
from msr_oci.oci.remote import Registry, RegistryOptions


def _options(server, **extra: object) -> RegistryOptions:
    return RegistryOptions(username=server.username, password=server.password, **extra)  # type: ignore[arg-type]


async def test_basic_auth_round_trip(basic_registry, isolated_env) -> None:
    async with Registry(basic_registry.host, _options(basic_registry)) as client:
        await client.ping()
        repo = client.repository(basic_registry.unique_repository("basic"))
        _, data = await push_artifact(repo, {"a": b"basic"}, tag="v1")
        assert (await repo.fetch_manifest("v1"))[2] == data
        # one 401 taught the client the scheme: later requests carry Basic up front
        before = client.request_count
        await repo.resolve("v1")
        assert client.request_count - before == 1


async def test_basic_auth_wrong_password_is_unauthorized(basic_registry, isolated_env) -> None:
    options = RegistryOptions(username=basic_registry.username, password="wrong-password")
    async with Registry(basic_registry.host, options) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.ping()
    message = str(caught.value)
    # the library names the remedy; only the CLI words it as a command
    assert caught.value.remedies == (Remedy.LOGIN,) and caught.value.where == basic_registry.host
    assert "msr login" not in message and f"store credentials for {basic_registry.host}" in message
    assert f"msr login {basic_registry.host}" in describe(caught.value)[0]
    assert "wrong-password" not in message and "wrong-password" not in repr(caught.value)


async def test_basic_registry_anonymous_is_unauthorized(basic_registry, isolated_env) -> None:
    async with Registry(basic_registry.host) as client:
        with pytest.raises(Unauthorized, match="anonymously"):
            await client.repository("x/y").resolve("v1")


async def test_token_auth_pull_first_then_push_asks_again_for_push(token_registry, isolated_env) -> None:
    tokens = token_registry.token_server
    name = token_registry.unique_repository("token")
    async with Registry(token_registry.host, _options(token_registry)) as client:
        repo = client.repository(name)
        tokens.reset()
        # the first operation is a pull: the registry challenges, we ask for pull only
        assert not await repo.exists(blob(b"absent"))
        assert tokens.scopes_requested == [f"repository:{name}:pull"]
        descriptor, _ = await push_artifact(repo, {"a": b"token"}, tag="v1")
        assert f"repository:{name}:pull,push" in tokens.scopes_requested
        assert (await repo.resolve("v1")).digest == descriptor.digest
        # tokens are cached per scope: two scopes, two token requests
        assert tokens.request_count == 2


async def test_token_auth_wrong_password(token_registry, isolated_env) -> None:
    options = RegistryOptions(username=token_registry.username, password="nope")
    async with Registry(token_registry.host, options) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.repository("a/b").resolve("v1")
    assert caught.value.remedies == (Remedy.LOGIN,)
    assert f"msr login {token_registry.host}" in describe(caught.value)[0]


async def test_credentials_from_the_environment(token_registry, isolated_env, monkeypatch) -> None:
    monkeypatch.setenv("MSR_REGISTRY_USERNAME", token_registry.username)
    monkeypatch.setenv("MSR_REGISTRY_PASSWORD", token_registry.password)
    async with Registry(token_registry.host) as client:
        repo = client.repository(token_registry.unique_repository("env"))
        await push_artifact(repo, {"a": b"env"}, tag="v1")


async def test_tls_with_ca_file(tls_registry) -> None:
    options = RegistryOptions(plain_http=False, ca_file=str(tls_registry.ca_file))
    async with Registry(tls_registry.host, options) as client:
        repo = client.repository(tls_registry.unique_repository("tls"))
        descriptor, _ = await push_artifact(repo, {"a": os.urandom(1000)}, tag="v1")
        assert (await repo.resolve("v1")).digest == descriptor.digest


async def test_tls_with_http2_and_insecure(tls_registry) -> None:
    options = RegistryOptions(plain_http=False, insecure=True, http2=True)
    async with Registry(tls_registry.host, options) as client:
        await client.ping()


async def test_tls_without_ca_is_a_network_error_naming_tls(tls_registry) -> None:
    async with Registry(tls_registry.host, RegistryOptions(plain_http=False)) as client:
        with pytest.raises(NetworkError) as caught:
            await client.ping()
        assert client.request_count == 1  # a certificate problem is not retried
    assert "TLS" in str(caught.value)
    assert tls_registry.host.split(":")[0] in str(caught.value)
    # a typed verification failure (not a string) is what stops the retries
    assert isinstance(caught.value, TlsVerificationFailed) and not caught.value.retryable
    assert "--ca-file" not in str(caught.value) and "--ca-file" in describe(caught.value)[0]
