"""Each way an attestation can be wrong is refused by the deploy gate with a reason that names it: a bad
signature, an unknown key, a key hint that lies, files that differ from the signed ones, an expired
certificate, a signature or approval of another revision, and a referrer listed under a revision it
is not attached to. Hostile referrers are pushed to the real registry as an attacker with push rights
could. Also: the embedded store, and the request cost of the gate."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from governance_material import KeyPair, issue, make_authority, make_key, policy_document
from registry_harness import RegistryServer
from support import write_revision_dir

from msr_oci.governance.approvals import APPROVAL_PREDICATE
from msr_oci.governance.bundles import KeyMaterial, StatementSigner
from msr_oci.governance.errors import PolicyNotSatisfied
from msr_oci.governance.policy import Policy, load_policy
from msr_oci.governance.referrers import encode_referrer
from msr_oci.governance.signing import MODEL_SIGNATURE_PREDICATE, _payload, revision_resources
from msr_oci.oci import MEDIA_TYPE_IMAGE_INDEX, Descriptor, ImageIndex, ImageManifest
from msr_oci.registry import AsyncRemoteRegistry
from msr_oci.revision.loader import load_revision_dir


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, KeyPair]:
    return {n: make_key(tmp_path / "keys", n) for n in ("release", "devops-a", "rogue")}


def _policy(keys: dict[str, KeyPair], **extra: object) -> Policy:
    import yaml

    stages = {"production": {"signatures": {"signers": ["release"]}, "approvals": {"signers": ["devops-a"]}}}
    if "certificates" in extra:
        stages["production"]["signatures"]["signers"] = ["release", "ci"]
    document = policy_document(
        [keys["release"], keys["devops-a"]], stages, deploy_stage="production", **extra
    )  # type: ignore[arg-type]
    return load_policy(yaml.safe_dump(document).encode(), "test policy")


async def _publish(registry: AsyncRemoteRegistry, directory: Path, version: str, weights: bytes) -> str:
    write_revision_dir(directory, weights=weights)
    return await registry.create_revision(load_revision_dir(directory, name="model", version=version))


async def _attach(registry: AsyncRemoteRegistry, revision_id: str, bundle: bytes, predicate: str) -> None:
    """Attach any bundle to a revision as a referrer (what anyone with push rights can do)."""
    ref = registry.locate(revision_id)
    descriptor, _ = await registry.reader.manifest(ref)
    encoded = encode_referrer(bundle, descriptor, predicate)
    target = registry.target(ref)
    await target.push(encoded.bundle_descriptor, bundle)
    from msr_oci.oci import EMPTY_DESCRIPTOR
    from msr_oci.oci.content import EMPTY_JSON

    await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
    await target.push_manifest(encoded.descriptor, encoded.manifest_bytes)


async def _bundles(registry: AsyncRemoteRegistry, revision_id: str) -> list[bytes]:
    discovery = await registry.discover(revision_id)
    return [a.bundle for a in discovery.attestations if a.bundle is not None]


async def _refusal(registry: AsyncRemoteRegistry, revision_id: str, policy: Policy) -> str:
    with pytest.raises(PolicyNotSatisfied) as refused:
        await registry.fetch(revision_id, policy=policy)
    message = str(refused.value)
    assert "signatures from 1 of {release" in message and "}: has 0 (none)" in message
    return str(refused.value)


@pytest.fixture
async def api(registry: RegistryServer, isolated_env: object) -> AsyncIterator[AsyncRemoteRegistry]:
    async with AsyncRemoteRegistry(f"{registry.host}/refuse{uuid.uuid4().hex[:10]}") as opened:
        yield opened


async def test_bad_signature_unknown_key_and_lying_key_hint(
    api: AsyncRemoteRegistry, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    policy = _policy(keys)
    good = await _publish(api, tmp_path / "good", "1.0.0", b"good weights")
    await api.sign(good, KeyMaterial(keys["release"].private))
    await api.approve(good, "production", KeyMaterial(keys["devops-a"].private))
    assert (await api.fetch(good, policy=policy)).revision.digest == api.locate(good).digest
    [signature] = [
        b
        for b in await _bundles(api, good)
        if b"model_signing" in base64.b64decode(json.loads(b)["dsseEnvelope"]["payload"])
    ]

    # the same statement with one bit of its signature flipped
    bad = await _publish(api, tmp_path / "bad", "1.0.1", b"other weights")
    tampered = json.loads(signature)
    raw = bytearray(base64.b64decode(tampered["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[-1] ^= 0x01
    tampered["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    await _attach(api, bad, json.dumps(tampered).encode(), MODEL_SIGNATURE_PREDICATE)
    assert "does not verify with key" in await _refusal(api, bad, policy)

    # a key the policy does not name
    stranger = await _publish(api, tmp_path / "stranger", "1.0.2", b"stranger weights")
    await api.sign(stranger, KeyMaterial(keys["rogue"].private))
    reason = await _refusal(api, stranger, policy)
    assert "which test policy does not name" in reason

    # the rogue's bundle claiming to be the release key (its hint), still signed by the rogue
    liar = await _publish(api, tmp_path / "liar", "1.0.3", b"liar weights")
    await api.sign(liar, KeyMaterial(keys["rogue"].private))
    [rogue_bundle] = await _bundles(api, liar)
    lying = json.loads(rogue_bundle)
    release_hint = json.loads(signature)["verificationMaterial"]["publicKey"]["hint"]
    lying["verificationMaterial"]["publicKey"]["hint"] = release_hint
    await _attach(api, liar, json.dumps(lying).encode(), MODEL_SIGNATURE_PREDICATE)
    assert "does not verify with key" in await _refusal(api, liar, policy)

    # approvals are checked the same way: by a signer the rule names, for this stage
    verdict = await api.verify(stranger, policy=policy)
    assert not verdict.ok and any("approvals" in m for m in verdict.missing())


async def test_signatures_and_approvals_of_another_revision_are_refused(
    api: AsyncRemoteRegistry, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    policy = _policy(keys)
    first = await _publish(api, tmp_path / "a", "1.0.0", b"weights A")
    second = await _publish(api, tmp_path / "b", "2.0.0", b"weights B")
    first_digest = api.locate(first).digest
    await api.sign(first, KeyMaterial(keys["release"].private))
    await api.approve(first, "production", KeyMaterial(keys["devops-a"].private))
    signature, approval = sorted(
        await _bundles(api, first),
        key=lambda b: (
            APPROVAL_PREDICATE.encode() in base64.b64decode(json.loads(b)["dsseEnvelope"]["payload"])
        ),
    )

    await _attach(api, second, signature, MODEL_SIGNATURE_PREDICATE)
    await _attach(api, second, approval, APPROVAL_PREDICATE)
    reason = await _refusal(api, second, policy)
    assert f"it signs revision {first_digest}, not this revision" in reason
    assert f"it approves {first_digest}, not this revision" in reason

    # a referrer of the first revision listed under the second one (a rewritten fallback index)
    second_ref = api.locate(second)
    second_descriptor, _ = await api.reader.manifest(second_ref)
    target = api.target(second_ref)
    first_referrers = await target.referrers((await api.reader.manifest(api.locate(first)))[0])
    index = ImageIndex(manifests=first_referrers)
    data = index.to_bytes()
    await target.push_manifest(
        Descriptor.from_bytes(MEDIA_TYPE_IMAGE_INDEX, data),
        data,
        tag=second_descriptor.digest.replace(":", "-"),
    )
    verdict = await api.verify(second, policy=policy)
    assert not verdict.ok
    assert any(f"its subject is {first_digest}, not this revision" in r for r in verdict.refusals())


async def test_a_signature_over_other_files_is_refused(
    api: AsyncRemoteRegistry, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    """A validly signed statement bound to this revision whose file list is not this revision's files."""
    policy = _policy(keys)
    original = await _publish(api, tmp_path / "a", "1.0.0", b"original weights")
    tampered = await _publish(api, tmp_path / "b", "1.0.1", b"tampered weights")
    _, original_manifest = await api.reader.manifest(api.locate(original))
    tampered_digest = api.locate(tampered).digest
    assert tampered_digest is not None
    signer = StatementSigner(KeyMaterial(keys["release"].private))
    bundle = signer.sign_payload(_payload("model", tampered_digest, revision_resources(original_manifest)))
    await _attach(api, tampered, bundle, MODEL_SIGNATURE_PREDICATE)
    assert "'weights/model.bin' differs from the signed one" in await _refusal(api, tampered, policy)


async def test_an_expired_certificate_is_refused(
    api: AsyncRemoteRegistry, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    from model_signing._signing import sign_certificate

    authority = make_authority(tmp_path / "ca")
    ci = make_key(tmp_path / "keys", "ci")
    policy = _policy(keys, authority=authority, certificates={"ci": ("ci@example.com", "corp")})
    now = datetime.now(UTC)

    valid = await _publish(api, tmp_path / "valid", "1.0.0", b"valid weights")
    certificate = issue(authority, ci, "ci@example.com")
    await api.sign(valid, KeyMaterial(ci.private, certificate=certificate, chain=(authority.path,)))
    verdict = await api.verify(valid, policy=policy)
    assert [c.satisfied_by for c in verdict.checks if c.kind == "signatures"] == [["ci"]]

    expired = await _publish(api, tmp_path / "expired", "1.0.1", b"expired weights")
    old = issue(
        authority,
        ci,
        "ci@example.com",
        not_before=now - timedelta(days=60),
        not_after=now - timedelta(days=1),
    )
    from msr_oci.governance.bundles import SigningKeyError

    with pytest.raises(SigningKeyError, match="expired"):  # msr will not sign with it
        await api.sign(expired, KeyMaterial(ci.private, certificate=old, chain=(authority.path,)))
    # model-signing would (it checks the chain at the certificate's start): the gate refuses it
    ref = api.locate(expired)
    _, manifest = await api.reader.manifest(ref)
    assert isinstance(manifest, ImageManifest) and ref.digest is not None
    legacy = sign_certificate.Signer(ci.private, old, [authority.path])
    bundle = (
        legacy.sign(_payload("model", ref.digest, revision_resources(manifest))).bundle.to_json().encode()
    )
    await _attach(api, expired, bundle, MODEL_SIGNATURE_PREDICATE)
    reason = await _refusal(api, expired, policy)
    assert "the signing certificate of ci@example.com, ci expired at" in reason

    # a certificate whose identity the policy does not list is not counted either
    other = await _publish(api, tmp_path / "other", "1.0.2", b"other weights")
    stranger = issue(authority, ci, "someone@example.com")
    await api.sign(other, KeyMaterial(ci.private, certificate=stranger, chain=(authority.path,)))
    assert "does not name" in await _refusal(api, other, policy)


async def test_the_embedded_store_is_governed_the_same_way(
    isolated_env: object, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    policy = _policy(keys)
    async with AsyncRemoteRegistry() as store:
        revision = await _publish(store, tmp_path / "rev", "1.0.0", b"local weights")
        with pytest.raises(PolicyNotSatisfied):
            await store.fetch(revision, policy=policy)
        await store.sign(revision, KeyMaterial(keys["release"].private))
        await store.approve(revision, "production", KeyMaterial(keys["devops-a"].private), comment="ok")
        fetched = await store.fetch(revision, policy=policy)
        assert (fetched.path / "weights" / "model.bin").read_bytes() == b"local weights"
        found = await store.discover(revision, policy=policy)
        assert sorted((f.kind, f.signer, f.verified) for f in found.findings) == [
            ("approval", "devops-a", True),
            ("signature", "release", True),
        ]


async def test_request_cost_of_the_gate(
    api: AsyncRemoteRegistry, keys: dict[str, KeyPair], tmp_path: Path, isolated_env: object
) -> None:
    """Counted, not timed: a warm gated fetch asks the registry for the referrers list only (on
    distribution 2.8: the referrers API's 404, then the fallback index); everything else is cached."""
    policy = _policy(keys)
    revision = await _publish(api, tmp_path / "rev", "1.0.0", b"weights")
    await api.sign(revision, KeyMaterial(keys["release"].private))
    await api.approve(revision, "production", KeyMaterial(keys["devops-a"].private))
    await api.fetch(revision, policy=policy)
    before = api.request_count
    await api.fetch(revision, policy=policy)
    assert api.request_count - before == 2
    before = api.request_count
    await api.fetch(revision)
    assert api.request_count == before  # ungated: the cache answers with no request


def test_the_sync_facade_signs_verifies_and_gates(
    isolated_env: object, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    from msr_oci.registry import RemoteRegistry

    policy = _policy(keys)
    write_revision_dir(tmp_path / "rev", weights=b"sync weights")
    with RemoteRegistry() as registry:
        revision = registry.create_revision(
            load_revision_dir(tmp_path / "rev", name="model", version="1.0.0")
        )
        assert not registry.verify(revision, policy=policy).ok
        with pytest.raises(PolicyNotSatisfied):
            registry.set_alias("model", "production", "1.0.0", policy=policy)
        registry.sign(revision, KeyMaterial(keys["release"].private))
        registry.approve(revision, "production", KeyMaterial(keys["devops-a"].private), approver="ann")
        assert registry.verify(revision, policy=policy).ok
        assert registry.set_alias("model", "production", "1.0.0", policy=policy).version == "1.0.0"
        assert registry.fetch(revision, policy=policy).revision.version == "1.0.0"
        assert [e.event for e in registry.audit("model")].count("approval") == 1


async def test_admin_rotation_is_followed_through_the_policy_chain(
    isolated_env: object, keys: dict[str, KeyPair], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine pinned at serial 1 accepts serial 3 by walking back: 2 is signed by the old admin and
    names a new one, 3 is signed by the new admin only. A serial-3 policy signed by the old admin is
    refused once the chain says the old admin is gone."""
    import yaml

    from msr_oci.governance.errors import UntrustedPolicy

    admins = {n: make_key(tmp_path / "keys", n) for n in ("old-admin", "new-admin")}
    everyone = [keys["release"], *admins.values()]

    def document(serial: int, admin: str) -> bytes:
        stages = {"production": {"signatures": {"signers": ["release"]}}}
        return yaml.safe_dump(policy_document(everyone, stages, admins=[admin], serial=serial)).encode()

    def machine(name: str) -> None:
        monkeypatch.setenv("MSR_TRUST_DIR", str(tmp_path / f"trust-{name}"))

    old = KeyMaterial(admins["old-admin"].private)
    new = KeyMaterial(admins["new-admin"].private)
    machine("publisher")
    async with AsyncRemoteRegistry() as store:
        await _publish(store, tmp_path / "rev", "1.0.0", b"weights")
        await store.set_policy("model", document(1, "old-admin"), [old])
    machine("deployer")
    async with AsyncRemoteRegistry() as store:
        assert (await store.get_policy("model")).serial == 1  # pinned on first use
    machine("publisher")
    async with AsyncRemoteRegistry() as store:
        with pytest.raises(UntrustedPolicy):
            await store.set_policy("model", document(2, "new-admin"), [new])  # the new admin is not one yet
        await store.set_policy("model", document(2, "new-admin"), [old])
        with pytest.raises(UntrustedPolicy):
            await store.set_policy("model", document(3, "new-admin"), [old])  # the old admin is gone
        await store.set_policy("model", document(3, "new-admin"), [new])
    machine("deployer")
    async with AsyncRemoteRegistry() as store:
        assert (await store.get_policy("model")).serial == 3
        events = [e for e in await store.audit("model") if e.event == "policy"]
        assert [(e.by, e.verified) for e in events] == [
            ("old-admin", True),
            ("old-admin", True),
            ("new-admin", True),
        ]


async def test_signing_material_is_checked_before_anything_is_pushed(
    isolated_env: object, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    from msr_oci.governance.bundles import SigningKeyError

    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        keys["release"].key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    async with AsyncRemoteRegistry() as store:
        revision = await _publish(store, tmp_path / "rev", "1.0.0", b"weights")
        for material in (
            KeyMaterial(encrypted),  # no password
            KeyMaterial(encrypted, password=b"wrong"),
            KeyMaterial(keys["release"].public),  # a public key is not a private key
        ):
            with pytest.raises(SigningKeyError, match="cannot sign with this material"):
                await store.sign(revision, material)
        assert (await store.discover(revision)).attestations == []
        await store.sign(revision, KeyMaterial(encrypted, password=b"s3cret"))
        assert (await store.verify(revision, policy=_policy(keys), stage="production")).checks[0].ok
