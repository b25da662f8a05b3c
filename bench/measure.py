"""Timing, peak memory of child processes, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import BenchError

#: no single contender run may take longer than this (a hung peer must not hang the bench)
PROCESS_TIMEOUT = 900.0
GNU_TIME = Path("/usr/bin/time")


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    #: the child's peak resident set (its own and its waited-for children's), from ``wait4``
    peak_rss: int
    stdout: bytes


def run_process(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None
) -> ProcessRun:
    """Run a command to completion: wall time around it and its peak RSS.

    The peak comes from GNU time (``/usr/bin/time -f %M``) when installed: a child forked straight
    from this (large) Python process would inherit its high-water mark across ``exec``. Without
    GNU time, ``wait4``'s figure is used and is an upper bound.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile() as rss,
    ):
        command = list(argv)
        if GNU_TIME.is_file():
            command = [str(GNU_TIME), "-f", "%M", "-o", rss.name, *command]
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        watchdog = threading.Timer(PROCESS_TIMEOUT, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        reported = rss.read().decode().split()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise BenchError(f"{' '.join(argv[:3])} ... exited {process.returncode}: {' | '.join(tail)}")
    # both report KiB on Linux
    peak_kib = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
    return ProcessRun(seconds=seconds, peak_rss=peak_kib * 1024, stdout=stdout)


@dataclass
class Samples:
    """Per-round observations of one contender doing one operation."""

    seconds: list[float] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)

    def add(self, seconds: float, *, peak_rss: int | None = None, requests: int | None = None) -> None:
        self.seconds.append(seconds)
        if peak_rss is not None:
            self.peak_rss.append(peak_rss)
        if requests is not None:
            self.requests.append(requests)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def max_rss(self) -> int | None:
        return max(self.peak_rss) if self.peak_rss else None

    @property
    def median_requests(self) -> float | None:
        return statistics.median(self.requests) if self.requests else None


def rotated(items: Sequence[str], round_index: int) -> list[str]:
    """Contenders in a different order each round, so none always runs first (cold) or last."""
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]
