"""Approvals: a signed in-toto statement that one person approves one revision for one stage.

``subject`` is the revision manifest's digest (so the approval covers every file, mode and record
field through it); the predicate records the stage, who approves (as they name themselves; the key
that signed is what counts), when, and a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from msr_oci.governance.bundles import StatementSigner
from msr_oci.governance.errors import AttestationRefused
from msr_oci.oci.digest import parse_digest

__all__ = ["APPROVAL_PREDICATE", "Approval", "read_approval", "sign_approval"]

APPROVAL_PREDICATE: Final = "https://backend.ai/model-serving/approval/v1"


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Approval:
    """The signed content of one approval (who signed it is the verifier's finding, not a field)."""

    stage: str
    approver: str
    approved_at: datetime
    comment: str | None
    revision_name: str
    revision_version: str | None
    revision_digest: str


def sign_approval(signer: StatementSigner, approval: Approval) -> bytes:
    algorithm, encoded = parse_digest(approval.revision_digest)
    predicate: dict[str, Any] = {
        "stage": approval.stage,
        "approver": approval.approver,
        "approvedAt": format_time(approval.approved_at),
        "revision": {
            "name": approval.revision_name,
            "version": approval.revision_version or "",
            "digest": approval.revision_digest,
        },
    }
    if approval.comment:
        predicate["comment"] = approval.comment
    return signer.sign_statement(approval.revision_name, {algorithm: encoded}, APPROVAL_PREDICATE, predicate)


def _text(predicate: dict[str, Any], key: str, what: str) -> str:
    value = predicate.get(key)
    if not isinstance(value, str) or not value:
        raise AttestationRefused(f"{what}: the approval has no {key!r}")
    return value


def read_approval(statement: dict[str, Any], revision_digest: str, what: str) -> Approval:
    """The approval a verified statement holds; refused unless its subject is ``revision_digest``."""
    if statement.get("predicateType") != APPROVAL_PREDICATE:
        raise AttestationRefused(f"{what}: predicate {statement.get('predicateType')!r} is not an approval")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise AttestationRefused(f"{what}: an approval has exactly one subject")
    algorithm, encoded = parse_digest(revision_digest)
    digests = subjects[0].get("digest")
    signed_for = digests.get(algorithm) if isinstance(digests, dict) else None
    if signed_for != encoded:
        other = f"{algorithm}:{signed_for}" if isinstance(signed_for, str) else "another revision"
        raise AttestationRefused(f"{what}: it approves {other}, not this revision ({revision_digest})")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise AttestationRefused(f"{what}: the approval has no predicate")
    try:
        approved_at = datetime.fromisoformat(_text(predicate, "approvedAt", what).replace("Z", "+00:00"))
    except ValueError:
        raise AttestationRefused(f"{what}: the approval time is not RFC 3339") from None
    revision = predicate.get("revision")
    version = revision.get("version") if isinstance(revision, dict) else None
    comment = predicate.get("comment")
    return Approval(
        stage=_text(predicate, "stage", what),
        approver=_text(predicate, "approver", what),
        approved_at=approved_at,
        comment=comment if isinstance(comment, str) else None,
        revision_name=str(subjects[0].get("name") or ""),
        revision_version=version if isinstance(version, str) and version else None,
        revision_digest=revision_digest,
    )
