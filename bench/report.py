"""The results table (terminal and Markdown), targets, and the machine it was measured on."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import ROOT
from bench.measure import Samples

BEGIN_MARK = "<!-- bench:begin (written by `python -m bench`; edit outside these marks) -->"
END_MARK = "<!-- bench:end -->"
MIB = 1024 * 1024
#: the link the issue sets the network targets for (small push/pull, listing)
TARGET_RTT_MS = 10.0


@dataclass(frozen=True)
class Row:
    scenario: str
    contender: str
    samples: Samples
    #: bytes moved per run, for a throughput column
    size: int | None = None
    #: rows this one's speed is compared with (``their median / ours``: above 1 is faster)
    baselines: tuple[Row, ...] = ()
    #: e.g. ">= 0.8x", "< 100 MB"
    target: str = ""
    met: bool | None = None
    #: the round-trip time the delay proxy added (0: straight to the registry on loopback)
    rtt_ms: float = 0.0

    def speed_vs(self, other: Row) -> float:
        return other.samples.median / self.samples.median


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _cells(row: Row) -> list[str]:
    s = row.samples
    throughput = f"{row.size / s.median / MIB:.0f}" if row.size else ""
    rss = f"{s.max_rss / MIB:.0f}" if s.max_rss is not None else ""
    requests = f"{s.median_requests:g}" if s.median_requests is not None else ""
    ratio = "; ".join(f"{row.speed_vs(b):.2f}x {b.contender}" for b in row.baselines)
    met = "" if row.met is None else ("met" if row.met else "MISSED")
    return [
        row.scenario,
        row.contender,
        _seconds(s.median),
        str(len(s.seconds)),
        throughput,
        rss,
        requests,
        ratio,
        f"{row.target} {met}".strip(),
    ]


HEADER = ["scenario", "contender", "median", "n", "MiB/s", "peak RSS MiB", "requests", "speed vs", "target"]


def _by_rtt(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """Rows grouped by link round-trip time, each group with a heading."""
    groups: dict[float, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.rtt_ms, []).append(row)
    return [
        (f"{rtt:g} ms RTT" + (" (loopback, no proxy)" if rtt == 0 else " (delay proxy)"), group)
        for rtt, group in sorted(groups.items())
    ]


def text_table(rows: list[Row]) -> str:
    parts = []
    for heading, group in _by_rtt(rows):
        table = [HEADER, *(_cells(r) for r in group)]
        widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        parts.append(f"{heading}\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def markdown_table(rows: list[Row]) -> str:
    parts = []
    for heading, group in _by_rtt(rows):
        lines = [f"#### {heading}", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in group]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _command_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else ""


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _memory() -> str:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return "unknown"
    match = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return f"{int(match.group(1)) / MIB:.1f} GiB" if match else "unknown"


def load_average() -> str:
    """The 1/5/15-minute load averages against the core count (the machine may be shared)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def machine_description(scratch: Path) -> list[tuple[str, str]]:
    import httpx
    import oras.version

    from msr_oci._version import __version__

    free = shutil.disk_usage(scratch).free
    commit = _command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores"),
        ("load average at start (1/5/15 min)", load_average()),
        ("RAM", _memory()),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("disk free (scratch)", f"{free / 1024**3:.0f} GiB at {scratch}"),
        ("msr-oci", f"{__version__} (commit {commit}), httpx {httpx.__version__}"),
        ("registry", _command_output(["docker-registry", "--version"])),
        ("curl", _command_output(["curl", "--version"])),
        ("oras-py", oras.version.__version__),
    ]


def markdown_section(rows: list[Row], machine: list[tuple[str, str]], command: str) -> str:
    parts = [
        BEGIN_MARK,
        "",
        f"Command: `{command}`",
        "",
        "Machine:",
        "",
        *(f"- {key}: {value}" for key, value in machine),
        "",
        markdown_table(rows),
        "",
        END_MARK,
    ]
    return "\n".join(parts)


def write_markdown(path: Path, section: str) -> None:
    """Replace the generated section of ``path`` (create the file with it if absent)."""
    text = path.read_text() if path.is_file() else "# Performance\n\n"
    if BEGIN_MARK in text and END_MARK in text:
        before, _, rest = text.partition(BEGIN_MARK)
        _, _, after = rest.partition(END_MARK)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
