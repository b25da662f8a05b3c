"""A counting HTTP proxy in front of a real registry (this module holds no tests).

``CountingProxy`` forwards every request to the registry and records, per request, its method, path,
the client connection it came on and its **sequential depth**: 1 + the greatest depth among the
requests already answered when it arrived. A client that sends requests one after the other reaches
depth N after N requests; a client that sends them together stays at depth 1. Answers are held back
until no request has come in for ``hold`` seconds, so requests a client sends together are all in
before any of them is answered, and such a burst is answered as one: a request that comes in while the
burst's answers are being written belongs to the next burst, never to the one before (the depth is then
exact; nothing is timed or asserted about time).

Connections are kept alive (HTTP/1.1), so ``connections`` counts the TCP connections a client opened.

``single_post=True`` makes the registry behind the proxy accept the distribution-spec's single-request
monolithic upload (``POST /v2/<name>/blobs/uploads/?digest=<digest>`` with the blob as the body,
answered ``201``), which distribution 2.8 does not implement: the proxy completes it upstream as
``POST`` + ``PUT`` and answers the client once, like a registry that has the feature.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
from faults import Answer, Request, ScriptedServer, _read_body

T = TypeVar("T")

_HOP_HEADERS = frozenset(
    {"content-length", "connection", "transfer-encoding", "content-encoding", "keep-alive"}
)


@dataclass
class _Burst:
    """Requests that came in together, answered together once no request has come for ``hold``."""

    generation: int
    depths: list[int]
    released: bool = False


@dataclass
class Seen(Request):
    """A request as the proxy saw it: on which connection, at which depth, and the answer's status."""

    connection: int
    depth: int
    status: int

    @property
    def kind(self) -> str:
        """``tags``, ``manifests``, ``blobs``, ``uploads`` or the path (for ``/v2/``)."""
        parts = self.path.split("/")
        if "uploads" in parts:
            return "uploads"
        for kind in ("tags", "manifests", "blobs"):
            if kind in parts:
                return kind
        return self.path


class CountingProxy(ScriptedServer):
    """``with CountingProxy(registry.host) as proxy:`` serves on ``proxy.host`` until the block ends."""

    def __init__(self, upstream: str, *, hold: float = 0.2, single_post: bool = False) -> None:
        super().__init__(self._answer)
        self.upstream = upstream
        self.hold = hold
        self.single_post = single_post
        self.seen: list[Seen] = []
        self.connections = 0
        #: per connection: the depth already answered when the client opened it
        self.opened_after: dict[int, int] = {}
        self._answered_depth = 0
        self._last_arrival = 0.0
        self._burst: _Burst | None = None
        self._generation = 0
        self._ids = itertools.count(1)
        self._client: httpx.AsyncClient | None = None

    # ---- what the tests read ------------------------------------------------------------------------

    @property
    def requests_seen(self) -> int:
        return len(self.seen)

    @property
    def depth(self) -> int:
        """Sequential round trips of everything seen since the last ``reset``."""
        return max((s.depth for s in self.seen), default=0)

    def kinds(self) -> Counter[str]:
        return Counter(f"{s.method} {s.kind}" for s in self.seen)

    def reset(self) -> None:
        """Start counting afresh (connections already open stay open and are not counted again)."""
        self.seen = []
        self.connections = 0
        self.opened_after = {}
        self._answered_depth = 0
        self._burst = None
        self._generation += 1

    async def on_stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # ---- serving: keep-alive, each request counted with its depth ------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = next(self._ids)
        self.connections += 1
        self.opened_after[connection] = self._answered_depth
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed an idle connection
                method, target, _ = head[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)
                }
                request = Request(method, target, headers, await _read_body(reader, headers))
                depth = self._answered_depth + 1
                if self._burst is None:
                    self._burst = _Burst(self._generation, [])
                burst = self._burst
                burst.depths.append(depth)
                self._last_arrival = loop.time()
                answer = await self.handler(request)
                self.seen.append(
                    Seen(method, target, headers, request.body, connection, depth, answer.status)
                )
                # answer once no request has come in for ``hold`` seconds: a burst is all in by then
                while not burst.released and (wait := self._last_arrival + self.hold - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not burst.released:
                    # the whole burst is answered from here on, at once: a request that needs one of
                    # its answers can only come after it, and starts the next burst
                    burst.released = True
                    self._burst = None
                    if burst.generation == self._generation:  # not counted before a ``reset``
                        self._answered_depth = max(self._answered_depth, *burst.depths)
                lines = [f"HTTP/1.1 {answer.status} X", *(f"{k}: {v}" for k, v in answer.headers.items())]
                lines.append(f"Content-Length: {len(answer.body)}")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
                if method != "HEAD":
                    writer.write(answer.body)
                await writer.drain()
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()

    async def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60)
        # the proxy's Host goes upstream, so the registry's Location headers point back through it
        sent = {k: v for k, v in headers.items() if k not in _HOP_HEADERS}
        parts = urlsplit(target)  # a Location the registry gave is absolute, pointing at the proxy
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self._client.request(method, f"http://{self.upstream}{path}", headers=sent, content=body)

    async def _answer(self, request: Request) -> Answer:
        method, target, headers, body = request.method, request.target, request.headers, request.body
        query = parse_qs(urlsplit(target).query)
        single = (
            self.single_post
            and method == "POST"
            and urlsplit(target).path.endswith("/blobs/uploads/")
            and "digest" in query
            and "mount" not in query
        )
        if single:
            response = await self._single_post(target, headers, body, query["digest"][0])
        else:
            response = await self._forward(method, target, headers, body)
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
        return Answer(response.status_code, kept, response.content)

    async def _single_post(
        self, target: str, headers: dict[str, str], body: bytes, digest: str
    ) -> httpx.Response:
        path = urlsplit(target).path
        started = await self._forward("POST", path, {**headers, "content-length": "0"}, b"")
        location = started.headers.get("Location")
        if started.status_code != 202 or not location:
            return started
        separator = "&" if "?" in location else "?"
        return await self._forward("PUT", f"{location}{separator}digest={digest}", headers, body)
