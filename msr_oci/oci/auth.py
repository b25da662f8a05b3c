"""Registry credentials and the authentication handshake (anonymous, Basic, Bearer tokens).

Credentials are looked up in the order: explicit options, ``MSR_REGISTRY_USERNAME``/``MSR_REGISTRY_PASSWORD``,
Docker's ``config.json`` (``credHelpers``, ``auths``, ``credsStore``), then the containers ``auth.json``.
Secrets never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from msr_oci.errors import AuthError, InputError, Remedy, Unauthorized
from msr_oci.oci.reference import is_loopback_host
from msr_oci.oci.tempfiles import atomic_file
from msr_oci.oci.tokens import SCHEMES, TOKENS, HostScheme, Token, TokenKey, identity, scope_atoms

ENV_USERNAME = "MSR_REGISTRY_USERNAME"
ENV_PASSWORD = "MSR_REGISTRY_PASSWORD"
#: the user name credential helpers report when the secret is an identity (refresh) token
IDENTITY_TOKEN_USER = "<token>"
#: seconds a token lives when the token server does not say (distribution's token spec default)
DEFAULT_TOKEN_LIFETIME = 60.0


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = field(default="", repr=False)
    #: an OAuth2 refresh token (``identitytoken`` in Docker's config); used instead of the password
    identity_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        secret = "***" if self.password or self.identity_token else ""
        return f"Credentials(username={self.username!r}, secret={secret!r})"

    def basic_header(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


# ---- credential lookup ------------------------------------------------------------------------------


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def containers_auth_path() -> Path | None:
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "containers" / "auth.json" if runtime else None


def _normalize_server(key: str) -> str:
    """``https://host/v1/`` -> ``host``: Docker keys ``auths`` by URL or by bare host."""
    key = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", key)
    return key.split("/", 1)[0]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read credentials file {path}: {exc.__class__.__name__}") from None
    if not isinstance(value, dict):
        raise InputError(f"credentials file {path} is not a JSON object")
    return value


def _entry_for(auths: object, host: str) -> dict[str, Any] | None:
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _normalize_server(str(key)) == host and isinstance(entry, dict):
            return entry
    return None


def _from_auth_entry(entry: dict[str, Any], where: Path) -> Credentials | None:
    identity = entry.get("identitytoken") or None
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"]), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"the 'auth' entry in {where} is not base64 of user:password") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InputError(f"the 'auth' entry in {where} is not base64 of user:password")
        return Credentials(username, password, identity)
    if entry.get("username") or identity:
        return Credentials(str(entry.get("username") or ""), str(entry.get("password") or ""), identity)
    return None


def _from_helper(helper: str, host: str) -> Credentials | None:
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run(
            [program, "get"], input=host.encode(), capture_output=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise AuthError(
            f"credential helper {program} configured for {host} is not on PATH",
            hint="install it or remove it from the Docker config",
        ) from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"credential helper {program} did not answer for {host} within 30 s") from None
    if done.returncode != 0:
        # helpers print "credentials not found in native keychain" when they have nothing
        return None
    try:
        value = json.loads(done.stdout)
        username, secret = str(value["Username"]), str(value["Secret"])
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"credential helper {program} gave an unreadable answer for {host}") from None
    if username == IDENTITY_TOKEN_USER:
        return Credentials("", "", secret)
    return Credentials(username, secret)


def _from_docker_config(host: str) -> Credentials | None:
    path = docker_config_path()
    config = _read_json(path)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, helper in helpers.items():
            if _normalize_server(str(key)) == host:
                return _from_helper(str(helper), host)
    entry = _entry_for(config.get("auths"), host)
    found = _from_auth_entry(entry, path) if entry else None
    if found is None and config.get("credsStore"):
        found = _from_helper(str(config["credsStore"]), host)
    return found


def load_credentials(host: str) -> Credentials | None:
    """Credentials for ``host`` from the environment or config files; ``None`` means anonymous."""
    username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
    if username and password is not None:
        return Credentials(username, password)
    found = _from_docker_config(host)
    if found is None:
        auth_file = containers_auth_path()
        if auth_file is not None:
            entry = _entry_for(_read_json(auth_file).get("auths"), host)
            found = _from_auth_entry(entry, auth_file) if entry else None
    return found


def _write_docker_config(config: dict[str, Any]) -> None:
    with atomic_file(docker_config_path(), mode=0o600) as fh:  # mkstemp makes it 0600 from the start
        fh.write((json.dumps(config, indent="\t") + "\n").encode("utf-8"))


def store_credentials(host: str, username: str, password: str) -> Path:
    """Save credentials the way ``docker login`` does without a store; returns the file written."""
    if not username or ":" in username:
        raise InputError("a user name is required and must not contain ':'")
    config = _read_json(docker_config_path())
    auths = config.get("auths") if isinstance(config.get("auths"), dict) else {}
    assert isinstance(auths, dict)
    for key in [k for k in auths if _normalize_server(str(k)) == host]:
        del auths[key]
    auths[host] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode("ascii")}
    config["auths"] = auths
    _write_docker_config(config)
    return docker_config_path()


def erase_credentials(host: str) -> bool:
    """Remove saved credentials for ``host``; ``False`` if there were none."""
    config = _read_json(docker_config_path())
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return False
    keys = [k for k in auths if _normalize_server(str(k)) == host]
    for key in keys:
        del auths[key]
    if keys:
        _write_docker_config(config)
    return bool(keys)


# ---- challenges and scopes --------------------------------------------------------------------------

_CHALLENGE_PARAM = re.compile(r'([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge:
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return Challenge(scheme.lower(), params)


def repository_scope(repository: str, *actions: str) -> str:
    return f"repository:{repository}:{','.join(actions)}"


def merge_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Union of actions per resource, in a stable order (``pull`` then ``push``...)."""
    merged: dict[str, set[str]] = {}
    for scope in scopes:
        for part in scope.split(" "):
            resource, sep, actions = part.rpartition(":")
            if not sep or not resource:
                continue
            merged.setdefault(resource, set()).update(a for a in actions.split(",") if a)
    return tuple(f"{resource}:{','.join(sorted(acts))}" for resource, acts in sorted(merged.items()))


# ---- the handshake ----------------------------------------------------------------------------------

#: sends a token request; the transport counts it like any other request
SendToken = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Authenticator:
    """Chooses the ``Authorization`` header per request and answers ``401`` challenges.

    What a host's challenge asked for, and the tokens fetched, are shared by the whole process (see
    ``tokens.py``): once a registry has shown it wants Bearer tokens, requests for a new scope fetch
    their token up front instead of waiting for another 401, and a token covering a request's scopes
    is reused, by this client or another.
    """

    def __init__(
        self,
        host: str,
        credentials: Callable[[], Credentials | None],
        send: SendToken,
        *,
        plain_http_chosen: bool = False,
    ) -> None:
        self.host = host
        self._plain_http_chosen = plain_http_chosen
        self._credentials_source = credentials
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._send = send

    @property
    def credentials(self) -> Credentials | None:
        if not self._credentials_loaded:
            self._credentials = self._credentials_source()
            self._credentials_loaded = True
        return self._credentials

    def unauthorized(self, detail: str | None = None) -> Unauthorized:
        who = "with the configured credentials" if self.credentials else "anonymously"
        message = f"{self.host} refused access {who}"
        if detail:
            message += f": {detail}"
        return Unauthorized(
            message,
            status=401,
            code="UNAUTHORIZED",
            what="credentials",
            where=self.host,
            remedies=(Remedy.LOGIN,),
        )

    def _token_key(self, realm: str, service: str) -> TokenKey:
        creds = self.credentials
        who = identity(creds.username, creds.password, creds.identity_token) if creds else ""
        return (realm, service, who)

    async def header_for(self, scopes: tuple[str, ...]) -> str | None:
        """The header to send before any challenge, from what earlier challenges taught us."""
        known = SCHEMES.get(self.host)
        if known is None:
            return None
        if known.scheme == "basic" and self.credentials:
            return self.credentials.basic_header()
        if known.scheme == "bearer" and known.realm:
            return await self._bearer(known.realm, known.service or "", merge_scopes(scopes))
        return None

    async def answer(self, response: httpx.Response, scopes: tuple[str, ...], sent: str | None) -> str | None:
        """A new header for a request that got ``401``; ``None`` when retrying cannot help."""
        header = response.headers.get("WWW-Authenticate")
        if not header:
            return None
        challenge = parse_challenge(header)
        if challenge.scheme == "basic":
            SCHEMES[self.host] = HostScheme("basic")
            creds = self.credentials
            if not creds or not creds.username:
                return None
            new = creds.basic_header()
        elif challenge.scheme == "bearer" and challenge.params.get("realm"):
            realm = self._checked_realm(challenge.params["realm"])
            service = challenge.params.get("service", "")
            SCHEMES[self.host] = HostScheme("bearer", realm, service)
            wanted = merge_scopes([*scopes, *filter(None, [challenge.params.get("scope")])])
            if sent is not None and sent.startswith("Bearer "):
                # the registry refused what we sent; never reuse it (a request sent before the scheme
                # was known refused nothing: a token fetched meanwhile serves it)
                TOKENS.discard(self._token_key(realm, service), sent.removeprefix("Bearer "))
            new = await self._bearer(realm, service, wanted)
        else:
            return None
        return None if new == sent else new

    def _checked_realm(self, realm: str) -> str:
        """The token realm, refused unless credentials and tokens would travel over TLS or stay local.

        A realm over plain HTTP is accepted only on a loopback host or when the user chose plain HTTP
        (``RegistryOptions.plain_http``); otherwise anyone on the path would read the password and the token.
        """
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise AuthError(
                f"{self.host} named an unusable token realm {realm!r}",
                hint="the registry's auth configuration must give an absolute https:// realm",
            )
        if url.scheme == "http" and not (self._plain_http_chosen or is_loopback_host(url.netloc.decode())):
            raise AuthError(
                f"{self.host} named the token realm {url.scheme}://{url.netloc.decode()}{url.path} over "
                "plain HTTP; msr-oci sends no credentials or token requests there",
                hint="configure the registry's token realm as https://",
                what="token realm",
                where=self.host,
                remedies=(Remedy.PLAIN_HTTP,),
            )
        return realm

    async def _bearer(self, realm: str, service: str, scopes: tuple[str, ...]) -> str:
        token = await TOKENS.get(
            self._token_key(realm, service),
            scope_atoms(scopes),
            lambda: self._fetch_token(realm, service, scopes),
        )
        return f"Bearer {token.value}"

    async def _fetch_token(self, realm: str, service: str, scopes: tuple[str, ...]) -> Token:
        creds = self.credentials
        if creds and creds.identity_token:
            # OAuth2 refresh-token grant (what Docker does with an identitytoken)
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "service": service,
                "client_id": "msr-oci",
                "scope": " ".join(scopes),
            }
            request = httpx.Request("POST", realm, data=form)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = (
                [("service", service)] if service else []
            )
            params += [("scope", scope) for scope in scopes]
            headers = {"Authorization": creds.basic_header()} if creds and creds.username else {}
            request = httpx.Request("GET", realm, params=params, headers=headers)
        response = await self._send(request)
        if response.status_code in (401, 403):
            raise self.unauthorized(f"the token server {httpx.URL(realm).host} said {response.status_code}")
        if response.status_code != 200:
            raise AuthError(
                f"the token server for {self.host} answered HTTP {response.status_code}",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = str(body.get("token") or body["access_token"])
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AuthError(f"the token server for {self.host} sent an unreadable answer") from None
        # renew a little early so a token does not expire in flight
        return Token(token, scope_atoms(scopes), time.monotonic() + max(lifetime - 5.0, 1.0))
