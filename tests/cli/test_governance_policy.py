"""Approvals per stage, ``msr promote`` refusing with exit 9 and naming what is missing, the deploy gate
(``msr fetch --policy``, also on a cache hit), ``msr verify``, ``msr discover``, ``msr audit``, and the
signed policy stored in the repository (admins, trust on first use, refused forgeries and rollbacks)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from governance_material import KeyPair, make_key, policy_document, write_policy
from registry_harness import RegistryServer
from support import msr, push, write_revision_dir

PRODUCTION: dict[str, Any] = {
    "production": {
        "signatures": {"signers": ["release"]},
        "approvals": {"signers": ["devops-a", "devops-b"], "threshold": 2},
    },
    "staging": {"signatures": {"signers": ["release"]}},
}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, KeyPair]:
    return {n: make_key(tmp_path / "keys", n) for n in ("release", "devops-a", "devops-b", "admin", "rogue")}


@pytest.fixture
def name(registry: RegistryServer, isolated_env: object) -> str:
    return f"{registry.host}/{registry.unique_repository('gov')}/model"


def _policy(
    tmp_path: Path, keys: dict[str, KeyPair], file: str = "policy.yaml", stages: dict[str, Any] = PRODUCTION
) -> Path:
    signers = [keys[n] for n in ("release", "devops-a", "devops-b", "admin")]
    return write_policy(tmp_path / file, policy_document(signers, stages, deploy_stage="production"))


def test_promote_and_fetch_follow_the_policy(name: str, keys: dict[str, KeyPair], tmp_path: Path) -> None:
    revision = push(write_revision_dir(tmp_path / "rev"), f"{name}:1.0.0")
    ref, by_digest = f"{name}:1.0.0", f"{name}@{revision['digest']}"
    policy = _policy(tmp_path, keys)
    key = {n: str(k.private) for n, k in keys.items()}

    refused = msr("promote", name, "1.0.0", "--to", "production", "--policy", str(policy), expect=9)
    assert "signatures from 1 of {release}: has 0 (none)" in refused.stderr
    assert (
        "approvals for production from 2 of {devops-a, devops-b}: has 0 (none), needs 2 more"
        in refused.stderr
    )
    assert msr("alias", "ls", name, "--output", "json").json() == {}

    msr("sign", ref, "--key", key["release"])
    msr("approve", ref, "--stage", "production", "--key", key["devops-a"], "--comment", "load test ok")
    msr("approve", ref, "--stage", "staging", "--key", key["devops-b"])  # another stage: does not count
    refused = msr("promote", name, "1.0.0", "--to", "production", "--policy", str(policy), expect=9)
    assert "has 1 (devops-a), needs 1 more" in refused.stderr
    msr("fetch", by_digest, "--policy", str(policy), expect=9)
    msr("get", by_digest, "--policy", str(policy), expect=9)
    msr("fetch", by_digest, "--policy", str(policy), "--stage", "staging")  # staging needs a signature only

    msr("approve", ref, "--stage", "production", "--key", key["devops-b"], "--approver", "bea")
    promoted = msr(
        "promote", name, "1.0.0", "--to", "production", "--policy", str(policy), "--output", "json"
    )
    assert promoted.json()["digest"] == revision["digest"]

    verdict = msr("verify", ref, "--policy", str(policy), "--output", "json").json()
    assert verdict["ok"] and verdict["stage"] == "production" and verdict["missing"] == []
    approvals = next(c for c in verdict["checks"] if c["kind"] == "approvals")
    assert approvals["satisfied_by"] == ["devops-a", "devops-b"]
    fetched = msr("fetch", f"{name}:production", "--policy", str(policy), "--output", "json").json()
    assert fetched["digest"] == revision["digest"] and "weights/model.bin" in fetched["files"]

    # a cache hit is checked again: a stricter policy refuses the cached revision
    stages = copy.deepcopy(PRODUCTION)
    stages["production"]["approvals"]["signers"] = ["devops-a", "admin"]
    stricter = _policy(tmp_path, keys, "stricter.yaml", stages)
    msr("fetch", by_digest, "--policy", str(policy))
    refused = msr("fetch", by_digest, "--policy", str(stricter), expect=9)
    assert "2 of {devops-a, admin}: has 1 (devops-a)" in refused.stderr

    discovered = msr("discover", ref, "--policy", str(policy), "--output", "json").json()
    assert discovered["digest"] == revision["digest"] and discovered["mediaType"].endswith("manifest.v1+json")
    kinds = sorted((r["kind"], r["signer"], r["stage"], r["verified"]) for r in discovered["referrers"])
    assert kinds == [
        ("approval", "devops-a", "production", True),
        ("approval", "devops-b", "production", True),
        ("approval", "devops-b", "staging", True),
        ("signature", "release", None, True),
    ]
    assert all(
        r["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json" for r in discovered["referrers"]
    )
    comment = next(r["comment"] for r in discovered["referrers"] if r["signer"] == "devops-a")
    assert comment == "load test ok"

    events = msr("audit", name, "--output", "json").json()
    kinds_in_order = [e["event"] for e in events]
    assert kinds_in_order[0] == "publish" and kinds_in_order[-1] == "alias.set"
    assert kinds_in_order.count("approval") == 3 and kinds_in_order.count("signature") == 1
    times = [e["at"] for e in events]
    assert times == sorted(times)


def test_a_revision_that_fails_the_gate_writes_nothing(
    name: str, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    revision = push(write_revision_dir(tmp_path / "rev"), f"{name}:2.0.0")
    policy = _policy(tmp_path, keys)
    refused = msr("fetch", f"{name}:2.0.0", "--policy", str(policy), expect=9)
    assert refused.stdout == "" and "does not meet" in refused.stderr
    out = tmp_path / "pulled"
    msr("pull", f"{name}:2.0.0", "-o", str(out), "--policy", str(policy), expect=9)
    assert not out.exists() or not any(out.iterdir())
    assert msr("cache", "ls", "--output", "json").json()["revisions"] == []
    assert revision["digest"]
    msr("fetch", f"{name}:2.0.0", "--policy", str(policy), "--stage", "canary", expect=2)  # no such stage


def test_policy_files_are_checked_with_file_field_and_line(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    good = _policy(tmp_path, keys)
    assert msr("policy", "check", str(good), "--output", "json").json()["valid"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("approvals:", "aprovals:"))
    refused = msr("policy", "check", str(bad), expect=2)
    assert f"{bad}:" in refused.stderr and "stages.production.aprovals" in refused.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(good.read_text().replace("- devops-b", "- devops-c"))
    refused = msr("policy", "check", str(unknown), expect=2)
    assert "no signer named 'devops-c'" in refused.stderr


def _stored_policy(
    tmp_path: Path, keys: dict[str, KeyPair], serial: int, admins: list[str], file: str
) -> Path:
    signers = [keys[n] for n in ("release", "devops-a", "devops-b", "admin", "rogue")]
    document = policy_document(signers, PRODUCTION, admins=admins, serial=serial, deploy_stage="production")
    return write_policy(tmp_path / file, document)


def test_the_stored_policy_is_signed_by_admins_and_pinned_on_first_use(
    name: str, keys: dict[str, KeyPair], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revision = push(write_revision_dir(tmp_path / "rev"), f"{name}:1.0.0")
    ref = f"{name}:1.0.0"
    key = {n: str(k.private) for n, k in keys.items()}
    first = _stored_policy(tmp_path, keys, 1, ["admin"], "first.yaml")

    refused = msr("policy", "set", name, str(first), "--key", key["rogue"], expect=9)
    assert "not by an admin" in refused.stderr
    msr("policy", "set", name, str(first), "--key", key["admin"])
    msr("policy", "set", name, str(first), "--key", key["admin"], expect=2)  # the serial must go up

    # another machine: trusts the stored policy on first use
    monkeypatch.setenv("MSR_TRUST_DIR", str(tmp_path / "deployer-trust"))
    msr("sign", ref, "--key", key["release"])
    for approver in ("devops-a", "devops-b"):
        msr("approve", ref, "--stage", "production", "--key", key[approver])
    checked = msr("verify", ref)
    assert "trusted the policy" in checked.stderr and "meets" in checked.stdout
    msr("fetch", f"{name}@{revision['digest']}", "--policy", "repository")

    # an attacker with push rights stores a policy naming itself admin, signed by itself
    forged = _stored_policy(tmp_path, keys, 2, ["rogue"], "forged.yaml")
    monkeypatch.setenv("MSR_TRUST_DIR", str(tmp_path / "attacker-trust"))
    msr("policy", "forget", name)
    msr(
        "policy", "set", name, str(forged), "--key", key["rogue"], expect=9
    )  # its own tool refuses: not an admin
    _force_store(name, forged, keys["rogue"])
    monkeypatch.setenv("MSR_TRUST_DIR", str(tmp_path / "deployer-trust"))
    refused = msr("fetch", f"{name}@{revision['digest']}", "--policy", "repository", expect=9)
    assert "requires 1 of {admin}" in refused.stderr
    msr("promote", name, "1.0.0", "--to", "production", expect=9)  # promote checks the repository policy too

    # a legitimate change signed by the admin (on top of the forgery's predecessor) is accepted
    monkeypatch.setenv("MSR_TRUST_DIR", str(tmp_path / "admin-trust"))
    _restore(name, first)
    second = _stored_policy(tmp_path, keys, 2, ["admin"], "second.yaml")
    msr("policy", "set", name, str(second), "--key", key["admin"])
    monkeypatch.setenv("MSR_TRUST_DIR", str(tmp_path / "deployer-trust"))
    shown = msr("policy", "show", name, "--output", "json").json()
    assert shown["serial"] == 2
    msr("promote", name, "1.0.0", "--to", "production")

    # rolled back to serial 1: refused by the machine that saw serial 2
    _restore(name, first)
    refused = msr("verify", ref, expect=9)
    assert "does not descend" in refused.stderr

    events = msr("audit", name, "--output", "json").json()
    policy_events = [e for e in events if e["event"] == "policy"]
    assert policy_events and all(e["by"] == "admin" for e in policy_events)


def _force_store(name: str, policy: Path, signer: KeyPair) -> None:
    """Store a policy the way an attacker with push rights could: signed, chained, but by anyone."""
    import asyncio

    from msr_oci.governance.bundles import KeyMaterial, StatementSigner
    from msr_oci.governance.policy_store import POLICY_TAG, encode_policy, sign_policy
    from msr_oci.registry import AsyncRemoteRegistry

    async def store() -> None:
        namespace, _, repo_name = name.rpartition("/")
        async with AsyncRemoteRegistry(namespace) as registry:
            current = await registry.governance.policies.stored(repo_name)
            assert current is not None
            data = policy.read_bytes()
            bundle = sign_policy(
                StatementSigner(KeyMaterial(signer.private)), data, repo_name, 2, current.digest
            )
            encoded = encode_policy(data, [bundle], 2, current.digest)
            target = registry.target(registry.targets.repository_ref(repo_name))
            for descriptor, content in encoded.blobs:
                await target.push(descriptor, content)
            await target.push_manifest(encoded.descriptor, encoded.manifest_bytes, tag=POLICY_TAG)

    asyncio.run(store())


def _restore(name: str, policy: Path) -> None:
    """Point the policy tag back at the stored policy whose YAML is ``policy`` (a rollback)."""
    import asyncio

    from msr_oci.registry import AsyncRemoteRegistry

    async def restore() -> None:
        namespace, _, repo_name = name.rpartition("/")
        async with AsyncRemoteRegistry(namespace) as registry:
            policies = registry.governance.policies
            current = await policies.stored(repo_name)
            target = registry.target(registry.targets.repository_ref(repo_name))
            while current is not None and current.data != policy.read_bytes():
                assert current.previous is not None
                current = await policies.read(target, current.previous, repo_name)
            assert current is not None
            await target.tag(await target.resolve(current.digest), "_policy")

    asyncio.run(restore())
