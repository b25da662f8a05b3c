"""What msr pull does to its directory: refuses one that holds files unless --force, then leaves it
holding exactly the revision; changes nothing when it fails; and writes revision.yaml so that a
pulled directory pushed again is the same revision (and pull, edit, push --update keeps the record)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from faults import Answer, FaultProxy, Request
from governance_material import make_key
from registry_harness import RegistryServer
from support import msr, push, write_revision_dir
from test_governance_interop import MODEL_SIGNING_CLI, fetch_bundles

from msr_oci.oci.errors import InputError
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.registry.pull_directory import DestinationNotEmpty
from msr_oci.revision.loader import load_revision_dir
from msr_oci.revision.pulled_record import GENERATED_HEADER


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file bytes, or ``-> target`` for a symlink (never followed)."""
    found: dict[str, bytes | str] = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[relative] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[relative] = path.read_bytes()
    return found


def test_a_directory_that_holds_files_is_refused_unless_force(isolated_env: object, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    (source / "start.sh").write_text("#!/bin/sh\n")
    (source / "start.sh").chmod(0o755)
    push(source, "placed:1.0.0")

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    before = _tree(mine)
    refused = msr("pull", "placed:1.0.0", "-o", str(mine), expect=5)
    assert f"{mine} is not empty (notes.txt)" in refused.stderr and "--force" in refused.stderr
    assert _tree(mine) == before

    empty = tmp_path / "empty"
    empty.mkdir(mode=0o750)
    msr("pull", "placed:1.0.0", "-o", str(empty))
    assert sorted(_tree(empty)) == [
        "deployment-config.yaml",
        "model-definition.yaml",
        "start.sh",
        "weights/model.bin",
    ]
    assert (empty / "start.sh").stat().st_mode & 0o777 == 0o755
    assert empty.stat().st_mode & 0o777 == 0o750  # the directory itself is left as it was

    # --force: exactly the revision; a symlink is removed, never followed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not yours to delete\n")
    (mine / "weights").mkdir()
    (mine / "weights" / "old.bin").write_bytes(b"old")
    (mine / "link-to-file").symlink_to(outside / "keep.txt")
    (mine / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (mine / ".hidden").write_text("also removed\n")
    msr("pull", "placed:1.0.0", "-o", str(mine), "--force")
    assert _tree(mine) == _tree(empty)
    assert _tree(outside) == {"keep.txt": b"not yours to delete\n"}


async def test_the_api_refuses_too_and_a_new_directory_needs_no_force(
    registry: RegistryServer, tmp_path: Path
) -> None:
    namespace = f"{registry.host}/{registry.unique_repository('pulldir')}"
    revision = load_revision_dir(write_revision_dir(tmp_path / "rev"), name="m", version="1.0.0")
    async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
        await reg.create_revision(revision)
        await reg.pull("m:1.0.0", tmp_path / "a" / "b")  # parents are made
        with pytest.raises(DestinationNotEmpty) as refused:
            await reg.pull("m:1.0.0", tmp_path / "a" / "b")
        assert refused.value.exit_code == 5
        assert (await reg.pull("m:1.0.0", tmp_path / "a" / "b", force=True)).version == "1.0.0"
    with pytest.raises(InputError, match="is not a directory"):
        async with AsyncRemoteRegistry(namespace, cache_dir=tmp_path / "cache") as reg:
            await reg.pull("m:1.0.0", tmp_path / "rev" / "model-definition.yaml", force=True)


class BrokenWeights(FaultProxy):
    """The registry, except that one blob is gone (404 BLOB_UNKNOWN)."""

    def __init__(self, upstream: str, digest: str) -> None:
        super().__init__(upstream)
        self.digest = digest

    async def _handle(self, request: Request) -> Answer:
        if request.method == "GET" and request.path.endswith(f"/blobs/{self.digest}"):
            body = b'{"errors":[{"code":"BLOB_UNKNOWN","message":"gone"}]}'
            return Answer(404, {"Content-Type": "application/json"}, body)
        return await super()._handle(request)


def test_a_failed_pull_changes_nothing(
    registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    repository = registry.unique_repository("broken")
    old = write_revision_dir(tmp_path / "old", weights=b"old weights\n")
    new = write_revision_dir(tmp_path / "new", weights=b"new weights\n")
    push(old, f"{registry.host}/{repository}/m:1.0.0")
    push(new, f"{registry.host}/{repository}/m:2.0.0")
    new_weights = msr("get", f"{registry.host}/{repository}/m:2.0.0", "--output", "json").json()
    [weights] = [f for f in new_weights["extra_files"] if f["path"] == "weights/model.bin"]

    destination = tmp_path / "pulled"
    msr("pull", f"{registry.host}/{repository}/m:1.0.0", "-o", str(destination))
    before = _tree(destination)
    with BrokenWeights(registry.host, weights["digest"]) as proxy:
        msr("pull", f"{proxy.host}/{repository}/m:2.0.0", "-o", str(destination), "--force", expect=3)
    assert _tree(destination) == before  # the old revision, whole: nothing of the new one, no staging

    # not found: refused before anything is touched
    msr("pull", f"{registry.host}/{repository}/m:9.9.9", "-o", str(destination), "--force", expect=3)
    assert _tree(destination) == before


def test_a_pulled_directory_pushes_back_the_same_revision(isolated_env: object, tmp_path: Path) -> None:
    source = write_revision_dir(tmp_path / "rev")
    published = push(
        source,
        "kept:1.0.0",
        "--label",
        "team=risk",
        "--metric",
        "auc=0.91",
        "--description",
        "first cut",
        "--param",
        "temperature=0.7",
        "--run-id",
        "run-42",
    )
    pulled = tmp_path / "pulled"
    done = msr("pull", "kept:1.0.0", "-o", str(pulled), "--output", "json")
    assert "revision.yaml holds the record's" in done.stderr
    assert f"--ignore-paths {pulled / 'revision.yaml'}" in done.stderr
    record_file = (pulled / "revision.yaml").read_bytes()
    assert record_file.startswith(GENERATED_HEADER)
    assert "revision.yaml" in done.json()["files"]

    # nothing edited: the same revision (same digest), and revision.yaml is not one of its files
    again = push(pulled, "kept:1.0.0")
    assert again["digest"] == published["digest"]
    plan = msr("push", str(pulled), "kept:1.0.1", "--dry-run", "--output", "json").json()
    assert "revision.yaml" not in [f["path"] for f in plan["files"]]
    assert {
        "path": "revision.yaml",
        "reason": "written by msr pull: its fields are read, the file is not published",
    } in plan["excluded"]

    # pull, edit, push --update: the edit lands, everything else is kept
    edited = record_file.replace(b"team: risk", b"team: fraud")
    assert edited != record_file
    (pulled / "revision.yaml").write_bytes(edited)
    updated = push(pulled, "kept:1.0.0", "--update")
    assert updated["digest"] != published["digest"]
    record = msr("get", "kept:1.0.0", "--output", "json").json()
    assert record["labels"] == {"team": "fraud"}
    assert record["metrics"] == {"auc": 0.91}
    assert record["description"] == "first cut"
    assert record["parameters"] == {"temperature": 0.7}
    assert record["lineage"]["run_id"] == "run-42"
    assert record["supersedes"] == published["digest"]


def test_a_revision_with_its_own_revision_yaml_comes_back_as_written(
    isolated_env: object, tmp_path: Path
) -> None:
    source = write_revision_dir(tmp_path / "rev")
    own = b"# ours\ndescription: from the file\nlabels: {team: risk}\n"
    (source / "revision.yaml").write_bytes(own)
    published = push(source, "own:1.0.0")
    pulled = tmp_path / "pulled"
    done = msr("pull", "own:1.0.0", "-o", str(pulled))
    assert (pulled / "revision.yaml").read_bytes() == own and "warning" not in done.stderr
    assert push(pulled, "own:1.0.0")["digest"] == published["digest"]

    # set on the command line at push time: a push of the pulled files would drop it, and pull says so
    push(source, "own:2.0.0", "--label", "stage=beta")
    done = msr("pull", "own:2.0.0", "-o", str(tmp_path / "second"))
    assert "warning: labels of own:2.0.0 were set when it was pushed, not in revision.yaml" in done.stderr


def test_model_signing_verifies_a_pull_that_wrote_revision_yaml(
    registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    repository = registry.unique_repository("signedpull")
    ref = f"{registry.host}/{repository}:1.0.0"
    digest = push(write_revision_dir(tmp_path / "rev"), ref, "--label", "team=risk")["digest"]
    signer = make_key(tmp_path / "keys", "release")
    msr("sign", ref, "--key", str(signer.private))
    pulled = tmp_path / "pulled"
    msr("pull", ref, "-o", str(pulled))
    assert (pulled / "revision.yaml").is_file()
    bundle = tmp_path / "model.sig"
    bundle.write_bytes(fetch_bundles(registry, repository, digest)[0]["bundle"])

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [str(MODEL_SIGNING_CLI), "verify", "key", str(pulled), "--signature", str(bundle)]
        command += ["--public_key", str(signer.public), *extra]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert verify().returncode != 0  # revision.yaml is not one of the signed files
    done = verify("--ignore-paths", str(pulled / "revision.yaml"))
    assert done.returncode == 0 and "Verification succeeded" in done.stdout, done.stdout + done.stderr
