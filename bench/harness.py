"""The registry the bench measures against and the environment its subprocesses see."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry_harness import RegistryServer

ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = ROOT / "tests"
EXAMPLE_REVISION = ROOT / "examples" / "vllm-llama"


class BenchError(RuntimeError):
    """A contender failed or the bench could not set itself up."""


def start_plain_registry(workdir: Path) -> RegistryServer:
    """A plain-HTTP ``docker-registry`` on a free loopback port (the test suite's starter)."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from registry_harness import start_registry

    return start_registry("plain", workdir)


def tool(name: str) -> str:
    """The path of a command the bench needs, or a ``BenchError`` saying how to install it."""
    venv_bin = Path(sys.executable).parent / name
    if venv_bin.is_file():
        return str(venv_bin)
    found = shutil.which(name)
    if found is None:
        hint = f"apt-get install -y {name}, or pip install -e '.[test]'"
        raise BenchError(f"`{name}` is not installed ({hint})")
    return found


def isolated_environment(scratch: Path) -> dict[str, str]:
    """This environment with config, credentials and cache pointed into ``scratch``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSR_", "REGISTRY_"))}
    # an installed package runs from its cached bytecode: a shell that switches it off would time
    # compiling msr from source (~70 ms a process here) instead of starting it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("DOCKER_CONFIG", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        path = scratch / "env" / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["MSR_CACHE_DIR"] = str(scratch / "env" / "msr-cache")
    return env


def example_files() -> list[Path]:
    """The model definition and service configuration every bench revision carries."""
    return [EXAMPLE_REVISION / "model-definition.yaml", EXAMPLE_REVISION / "deployment-config.yaml"]


class LinkProxy:
    """``bench.delay_proxy`` in a child process: the registry as seen across a link with ``rtt_ms``."""

    def __init__(self, upstream: str, rtt_ms: float) -> None:
        self.rtt_ms = rtt_ms
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.delay_proxy", upstream, "--rtt-ms", str(rtt_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line:
            self.stop()
            raise BenchError(f"the delay proxy for {upstream} did not start")
        self.host = line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
