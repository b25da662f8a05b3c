"""Faults and hostile shapes from small real socket servers: retries, paging, redirects, size caps.

The servers come from tests/faults.py: ``ScriptedServer`` answers from a handler; ``FaultProxy`` fails
the first requests (a scripted ``FaultPlan``) and then forwards to a real registry.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from faults import Answer, FaultPlan, FaultProxy, Handler, Request, ScriptedServer
from support import blob, push_artifact

from msr_oci.oci import ContentTooLarge, DigestMismatch, IntegrityError, NetworkError
from msr_oci.oci.content import MEDIA_TYPE_IMAGE_INDEX, MEDIA_TYPE_IMAGE_MANIFEST
from msr_oci.oci.remote import Registry, RegistryOptions

# ---- retries --------------------------------------------------------------------------------------


async def test_retries_503_then_429_with_retry_after_then_succeeds(registry) -> None:
    with FaultProxy(registry.host, FaultPlan(script=["503", "503", "429"])) as proxy:
        options = RegistryOptions(retries=3, backoff=0.01)
        async with Registry(proxy.host, options) as client:
            repo = client.repository(registry.unique_repository("retry"))
            descriptor, _ = await push_artifact(repo, {"a": b"retried"}, tag="v1")
            assert (await repo.resolve("v1")).digest == descriptor.digest
            first = proxy.requests[0]
            # the first request (HEAD of the config blob) was sent four times: three faults, one success
            assert [(r.method, r.path) for r in proxy.requests[:4]] == [(first.method, first.path)] * 4
            assert client.request_count == len(proxy.requests)


async def test_retries_are_bounded(registry) -> None:
    options = RegistryOptions(retries=2, backoff=0.01)
    with FaultProxy(registry.host, FaultPlan(script=["503"] * 10)) as proxy:
        async with Registry(proxy.host, options) as client:
            with pytest.raises(NetworkError, match="after retries"):
                await client.repository("a/b").exists(blob(b"x"))
        assert len(proxy.requests) == 3


async def test_unreachable_registry_is_a_network_error_naming_plain_http() -> None:
    async with ScriptedServer(lambda r: asyncio.sleep(0, Answer(200))) as server:
        host = server.host
    async with Registry(host, RegistryOptions(retries=1, backoff=0.01)) as client:
        with pytest.raises(NetworkError, match="plain HTTP") as caught:
            await client.ping()
        assert host in str(caught.value)
        assert client.request_count == 2


# ---- tag pagination -------------------------------------------------------------------------------


def _paging_handler(tags: list[str], next_link: Callable[[str, str], str]) -> Handler:
    async def handle(request: Request) -> Answer:
        n = int(request.query.get("n", ["1000"])[0])
        last = request.query.get("last", [""])[0]
        page = [t for t in tags if t > last][:n]
        headers = {"Content-Type": "application/json"}
        if page and page[-1] != tags[-1]:
            headers["Link"] = f'<{next_link(page[-1], str(n))}>; rel="next"'
        return Answer(200, headers, json.dumps({"name": "r", "tags": page}).encode())

    return handle


async def test_250_tags_paged_by_100_follow_link_headers() -> None:
    tags = [f"t{i:03d}" for i in range(250)]
    handler = _paging_handler(tags, lambda last, n: f"/v2/r/tags/list?last={last}&n={n}")
    async with ScriptedServer(handler) as server, Registry(server.host) as client:
        listed = [t async for t in client.repository("r").list_tags(page_size=100)]
        assert listed == tags
        assert client.request_count == 3
        assert [r.query["n"] for r in server.requests] == [["100"]] * 3


async def test_tag_link_to_another_origin_is_refused() -> None:
    handler = _paging_handler(["a", "b"], lambda last, n: f"http://evil.example/v2/r/tags/list?last={last}")
    async with ScriptedServer(handler) as server, Registry(server.host) as client:
        with pytest.raises(IntegrityError, match="another origin"):
            _ = [t async for t in client.repository("r").list_tags(page_size=1)]
        assert client.request_count == 1


async def test_tag_link_loop_is_detected() -> None:
    handler = _paging_handler(["a", "b"], lambda last, n: "/v2/r/tags/list?n=1")
    async with ScriptedServer(handler) as server, Registry(server.host) as client:
        with pytest.raises(IntegrityError, match="already read"):
            _ = [t async for t in client.repository("r").list_tags(page_size=1)]


# ---- manifests: size cap and digest checks -------------------------------------------------------


def _manifest_handler(body: bytes, headers: dict[str, str], until_close: bool = False) -> Handler:
    async def handle(request: Request) -> Answer:
        return Answer(200, {"Content-Type": MEDIA_TYPE_IMAGE_MANIFEST, **headers}, body, until_close)

    return handle


@pytest.mark.parametrize("until_close", [False, True], ids=["content-length", "no-length"])
async def test_manifest_over_4_mib_is_refused(until_close: bool) -> None:
    body = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    async with (
        ScriptedServer(_manifest_handler(body, {}, until_close)) as server,
        Registry(server.host) as client,
    ):
        with pytest.raises(ContentTooLarge):
            await client.repository("r").fetch_manifest("v1")


async def test_manifest_by_tag_with_a_wrong_docker_content_digest() -> None:
    body = b'{"schemaVersion":2}'
    lying = {"Docker-Content-Digest": blob(b"something else").digest}
    async with ScriptedServer(_manifest_handler(body, lying)) as server, Registry(server.host) as client:
        with pytest.raises(DigestMismatch):
            await client.repository("r").fetch_manifest("v1")
        with pytest.raises(DigestMismatch):
            await client.repository("r").fetch_manifest(blob(body).digest.replace("0", "1", 1))


# ---- redirects ------------------------------------------------------------------------------------


async def test_blob_redirect_to_another_origin_drops_authorization() -> None:
    data = b"blob behind a redirect"
    descriptor = blob(data)

    async def storage(request: Request) -> Answer:
        return Answer(200, {"Content-Type": "application/octet-stream"}, data)

    async with ScriptedServer(storage) as bucket:

        async def registry(request: Request) -> Answer:
            if "authorization" not in request.headers:
                return Answer(401, {"WWW-Authenticate": 'Basic realm="test"'})
            return Answer(307, {"Location": f"http://{bucket.host}/bucket/object?sig=abc"})

        async with ScriptedServer(registry) as server:
            options = RegistryOptions(username="u", password="p")
            async with Registry(server.host, options) as client:
                assert await client.repository("r").fetch_bytes(descriptor) == data
        assert server.requests[-1].headers["authorization"].startswith("Basic ")
        assert [r.target for r in bucket.requests] == ["/bucket/object?sig=abc"]
        assert "authorization" not in bucket.requests[0].headers


async def test_upload_location_query_is_kept_when_adding_the_digest() -> None:
    data = b"upload me"
    descriptor = blob(data)

    async def handle(request: Request) -> Answer:
        if request.method == "HEAD":
            return Answer(404)
        if request.method == "POST":
            return Answer(202, {"Location": "/v2/r/blobs/uploads/abc?_state=xyz"})
        return Answer(201, {"Docker-Content-Digest": descriptor.digest})

    async with ScriptedServer(handle) as server, Registry(server.host) as client:
        await client.repository("r").push(descriptor, data)
    put = server.requests[-1]
    assert put.method == "PUT" and put.body == data
    assert put.query == {"_state": ["xyz"], "digest": [descriptor.digest]}


# ---- referrers API and concurrency ---------------------------------------------------------------


async def test_referrers_api_answer_is_filtered_client_side() -> None:
    subject = blob(b"subject", MEDIA_TYPE_IMAGE_MANIFEST)
    entries = [
        {
            "mediaType": MEDIA_TYPE_IMAGE_MANIFEST,
            "digest": blob(bytes([i])).digest,
            "size": 1,
            "artifactType": kind,
        }
        for i, kind in enumerate(["application/x.sig", "application/x.sbom"])
    ]
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_IMAGE_INDEX, "manifests": entries}
    ).encode()

    async def handle(request: Request) -> Answer:
        return Answer(200, {"Content-Type": MEDIA_TYPE_IMAGE_INDEX}, index)

    async with ScriptedServer(handle) as server, Registry(server.host) as client:
        found = await client.repository("r").referrers(subject, artifact_type="application/x.sbom")
        assert [d.digest for d in found] == [entries[1]["digest"]]
        assert server.requests[0].path == f"/v2/r/referrers/{subject.digest}"
        assert server.requests[0].query["artifactType"] == ["application/x.sbom"]


async def test_concurrency_limit_caps_requests_in_flight() -> None:
    in_flight = peak = 0

    async def handle(request: Request) -> Answer:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return Answer(404)

    async with (
        ScriptedServer(handle) as server,
        Registry(server.host, RegistryOptions(max_concurrency=2)) as client,
    ):
        repo = client.repository("r")
        results = await asyncio.gather(*(repo.exists(blob(bytes([i]))) for i in range(8)))
        assert results == [False] * 8
    assert peak <= 2  # without the limit all eight would be in flight together
