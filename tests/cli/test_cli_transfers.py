"""``msr copy`` between the registry and the local store, ``export``/``import``, and every example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from registry_harness import RegistryServer
from support import EXAMPLES, msr, push, write_revision_dir


def test_copy_local_store_to_registry_and_back(
    registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    namespace = f"{registry.host}/{registry.unique_repository('copy')}"
    local = push(write_revision_dir(tmp_path / "rev"), "shipped:1.0.0", "--label", "team=risk")

    copied = msr("copy", "shipped:1.0.0", f"{namespace}/shipped", "--output", "json").json()
    assert copied["digest"] == local["digest"]
    remote = msr("get", f"{namespace}/shipped:1.0.0", "--output", "json").json()
    assert remote["digest"] == local["digest"] and remote["labels"] == {"team": "risk"}

    msr("delete", "shipped:1.0.0", "--yes")
    back = msr("copy", f"{namespace}/shipped:1.0.0", "shipped", "--output", "json").json()
    assert back["digest"] == local["digest"]
    assert msr("versions", "shipped", "--output", "json").json()["versions"] == ["1.0.0"]
    msr("copy", "absent:1.0.0", f"{namespace}/absent", expect=3)


def test_export_then_import_into_another_namespace(
    registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    pushed = push(write_revision_dir(tmp_path / "rev"), "boxed:2.0.0")
    archive = tmp_path / "boxed.tar"
    exported = msr("export", "boxed:2.0.0", str(archive), "--output", "json").json()
    assert exported["digest"] == pushed["digest"] and archive.is_file()

    # skopeo, an independent client, reads the archive
    inspected = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci-archive:{archive}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert '"artifactType"' in inspected.stdout

    namespace = f"{registry.host}/{registry.unique_repository('import')}"
    imported = msr("import", str(archive), namespace, "--output", "json").json()
    assert [r["digest"] for r in imported] == [pushed["digest"]]
    got = msr("get", f"{namespace}/boxed:2.0.0", "--output", "json").json()
    assert got["digest"] == pushed["digest"]

    msr("import", str(tmp_path / "missing.tar"), namespace, expect=2)


def _example_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir()) if EXAMPLES.is_dir() else []


def test_every_example_validates_and_pushes(isolated_env: object, tmp_path: Path) -> None:
    examples = _example_dirs()
    assert examples, f"no example directories under {EXAMPLES}"
    for index, example in enumerate(examples):
        copy = shutil.copytree(example, tmp_path / example.name)
        msr("validate", str(copy))
        args = ["--runtime-variant", "vllm"] if (copy / "service-definition.toml").exists() else []
        pushed = push(copy, f"example-{index}:1.0.0", *args)
        record = msr("get", pushed["id"], "--output", "json").json()
        assert record["model_definition"]["models"], example.name


@pytest.mark.parametrize("bad_ref", ["no-version", "UPPER:1.0", "name:"])
def test_push_rejects_bad_references(bad_ref: str, isolated_env: object, tmp_path: Path) -> None:
    result = msr("push", str(write_revision_dir(tmp_path / "rev")), bad_ref, expect=2)
    assert result.stderr.startswith("error: ")
