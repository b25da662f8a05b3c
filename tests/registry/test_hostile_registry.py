"""A hostile registry: shapes a real registry never produces, driven through the public API and the CLI.

Each case ends in a typed error that names the problem, writes nothing outside the destination (the
whole tmp tree is compared before and after) and finishes quickly (clients are bounded: few retries,
short timeouts, and pytest-timeout as the last resort).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from faults import Answer, Request, ScriptedServer

from msr_oci.errors import (
    AuthError,
    ContentTooLarge,
    DigestMismatch,
    IntegrityError,
    MsrOciError,
    NetworkError,
    SizeMismatch,
    Unauthorized,
    UnsafePath,
)
from msr_oci.oci import MEDIA_TYPE_IMAGE_MANIFEST, Descriptor, canonical_json
from msr_oci.oci.remote import Registry, RegistryOptions
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision import ModelServingRevision, encode_revision

pytestmark = pytest.mark.timeout(60)

REPOSITORY = "team/model"
TAG = "1.0.0"
MSR = Path(sys.executable).parent / "msr"
OPTIONS = RegistryOptions(retries=1, backoff=0.001, timeout=5)
_PATH = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs|tags)/(?P<ref>[^/]+)$")


def _revision() -> ModelServingRevision:
    return ModelServingRevision(
        name="model",
        version=TAG,
        model_definition={"models": [{"name": "m", "model_path": "/models/m", "service": {"port": 8000}}]},
        service_configuration={"image": "cr.backend.ai/stable/python:3.11", "runtime_variant": "custom"},
    )


@dataclass
class HostileRegistry:
    """Serves one revision under ``team/model:1.0.0`` after ``mutate`` has had its way with it."""

    manifest: dict[str, Any]
    blobs: dict[str, bytes]
    #: answers that replace the normal one for a matching path (checked first)
    overrides: dict[str, Callable[[Request], Answer]] = field(default_factory=dict)

    @classmethod
    def serving_a_revision(cls, revision: ModelServingRevision | None = None) -> HostileRegistry:
        """``revision`` (default: a small one built here) as the registry would serve it, files read."""
        encoded = encode_revision(revision or _revision())
        blobs = {d.digest: c.read_bytes() if isinstance(c, Path) else c for d, c in encoded.blobs}
        assert all(isinstance(c, bytes) for c in blobs.values())
        return cls(json.loads(encoded.manifest_bytes), blobs)  # type: ignore[arg-type]

    def manifest_bytes(self) -> bytes:
        return canonical_json(self.manifest)

    @property
    def manifest_digest(self) -> str:
        return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, self.manifest_bytes()).digest

    def add_layer(self, title: str, data: bytes) -> None:
        descriptor = Descriptor.from_bytes("application/octet-stream", data, annotations={"x": "y"})
        self.blobs[descriptor.digest] = data
        layer = descriptor.model_dump(mode="json", by_alias=True, exclude_none=True)
        layer["annotations"] = {"org.opencontainers.image.title": title}
        self.manifest["layers"].append(layer)

    async def handle(self, request: Request) -> Answer:
        for prefix, answer in self.overrides.items():
            if request.path.startswith(prefix):
                return answer(request)
        if request.path == "/v2/":
            return Answer(200)
        match = _PATH.match(request.path)
        if not match:
            return Answer(404)
        if match["kind"] == "tags":
            return Answer(200, {"Content-Type": "application/json"}, json.dumps({"tags": [TAG]}).encode())
        if match["kind"] == "manifests":
            body = self.manifest_bytes()
            headers = {
                "Content-Type": MEDIA_TYPE_IMAGE_MANIFEST,
                "Docker-Content-Digest": self.manifest_digest,
            }
            return Answer(200, headers, body)
        data = self.blobs.get(match["ref"])
        if data is None:
            return Answer(404, {}, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}')
        return Answer(200, {"Content-Type": "application/octet-stream"}, data)


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path: Path, isolated_env: object) -> Iterator[Path]:
    """The test's tmp tree; afterwards nothing new may exist outside ``dest`` and the cache."""
    (tmp_path / "dest").mkdir()
    before = _snapshot(tmp_path)
    yield tmp_path
    allowed = ("dest", "cache", "env")
    added = {p for p in _snapshot(tmp_path) - before if not p.startswith(allowed)}
    assert not added, f"written outside the destination: {sorted(added)}"


async def _pull(server: ScriptedServer, sandbox: Path, options: RegistryOptions = OPTIONS) -> None:
    async with AsyncRemoteRegistry(
        f"{server.host}/team", options=options, cache_dir=sandbox / "cache"
    ) as reg:
        await reg.pull(f"model:{TAG}", sandbox / "dest")


async def _fetch(server: ScriptedServer, sandbox: Path) -> None:
    async with AsyncRemoteRegistry(
        f"{server.host}/team", options=OPTIONS, cache_dir=sandbox / "cache"
    ) as reg:
        await reg.fetch(f"model:{TAG}")


# ---- unsafe file names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    ["../escape.txt", "assets/../../escape.txt", "/tmp/absolute.txt", "nul\x00byte.txt", "C:/windows.txt"],
    ids=["dotdot", "nested-dotdot", "absolute", "nul", "drive"],
)
@pytest.mark.parametrize("operation", [_pull, _fetch], ids=["pull", "fetch"])
async def test_unsafe_layer_titles_are_refused_before_any_download(
    title: str, operation: Callable[..., Any], sandbox: Path
) -> None:
    hostile = HostileRegistry.serving_a_revision()
    hostile.add_layer(title, b"payload")
    with ScriptedServer(hostile.handle) as server:
        with pytest.raises(UnsafePath, match="refusing unsafe file name"):
            await operation(server, sandbox)
        assert not any(
            r.path.startswith(f"/v2/{REPOSITORY}/blobs/")
            and r.method == "GET"
            and r.path.endswith(hostile.manifest["layers"][-1]["digest"])
            for r in server.requests
        )
    assert not list((sandbox / "dest").rglob("*"))


async def test_cli_pull_with_a_dotdot_title_exits_7_with_one_line(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    hostile.add_layer("../../escape.txt", b"payload")
    with ScriptedServer(hostile.handle) as server:
        done = subprocess.run(
            [str(MSR), "pull", f"{server.host}/{REPOSITORY}:{TAG}", "--dir", str(sandbox / "dest")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == IntegrityError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: refusing unsafe file name '../../escape.txt'")
    assert done.stderr.count("\n") == 1


# ---- sizes ----------------------------------------------------------------------------------------


async def test_manifest_over_4_mib_is_refused(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    hostile.manifest["annotations"]["padding"] = "x" * (4 * 1024 * 1024 + 1)
    with ScriptedServer(hostile.handle) as server, pytest.raises(ContentTooLarge, match="4194304"):
        await _pull(server, sandbox)


async def test_huge_config_blob_is_refused_by_its_descriptor_without_reading_it(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    hostile.manifest["config"]["size"] = 10 * 1024**3
    with ScriptedServer(hostile.handle) as server:
        with pytest.raises(ContentTooLarge):
            await _pull(server, sandbox)
        assert not [r for r in server.requests if r.path.endswith(hostile.manifest["config"]["digest"])]


async def test_config_blob_longer_than_announced_is_cut_at_its_size(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    config_digest = hostile.manifest["config"]["digest"]
    sent: list[int] = []

    def endless_config(request: Request) -> Answer:
        body = hostile.blobs[config_digest] + b" " * (32 * 1024 * 1024)
        sent.append(len(body))
        return Answer(200, {"Content-Type": "application/octet-stream"}, body, until_close=True)

    hostile.overrides[f"/v2/{REPOSITORY}/blobs/{config_digest}"] = endless_config
    with ScriptedServer(hostile.handle) as server, pytest.raises(SizeMismatch):
        await _pull(server, sandbox)
    assert sent  # the server did offer 32 MiB; the client stopped at the announced size


# ---- digests --------------------------------------------------------------------------------------


async def test_unsupported_digest_algorithm_in_a_layer(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    hostile.add_layer("weights.bin", b"weights")
    hostile.manifest["layers"][-1]["digest"] = "md5:" + "a" * 32
    with ScriptedServer(hostile.handle) as server, pytest.raises(MsrOciError, match="md5") as caught:
        await _pull(server, sandbox)
    assert isinstance(caught.value, IntegrityError)  # the manifest is bad, not the caller's input
    assert not list((sandbox / "dest").rglob("*"))


async def test_blob_that_does_not_match_its_digest_leaves_no_file(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    layer = hostile.manifest["layers"][0]
    real = hostile.blobs[layer["digest"]]
    hostile.blobs[layer["digest"]] = bytes(b ^ 1 for b in real)  # same size, other bytes
    slow = hostile.manifest["layers"][1]
    # the other file is still downloading when the mismatch is found: its temp file must go too
    hostile.overrides[f"/v2/{REPOSITORY}/blobs/{slow['digest']}"] = lambda request: Answer(
        200, {}, hostile.blobs[slow["digest"]], pace=0.05, piece=16
    )
    with ScriptedServer(hostile.handle) as server, pytest.raises(DigestMismatch, match=layer["digest"]):
        await _pull(server, sandbox)
    assert not (sandbox / "dest" / layer["annotations"]["org.opencontainers.image.title"]).exists()
    assert not list((sandbox / "dest").rglob("*.part"))


async def test_manifest_by_tag_with_an_invalid_docker_content_digest(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()

    def garbled(request: Request) -> Answer:
        headers = {"Content-Type": MEDIA_TYPE_IMAGE_MANIFEST, "Docker-Content-Digest": "sha256:zz, junk"}
        return Answer(200, headers, hostile.manifest_bytes())

    hostile.overrides[f"/v2/{REPOSITORY}/manifests/"] = garbled
    # the registry's garbage is an integrity problem, not the user's bad input
    with (
        ScriptedServer(hostile.handle) as server,
        pytest.raises(IntegrityError, match="Docker-Content-Digest"),
    ):
        await _pull(server, sandbox)


async def test_manifest_that_is_not_json_is_an_integrity_error(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()

    def not_json(request: Request) -> Answer:
        return Answer(200, {"Content-Type": "application/octet-stream"}, b"\x00\xffnot json")

    hostile.overrides[f"/v2/{REPOSITORY}/manifests/"] = not_json
    with ScriptedServer(hostile.handle) as server, pytest.raises(IntegrityError):
        await _pull(server, sandbox)


# ---- tag paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("http://evil.example/v2/team/model/tags/list?n=1", "another origin"),
        ("/v2/team/model/tags/list", "already read"),
    ],
    ids=["other-origin", "loop"],
)
async def test_tag_link_headers_to_another_origin_or_in_a_loop(
    link: str, message: str, sandbox: Path
) -> None:
    hostile = HostileRegistry.serving_a_revision()

    def paged(request: Request) -> Answer:
        headers = {"Content-Type": "application/json", "Link": f'<{link}>; rel="next"'}
        return Answer(200, headers, json.dumps({"tags": [TAG]}).encode())

    hostile.overrides[f"/v2/{REPOSITORY}/tags/list"] = paged
    with ScriptedServer(hostile.handle) as server:
        async with AsyncRemoteRegistry(
            f"{server.host}/team", options=OPTIONS, cache_dir=sandbox / "cache"
        ) as reg:
            with pytest.raises(IntegrityError, match=message):
                await reg.versions("model")
        assert len(server.requests) <= 3


# ---- redirects and authentication ----------------------------------------------------------------


async def test_blob_redirect_to_another_host_does_not_carry_authorization(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()
    with ScriptedServer(hostile.handle) as bucket:

        async def registry(request: Request) -> Answer:
            if "authorization" not in request.headers:
                return Answer(401, {"WWW-Authenticate": 'Basic realm="hostile"'})
            if "/blobs/" in request.path:
                return Answer(307, {"Location": f"http://{bucket.host}{request.path}?signed=1"})
            return await hostile.handle(request)

        with ScriptedServer(registry) as server:
            options = RegistryOptions(username="alice", password="s3cret-pw", retries=1, timeout=5)
            await _pull(server, sandbox, options)
        assert (sandbox / "dest" / "model-definition.yaml").is_file()
        blob_requests = [r for r in bucket.requests if "/blobs/" in r.path]
        assert blob_requests
        for request in blob_requests:
            assert "authorization" not in request.headers
            assert "s3cret-pw" not in json.dumps(request.headers)


async def test_token_endpoint_returning_garbage_is_an_auth_error(sandbox: Path) -> None:
    async def handle(request: Request) -> Answer:
        if request.path == "/token":
            return Answer(200, {"Content-Type": "application/json"}, b"<html>garbage</html>")
        return Answer(401, {"WWW-Authenticate": f'Bearer realm="http://{server.host}/token",service="x"'})

    with ScriptedServer(handle) as server:
        with pytest.raises(AuthError, match="unreadable answer"):
            await _pull(server, sandbox)
        assert len(server.requests) <= 4


async def test_a_huge_token_answer_is_cut_at_the_cap_and_an_auth_error(sandbox: Path) -> None:
    huge = b'{"token": "' + b"a" * (8 * 1024 * 1024) + b'"}'

    async def handle(request: Request) -> Answer:
        if request.path == "/token":
            return Answer(200, {"Content-Type": "application/json"}, huge)
        return Answer(401, {"WWW-Authenticate": f'Bearer realm="http://{server.host}/token",service="x"'})

    with ScriptedServer(handle) as server, pytest.raises(AuthError, match="unreadable answer"):
        await _pull(server, sandbox)


async def test_endless_401s_end_in_unauthorized_after_a_bounded_number_of_requests(sandbox: Path) -> None:
    async def handle(request: Request) -> Answer:
        return Answer(401, {"WWW-Authenticate": 'Basic realm="never"'})

    with ScriptedServer(handle) as server:
        options = RegistryOptions(username="bob", password="hunter2-pw", retries=3, timeout=5)
        with pytest.raises(Unauthorized) as caught:
            await _pull(server, sandbox, options)
        assert len(server.requests) <= 3
    assert "hunter2-pw" not in str(caught.value)
    assert "bob" not in str(caught.value) or "credentials" in str(caught.value)


async def test_a_body_cut_short_is_a_network_error_after_bounded_retries(sandbox: Path) -> None:
    hostile = HostileRegistry.serving_a_revision()

    def cut(request: Request) -> Answer:
        body = hostile.manifest_bytes()
        headers = {"Content-Type": MEDIA_TYPE_IMAGE_MANIFEST}
        return Answer(200, headers, body, cut_at=len(body) // 2, reset=True)

    hostile.overrides[f"/v2/{REPOSITORY}/manifests/"] = cut
    with ScriptedServer(hostile.handle) as server:
        with pytest.raises(NetworkError, match="broke off"):
            await _pull(server, sandbox)
        assert len(server.requests) <= 1 + OPTIONS.retries


# ---- transient registry states (seen from distribution under concurrent writers) ----------------


async def test_manifest_put_answered_digest_invalid_is_sent_again_a_bounded_number_of_times() -> None:
    from support import manifest_bytes

    descriptor, data = manifest_bytes([])
    answers = [400, 400, 201]

    async def handle(request: Request) -> Answer:
        status = answers.pop(0) if answers else 400
        body = b'{"errors":[{"code":"DIGEST_INVALID","message":"invalid"}]}' if status == 400 else b""
        return Answer(status, {"Docker-Content-Digest": descriptor.digest} if status == 201 else {}, body)

    with ScriptedServer(handle) as server:
        async with Registry(server.host, OPTIONS) as client:
            await client.repository("r").push_manifest(descriptor, data, tag="v1")
            assert len(server.requests) == 3
            with pytest.raises(IntegrityError, match="DIGEST_INVALID"):
                await client.repository("r").push_manifest(descriptor, data, tag="v1")
            assert len(server.requests) == 6


async def test_a_500_on_a_read_is_retried() -> None:
    hostile = HostileRegistry.serving_a_revision()
    failures = [500]

    async def handle(request: Request) -> Answer:
        if failures:
            failures.pop()
            return Answer(500, {}, b'{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}')
        return await hostile.handle(request)

    with ScriptedServer(handle) as server:
        async with Registry(server.host, OPTIONS) as client:
            descriptor, _, _ = await client.repository(REPOSITORY).fetch_manifest(TAG)
        assert descriptor.digest == hostile.manifest_digest
        assert len(server.requests) == 2
