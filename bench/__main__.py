"""``python -m bench``: start a registry, run every scenario with alternating contenders, print the
table and write it into ``docs/performance.md``."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from bench.big_file import BigFileBench
from bench.harness import ROOT, BenchError, isolated_environment, start_plain_registry
from bench.listing import ListingBench
from bench.report import MIB, Row, machine_description, markdown_section, text_table, write_markdown
from bench.small_revision import NAMESPACE as SMALL_NAMESPACE
from bench.small_revision import PULL_NAME, SmallRevisionBench
from bench.startup import run_startup

SCENARIOS = ("small", "startup", "listing", "big")


def _size(text: str) -> int:
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB}
    suffix = text[-1].lower()
    return int(float(text[:-1]) * units[suffix]) if suffix in units else int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--big-size", type=_size, default=1024 * MIB, help="large file size (e.g. 256M, 1G)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the large-file transfers")
    parser.add_argument("--small-rounds", type=int, default=15, help="rounds of the small-revision runs")
    parser.add_argument("--list-count", type=int, default=1000, help="revisions in the listing repository")
    parser.add_argument("--list-rounds", type=int, default=3, help="rounds of the listing runs")
    parser.add_argument("--startup-runs", type=int, default=10, help="runs of each start-up command")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {SCENARIOS}")
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
    rows: list[Row] = []
    try:
        if wanted & {"small", "startup"}:
            small = SmallRevisionBench(scratch, server.host)
            await small.setup()
            if "small" in wanted:
                print("small revision: push, cold pull, fetch", flush=True)
                rows += await small.run(args.small_rounds)
            if "startup" in wanted:
                print("start-up", flush=True)
                reference = f"{SMALL_NAMESPACE}/{PULL_NAME}:1.0.0"
                rows += run_startup(server.host, reference, env, args.startup_runs)
            small.cleanup()
        if "listing" in wanted:
            listing = ListingBench(scratch, server.host, args.list_count)
            print(f"listing: publishing {args.list_count} revisions (setup, not measured)", flush=True)
            await listing.setup()
            rows += await listing.run(args.list_rounds)
            listing.cleanup()
        if "big" in wanted:
            print(f"large file: {args.big_size / MIB:.0f} MiB x {args.rounds} rounds", flush=True)
            big = BigFileBench(scratch, server.host, env, args.big_size)
            try:
                big.setup()
                rows += big.run(args.rounds)
            finally:
                big.cleanup()
    finally:
        server.stop()
    return rows


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="msr-bench-", dir=args.scratch))
    try:
        machine = machine_description(scratch)
        rows = asyncio.run(_run(args, scratch))
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
