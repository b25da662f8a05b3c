"""What the tests share (this module holds no tests): paths, the ``msr`` runner, revision inputs, and
content builders for the remote client tests.

Every test drives the real ``msr`` executable of this venv in a subprocess, with the environment
``isolated_env`` prepared (HOME, DOCKER_CONFIG, MSR_STORE, MSR_CACHE_DIR under tmp_path).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from msr_oci.oci import (
    EMPTY_DESCRIPTOR,
    MEDIA_TYPE_IMAGE_MANIFEST,
    Descriptor,
    ImageManifest,
    LocalStore,
    Registry,
    Target,
)
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.oci.remote import RemoteRepository

MSR = Path(sys.executable).parent / "msr"
#: the repository root, its examples/ and schemas/, and the test data
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCHEMAS = ROOT / "schemas"
DATA = ROOT / "tests" / "data"
#: one command never takes longer than this against a loopback registry
COMMAND_TIMEOUT = 120


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def msr(
    *args: str,
    stdin: str | None = None,
    expect: int | None = 0,
    preexec: Callable[[], None] | None = None,
) -> Result:
    """Run ``msr ARGS``; fail the test (with both streams shown) unless it exits with ``expect``.

    ``preexec`` runs in the child before ``msr`` starts (to set resource limits, for instance).
    """
    done = subprocess.run(
        [str(MSR), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        preexec_fn=preexec,
    )
    result = Result(done.returncode, done.stdout, done.stderr)
    if expect is not None and result.code != expect:
        pytest.fail(
            f"msr {' '.join(args)} exited {result.code}, expected {expect}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


@dataclass(frozen=True)
class Space:
    """Where a test's revisions live: a namespace on the test registry, or the default local store."""

    namespace: str | None

    def ref(self, relative: str) -> str:
        return f"{self.namespace}/{relative}" if self.namespace else relative

    @property
    def list_args(self) -> list[str]:
        return [self.namespace] if self.namespace else []


@contextlib.asynccontextmanager
async def space_target(space: Space, name: str) -> AsyncIterator[Target]:
    """The content store of ``name`` in ``space``, opened with the generic OCI layer (as another tool
    would write to it): the store ``MSR_STORE`` names, or the repository on the test registry."""
    if space.namespace is None:
        yield LocalStore(Path(os.environ["MSR_STORE"])).repository(name)
        return
    host, prefix = space.namespace.split("/", 1)
    async with Registry(host) as registry:
        yield registry.repository(f"{prefix}/{name}")


def make_space(request: pytest.FixtureRequest, kind: str) -> Space:
    """``local``: the store MSR_STORE names; ``registry``: a fresh namespace on the plain registry."""
    if kind == "local":
        return Space(None)
    server = request.getfixturevalue("registry")
    return Space(f"{server.host}/{server.unique_repository('cli')}")


MODEL_DEFINITION = """\
models:
  - name: fraud
    model_path: /models/fraud
    service:
      start_command: ["python", "-m", "http.server", "{port}"]
      port: {port}
      health_check:
        path: /
        max_retries: 3
"""

DEPLOYMENT_CONFIG = """\
image: cr.backend.ai/stable/python:3.11
architecture: x86_64
resource_slots:
  cpu: 2
  mem: 4g
environ:
  LOG_LEVEL: info
"""


def write_revision_dir(path: Path, *, port: int = 8000, weights: bytes = b"weights v1\n") -> Path:
    """A small revision directory: model definition, deployment config and one extra file."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "model-definition.yaml").write_text(MODEL_DEFINITION.format(port=port))
    (path / "deployment-config.yaml").write_text(DEPLOYMENT_CONFIG)
    (path / "weights").mkdir(exist_ok=True)
    (path / "weights" / "model.bin").write_bytes(weights)
    return path


def push(directory: Path, ref: str, *extra: str) -> dict[str, Any]:
    """``msr push`` with ``--output json``; returns the printed object."""
    record: dict[str, Any] = msr("push", str(directory), ref, *extra, "--output", "json").json()
    return record


# ---- content builders for the remote client tests ------------------------------------------------

LAYER_TYPE = "application/vnd.test.layer"


def blob(data: bytes, media_type: str = LAYER_TYPE, title: str | None = None) -> Descriptor:
    annotations = {"org.opencontainers.image.title": title} if title else None
    return Descriptor.from_bytes(media_type, data, annotations=annotations)


def manifest_bytes(
    layers: list[Descriptor],
    *,
    artifact_type: str = "application/vnd.test.artifact",
    subject: Descriptor | None = None,
) -> tuple[Descriptor, bytes]:
    manifest = ImageManifest(
        artifact_type=artifact_type,
        config=EMPTY_DESCRIPTOR,
        layers=layers or [EMPTY_DESCRIPTOR],
        subject=subject,
    )
    data = manifest.to_bytes()
    return Descriptor.from_bytes(MEDIA_TYPE_IMAGE_MANIFEST, data), data


async def push_artifact(
    repo: RemoteRepository,
    files: dict[str, bytes],
    *,
    tag: str | None = None,
    artifact_type: str = "application/vnd.test.artifact",
    subject: Descriptor | None = None,
) -> tuple[Descriptor, bytes]:
    """Push blobs (and the empty config), then the manifest: blobs first, manifest last."""
    await repo.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
    layers = []
    for name, data in files.items():
        descriptor = blob(data, title=name)
        await repo.push(descriptor, data)
        layers.append(descriptor)
    descriptor, data = manifest_bytes(layers, artifact_type=artifact_type, subject=subject)
    await repo.push_manifest(descriptor, data, tag)
    return descriptor, data
