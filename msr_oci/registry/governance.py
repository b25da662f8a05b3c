"""Governance against a registry: sign and approve revisions, list and verify their attestations,
gate fetches and alias moves. The repository's signed policy is kept by ``RepositoryPolicies``
(policies.py), the audit timeline built by ``AuditTrail`` (audit_trail.py). ``AsyncRemoteRegistry``
delegates every governance call here.

Checks are made on what the registry serves, never on what it says about it: a revision is pinned to
its manifest digest before it is checked, and what is fetched afterwards is that digest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from msr_oci.errors import InputError, IntegrityError, NotFoundError
from msr_oci.governance.approvals import APPROVAL_PREDICATE, Approval, sign_approval
from msr_oci.governance.bundles import BUNDLE_MEDIA_TYPE, SigningMaterial, StatementSigner, read_claim
from msr_oci.governance.errors import AttestationRefused
from msr_oci.governance.evaluation import Attestation, Finding, Verdict, claims_of, evaluate, examine
from msr_oci.governance.policy import STAGE_NAME_RULE, Policy, is_stage_name
from msr_oci.governance.referrers import ANNOTATION_PREDICATE_TYPE, bundle_layer, created_at, encode_referrer
from msr_oci.governance.signing import MODEL_SIGNATURE_PREDICATE, sign_revision
from msr_oci.governance.trust import TrustStore
from msr_oci.oci import EMPTY_DESCRIPTOR, Descriptor, ImageManifest, Reference, Target, parse_manifest
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.registry.policies import (
    REPOSITORY_POLICY,
    NoStoredPolicy,
    PolicyChoice,
    RepositoryPolicies,
    revision_name,
)
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.targets import Targets

__all__ = [
    "REPOSITORY_POLICY",
    "AttachedAttestation",
    "Discovery",
    "NoStoredPolicy",
    "PolicyChoice",
    "RevisionGovernance",
]


@dataclass(frozen=True)
class AttachedAttestation:
    """A signature or approval just attached to a revision."""

    reference: str
    digest: str
    revision: str
    kind: str
    signer: str
    created: datetime
    stage: str | None = None


@dataclass(frozen=True)
class Discovery:
    """A revision's signatures and approvals; ``checked``: verified against ``policy_source``."""

    revision: Reference
    descriptor: Descriptor
    attestations: list[Attestation]
    findings: list[Finding]
    checked: bool
    policy_source: str | None = None


class RevisionGovernance:
    def __init__(self, targets: Targets, reader: RevisionReader, trust: TrustStore | None = None) -> None:
        self.targets = targets
        self.reader = reader
        self.policies = RepositoryPolicies(targets, reader, trust)

    # ---- reading a revision and its attestations -------------------------------------------------

    async def revision(self, revision_ref: str | Reference) -> tuple[Reference, Descriptor, ImageManifest]:
        """The revision pinned to its manifest digest (verified), and its manifest."""
        ref = self.targets.locate(revision_ref)
        descriptor, manifest = await self.reader.manifest(ref)
        return ref.with_tag(None).with_digest(descriptor.digest), descriptor, manifest

    async def attestations(self, ref: Reference, descriptor: Descriptor) -> list[Attestation]:
        """Every sigstore-bundle referrer of the revision, each read and digest-verified."""
        target = self.targets.target(ref)
        listed = await target.referrers(descriptor, BUNDLE_MEDIA_TYPE)
        jobs = (self._read_attestation(target, entry, descriptor.digest) for entry in listed)
        return await self.targets.gather(jobs)

    async def _read_attestation(self, target: Target, listed: Descriptor, subject: str) -> Attestation:
        what = f"referrer {listed.digest}"
        predicate = (listed.annotations or {}).get(ANNOTATION_PREDICATE_TYPE)
        try:
            manifest = parse_manifest(await self.reader.small(target, listed))
            if not isinstance(manifest, ImageManifest):
                raise AttestationRefused(f"{what} is an index, not a bundle manifest")
            layer = bundle_layer(manifest, subject, what)
            bundle = await self.reader.small(target, layer)
        except (AttestationRefused, IntegrityError, NotFoundError) as exc:
            return Attestation(listed, predicate, None, problem=str(exc))
        predicate = (manifest.annotations or {}).get(ANNOTATION_PREDICATE_TYPE, predicate)
        return Attestation(listed, predicate, created_at(manifest), bundle=bundle)

    # ---- signing and approving ---------------------------------------------------------------------

    async def _attach(
        self, ref: Reference, descriptor: Descriptor, bundle: bytes, predicate_type: str, stage: str | None
    ) -> AttachedAttestation:
        target = self.targets.target(ref)
        created = datetime.now(UTC)
        encoded = encode_referrer(bundle, descriptor, predicate_type, created)
        await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)  # every store skips what it already holds
        await target.push(encoded.bundle_descriptor, bundle)
        await target.push_manifest(encoded.descriptor, encoded.manifest_bytes)  # subject: the revision
        self.reader.cache.put_small(encoded.descriptor, encoded.manifest_bytes)
        self.reader.cache.put_small(encoded.bundle_descriptor, bundle)
        claim = read_claim(bundle, encoded.descriptor.digest).claim
        return AttachedAttestation(
            reference=str(ref.with_digest(encoded.descriptor.digest)),
            digest=encoded.descriptor.digest,
            revision=descriptor.digest,
            kind="approval" if stage is not None else "signature",
            signer=claim.describe(),
            created=created,
            stage=stage,
        )

    async def sign(self, revision_ref: str, material: SigningMaterial) -> AttachedAttestation:
        """Sign the revision's files (model signing format) and attach the bundle as a referrer."""
        ref, descriptor, manifest = await self.revision(revision_ref)
        signer = await asyncio.to_thread(StatementSigner, material)
        name = revision_name(ref)
        bundle = await asyncio.to_thread(sign_revision, signer, name, descriptor.digest, manifest)
        return await self._attach(ref, descriptor, bundle, MODEL_SIGNATURE_PREDICATE, None)

    async def approve(
        self,
        revision_ref: str,
        stage: str,
        material: SigningMaterial,
        *,
        approver: str,
        comment: str | None = None,
    ) -> AttachedAttestation:
        """Attach a signed approval of the revision for ``stage``."""
        if not is_stage_name(stage):
            raise InputError(f"invalid stage {stage!r}", hint=STAGE_NAME_RULE)
        ref, descriptor, _ = await self.revision(revision_ref)
        revision = await self.reader.load(ref)
        signer = await asyncio.to_thread(StatementSigner, material)
        approval = Approval(
            stage=stage,
            approver=approver,
            approved_at=datetime.now(UTC),
            comment=comment,
            revision_name=revision_name(ref),
            revision_version=revision.version,
            revision_digest=descriptor.digest,
        )
        bundle = await asyncio.to_thread(sign_approval, signer, approval)
        return await self._attach(ref, descriptor, bundle, APPROVAL_PREDICATE, stage)

    # ---- verdicts and gates ------------------------------------------------------------------------

    async def _findings(
        self, policy: Policy, ref: Reference, descriptor: Descriptor, manifest: ImageManifest
    ) -> list[Finding]:
        attestations = await self.attestations(ref, descriptor)

        def check_all() -> list[Finding]:
            return [examine(policy, a, descriptor.digest, manifest) for a in attestations]

        return await asyncio.to_thread(check_all)

    async def _verdict(
        self,
        ref: Reference,
        descriptor: Descriptor,
        manifest: ImageManifest,
        policy: Policy,
        stage: str | None,
    ) -> Verdict:
        chosen_stage = stage or policy.deploy_stage
        if chosen_stage is None:
            raise InputError(
                f"{policy.source} sets no deploy_stage and no stage was named", hint="name the stage to check"
            )
        evaluate(policy, chosen_stage, str(ref), [])  # an unknown stage fails before any request
        findings = await self._findings(policy, ref, descriptor, manifest)
        return evaluate(policy, chosen_stage, str(ref), findings)

    async def verify(self, revision_ref: str, policy: PolicyChoice, stage: str | None = None) -> Verdict:
        """The verdict for ``stage`` (default: the policy's ``deploy_stage``); never raises on a 'no'."""
        ref, descriptor, manifest = await self.revision(revision_ref)
        chosen = await self.policies.resolve(policy, ref)
        return await self._verdict(ref, descriptor, manifest, chosen, stage)

    async def gate(self, ref: Reference, policy: PolicyChoice, stage: str | None = None) -> Reference:
        """The deploy gate: ``ref`` pinned to its digest once it meets the policy, else
        ``PolicyNotSatisfied`` naming what is missing. Fetch the returned reference, nothing else."""
        pinned, descriptor, manifest = await self.revision(ref)
        chosen = await self.policies.resolve(policy, pinned)
        (await self._verdict(pinned, descriptor, manifest, chosen, stage)).require()
        return pinned

    async def check_alias_move(
        self,
        ref: Reference,
        descriptor: Descriptor,
        manifest: ImageManifest,
        alias: str,
        policy: PolicyChoice,
    ) -> None:
        """Before an alias moves: the revision must meet the policy's rule for that alias (stage).

        With ``"repository"``, a repository without a stored policy, or a policy without a rule for
        this alias, leaves the move ungoverned.
        """
        if policy == REPOSITORY_POLICY and await self.policies.stored(ref) is None:
            return
        chosen = await self.policies.resolve(policy, ref)
        if chosen.rule(alias) is None:
            return
        pinned = ref.with_tag(None).with_digest(descriptor.digest)
        (await self._verdict(pinned, descriptor, manifest, chosen, alias)).require()

    async def discover(self, revision_ref: str, policy: PolicyChoice | None = None) -> Discovery:
        """The revision's signatures and approvals: verified against ``policy``, or as they claim."""
        ref, descriptor, manifest = await self.revision(revision_ref)
        if policy is None:
            attestations = await self.attestations(ref, descriptor)
            return Discovery(
                ref, descriptor, attestations, [claims_of(a) for a in attestations], checked=False
            )
        chosen = await self.policies.resolve(policy, ref)
        attestations = await self.attestations(ref, descriptor)
        findings = await asyncio.to_thread(
            lambda: [examine(chosen, a, descriptor.digest, manifest) for a in attestations]
        )
        return Discovery(ref, descriptor, attestations, findings, checked=True, policy_source=chosen.source)
