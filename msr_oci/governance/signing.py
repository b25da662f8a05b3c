"""Model signatures: the OpenSSF model signing statement over a revision's files, bound to the revision.

The statement lists every file of the revision by the path ``msr pull`` writes it to and the SHA-256
of its bytes. Each layer holds one file's exact bytes, so the layer digests in the manifest *are* those
hashes: a revision is signed without downloading it, and ``model_signing verify`` on a pulled
directory recomputes the same list from the files. The statement's subject is named
``NAME@sha256:<manifest digest>``, binding the signature to one revision (and through the manifest
digest to the file modes and the revision record too); model-signing treats the name as informative,
msr refuses a signature bound to another revision.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Final

from msr_oci.errors import UnsupportedError
from msr_oci.governance.bundles import StatementSigner
from msr_oci.governance.errors import AttestationRefused
from msr_oci.oci import ImageManifest
from msr_oci.oci.digest import is_digest, parse_digest
from msr_oci.revision import revision_files

__all__ = [
    "MODEL_SIGNATURE_PREDICATE",
    "check_signature_statement",
    "revision_resources",
    "sign_revision",
    "subject_name",
]

MODEL_SIGNATURE_PREDICATE: Final = "https://model_signing/signature/v1.0"
#: what model-signing leaves out when it hashes a directory; recorded the same way, so the statement
#: looks like one model-signing made (files by these names are still listed and signed)
_GIT_PATHS: Final = (".git", ".github", ".gitignore", ".gitattributes")


def revision_resources(manifest: ImageManifest) -> dict[str, str]:
    """Each file's path (as pulled) and the hex SHA-256 of its bytes, from the layer digests."""
    resources: dict[str, str] = {}
    for path, layer in revision_files(manifest):
        algorithm, encoded = parse_digest(layer.digest)
        if algorithm != "sha256":
            raise UnsupportedError(
                f"{path} is stored under a {algorithm} digest; model signing lists files by SHA-256",
                hint="publish the revision again (msr writes sha256 layers)",
            )
        resources[path] = encoded
    return resources


def subject_name(name: str, digest: str) -> str:
    """The model name a statement signs: the revision's name bound to its manifest digest."""
    return f"{name}@{digest}"


def subject_digest(model_name: str) -> str | None:
    """The revision digest a ``subject_name`` binds, or ``None`` for a model name of another kind."""
    _, at, digest = model_name.rpartition("@")
    return digest if at and is_digest(digest) else None


def _ignored_paths(paths: dict[str, str]) -> list[str]:
    return [p for p in _GIT_PATHS if not any(f == p or f.startswith(p + "/") for f in paths)]


def _payload(name: str, digest: str, resources: dict[str, str]) -> Any:
    from model_signing import manifest as ms_manifest
    from model_signing._hashing import hashing as ms_hashing
    from model_signing._signing import signing as ms_signing

    items = [
        ms_manifest.FileManifestItem(
            path=PurePosixPath(path), digest=ms_hashing.Digest("sha256", bytes.fromhex(hexdigest))
        )
        for path, hexdigest in sorted(resources.items())
    ]
    serialization = ms_manifest._FileSerialization(
        "sha256", False, [Path(p) for p in _ignored_paths(resources)]
    )
    return ms_signing.Payload(ms_manifest.Manifest(subject_name(name, digest), items, serialization))


def sign_revision(signer: StatementSigner, name: str, digest: str, manifest: ImageManifest) -> bytes:
    """A sigstore bundle of the model signing statement over the revision ``digest``'s files."""
    return signer.sign_payload(_payload(name, digest, revision_resources(manifest)))


def check_signature_statement(
    statement: dict[str, Any], revision_digest: str, manifest: ImageManifest, what: str
) -> None:
    """Refuse a verified model signing statement that is not over exactly this revision's files."""
    from model_signing._signing import signing as ms_signing

    if statement.get("predicateType") != MODEL_SIGNATURE_PREDICATE:
        raise AttestationRefused(
            f"{what}: predicate {statement.get('predicateType')!r} is not a model signature"
        )
    try:
        signed = ms_signing.dsse_payload_to_manifest(statement)
    except (ValueError, KeyError, TypeError) as exc:
        raise AttestationRefused(f"{what}: the model signing statement is malformed ({exc})") from None
    serialization = signed.serialization_type
    if serialization.get("method") != "files" or serialization.get("hash_type") != "sha256":
        raise AttestationRefused(
            f"{what}: the statement lists {serialization.get('method')}/{serialization.get('hash_type')}, "
            "msr checks files/sha256"
        )
    bound = subject_digest(signed.model_name)
    if bound != revision_digest:
        target = f"revision {bound}" if bound else f"a model named {signed.model_name!r}"
        raise AttestationRefused(f"{what}: it signs {target}, not this revision ({revision_digest})")
    listed = {str(rd.identifier): rd.digest.digest_hex for rd in signed.resource_descriptors()}
    expected = revision_resources(manifest)
    for path in sorted(listed.keys() | expected.keys()):
        if path not in expected:
            raise AttestationRefused(f"{what}: it signs {path!r}, which this revision does not hold")
        if path not in listed:
            raise AttestationRefused(f"{what}: the revision's file {path!r} is not signed")
        if listed[path] != expected[path]:
            raise AttestationRefused(f"{what}: the revision's file {path!r} differs from the signed one")
