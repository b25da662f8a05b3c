"""``python -m bench``: start a registry, run every scenario with alternating contenders at every link
round-trip time (0 ms: straight to the registry on loopback; others through ``bench.delay_proxy``),
print the tables and write them into ``docs/performance.md``."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from bench.big_file import BigFileBench
from bench.harness import ROOT, BenchError, LinkProxy, isolated_environment, start_plain_registry
from bench.listing import ListingBench
from bench.listing_scale import ScaleListingBench
from bench.report import (
    MIB,
    Row,
    load_average,
    machine_description,
    markdown_section,
    text_table,
    write_markdown,
)
from bench.small_revision import NAMESPACE as SMALL_NAMESPACE
from bench.small_revision import PULL_NAME, SmallRevisionBench
from bench.startup import run_startup

SCENARIOS = ("small", "startup", "listing", "big", "list10k")
#: run when --only is not given (list10k takes minutes of setup: ask for it)
DEFAULT_SCENARIOS = ("small", "startup", "listing", "big")


def _size(text: str) -> int:
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB}
    suffix = text[-1].lower()
    return int(float(text[:-1]) * units[suffix]) if suffix in units else int(text)


def _rtts(text: str) -> list[float]:
    values = sorted({float(part) for part in text.split(",") if part.strip()})
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError("give round-trip times in ms, e.g. 0,10,50")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--big-size", type=_size, default=1024 * MIB, help="large file size (e.g. 256M, 1G)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the large-file transfers")
    parser.add_argument("--small-rounds", type=int, default=15, help="rounds of the small-revision runs")
    parser.add_argument("--list-count", type=int, default=1000, help="revisions in the listing repository")
    parser.add_argument("--scale-count", type=int, default=10_000, help="revisions for list10k")
    parser.add_argument("--list-rounds", type=int, default=3, help="rounds of the listing runs")
    parser.add_argument("--startup-runs", type=int, default=10, help="runs of each start-up command")
    parser.add_argument(
        "--only", default=",".join(DEFAULT_SCENARIOS), help=f"comma-separated subset of {SCENARIOS}"
    )
    parser.add_argument(
        "--rtt",
        type=_rtts,
        default=[0.0, 10.0],
        help="link round-trip times in ms, comma-separated (default 0,10); 0 is loopback without a proxy",
    )
    parser.add_argument("--scratch", type=Path, default=None, help="directory for temporary files")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "performance.md", help="Markdown file to update"
    )
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    return parser


async def _run(args: argparse.Namespace, scratch: Path) -> list[Row]:
    wanted = set(args.only.split(","))
    unknown = wanted - set(SCENARIOS)
    if unknown:
        raise BenchError(f"unknown scenario(s) {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    env = isolated_environment(scratch)
    print("starting docker-registry", flush=True)
    server = start_plain_registry(scratch / "registry")
    proxies: list[LinkProxy] = []
    rows: list[Row] = []
    small = SmallRevisionBench(scratch, server.host)
    listing = ListingBench(scratch, server.host, args.list_count)
    scale = ScaleListingBench(scratch, server.host, args.scale_count)
    big = BigFileBench(scratch, server.host, env, args.big_size)
    try:
        # content is published once, straight to the registry; every link then reads the same
        if wanted & {"small", "startup"}:
            await small.setup()
        if "listing" in wanted:
            print(f"listing: publishing {args.list_count} revisions (setup, not measured)", flush=True)
            await listing.setup()
        if "list10k" in wanted:
            print(f"list10k: pushing {args.scale_count} revisions (setup, not measured)", flush=True)
            await scale.setup()
        if "big" in wanted:
            big.setup()
        for rtt in args.rtt:
            host = server.host
            if rtt > 0:
                proxies.append(LinkProxy(server.host, rtt))
                host = proxies[-1].host
            print(f"== link round-trip time {rtt:g} ms ({host})", flush=True)
            if "small" in wanted:
                print("small revision: push, cold pull, fetch", flush=True)
                rows += await small.run(host, args.small_rounds, rtt)
            if "startup" in wanted:
                print("start-up", flush=True)
                reference = f"{SMALL_NAMESPACE}/{PULL_NAME}:1.0.0"
                rows += run_startup(host, reference, env, args.startup_runs, rtt)
            if "listing" in wanted:
                print(f"listing {args.list_count} revisions", flush=True)
                rows += await listing.run(host, args.list_rounds, rtt)
            if "list10k" in wanted:
                print(f"listing {args.scale_count} revisions with a sharded index", flush=True)
                rows += await scale.run(host, args.list_rounds, rtt)
            if "big" in wanted:
                print(f"large file: {args.big_size / MIB:.0f} MiB x {args.rounds} rounds", flush=True)
                rows += big.run(host, args.rounds, rtt)
    finally:
        for proxy in proxies:
            proxy.stop()
        small.cleanup()
        listing.cleanup()
        scale.cleanup()
        big.cleanup()
        server.stop()
    return rows


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="msr-bench-", dir=args.scratch))
    try:
        machine = machine_description(scratch)
        rows = asyncio.run(_run(args, scratch))
        machine.append(("load average at end (1/5/15 min)", load_average()))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(text_table(rows))
    if not args.no_write:
        command = shlex.join([".venv/bin/python", "-m", "bench", *argv])
        write_markdown(args.output, markdown_section(rows, machine, command))
        print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
