"""The README's first two commands are true: the main job runs end to end on the embedded store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support import ROOT


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block is not None, "README.md must start with a sh block of set-up commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSR_", "XDG_", "DOCKER_", "REGISTRY_"))}
    env.update(HOME=str(home), PYTHON=sys.executable)
    return env


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    assert _setup_commands() == ["bash scripts/quickstart", "bash scripts/test"]
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_documents_pointers_resolve() -> None:
    """Every relative link and every ``msr_oci/...``, ``tests/...``, ``docs/...`` path named in the README
    and docs/ exists (a renamed module or document breaks this, not a reader)."""
    broken = []
    for document in _documents():
        text = document.read_text()
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+:", link) and not (document.parent / link).exists():
                broken.append(f"{document.name}: {link}")
        for path in re.findall(r"`((?:msr_oci|tests|docs|bench|scripts)/[\w./-]*\w)`", text):
            if not (ROOT / path).exists():
                broken.append(f"{document.name}: {path}")
    assert broken == []


def test_main_job_runs_on_the_embedded_store_and_is_idempotent(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", "scripts/quickstart"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    first, second = outputs
    ids = re.findall(r"^(llama-chat@sha256:[0-9a-f]{64})$", first, re.M)
    assert len(ids) == 1
    assert ids == re.findall(r"^(llama-chat@sha256:[0-9a-f]{64})$", second, re.M)  # same content, same id
    assert re.search(r"^llama-chat\s+1\.0\.0\s+sha256:\w+\s+production", second, re.M)
    assert re.search(r"^production\s+1\.0\.0", first, re.M)
    store = tmp_path / ".local" / "share" / "msr-oci" / "store" / "llama-chat"
    assert (store / "oci-layout").is_file() and (store / "index.json").is_file()
    cached = tmp_path / ".cache" / "msr-oci" / "revisions" / "sha256" / ids[0].split(":")[1] / "files"
    assert str(cached) in first
    assert re.search(r"^\s+\d+\s+model-definition\.yaml$", first, re.M)
    assert re.search(r"^\s+\d+\s+deployment-config\.yaml$", first, re.M)
    assert "vllm.entrypoints.openai.api_server" in first


def test_async_example_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "examples/async_api.py", str(tmp_path / "store")],
        cwd=ROOT, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "http-demo:1.0.0  custom  aliases=['production']" in done.stdout
    assert "site/index.html" in done.stdout


def test_readme_sync_api_example_runs_against_a_real_registry(registry, isolated_env, capsys) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S)
    assert block is not None and '"127.0.0.1:5000/serving"' in block.group(1)
    namespace = f"{registry.host}/{registry.unique_repository('readme')}"
    exec(compile(block.group(1).replace("127.0.0.1:5000/serving", namespace), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "fraud-detector 1.2.0 ['production']"
