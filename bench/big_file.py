"""Scenario 1: a revision with one large extra file, ``msr push``/``msr pull`` (the real command in a
subprocess) against ``curl -T``/``curl -o`` of the same blob and the oras-py SDK, on one registry."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from bench.harness import BenchError, example_files, tool
from bench.measure import ProcessRun, Samples, rotated, run_process
from bench.report import MIB, Row

WRITE_CHUNK = 8 * MIB
BIG_FILE = "weights.bin"
RSS_LIMIT = 100 * 1000 * 1000  # "under 100 MB"


def _write_random_file(path: Path, size: int) -> str:
    """Incompressible content of ``size`` bytes; returns its sha256 digest."""
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        remaining = size
        while remaining:
            chunk = os.urandom(min(WRITE_CHUNK, remaining))
            digest.update(chunk)
            fh.write(chunk)
            remaining -= len(chunk)
    return f"sha256:{digest.hexdigest()}"


def _location_header(headers: bytes) -> str:
    for line in headers.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "location":
            return value.strip()
    raise BenchError("the registry answered the upload POST without a Location header")


class BigFileBench:
    def __init__(self, scratch: Path, host: str, env: dict[str, str], size: int) -> None:
        self.scratch = scratch / "big"
        self.setup_host = host
        self.env = env
        self.size = size
        self.source = self.scratch / "revision"
        self.output = self.scratch / "out"
        self.msr = tool("msr")
        self.curl = tool("curl")
        self.digest = ""
        self.pull_repository = "bench/big-pull"
        self._pushes = 0

    def setup(self) -> None:
        self.source.mkdir(parents=True, exist_ok=True)
        for file in example_files():
            shutil.copyfile(file, self.source / file.name)
        print(f"  writing a {self.size / MIB:.0f} MiB file", flush=True)
        self.digest = _write_random_file(self.source / BIG_FILE, self.size)
        # the revision every contender pulls (an msr artifact: oras names files by their titles too)
        self._msr_push(self.setup_host, self.pull_repository)

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    # ---- contenders -------------------------------------------------------------------------------

    def _msr_push(self, host: str, repository: str) -> ProcessRun:
        return run_process(
            [self.msr, "--quiet", "push", str(self.source), f"{host}/{repository}:1.0.0"], env=self.env
        )

    def _curl_push(self, host: str, repository: str) -> ProcessRun:
        start = run_process(
            [
                self.curl,
                "-sS",
                "-f",
                "-X",
                "POST",
                "-D",
                "-",
                "-o",
                os.devnull,
                f"http://{host}/v2/{repository}/blobs/uploads/",
            ],
            env=self.env,
        )
        location = _location_header(start.stdout)
        if location.startswith("/"):
            location = f"http://{host}{location}"
        separator = "&" if "?" in location else "?"
        put = run_process(
            [
                self.curl,
                "-sS",
                "-f",
                "-T",
                str(self.source / BIG_FILE),
                "-H",
                "Content-Type: application/octet-stream",
                f"{location}{separator}digest={self.digest}",
            ],
            env=self.env,
        )
        return ProcessRun(start.seconds + put.seconds, max(start.peak_rss, put.peak_rss), b"")

    def _oras(self, *args: str) -> ProcessRun:
        return run_process([sys.executable, "-m", "bench.oras_worker", *args], env=self.env)

    def _oras_push(self, host: str, repository: str) -> ProcessRun:
        files = [str(self.source / f.name) for f in example_files()] + [str(self.source / BIG_FILE)]
        return self._oras("push", f"{host}/{repository}:1.0.0", *files)

    def _msr_pull(self, host: str) -> ProcessRun:
        reference = f"{host}/{self.pull_repository}:1.0.0"
        # --force: every round pulls into the same directory (refused when not empty otherwise)
        command = [self.msr, "--quiet", "pull", reference, "--dir", str(self.output), "--force"]
        return run_process(command, env=self.env)

    def _curl_pull(self, host: str) -> ProcessRun:
        url = f"http://{host}/v2/{self.pull_repository}/blobs/{self.digest}"
        return run_process([self.curl, "-sS", "-f", "-o", str(self.output / BIG_FILE), url], env=self.env)

    def _oras_pull(self, host: str) -> ProcessRun:
        return self._oras("pull", f"{host}/{self.pull_repository}:1.0.0", str(self.output))

    def _check_pulled(self, who: str) -> None:
        pulled = self.output / BIG_FILE
        if not pulled.is_file() or pulled.stat().st_size != self.size:
            raise BenchError(f"{who} did not write {BIG_FILE} of {self.size} bytes")

    # ---- rounds -----------------------------------------------------------------------------------

    def run(self, host: str, rounds: int, rtt_ms: float) -> list[Row]:
        push = {"msr push": Samples(), "curl -T": Samples(), "oras-py push": Samples()}
        pull = {"msr pull": Samples(), "curl -o": Samples(), "oras-py pull": Samples()}
        pushers = {"msr push": self._msr_push, "curl -T": self._curl_push, "oras-py push": self._oras_push}
        pullers = {"msr pull": self._msr_pull, "curl -o": self._curl_pull, "oras-py pull": self._oras_pull}
        for index in range(rounds):
            print(f"  round {index + 1}/{rounds}", flush=True)
            for name in rotated(list(pushers), index):
                # a new repository each time: every contender uploads the whole blob
                self._pushes += 1
                repository = f"bench/big-{name.split()[0].replace('-py', '')}-{self._pushes}"
                result = pushers[name](host, repository)
                push[name].add(result.seconds, peak_rss=result.peak_rss)
            for name in rotated(list(pullers), index):
                self.output.mkdir(parents=True, exist_ok=True)
                result = pullers[name](host)
                self._check_pulled(name)
                pull[name].add(result.seconds, peak_rss=result.peak_rss)
                shutil.rmtree(self.output)  # disk use stays bounded
        return self._rows(push, pull, rtt_ms)

    def _rows(self, push: dict[str, Samples], pull: dict[str, Samples], rtt_ms: float) -> list[Row]:
        label = f"{self.size / MIB:.0f} MiB"
        rows: list[Row] = []
        for samples, ours, curl, oras, goal in (
            (push, "msr push", "curl -T", "oras-py push", 0.95),
            (pull, "msr pull", "curl -o", "oras-py pull", 0.8),
        ):
            op = ours.split()[1]
            curl_row = Row(f"{label} {op}", curl, samples[curl], size=self.size, rtt_ms=rtt_ms)
            oras_row = Row(f"{label} {op}", oras, samples[oras], size=self.size, rtt_ms=rtt_ms)
            ours_samples = samples[ours]
            speed = curl_row.samples.median / ours_samples.median
            rss = ours_samples.max_rss or 0
            targeted = rtt_ms == 0  # the large-file targets are set on loopback
            ours_row = Row(
                f"{label} {op}",
                f"{ours} (CLI)",
                ours_samples,
                size=self.size,
                baselines=(curl_row, oras_row),
                target=f">= {goal}x curl, RSS < 100 MB" if targeted else "",
                met=speed >= goal and rss < RSS_LIMIT if targeted else None,
                rtt_ms=rtt_ms,
            )
            rows += [ours_row, curl_row, oras_row]
        return rows
