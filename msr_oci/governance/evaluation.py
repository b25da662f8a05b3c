"""Check a revision's signatures and approvals against a policy, and say what a stage still lacks.

Each referrer is verified on its own (``Finding``): its bundle must verify against a signer the
policy names, and what it signs must be this revision. A refused referrer does not count and does
not block by itself (anyone who can push can attach junk); a stage passes when enough distinct
signers stand behind verified attestations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from msr_oci.errors import InputError
from msr_oci.governance.approvals import read_approval
from msr_oci.governance.bundles import ParsedBundle, read_claim, unverified_statement, verify_bundle
from msr_oci.governance.errors import AttestationRefused, PolicyNotSatisfied
from msr_oci.governance.policy import Policy, Requirement
from msr_oci.governance.referrers import AttestationKind, kind_of
from msr_oci.governance.signing import check_signature_statement
from msr_oci.oci import Descriptor, ImageManifest

__all__ = ["Attestation", "Finding", "RequirementCheck", "Verdict", "claims_of", "evaluate", "examine"]


@dataclass(frozen=True)
class Attestation:
    """One referrer of a revision as read from the registry (nothing verified yet)."""

    descriptor: Descriptor
    predicate_type: str | None
    created: datetime | None
    bundle: bytes | None = None
    #: why the referrer could not even be read (wrong subject, not a bundle, ...)
    problem: str | None = None

    @property
    def kind(self) -> AttestationKind:
        return kind_of(self.predicate_type)

    def unverified(self) -> Finding:
        """A finding that says nothing yet: who signed is unknown, nothing is verified."""
        return Finding(
            digest=self.descriptor.digest, kind=self.kind, claimed="?", created=self.created, verified=False
        )


@dataclass(frozen=True)
class Finding:
    """What one attestation turned out to be."""

    digest: str
    kind: AttestationKind
    claimed: str
    created: datetime | None
    verified: bool
    signer: str | None = None
    stage: str | None = None
    approver: str | None = None
    approved_at: datetime | None = None
    comment: str | None = None
    reason: str | None = None

    @property
    def at(self) -> datetime | None:
        """The signed approval time when there is one, else the (unsigned) creation annotation."""
        return self.approved_at or self.created


def _signed_statement(
    policy: Policy, parsed: ParsedBundle, what: str, now: datetime | None
) -> tuple[str, dict[str, Any]]:
    candidates = [name for name, identity in policy.identities.items() if parsed.claim.could_be(identity)]
    if not candidates:
        raise AttestationRefused(
            f"{what}: signed by {parsed.claim.describe()}, which {policy.source} does not name"
        )
    refusal: AttestationRefused | None = None
    for name in candidates:
        try:
            return name, verify_bundle(parsed, policy.identities[name], what, now=now)
        except AttestationRefused as exc:
            refusal = exc
    assert refusal is not None
    raise refusal


def examine(
    policy: Policy,
    attestation: Attestation,
    revision_digest: str,
    manifest: ImageManifest,
    *,
    now: datetime | None = None,
) -> Finding:
    """Verify one attestation of the revision ``revision_digest`` against ``policy``."""
    what = f"{attestation.kind} {attestation.descriptor.digest}"
    base = attestation.unverified()
    if attestation.problem is not None or attestation.bundle is None:
        return replace(base, reason=attestation.problem or "no bundle")
    try:
        parsed = read_claim(attestation.bundle, what)
        base = replace(base, claimed=parsed.claim.describe())
        signer, statement = _signed_statement(policy, parsed, what, now)
        kind = kind_of(statement.get("predicateType"))
        if kind == "signature":
            check_signature_statement(statement, revision_digest, manifest, what)
            return replace(base, kind=kind, verified=True, signer=signer)
        if kind == "approval":
            approval = read_approval(statement, revision_digest, what)
            return replace(
                base,
                kind=kind,
                verified=True,
                signer=signer,
                stage=approval.stage,
                approver=approval.approver,
                approved_at=approval.approved_at,
                comment=approval.comment,
            )
        return replace(
            base, kind=kind, reason=f"{what}: predicate {statement.get('predicateType')!r} is not used"
        )
    except (AttestationRefused, InputError) as exc:
        return replace(base, reason=str(exc))


def claims_of(attestation: Attestation) -> Finding:
    """What an attestation claims, unverified (``verified`` False, no ``reason``): for listings."""
    finding = replace(attestation.unverified(), reason=attestation.problem)
    if attestation.bundle is None:
        return finding
    try:
        parsed = read_claim(attestation.bundle, attestation.descriptor.digest)
    except AttestationRefused as exc:
        return replace(finding, reason=str(exc))
    finding = replace(finding, claimed=parsed.claim.describe())
    statement = unverified_statement(parsed) or {}
    predicate = statement.get("predicate")
    if kind_of(statement.get("predicateType")) != "approval" or not isinstance(predicate, dict):
        return finding
    try:
        approved_at = datetime.fromisoformat(str(predicate.get("approvedAt")).replace("Z", "+00:00"))
    except ValueError:
        approved_at = None
    text = {k: v if isinstance(v, str) else None for k, v in predicate.items()}
    return replace(
        finding,
        stage=text.get("stage"),
        approver=text.get("approver"),
        approved_at=approved_at,
        comment=text.get("comment"),
    )


@dataclass(frozen=True)
class RequirementCheck:
    """One requirement of a stage and the signers that meet it."""

    stage: str
    kind: Literal["signatures", "approvals"]
    requirement: Requirement
    satisfied_by: list[str]

    @property
    def ok(self) -> bool:
        return len(self.satisfied_by) >= self.requirement.threshold

    def describe_missing(self) -> str:
        have = ", ".join(self.satisfied_by) or "none"
        noun = "signatures" if self.kind == "signatures" else f"approvals for {self.stage}"
        return (
            f"{noun} from {self.requirement.describe()}: has {len(self.satisfied_by)} ({have}), "
            f"needs {self.requirement.threshold - len(self.satisfied_by)} more"
        )


@dataclass(frozen=True)
class Verdict:
    """Whether a revision may enter (or be deployed as) a stage under a policy, and why."""

    revision: str
    stage: str
    policy_source: str
    checks: list[RequirementCheck]
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def missing(self) -> list[str]:
        return [check.describe_missing() for check in self.checks if not check.ok]

    def refusals(self) -> list[str]:
        return [f.reason for f in self.findings if not f.verified and f.reason]

    def require(self) -> None:
        """Raise ``PolicyNotSatisfied`` naming every gap (and every refused attestation) unless ok."""
        if self.ok:
            return
        missing = self.missing()
        message = f"{self.revision} does not meet {self.policy_source} for {self.stage}: {'; '.join(missing)}"
        refused = self.refusals()
        if refused:
            message += f"; refused: {'; '.join(refused)}"
        raise PolicyNotSatisfied(
            message,
            missing=missing,
            hint="have the listed signers sign or approve this revision for the stage",
        )


def _signers(findings: Iterable[Finding], requirement: Requirement, kind: str, stage: str) -> list[str]:
    names = {
        f.signer
        for f in findings
        if f.verified
        and f.kind == kind
        and f.signer in requirement.signers
        and (kind != "approval" or f.stage == stage)
    }
    return sorted(n for n in names if n is not None)


def evaluate(policy: Policy, stage: str, revision: str, findings: list[Finding]) -> Verdict:
    """The verdict for ``stage``; a stage the policy does not know is an error (a typo must not pass)."""
    rule = policy.rule(stage)
    if rule is None:
        known = ", ".join(sorted(policy.stages)) or "none"
        raise InputError(
            f"{policy.source} has no stage {stage!r} (stages: {known})", hint="name one of its stages"
        )
    checks: list[RequirementCheck] = []
    if rule.signatures is not None:
        checks.append(
            RequirementCheck(
                stage, "signatures", rule.signatures, _signers(findings, rule.signatures, "signature", stage)
            )
        )
    if rule.approvals is not None:
        checks.append(
            RequirementCheck(
                stage, "approvals", rule.approvals, _signers(findings, rule.approvals, "approval", stage)
            )
        )
    return Verdict(
        revision=revision, stage=stage, policy_source=policy.source, checks=checks, findings=findings
    )
