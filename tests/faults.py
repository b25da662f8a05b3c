"""Small real HTTP servers for fault and hostile-registry tests (this module holds no tests).

``ScriptedServer`` is a minimal HTTP/1.1 server on 127.0.0.1 (one request per connection) running its
own event loop in a thread, so async tests, sync tests and subprocesses under test can all talk to it.
Its answers come from an async handler and can misbehave on purpose: cut the body short, reset the
connection, pace the body slowly.

``FaultProxy`` sits in front of a real registry and injects faults chosen by a seeded ``FaultPlan``:
connection reset mid-body, delay, 503, 429 with Retry-After, truncated body, flipped bytes and a wrong
``Docker-Content-Digest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

T = TypeVar("T")

#: a body this much larger than anything a test sends is refused by the server (bounded memory)
MAX_REQUEST_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: send no Content-Length and end the body by closing the connection
    until_close: bool = False
    #: announce the whole body but send only this many bytes, then close (a truncated body)
    cut_at: int | None = None
    #: close with a TCP reset (RST) instead of a clean FIN when the body is cut
    reset: bool = False
    #: seconds to wait between body pieces of ``piece`` bytes (a slow server)
    pace: float = 0.0
    piece: int = 64 * 1024
    #: after the first piece of the body, wait until this is set (a transfer stalled mid-body)
    hold: threading.Event | None = None


Handler = Callable[[Request], Awaitable[Answer]]


class ScriptedServer:
    """``with ScriptedServer(handler) as server:`` serves on ``server.host`` until the block ends."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls  # a server context: serve HTTPS instead of plain HTTP
        self.requests: list[Request] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._port}"

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)

        self._server = self.call(start())
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aenter__(self) -> ScriptedServer:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        # connections still being served (a slow body, a client that went away) end here, not later
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.on_stop()

    async def on_stop(self) -> None:
        """Release what a subclass opened on the server's loop."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
            body = await _read_body(reader, headers)
            request = Request(method, target, headers, body)
            self.requests.append(request)
            answer = await self.handler(request)
            await _write_answer(writer, method, answer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            total += size
            if total > MAX_REQUEST_BODY:
                raise ValueError("request body too large for a test server")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0"))
    if length > MAX_REQUEST_BODY:
        raise ValueError("request body too large for a test server")
    return await reader.readexactly(length)


async def _write_answer(writer: asyncio.StreamWriter, method: str, answer: Answer) -> None:
    lines = [f"HTTP/1.1 {answer.status} X", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in answer.headers.items()]
    if not answer.until_close:
        lines.append(f"Content-Length: {len(answer.body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    body = b"" if method == "HEAD" else answer.body
    if answer.cut_at is not None:
        body = body[: answer.cut_at]
    for start in range(0, len(body), answer.piece):
        writer.write(body[start : start + answer.piece])
        await writer.drain()
        if answer.pace:
            await asyncio.sleep(answer.pace)
        while answer.hold is not None and not answer.hold.is_set():
            await asyncio.sleep(0.01)
    await writer.drain()
    if answer.cut_at is not None and answer.reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER with a zero timeout makes close() send RST: the peer sees "connection reset"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---- the fault proxy ----------------------------------------------------------------------------

#: every fault the proxy can inject; "ok" forwards untouched
FAULTS = ("reset", "delay", "503", "429", "truncate", "flip", "wrong-digest")
#: faults answered without forwarding: the registry never sees the request
_SHORT_CIRCUIT = {"503", "429"}


@dataclass
class FaultPlan:
    """Which fault each request gets: a seeded choice, or a fixed script for the first requests."""

    seed: int = 0
    rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    script: list[str] = field(default_factory=list)
    #: only requests whose method is in this set get random faults (all when empty)
    methods: frozenset[str] = frozenset()
    delay: float = 0.02

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.injected: Counter[str] = Counter()

    def choose(self, request: Request) -> str:
        if self.script:
            return self.script.pop(0)
        if self.methods and request.method not in self.methods:
            return "ok"
        if self.rate and self._random.random() < self.rate:
            return self._random.choice(self.faults)
        return "ok"


_ERROR_BODY = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'


def _flip_one_byte(body: bytes, rng: random.Random) -> bytes:
    if not body:
        return body
    at = rng.randrange(len(body))
    return body[:at] + bytes([body[at] ^ 0x5A]) + body[at + 1 :]


class FaultProxy(ScriptedServer):
    """Forwards to ``upstream`` (a real registry), injecting the faults ``plan`` picks.

    Faults that need a response (reset, truncate, flip, wrong digest) are applied after forwarding, so
    the registry did act on the request: exactly the case where a client must not assume failure
    means nothing happened.
    """

    def __init__(self, upstream: str, plan: FaultPlan | None = None, *, pace: float = 0.0) -> None:
        super().__init__(self._handle)
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        #: pace every forwarded body (seconds per 64 KiB piece): a slow link
        self.pace = pace
        self._client: httpx.AsyncClient | None = None

    async def on_stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _forward(self, request: Request) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=60)
        # keep the proxy's Host so the registry's Location headers point back through the proxy
        skip = ("content-length", "connection", "transfer-encoding")
        headers = {k: v for k, v in request.headers.items() if k not in skip}
        return await self._client.request(
            request.method, f"http://{self.upstream}{request.target}", headers=headers, content=request.body
        )

    async def _handle(self, request: Request) -> Answer:
        fault = self.plan.choose(request)
        if fault != "ok":
            self.plan.injected[fault] += 1
        if fault == "503":
            return Answer(503, {"Content-Type": "application/json"}, _ERROR_BODY)
        if fault == "429":
            return Answer(429, {"Content-Type": "application/json", "Retry-After": "0"}, _ERROR_BODY)
        if fault == "delay":
            await asyncio.sleep(self.plan.delay)
        response = await self._forward(request)
        keep = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "content-encoding")
        }
        answer = Answer(response.status_code, keep, response.content, pace=self.pace)
        body_length = len(answer.body) if request.method != "HEAD" else 0
        if fault in ("reset", "truncate"):
            answer.cut_at = body_length // 2
            answer.reset = fault == "reset"
        elif fault == "flip" and request.method != "HEAD":
            answer.body = _flip_one_byte(answer.body, self.plan._random)
        elif fault == "wrong-digest":
            answer.headers = {k: v for k, v in keep.items() if k.lower() != "docker-content-digest"}
            answer.headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
        return answer


def fault_counts(plan: FaultPlan) -> dict[str, int]:
    return {name: plan.injected[name] for name in FAULTS}
