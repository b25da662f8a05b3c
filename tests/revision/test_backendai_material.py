"""Files written by Backend.AI's own authors (tests/data/backendai/<case>/, each citing repo, path and
commit in SOURCE.md) through msr: the validation verdict is Backend.AI's, publishing gives back the very
bytes, names and modes (through msr and through oras-py, a reader we did not write), and the rendered
deployment request carries the definition Backend.AI would resolve and matches the request schemas.
"""

from __future__ import annotations

import json
import shlex
import shutil
import stat
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from support import DATA, SCHEMAS

from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.registry.render import DeploymentIds, render_revision
from msr_oci.revision.loader import load_revision_dir, validate_revision_dir

MATERIAL = DATA / "backendai"
CASES = sorted(p.name for p in MATERIAL.iterdir() if (p / "SOURCE.md").is_file())
#: what the fixture directories hold besides the upstream files
_NOTES = {"SOURCE.md", "expect.yaml"}
IDS = DeploymentIds(
    project_id="8f1c3c3e-6c7e-4d1a-9a1e-1c2b3d4e5f60",
    domain="default",
    resource_group="default",
    image_id="0b6f4f3c-51f6-4f1e-a7ad-33f1b1f5f0a1",
    vfolder_id="5d2a7c4e-9a3b-4c1d-8e2f-6a7b8c9d0e1f",
    runtime_variant_id="c4a1e2b3-7d6f-4e5a-9b8c-1d2e3f4a5b6c",
)


def _expect(case: str) -> dict[str, Any]:
    expect = yaml.safe_load((MATERIAL / case / "expect.yaml").read_text())
    assert isinstance(expect, dict)
    return expect


def _revision_dir(case: str, tmp_path: Path) -> Path:
    """The upstream files alone (the fixture's notes are not part of the revision)."""
    root = tmp_path / case
    root.mkdir()
    for path in (MATERIAL / case).iterdir():
        if path.name not in _NOTES:
            shutil.copyfile(path, root / path.name)
    return root


def test_the_corpus_spans_backend_ai_authors_and_generations() -> None:
    assert len(CASES) >= 8
    sources = " ".join((MATERIAL / c / "SOURCE.md").read_text() for c in CASES)
    assert "lablup/backend.ai" in sources and "lablup/RAGModelService" in sources
    assert any((MATERIAL / c / "deployment-config.yaml").is_file() for c in CASES)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("release", ["head", "26.4.3"])
def test_validate_gives_backend_ai_s_verdict(case: str, release: str, tmp_path: Path) -> None:
    verdict = _expect(case)[release]
    problems = validate_revision_dir(_revision_dir(case, tmp_path), target=release)
    errors = [p for p in problems if p.severity == "error"]
    assert (not errors) == verdict["valid"], [str(p) for p in errors]
    if not verdict["valid"]:
        assert verdict["field"] in {p.field for p in errors}
    for field in verdict.get("warnings", []):
        assert field in {p.field for p in problems if p.severity == "warning"}


def _backend_ai_draft(raw: dict[str, Any]) -> dict[str, Any]:
    """What Backend.AI HEAD makes of a file (common/model_service_start_command_compat.py): the keys as
    written, the command resolved to one string. Written here from upstream's rules, not msr's code."""
    draft = json.loads(json.dumps(raw))
    for model in draft.get("models", []):
        service = model.get("service")
        if not isinstance(service, dict):
            continue
        command = service.pop("command", None)
        start = service.pop("start_command", service.pop("start-command", None))
        command = command if command is not None else start
        if isinstance(command, list):
            command = shlex.join(command)
        if command is not None:
            service["start_command"] = command
    return draft


@pytest.mark.parametrize("case", CASES)
async def test_publish_and_fetch_give_back_the_files_byte_for_byte(
    case: str, registry: Any, isolated_env: object, tmp_path: Path
) -> None:
    import oras.client

    source = _revision_dir(case, tmp_path)
    (source / "start.sh").write_text("#!/bin/sh\nexec python3 serve.py\n")
    (source / "start.sh").chmod(0o755)
    expected = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in source.iterdir()}
    namespace = f"{registry.host}/{registry.unique_repository('material')}"
    revision = load_revision_dir(source, name=case, version="1.0.0")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        revision_id = await reg.create_revision(revision)
        fetched = await reg.fetch(revision_id)
        await reg.pull(revision_id, tmp_path / "pulled")
    for directory in (fetched.path, tmp_path / "pulled"):
        got = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in directory.iterdir()}
        assert got == expected, directory
    # a client that knows nothing of msr reads the same bytes under the same names
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    client.pull(target=f"{namespace}/{case}:1.0.0", outdir=str(tmp_path / "oras"))
    for name, (content, _) in expected.items():
        assert (tmp_path / "oras" / name).read_bytes() == content


@pytest.mark.parametrize("case", CASES)
def test_rendered_requests_carry_the_resolved_draft_and_match_the_schemas(case: str, tmp_path: Path) -> None:
    root = _revision_dir(case, tmp_path)
    revision = load_revision_dir(root, name=case, version="1.0.0")
    raw = yaml.safe_load((root / "model-definition.yaml").read_text())
    v1 = render_revision(revision, "backendai-v1", IDS)
    jsonschema.validate(v1, json.loads((SCHEMAS / "backendai-v1-create-deployment.schema.json").read_text()))
    assert v1["initial_revision"]["model_definition"] == _backend_ai_draft(raw)
    v2 = render_revision(revision, "backendai-v2", IDS)
    jsonschema.validate(v2, json.loads((SCHEMAS / "backendai-v2-create-deployment.schema.json").read_text()))
    added = render_revision(
        revision, "backendai-v1", DeploymentIds(**{**IDS.__dict__, "deployment_id": IDS.image_id})
    )
    jsonschema.validate(added, json.loads((SCHEMAS / "backendai-v1-add-revision.schema.json").read_text()))
    service = _expect(case).get("service_configuration")
    if service is not None:  # the nested 26.1-26.4.2 shape resolves as upstream's own docstring says
        config = revision.service_configuration
        got = {key: getattr(config, key) for key in service}
        assert got == service
