"""Interoperability of ``msr sign``: what a user pulls, plus the bundle as any OCI client finds it in the
registry, verifies with the OpenSSF ``model_signing`` package's own verifier (its Python API and its
CLI). The bundle is read here with plain HTTP through the referrers API and its fallback tag scheme,
not with msr's reader, so msr's writer is checked by two independent readers."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from governance_material import issue, make_authority, make_key
from registry_harness import RegistryServer
from support import msr, push, write_revision_dir

MODEL_SIGNING_CLI = Path(sys.executable).parent / "model_signing"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _get(url: str, accept: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def fetch_bundles(server: RegistryServer, repository: str, digest: str) -> list[dict[str, Any]]:
    """Every sigstore bundle attached to ``digest``, found the way the distribution spec says: the
    referrers API, else the ``sha256-<hex>`` fallback tag. Each bundle blob is digest-checked."""
    base = f"{server.url}/v2/{repository}"
    status, body = _get(f"{base}/referrers/{digest}", INDEX_TYPE)
    if status != 200:  # CNCF distribution 2.8 has no referrers API
        assert status == 404
        status, body = _get(f"{base}/manifests/{digest.replace(':', '-')}", INDEX_TYPE)
        assert status == 200, body
    index = json.loads(body)
    found = []
    for entry in index["manifests"]:
        if entry.get("artifactType") != BUNDLE_TYPE:
            continue
        status, manifest_bytes = _get(f"{base}/manifests/{entry['digest']}", MANIFEST_TYPE)
        assert status == 200 and "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == entry["digest"]
        manifest = json.loads(manifest_bytes)
        assert manifest["subject"]["digest"] == digest
        assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
        layer = manifest["layers"][0]
        status, bundle = _get(f"{base}/blobs/{layer['digest']}")
        assert status == 200 and "sha256:" + hashlib.sha256(bundle).hexdigest() == layer["digest"]
        found.append({"manifest": manifest, "bundle": bundle})
    return found


def _revision(tmp_path: Path, weights: bytes = b"\x00\x01 weights that matter\n" * 64) -> Path:
    """A revision with a nested file and an executable script (modes are part of what is pulled)."""
    directory = write_revision_dir(tmp_path / "rev", weights=weights)
    script = directory / "start.sh"
    script.write_text("#!/bin/sh\nexec python serve.py\n")
    script.chmod(0o755)
    return directory


def _model_signing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MODEL_SIGNING_CLI), "verify", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def published(registry: RegistryServer, isolated_env: object, tmp_path: Path) -> tuple[str, str, str]:
    """(reference, repository, manifest digest) of a fresh revision on the test registry."""
    repository = registry.unique_repository("signed")
    ref = f"{registry.host}/{repository}:1.0.0"
    record = push(_revision(tmp_path), ref)
    return ref, repository, record["digest"]


def test_key_signature_verifies_with_model_signing_on_pulled_files(
    registry: RegistryServer, published: tuple[str, str, str], tmp_path: Path
) -> None:
    import model_signing.verifying

    ref, repository, digest = published
    signer = make_key(tmp_path / "keys", "release")
    attached = msr("sign", ref, "--key", str(signer.private), "--output", "json").json()
    assert attached["revision"] == digest and attached["kind"] == "signature"

    pulled = tmp_path / "pulled"
    msr("pull", ref, "-o", str(pulled))
    bundles = fetch_bundles(registry, repository, digest)
    assert [b["manifest"]["annotations"]["dev.sigstore.bundle.predicateType"] for b in bundles] == [
        "https://model_signing/signature/v1.0"
    ]
    bundle_path = tmp_path / "model.sig"
    bundle_path.write_bytes(bundles[0]["bundle"])

    # model_signing's Python API and its CLI, on exactly what the user pulled
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=signer.public).verify(
        pulled, bundle_path
    )
    done = _model_signing(
        "key", str(pulled), "--signature", str(bundle_path), "--public_key", str(signer.public)
    )
    assert done.returncode == 0 and "Verification succeeded" in done.stdout, done.stdout + done.stderr

    # the statement binds the revision: its subject is NAME@<manifest digest>
    envelope = json.loads(bundle_path.read_bytes())["dsseEnvelope"]
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["subject"][0]["name"].endswith("@" + digest)
    names = sorted(r["name"] for r in statement["predicate"]["resources"])
    assert names == ["deployment-config.yaml", "model-definition.yaml", "start.sh", "weights/model.bin"]

    # another key, and a changed byte, are both refused by model_signing
    other = make_key(tmp_path / "keys", "other")
    done = _model_signing(
        "key", str(pulled), "--signature", str(bundle_path), "--public_key", str(other.public)
    )
    assert done.returncode != 0
    weights = pulled / "weights" / "model.bin"
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    done = _model_signing(
        "key", str(pulled), "--signature", str(bundle_path), "--public_key", str(signer.public)
    )
    assert done.returncode != 0 and "weights/model.bin" in done.stdout + done.stderr
    with pytest.raises(ValueError, match=r"weights/model\.bin"):
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=signer.public).verify(
            pulled, bundle_path
        )


def test_certificate_signature_verifies_with_model_signing(
    registry: RegistryServer, published: tuple[str, str, str], tmp_path: Path
) -> None:
    ref, repository, digest = published
    authority = make_authority(tmp_path / "ca")
    signer = make_key(tmp_path / "keys", "ci")
    certificate = issue(authority, signer, "ci@example.com")
    msr("sign", ref, "--key", str(signer.private), "--certificate", str(certificate), expect=2)  # no chain
    msr(
        "sign",
        ref,
        "--key",
        str(signer.private),
        "--certificate",
        str(certificate),
        "--chain",
        str(authority.path),
    )

    pulled = tmp_path / "pulled"
    msr("pull", ref, "-o", str(pulled))
    [found] = fetch_bundles(registry, repository, digest)
    bundle_path = tmp_path / "model.sig"
    bundle_path.write_bytes(found["bundle"])
    done = _model_signing(
        "certificate",
        str(pulled),
        "--signature",
        str(bundle_path),
        "--certificate_chain",
        str(authority.path),
    )
    assert done.returncode == 0 and "Verification succeeded" in done.stdout, done.stdout + done.stderr

    # a CA that did not issue the certificate is refused by model_signing
    stranger = make_authority(tmp_path / "other-ca", "other-ca")
    done = _model_signing(
        "certificate", str(pulled), "--signature", str(bundle_path), "--certificate_chain", str(stranger.path)
    )
    assert done.returncode != 0


def test_a_blob_changed_in_the_registry_is_never_handed_out(
    registry: RegistryServer, published: tuple[str, str, str], tmp_path: Path
) -> None:
    """The signature covers the manifest; the fetch checks every byte against it: a blob rewritten in
    the registry's storage passes the gate and is then refused (integrity, exit 7), nothing cached."""
    if registry.storage_dir is None:
        pytest.skip("needs the test registry's storage directory")
    ref, repository, digest = published
    signer = make_key(tmp_path / "keys", "release")
    msr("sign", ref, "--key", str(signer.private))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nsigners:\n  release:\n    public_key: |\n"
        + "".join(f"      {line}\n" for line in signer.public_pem.splitlines())
        + "stages:\n  production:\n    signatures: {signers: [release]}\ndeploy_stage: production\n"
    )
    manifest = json.loads(_get(f"{registry.url}/v2/{repository}/manifests/{digest}", MANIFEST_TYPE)[1])
    weights = next(
        layer
        for layer in manifest["layers"]
        if layer["annotations"]["org.opencontainers.image.title"] == "weights/model.bin"
    )
    encoded = weights["digest"].split(":")[1]
    blob = registry.storage_dir / "docker/registry/v2/blobs/sha256" / encoded[:2] / encoded / "data"
    blob.write_bytes(b"X" * blob.stat().st_size)

    by_digest = ref.rsplit(":", 1)[0] + "@" + digest
    result = msr("fetch", by_digest, "--policy", str(policy), expect=7)
    assert "digest" in result.stderr
    cache = Path(msr("cache", "ls", "--output", "json").json()["root"])
    assert not any(cache.glob(f"revisions/sha256/{digest.split(':')[1]}*"))


def test_signatures_follow_a_copy_and_model_signing_verifies_them_at_the_mirror(
    registry: RegistryServer, isolated_env: object, tmp_path: Path
) -> None:
    # blobs of its own: the registry stores each blob once for all repositories, and another test
    # of this file rewrites one of the shared revision's blobs in the registry's storage
    weights = b"mirrored weights " + uuid.uuid4().bytes
    digest = push(_revision(tmp_path, weights), "signed:1.0.0")["digest"]  # the local store
    signer = make_key(tmp_path / "keys", "release")
    msr("sign", "signed:1.0.0", "--key", str(signer.private))

    repository = f"{registry.unique_repository('mirror')}/signed"
    msr("copy", "signed:1.0.0", f"{registry.host}/{repository}")
    # found at the mirror the way the distribution spec says, digest-checked (not by msr's reader)
    [bundle] = fetch_bundles(registry, repository, digest)
    bundle_path = tmp_path / "model.sig"
    bundle_path.write_bytes(bundle["bundle"])
    pulled = tmp_path / "pulled"
    msr("pull", f"{registry.host}/{repository}:1.0.0", "-o", str(pulled))
    done = _model_signing(
        "key", str(pulled), "--signature", str(bundle_path), "--public_key", str(signer.public)
    )
    assert done.returncode == 0 and "Verification succeeded" in done.stdout, done.stdout + done.stderr

    bare = f"{registry.host}/{registry.unique_repository('bare')}/signed"
    msr("copy", "signed:1.0.0", bare, "--no-referrers")
    assert msr("discover", f"{bare}:1.0.0", "--output", "json").json()["referrers"] == []
    mirrored = msr("discover", f"{registry.host}/{repository}:1.0.0", "--output", "json").json()
    assert [r["kind"] for r in mirrored["referrers"]] == ["signature"]
