"""Real OCI registries for the tests: CNCF distribution (`docker-registry serve CONFIG.yml`).

``start_registry(mode, workdir)`` starts one registry on a free 127.0.0.1 port with throwaway
filesystem storage under ``workdir``, waits (bounded) until ``/v2/`` answers and returns a
``RegistryServer``; ``RegistryServer.stop()`` terminates it (then kills it). Modes:

- ``plain``: no auth, deletion enabled;
- ``basic``: htpasswd (bcrypt) with a generated user/password, deletion enabled;
- ``tls``: HTTPS with a generated CA (``ca_file``) and server certificate for 127.0.0.1/localhost;
- ``token``: Bearer tokens from ``tests/token_server.py`` (``token_server``), deletion enabled;
- ``nodelete``: plain with deletion disabled.

Without the ``docker-registry`` binary the same configuration runs in the ``registry:2`` image via
testcontainers when a Docker engine answers. ``external_registry_from_env()`` describes a registry
named by ``MSR_TEST_REGISTRY`` instead of starting one.
"""

from __future__ import annotations

import atexit
import ctypes
import ipaddress
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, get_args
from urllib.parse import urlsplit

import bcrypt
import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from token_server import TokenServer, certificate_builder

RegistryMode = Literal["plain", "basic", "tls", "token", "nodelete"]
REGISTRY_MODES: tuple[RegistryMode, ...] = get_args(RegistryMode)

REGISTRY_BINARY = "docker-registry"
REGISTRY_IMAGE = "registry:2"
TOKEN_SERVICE = "msr-test-registry"
READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3  # a free port found by bind(0) can be taken again before the registry binds it
BCRYPT_ROUNDS = 4  # the minimum: the registry checks the hash on every request

EXTERNAL_REGISTRY_ENV = "MSR_TEST_REGISTRY"

_REPOSITORY_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_repository_counter = itertools.count(1)


class HarnessError(RuntimeError):
    """A test registry could not be started."""


@dataclass
class RegistryServer:
    """One running registry (or an external one) and what a test needs to talk to it."""

    mode: RegistryMode
    host: str  # "127.0.0.1:PORT"
    url: str  # "http://127.0.0.1:PORT" or "https://..."
    storage_dir: Path | None  # None for an external registry
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    token_server: TokenServer | None = None
    log_file: Path | None = None
    external: bool = False
    namespace: str = ""  # prefix for repository names, e.g. "user/" on a shared external registry
    _stoppers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def unique_repository(self, prefix: str = "test") -> str:
        """A repository name no other call (in this or an earlier session) returned: lowercase."""
        prefix = prefix.lower()
        if not all(_REPOSITORY_COMPONENT.fullmatch(part) for part in prefix.split("/")):
            raise ValueError(f"repository prefix {prefix!r} is not a valid repository path")
        return f"{self.namespace}{prefix}-{next(_repository_counter)}-{secrets.token_hex(4)}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting this registry's CA (the system store when there is none)."""
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return ssl.create_default_context()

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    def stop(self) -> None:
        """Stop the registry and its helpers; safe to call twice."""
        while self._stoppers:
            self._stoppers.pop()()
        _live_servers.pop(id(self), None)


_live_servers: dict[int, RegistryServer] = {}


def _stop_leftovers() -> None:
    """Last resort when session teardown did not run (e.g. an interrupted run)."""
    for server in list(_live_servers.values()):
        server.stop()


atexit.register(_stop_leftovers)


# -- external registry ----------------------------------------------------------------------------
def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def external_registry_from_env(environ: dict[str, str] | None = None) -> RegistryServer | None:
    """The registry named by MSR_TEST_REGISTRY (``HOST[:PORT]`` or ``http(s)://HOST[:PORT]``).

    Optional: MSR_TEST_REGISTRY_USERNAME / _PASSWORD, _CA_FILE, _NAMESPACE (repository prefix).
    Without a scheme, a loopback host means http and any other host https.
    """
    env = dict(os.environ if environ is None else environ)
    value = env.get(EXTERNAL_REGISTRY_ENV, "").strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value if "://" in value else f"//{value}")
    if not parts.netloc or parts.path or parts.scheme not in ("", "http", "https"):
        raise HarnessError(f"{EXTERNAL_REGISTRY_ENV}={value!r} is not HOST[:PORT] or http(s)://HOST[:PORT]")
    scheme = parts.scheme or ("http" if _is_loopback(parts.hostname or "") else "https")
    namespace = env.get(f"{EXTERNAL_REGISTRY_ENV}_NAMESPACE", "").strip("/")
    ca_file = env.get(f"{EXTERNAL_REGISTRY_ENV}_CA_FILE")
    return RegistryServer(
        mode="plain",
        host=parts.netloc,
        url=f"{scheme}://{parts.netloc}",
        storage_dir=None,
        username=env.get(f"{EXTERNAL_REGISTRY_ENV}_USERNAME"),
        password=env.get(f"{EXTERNAL_REGISTRY_ENV}_PASSWORD"),
        ca_file=Path(ca_file) if ca_file else None,
        external=True,
        namespace=f"{namespace}/" if namespace else "",
    )


# -- auth and TLS material ------------------------------------------------------------------------
def _write_htpasswd(path: Path, username: str, password: str) -> None:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()
    path.write_text(f"{username}:{hashed}\n")


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_tls_material(directory: Path) -> tuple[Path, Path, Path]:
    """(ca_file, certificate_file, key_file): a CA and a server certificate for 127.0.0.1/localhost."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msr-oci test CA")])
    ca_cert = (
        certificate_builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    server_cert = (
        certificate_builder(server_name, ca_name, server_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
    )
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem_key(server_key))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


@dataclass
class _Plan:
    """Everything a backend needs to run one registry, independent of where it runs."""

    mode: RegistryMode
    workdir: Path  # config and auth material live here
    storage_dir: Path
    auth: dict[str, Any] = field(default_factory=dict)
    tls_files: tuple[Path, Path] | None = None  # (certificate, key)
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    token_server: TokenServer | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_files else "http"

    def config(self, listen: str, path_of: Callable[[Path], str]) -> dict[str, Any]:
        """The registry's config.yml; ``path_of`` maps a host path to where the registry sees it."""
        http: dict[str, Any] = {"addr": listen, "secret": secrets.token_hex(16)}
        if self.tls_files:
            http["tls"] = {"certificate": path_of(self.tls_files[0]), "key": path_of(self.tls_files[1])}
        auth = {
            kind: {
                key: path_of(value) if isinstance(value, Path) else value for key, value in options.items()
            }
            for kind, options in self.auth.items()
        }
        return {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": path_of(self.storage_dir)},
                "delete": {"enabled": self.mode != "nodelete"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
            **({"auth": auth} if auth else {}),
        }


def _plan(mode: RegistryMode, workdir: Path) -> _Plan:
    storage_dir = workdir / "storage"
    storage_dir.mkdir(parents=True, exist_ok=True)  # a second start serves the same storage
    plan = _Plan(mode=mode, workdir=workdir, storage_dir=storage_dir)
    if mode == "basic":
        plan.username, plan.password = f"user-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
        htpasswd = workdir / "htpasswd"
        _write_htpasswd(htpasswd, plan.username, plan.password)
        plan.auth = {"htpasswd": {"realm": "msr-test-registry", "path": htpasswd}}
    elif mode == "tls":
        plan.ca_file, certificate_file, key_file = _write_tls_material(workdir)
        plan.tls_files = (certificate_file, key_file)
    elif mode == "token":
        plan.username, plan.password = f"user-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
        token_server = TokenServer(workdir, service=TOKEN_SERVICE)
        token_server.add_user(plan.username, plan.password)
        plan.token_server = token_server.start()
        plan.auth = {
            "token": {
                "realm": token_server.realm,
                "service": token_server.service,
                "issuer": token_server.issuer,
                "rootcertbundle": token_server.cert_file,
            }
        }
    return plan


# -- backends ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM if pytest dies without cleaning up."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_ready(url: str, ca_file: Path | None, alive: Callable[[], bool], describe: str) -> None:
    """Poll ``/v2/`` until any HTTP answer (200 or 401), the process dies, or the deadline passes."""
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last_error = "no attempt"
    with httpx.Client(verify=verify, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise HarnessError(f"{describe} exited before answering on {url}/v2/")
            try:
                client.get(f"{url}/v2/")
                return
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
    raise HarnessError(f"{describe} did not answer {url}/v2/ within {READY_TIMEOUT_SECONDS}s ({last_error})")


def _log_tail(log_file: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def registry_environment() -> dict[str, str]:
    """This process's environment without REGISTRY_*: distribution reads those as config overrides
    (e.g. REGISTRY_AUTH_FILE, meant for skopeo, would become ``auth.file`` and break the config)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("REGISTRY_")}


def _is_running(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: process.poll() is None


def _stop_process(process: subprocess.Popen[bytes], log: IO[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        log.close()

    return stop


def _run_local(plan: _Plan, binary: str) -> tuple[str, Path | None, Callable[[], None]]:
    """Start ``docker-registry serve``; (host, log file, stopper)."""
    log_file = plan.workdir / "registry.log"
    failure = ""
    for attempt in range(1, START_ATTEMPTS + 1):
        host = f"127.0.0.1:{_free_port()}"
        config_file = plan.workdir / "config.yml"
        config_file.write_text(yaml.safe_dump(plan.config(host, str)))
        log = log_file.open("ab")
        process = subprocess.Popen(
            [binary, "serve", str(config_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=registry_environment(),
            preexec_fn=_die_with_parent,
        )
        stop = _stop_process(process, log)
        try:
            _wait_until_ready(f"{plan.scheme}://{host}", plan.ca_file, _is_running(process), binary)
            return host, log_file, stop
        except HarnessError as exc:
            stop()
            failure = f"attempt {attempt}: {exc}\n{_log_tail(log_file)}"
            if "address already in use" not in failure:
                break
    raise HarnessError(f"could not start the {plan.mode} registry ({binary}):\n{failure}")


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # no SDK, no socket, no permission: all mean "no engine"
        return False
    return True


def _run_container(plan: _Plan) -> tuple[str, Path | None, Callable[[], None]]:
    """Start the same configuration in the registry:2 image; (host, log file, stopper)."""
    from testcontainers.core.container import DockerContainer

    inside = "/harness"

    def path_of(path: Path) -> str:
        return f"{inside}/{path.relative_to(plan.workdir).as_posix()}"

    (plan.workdir / "config.yml").write_text(yaml.safe_dump(plan.config("0.0.0.0:5000", path_of)))
    container = (
        DockerContainer(REGISTRY_IMAGE)
        .with_exposed_ports(5000)
        .with_volume_mapping(str(plan.workdir), inside, "rw")
        .with_command(f"serve {inside}/config.yml")
    )
    container.start()
    host = f"{container.get_container_host_ip()}:{container.get_exposed_port(5000)}"

    def alive() -> bool:
        container.get_wrapped_container().reload()
        return bool(container.get_wrapped_container().status == "running")

    try:
        _wait_until_ready(f"{plan.scheme}://{host}", plan.ca_file, alive, REGISTRY_IMAGE)
    except HarnessError:
        container.stop()
        raise
    return host, None, container.stop


def start_registry(mode: RegistryMode, workdir: Path) -> RegistryServer:
    """Start a registry in ``mode`` with its config and storage under ``workdir`` (created)."""
    if mode not in REGISTRY_MODES:
        raise ValueError(f"unknown registry mode {mode!r}; choose one of {', '.join(REGISTRY_MODES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    plan = _plan(mode, workdir)
    stoppers: list[Callable[[], None]] = []
    if plan.token_server is not None:
        stoppers.append(plan.token_server.stop)
    try:
        binary = shutil.which(REGISTRY_BINARY)
        if binary is not None:
            host, log_file, stop = _run_local(plan, binary)
        elif _docker_engine_answers():
            host, log_file, stop = _run_container(plan)
        else:
            raise HarnessError(
                f"`{REGISTRY_BINARY}` is not installed and no Docker engine answers: "
                f"run `apt-get install docker-registry` (or set {EXTERNAL_REGISTRY_ENV}=HOST:PORT)"
            )
    except BaseException:
        for stopper in reversed(stoppers):
            stopper()
        raise
    stoppers.append(stop)
    server = RegistryServer(
        mode=mode,
        host=host,
        url=f"{plan.scheme}://{host}",
        storage_dir=plan.storage_dir,
        username=plan.username,
        password=plan.password,
        ca_file=plan.ca_file,
        token_server=plan.token_server,
        log_file=log_file,
        _stoppers=stoppers,
    )
    _live_servers[id(server)] = server
    return server
