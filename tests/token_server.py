"""A small Bearer token server for the token-auth test registry.

It implements the GET side of the distribution token protocol: a client asks
``GET /token?service=S&scope=T:NAME:ACTIONS[&scope=...]`` with optional Basic credentials and
receives ``{"token", "access_token", "expires_in", "issued_at"}``. Tokens are ES256 JWTs whose
header carries ``x5c`` (the base64 DER of the server's self-signed certificate); the registry trusts
that certificate through ``auth.token.rootcertbundle`` (``TokenServer.cert_file``).

Grants:
- a full user gets every action it asked for;
- a pull-only user gets ``pull`` at most;
- an anonymous request (no Authorization header) gets a valid token with NO access, so a client
  must authenticate to do anything but it can tell "anonymous" from "wrong password";
- wrong credentials get 401 and no token.

Every request is recorded (``requests``) so tests can assert what a client asked for, e.g. that it
asked again with ``pull,push`` after a pull-only token was refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

TOKEN_PATH = "/token"
TOKEN_LIFETIME_SECONDS = 300
PULL_ONLY_ACTIONS = frozenset({"pull"})


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered."""

    username: str | None  # None: no Authorization header
    service: str | None
    scopes: tuple[str, ...]
    status: int  # 200 with a token, 401 for bad credentials, 404 for another path
    granted: tuple[dict[str, object], ...]  # the JWT "access" claim issued (empty when refused)


@dataclass(frozen=True)
class _User:
    password: str
    pull_only: bool


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def certificate_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    """A builder with a random serial and a validity covering any test session (extensions to add)."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
    )


def _self_signed_es256_certificate(
    common_name: str,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        certificate_builder(name, name, key.public_key())
        # the registry verifies x5c as a chain ending in rootcertbundle: the certificate is its own root
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """Split ``type:name:actions`` (the name may contain ':' for a host:port prefix)."""
    resource_type, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not resource_type or not name:
        return None
    return resource_type, name, [action for action in actions.split(",") if action]


class TokenServer:
    """Threaded token server on 127.0.0.1; start with ``start()``, stop with ``stop()``."""

    def __init__(self, workdir: Path, *, service: str, issuer: str = "msr-test-token-issuer") -> None:
        self.service = service
        self.issuer = issuer
        self._key, self._cert = _self_signed_es256_certificate(issuer)
        self.cert_file = workdir / "token-signing-cert.pem"
        self.cert_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        self._users: dict[str, _User] = {}
        self._requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}{TOKEN_PATH}"

    def start(self) -> TokenServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="token-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    # -- users and records -----------------------------------------------------------------------
    def add_user(self, username: str, password: str, *, pull_only: bool = False) -> None:
        with self._lock:
            self._users[username] = _User(password, pull_only)

    @property
    def requests(self) -> list[TokenRequest]:
        """A copy of every request answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def scopes_requested(self) -> list[str]:
        """Every scope string asked for, in order, across all requests."""
        return [scope for request in self.requests for scope in request.scopes]

    def reset(self) -> None:
        """Forget recorded requests (users are kept)."""
        with self._lock:
            self._requests.clear()

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # -- token issuing ---------------------------------------------------------------------------
    def _check_credentials(self, authorization: str | None) -> tuple[bool, str | None, _User | None]:
        """(accepted, username, user); no header is accepted as anonymous."""
        if authorization is None:
            return True, None, None
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None, None
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except ValueError:
            return False, None, None
        with self._lock:
            user = self._users.get(username)
        if user is None or not secrets.compare_digest(user.password, password):
            return False, username, None
        return True, username, user

    def _grant(self, user: _User | None, scopes: Sequence[str]) -> list[dict[str, object]]:
        if user is None:
            return []
        granted: list[dict[str, object]] = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            resource_type, name, actions = parsed
            if user.pull_only:
                actions = [action for action in actions if action in PULL_ONLY_ACTIONS]
            if actions:
                granted.append({"type": resource_type, "name": name, "actions": actions})
        return granted

    def issue_token(self, subject: str, access: list[dict[str, object]]) -> str:
        now = int(dt.datetime.now(dt.UTC).timestamp())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS ES256 wants the raw 64-byte r||s, not DER
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, object]]:
        """Status and JSON body for one GET; records the request."""
        url = urlsplit(path)
        query = parse_qs(url.query)
        service = query.get("service", [None])[0]
        scopes = tuple(
            part for value in query.get("scope", []) for part in value.split(" ") if part
        )  # some clients join several scopes with spaces in one parameter
        if url.path != TOKEN_PATH:
            self._record(TokenRequest(None, service, scopes, 404, ()))
            return 404, {"errors": [{"code": "NOT_FOUND", "message": "unknown path"}]}
        accepted, username, user = self._check_credentials(authorization)
        if not accepted:
            self._record(TokenRequest(username, service, scopes, 401, ()))
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]}
        access = self._grant(user, scopes)
        token = self.issue_token(username or "", access)
        self._record(TokenRequest(username, service, scopes, 200, tuple(access)))
        return 200, {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "issued_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        }


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = server.answer(self.path, self.headers.get("Authorization"))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="msr-test-token-server"')
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean; requests are recorded instead

    return Handler
