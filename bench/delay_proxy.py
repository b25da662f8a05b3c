"""A TCP proxy that adds link latency: a fixed one-way delay each way, so every request costs one
round trip and every new connection one more (the TCP handshake), like a registry far away.

Run as its own process so its event loop never competes with a contender measured in-process:

    python -m bench.delay_proxy UPSTREAM_HOST:PORT --rtt-ms 10

It prints ``127.0.0.1:PORT`` on the first line of stdout once it listens, and serves until stdin
closes or it gets SIGTERM. Bandwidth is not shaped: bytes are forwarded as soon as their delay has
passed, in large reads, with a bounded queue per direction (back-pressure, bounded memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

READ_SIZE = 1024 * 1024
#: reads held per direction before the proxy stops reading (bounded memory: 64 MiB)
QUEUE_LIMIT = 64


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, not_before: float
) -> None:
    """Forward ``reader`` to ``writer``, each read delivered ``delay`` seconds after it arrived (and
    not before ``not_before``, which models the handshake a new connection costs)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_LIMIT)

    async def receive() -> None:
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError):
                data = b""
            await queue.put((max(loop.time(), not_before) + delay, data))
            if not data:
                return

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(ConnectionError, OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    receiving = asyncio.ensure_future(receive())
    try:
        await deliver()
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await receiving


class DelayProxy:
    def __init__(self, upstream: str, rtt: float) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.one_way = rtt / 2
        self.rtt = rtt

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        # the client's first bytes would leave only after SYN / SYN-ACK: one round trip after connect
        handshake_done = loop.time() + self.rtt
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                _pump(client_reader, upstream_writer, self.one_way, handshake_done),
                _pump(upstream_reader, client_writer, self.one_way, handshake_done),
            )
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # a connection going away (or the proxy stopping) ends its pumps
        finally:
            for writer in (upstream_writer, client_writer):
                with contextlib.suppress(ConnectionError, OSError):
                    writer.close()


async def serve(upstream: str, rtt_ms: float) -> None:
    proxy = DelayProxy(upstream, rtt_ms / 1000)
    # Python 3.11's start_server keeps no reference to the task of a coroutine callback, so a busy
    # proxy's pending handlers could be garbage-collected mid-connection: hold them here
    handlers: set[asyncio.Task[None]] = set()

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(proxy.handle(reader, writer))
        handlers.add(task)
        task.add_done_callback(handlers.discard)

    server = await asyncio.start_server(accept, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    print(f"127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def finish() -> None:
        if not stop.done():
            stop.set_result(None)

    loop.add_signal_handler(signal.SIGTERM, finish)
    # the parent holds our stdin open; when it goes away, so do we
    loop.add_reader(sys.stdin.fileno(), finish)
    async with server:
        await stop


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delay_proxy", description=__doc__)
    parser.add_argument("upstream", help="HOST:PORT to forward to")
    parser.add_argument("--rtt-ms", type=float, required=True, help="round-trip time to add")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.upstream, args.rtt_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
