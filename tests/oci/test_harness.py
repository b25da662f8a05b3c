"""The test registries behave as their mode promises, checked with plain httpx (not msr-oci's client)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
from pathlib import Path

import httpx
import pytest
from conftest import IsolatedEnv
from registry_harness import HarnessError, RegistryServer, external_registry_from_env, start_registry
from token_server import TokenServer

TIMEOUT = httpx.Timeout(10.0)


def _client(server: RegistryServer, **kwargs: object) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, verify=server.ssl_context(), **kwargs)  # type: ignore[arg-type]


def _push_blob(client: httpx.Client, server: RegistryServer, repository: str, data: bytes) -> str:
    """Monolithic upload (POST, then PUT to the Location keeping its query); returns the digest."""
    started = client.post(f"{server.url}/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = str(started.headers["Location"])
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    separator = "&" if "?" in location else "?"
    finished = client.put(
        f"{location}{separator}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert finished.status_code == 201, finished.text
    return digest


def _fetch_token(
    token_server: TokenServer, scopes: list[str], auth: tuple[str, str] | None
) -> httpx.Response:
    params: list[tuple[str, str | int | float | bool | None]] = [("service", token_server.service)]
    params += [("scope", scope) for scope in scopes]
    return httpx.get(token_server.realm, params=params, auth=auth, timeout=TIMEOUT)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refuses_connections(host: str) -> bool:
    address, _, port = host.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((address, int(port))) != 0


# -- plain ------------------------------------------------------------------------------------------
@pytest.fixture
def local_registry(registry: RegistryServer) -> RegistryServer:
    if registry.external:
        pytest.skip("checks the locally started plain registry; MSR_TEST_REGISTRY points elsewhere")
    return registry


def test_plain_registry_answers_v2_without_auth(local_registry: RegistryServer) -> None:
    response = httpx.get(f"{local_registry.url}/v2/", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert local_registry.url == f"http://{local_registry.host}"
    assert local_registry.host.startswith("127.0.0.1:")
    assert (local_registry.username, local_registry.password, local_registry.ca_file) == (None, None, None)


def test_plain_registry_stores_blobs_in_its_storage_dir_and_deletes(local_registry: RegistryServer) -> None:
    repository = local_registry.unique_repository("harness/plain")
    with _client(local_registry) as client:
        digest = _push_blob(client, local_registry, repository, b"plain blob")
        hex_digest = digest.removeprefix("sha256:")
        assert local_registry.storage_dir is not None
        stored = local_registry.storage_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest
        assert (stored / "data").read_bytes() == b"plain blob"
        blob_url = f"{local_registry.url}/v2/{repository}/blobs/{digest}"
        assert client.head(blob_url).status_code == 200
        assert client.delete(blob_url).status_code == 202
        assert client.head(blob_url).status_code == 404


def test_unique_repository_names_are_fresh_lowercase_and_valid(registry: RegistryServer) -> None:
    names = {registry.unique_repository() for _ in range(50)}
    assert len(names) == 50
    mixed = registry.unique_repository("Team/Models")
    assert mixed == mixed.lower()
    assert mixed.startswith(f"{registry.namespace}team/models-")
    with pytest.raises(ValueError, match="not a valid repository path"):
        registry.unique_repository("bad prefix!")


def test_repo_name_fixture_gives_a_name_unused_on_the_registry(
    registry: RegistryServer, repo_name: str
) -> None:
    with _client(registry, auth=registry.credentials) as client:
        response = client.get(f"{registry.url}/v2/{repo_name}/tags/list")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"


# -- basic ------------------------------------------------------------------------------------------
def test_basic_registry_challenges_and_checks_the_password(basic_registry: RegistryServer) -> None:
    assert basic_registry.username and basic_registry.password
    url = f"{basic_registry.url}/v2/"
    anonymous = httpx.get(url, timeout=TIMEOUT)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert (
        httpx.get(url, auth=(basic_registry.username, basic_registry.password), timeout=TIMEOUT).status_code
        == 200
    )
    wrong = httpx.get(url, auth=(basic_registry.username, basic_registry.password + "x"), timeout=TIMEOUT)
    assert wrong.status_code == 401


def test_basic_registry_password_is_not_in_its_repr(basic_registry: RegistryServer) -> None:
    assert basic_registry.password is not None
    assert basic_registry.password not in repr(basic_registry)


# -- tls --------------------------------------------------------------------------------------------
def test_tls_registry_is_trusted_only_through_its_ca(tls_registry: RegistryServer) -> None:
    assert tls_registry.ca_file is not None and tls_registry.url.startswith("https://")
    trusting = ssl.create_default_context(cafile=str(tls_registry.ca_file))
    assert httpx.get(f"{tls_registry.url}/v2/", verify=trusting, timeout=TIMEOUT).status_code == 200
    port = tls_registry.host.rpartition(":")[2]
    by_name = httpx.get(f"https://localhost:{port}/v2/", verify=trusting, timeout=TIMEOUT)
    assert by_name.status_code == 200  # the certificate names localhost too
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_registry.url}/v2/", timeout=TIMEOUT)
    plain_http = httpx.get(f"http://{tls_registry.host}/v2/", timeout=TIMEOUT)
    assert plain_http.status_code == 400  # Go's TLS server refuses plain HTTP; no fallback
    assert "HTTPS server" in plain_http.text


# -- token ------------------------------------------------------------------------------------------
def test_token_registry_challenges_with_its_realm_and_service(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    challenge = httpx.get(f"{token_registry.url}/v2/", timeout=TIMEOUT).headers["WWW-Authenticate"]
    assert challenge == f'Bearer realm="{token_server.realm}",service="{token_server.service}"'


def test_token_for_pull_push_allows_a_blob_push_and_is_recorded(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    repository = token_registry.unique_repository("harness/token")
    scope = f"repository:{repository}:pull,push"
    before = token_server.request_count
    answer = _fetch_token(token_server, [scope], token_registry.credentials)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    with _client(token_registry, headers=_bearer(body["token"])) as client:
        digest = _push_blob(client, token_registry, repository, b"token blob")
        assert client.head(f"{token_registry.url}/v2/{repository}/blobs/{digest}").status_code == 200
    assert token_server.request_count == before + 1
    recorded = token_server.requests[-1]
    assert (recorded.username, recorded.service, recorded.scopes, recorded.status) == (
        token_registry.username,
        token_server.service,
        (scope,),
        200,
    )
    assert recorded.granted == ({"type": "repository", "name": repository, "actions": ["pull", "push"]},)


def test_pull_token_is_refused_for_push_with_a_pull_push_challenge(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    repository = token_registry.unique_repository("harness/token")
    pull_token = _fetch_token(token_server, [f"repository:{repository}:pull"], token_registry.credentials)
    refused = httpx.post(
        f"{token_registry.url}/v2/{repository}/blobs/uploads/",
        headers=_bearer(pull_token.json()["token"]),
        timeout=TIMEOUT,
    )
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    # distribution lists the actions in random order (a Go map): compare them as a set
    asked = re.search(r'scope="repository:([^"]+):([a-z,]+)"', challenge)
    assert asked is not None and asked[1] == repository
    assert set(asked[2].split(",")) == {"pull", "push"}
    assert 'error="insufficient_scope"' in challenge


def test_pull_only_user_gets_pull_whatever_it_asks(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    token_server.add_user("reader", "reader-password", pull_only=True)
    repository = token_registry.unique_repository("harness/token")
    answer = _fetch_token(token_server, [f"repository:{repository}:pull,push"], ("reader", "reader-password"))
    assert answer.status_code == 200
    assert token_server.requests[-1].granted == (
        {"type": "repository", "name": repository, "actions": ["pull"]},
    )
    refused = httpx.post(
        f"{token_registry.url}/v2/{repository}/blobs/uploads/",
        headers=_bearer(answer.json()["token"]),
        timeout=TIMEOUT,
    )
    assert refused.status_code == 401


def test_token_server_records_several_scopes_in_one_request(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    source, target = (token_registry.unique_repository("harness/token") for _ in range(2))
    scopes = [f"repository:{source}:pull", f"repository:{target}:pull,push"]
    answer = _fetch_token(token_server, scopes, token_registry.credentials)
    assert answer.status_code == 200
    assert token_server.requests[-1].scopes == tuple(scopes)
    assert token_server.scopes_requested[-2:] == scopes
    assert len(token_server.requests[-1].granted) == 2


def test_token_server_refuses_a_wrong_password(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None and token_registry.username is not None
    answer = _fetch_token(token_server, ["repository:any:pull"], (token_registry.username, "wrong"))
    assert answer.status_code == 401
    assert "token" not in answer.json()
    assert token_server.requests[-1].status == 401
    assert token_server.requests[-1].granted == ()


def test_anonymous_token_grants_no_repository_access(token_registry: RegistryServer) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    repository = token_registry.unique_repository("harness/token")
    answer = _fetch_token(token_server, [f"repository:{repository}:pull"], None)
    assert answer.status_code == 200
    assert token_server.requests[-1].username is None and token_server.requests[-1].granted == ()
    headers = _bearer(answer.json()["token"])
    assert httpx.get(f"{token_registry.url}/v2/", headers=headers, timeout=TIMEOUT).status_code == 200
    tags = httpx.get(f"{token_registry.url}/v2/{repository}/tags/list", headers=headers, timeout=TIMEOUT)
    assert tags.status_code == 401


# -- nodelete ---------------------------------------------------------------------------------------
def test_nodelete_registry_answers_405_unsupported_to_delete(nodelete_registry: RegistryServer) -> None:
    repository = nodelete_registry.unique_repository("harness/nodelete")
    with _client(nodelete_registry) as client:
        digest = _push_blob(client, nodelete_registry, repository, b"kept")
        blob_url = f"{nodelete_registry.url}/v2/{repository}/blobs/{digest}"
        refused = client.delete(blob_url)
        assert refused.status_code == 405
        assert refused.json()["errors"][0]["code"] == "UNSUPPORTED"
        assert client.head(blob_url).status_code == 200


# -- lifecycle and configuration ----------------------------------------------------------------------
def test_stop_ends_the_registry_and_its_token_server(tmp_path: Path) -> None:
    server = start_registry("token", tmp_path / "registry")
    assert server.token_server is not None
    token_host = f"127.0.0.1:{server.token_server.port}"
    assert httpx.get(f"{server.url}/v2/", timeout=TIMEOUT).status_code == 401
    server.stop()
    server.stop()  # idempotent
    assert _refuses_connections(server.host)
    assert _refuses_connections(token_host)


def test_registry_starts_inside_an_isolated_env(tmp_path: Path, isolated_env: IsolatedEnv) -> None:
    assert os.environ["REGISTRY_AUTH_FILE"] == str(isolated_env.registry_auth_file)
    server = start_registry("plain", tmp_path / "registry")
    try:
        assert httpx.get(f"{server.url}/v2/", timeout=TIMEOUT).status_code == 200
    finally:
        server.stop()


def test_missing_registry_binary_fails_with_install_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(HarnessError, match="apt-get install docker-registry"):
        start_registry("plain", tmp_path / "registry")


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown registry mode"):
        start_registry("weird", tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "url", "host"),
    [
        ("127.0.0.1:5000", "http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("localhost:5000/", "http://localhost:5000", "localhost:5000"),
        ("registry.example:443", "https://registry.example:443", "registry.example:443"),
        ("http://registry.example", "http://registry.example", "registry.example"),
        ("https://127.0.0.1:5443", "https://127.0.0.1:5443", "127.0.0.1:5443"),
    ],
)
def test_external_registry_address_forms(value: str, url: str, host: str) -> None:
    server = external_registry_from_env({"MSR_TEST_REGISTRY": value})
    assert server is not None
    assert (server.url, server.host, server.external, server.storage_dir) == (url, host, True, None)


def test_external_registry_options_and_refusals() -> None:
    assert external_registry_from_env({}) is None
    server = external_registry_from_env(
        {
            "MSR_TEST_REGISTRY": "registry.example",
            "MSR_TEST_REGISTRY_USERNAME": "me",
            "MSR_TEST_REGISTRY_PASSWORD": "secret",
            "MSR_TEST_REGISTRY_NAMESPACE": "/team/",
        }
    )
    assert server is not None and server.credentials == ("me", "secret")
    assert server.unique_repository("x").startswith("team/x-")
    with pytest.raises(HarnessError, match="is not HOST"):
        external_registry_from_env({"MSR_TEST_REGISTRY": "ftp://registry.example/path"})


# -- isolated environment -----------------------------------------------------------------------------
def test_isolated_env_points_everything_into_tmp_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("MSR_REGISTRY", "somewhere.example")
    monkeypatch.setenv("MSR_REGISTRY_PASSWORD", "leak")
    env: IsolatedEnv = request.getfixturevalue("isolated_env")
    names = [
        "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
        "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "MSR_STORE", "MSR_CACHE_DIR",
    ]  # fmt: skip
    for name in names:
        assert Path(os.environ[name]).is_relative_to(tmp_path), name
    assert Path.home() == env.home and env.home.is_dir() and env.docker_config.is_dir()
    assert os.environ["MSR_STORE"] == str(env.store) and not env.store.exists()
    assert not [name for name in os.environ if name.startswith("MSR_REGISTRY")]
