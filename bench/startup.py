"""Scenario 5: process start-up of ``msr --help`` and ``msr get REF`` (a real registry round trip)."""

from __future__ import annotations

import sys

from bench.harness import tool
from bench.measure import Samples, run_process
from bench.report import Row

HELP_LIMIT = 0.250


def run_startup(host: str, reference: str, env: dict[str, str], runs: int, rtt_ms: float) -> list[Row]:
    msr = tool("msr")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "msr --help": [msr, "--help"],
        "msr get REF": [msr, "get", f"{host}/{reference}"],
    }
    samples = {name: Samples() for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            result = run_process(argv, env=env)
            samples[name].add(result.seconds, peak_rss=result.peak_rss)
    interpreter = Row("start-up", "python -c pass (floor)", samples["python -c pass"], rtt_ms=rtt_ms)
    help_met = samples["msr --help"].median < HELP_LIMIT
    return [
        Row("start-up", "msr --help", samples["msr --help"], target="< 250 ms", met=help_met, rtt_ms=rtt_ms),
        Row("start-up", "msr get REF", samples["msr get REF"], rtt_ms=rtt_ms),
        interpreter,
    ]
