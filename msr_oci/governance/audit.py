"""The audit timeline of one revision name: publishes, updates, alias moves, signatures, approvals and
policy changes, as one list ordered by time.

Times come from where each event is recorded: the revision record (``created_at``/``updated_at``),
the alias log, the signed approval time, and the (unsigned) creation annotation of signature and
policy manifests. ``verified`` is set for signatures and approvals when a trusted policy checked them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from msr_oci.governance.evaluation import Finding
from msr_oci.revision import ModelServingRevision

__all__ = ["AuditEvent", "attestation_event", "revision_event", "timeline"]


@dataclass(frozen=True)
class AuditEvent:
    at: datetime | None
    event: str  # publish, update, alias.<action>, signature, approval, policy
    version: str | None = None
    digest: str | None = None
    by: str | None = None
    alias: str | None = None
    stage: str | None = None
    verified: bool | None = None
    detail: str | None = None
    #: the record that holds the event: a revision, alias log entry, referrer or policy manifest digest
    source: str | None = None


def revision_event(revision: ModelServingRevision) -> AuditEvent:
    updated = revision.supersedes is not None
    return AuditEvent(
        at=(revision.updated_at if updated else revision.created_at) or revision.created_at,
        event="update" if updated else "publish",
        version=revision.version,
        digest=revision.digest,
        by=revision.created_by,
        detail=f"supersedes {revision.supersedes}" if updated else None,
        source=revision.digest,
    )


def attestation_event(
    finding: Finding, version: str | None, revision_digest: str, checked: bool
) -> AuditEvent:
    """``checked``: a trusted policy verified the finding (else ``verified`` is unknown)."""
    detail = finding.comment
    if checked and not finding.verified:
        detail = finding.reason
    return AuditEvent(
        at=finding.at,
        event=finding.kind,
        version=version,
        digest=revision_digest,
        by=finding.signer or finding.claimed,
        stage=finding.stage,
        verified=finding.verified if checked else None,
        detail=detail,
        source=finding.digest,
    )


def timeline(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Events oldest first; events without a time go first, in the order given."""
    earliest = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: e.at.astimezone(UTC) if e.at is not None else earliest)
