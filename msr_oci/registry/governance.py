"""Governance against a registry: sign and approve revisions, list and verify their attestations, keep
the repository's signed policy (trusted on first use), gate fetches and alias moves, and build the
audit timeline. ``AsyncRemoteRegistry`` delegates every governance call here.

Checks are made on what the registry serves, never on what it says about it: a revision is pinned to
its manifest digest before it is checked, and what is fetched afterwards is that digest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from msr_oci.governance.approvals import APPROVAL_PREDICATE, Approval, sign_approval
from msr_oci.governance.audit import AuditEvent, attestation_event, revision_event, timeline
from msr_oci.governance.bundles import BUNDLE_MEDIA_TYPE, SigningMaterial, StatementSigner, read_claim
from msr_oci.governance.errors import AttestationRefused, GovernanceError, PolicyInvalid, UntrustedPolicy
from msr_oci.governance.evaluation import Attestation, Finding, Verdict, claims_of, evaluate, examine
from msr_oci.governance.policy import STAGE_NAME_RULE, Policy, is_stage_name, load_policy, load_policy_file
from msr_oci.governance.policy_store import (
    POLICY_TAG,
    StoredPolicy,
    admins_behind,
    check_signed_by_admins,
    check_successor,
    encode_policy,
    policy_layers,
    sign_policy,
)
from msr_oci.governance.referrers import ANNOTATION_PREDICATE_TYPE, bundle_layer, created_at, encode_referrer
from msr_oci.governance.signing import MODEL_SIGNATURE_PREDICATE, sign_revision
from msr_oci.governance.trust import TrustPin, TrustStore
from msr_oci.oci import EMPTY_DESCRIPTOR, Descriptor, ImageManifest, Reference, Target, parse_manifest
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.oci.errors import InputError, IntegrityError, NotFoundError
from msr_oci.registry import aliases
from msr_oci.revision import ModelServingRevision

if TYPE_CHECKING:
    from msr_oci.registry.async_registry import AsyncRemoteRegistry

__all__ = [
    "REPOSITORY_POLICY",
    "AttachedAttestation",
    "Discovery",
    "NoStoredPolicy",
    "PolicyChoice",
    "RevisionGovernance",
]

#: use the repository's signed policy (trusted on first use, then only through its admins)
REPOSITORY_POLICY: Final = "repository"
PolicyChoice = Policy | Path | Literal["repository"]
#: stored policies walked back to reach the pinned one
_POLICY_CHAIN_LIMIT: Final = 1000


class NoStoredPolicy(GovernanceError):
    """The repository holds no signed policy, and the caller asked for the repository's policy."""


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


def _revision_name(ref: Reference) -> str:
    return ref.repository.rsplit("/", 1)[-1]


class RevisionGovernance:
    def __init__(self, registry: AsyncRemoteRegistry, trust: TrustStore | None = None) -> None:
        self._registry = registry
        self.trust = trust or TrustStore()
        #: repositories whose policy this session trusted on first use (the CLI tells the user)
        self.pinned_on_first_use: list[str] = []

    # ---- reading a revision and its attestations -------------------------------------------------

    async def _revision(self, revision_ref: str | Reference) -> tuple[Reference, Descriptor, ImageManifest]:
        """The revision pinned to its manifest digest (verified), and its manifest."""
        ref = self._registry.locate(revision_ref)
        descriptor, manifest = await self._registry._manifest(ref)
        return ref.with_tag(None).with_digest(descriptor.digest), descriptor, manifest

    async def attestations(self, ref: Reference, descriptor: Descriptor) -> list[Attestation]:
        """Every sigstore-bundle referrer of the revision, each read and digest-verified."""
        target = self._registry.target(ref)
        listed = await target.referrers(descriptor, BUNDLE_MEDIA_TYPE)
        jobs = (self._read_attestation(target, entry, descriptor.digest) for entry in listed)
        return await self._registry._gather(jobs)

    async def _read_attestation(self, target: Target, listed: Descriptor, subject: str) -> Attestation:
        what = f"referrer {listed.digest}"
        predicate = (listed.annotations or {}).get(ANNOTATION_PREDICATE_TYPE)
        try:
            manifest = parse_manifest(await self._registry._small(target, listed))
            if not isinstance(manifest, ImageManifest):
                raise AttestationRefused(f"{what} is an index, not a bundle manifest")
            layer = bundle_layer(manifest, subject, what)
            bundle = await self._registry._small(target, layer)
        except (AttestationRefused, IntegrityError, NotFoundError) as exc:
            return Attestation(listed, predicate, None, problem=str(exc))
        predicate = (manifest.annotations or {}).get(ANNOTATION_PREDICATE_TYPE, predicate)
        return Attestation(listed, predicate, created_at(manifest), bundle=bundle)

    # ---- signing and approving ---------------------------------------------------------------------

    async def _attach(
        self, ref: Reference, descriptor: Descriptor, bundle: bytes, predicate_type: str, stage: str | None
    ) -> AttachedAttestation:
        target = self._registry.target(ref)
        created = datetime.now(UTC)
        encoded = encode_referrer(bundle, descriptor, predicate_type, created)
        await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)  # every store skips what it already holds
        await target.push(encoded.bundle_descriptor, bundle)
        await target.push_manifest(encoded.descriptor, encoded.manifest_bytes)  # subject: the revision
        self._registry.cache.put_small(encoded.descriptor, encoded.manifest_bytes)
        self._registry.cache.put_small(encoded.bundle_descriptor, bundle)
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
        ref, descriptor, manifest = await self._revision(revision_ref)
        signer = await asyncio.to_thread(StatementSigner, material)
        name = _revision_name(ref)
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
        ref, descriptor, _ = await self._revision(revision_ref)
        revision = await self._registry._load(ref)
        signer = await asyncio.to_thread(StatementSigner, material)
        approval = Approval(
            stage=stage,
            approver=approver,
            approved_at=datetime.now(UTC),
            comment=comment,
            revision_name=_revision_name(ref),
            revision_version=revision.version,
            revision_digest=descriptor.digest,
        )
        bundle = await asyncio.to_thread(sign_approval, signer, approval)
        return await self._attach(ref, descriptor, bundle, APPROVAL_PREDICATE, stage)

    # ---- policies ----------------------------------------------------------------------------------

    def _location(self, ref: Reference) -> str:
        if ref.registry is None:
            return f"local:{self._registry.namespace.store_root}/{ref.repository}"
        return f"{ref.registry}/{ref.repository}"

    async def _read_policy(self, target: Target, reference: str, name: str) -> StoredPolicy:
        descriptor, manifest, _ = await target.fetch_manifest(reference)
        what = f"the policy of {name} ({descriptor.digest})"
        if not isinstance(manifest, ImageManifest):
            raise UntrustedPolicy(f"{what} is an image index, not a policy")
        policy_layer, signature_layers, previous = policy_layers(manifest, what)
        blobs = await self._registry._gather(
            self._registry._small(target, layer) for layer in [policy_layer, *signature_layers]
        )
        policy = load_policy(blobs[0], what)
        return StoredPolicy(descriptor.digest, policy, blobs[0], blobs[1:], previous, created_at(manifest))

    def _repository(self, where: str | Reference) -> Reference:
        """A revision name in the namespace, or the repository of any reference."""
        if isinstance(where, Reference):
            return Reference(repository=where.repository, registry=where.registry)
        return self._registry._repository_ref(where)

    async def stored_policy(self, where: str | Reference) -> StoredPolicy | None:
        """The repository's current policy as stored, NOT verified (None when it has none)."""
        ref = self._repository(where)
        try:
            return await self._read_policy(self._registry.target(ref), POLICY_TAG, _revision_name(ref))
        except NotFoundError:
            return None

    def _pin(self, location: str, stored: StoredPolicy) -> None:
        pin = TrustPin(location, stored.digest, stored.serial, stored.data, datetime.now(UTC))
        self.trust.save(pin)

    async def trusted_policy(self, where: str | Reference, *, pin: bool = True) -> StoredPolicy:
        """The repository's policy, verified against this machine's pin (pinned on first use)."""
        ref = self._repository(where)
        name = _revision_name(ref)
        target = self._registry.target(ref)
        current = await self.stored_policy(ref)
        if current is None:
            raise NoStoredPolicy(
                f"{ref.name} has no stored policy (tag {POLICY_TAG})",
                hint="store one (its admins sign it) or check against a local policy file",
            )
        location = self._location(ref)
        pinned = self.trust.load(location)
        if pinned is None:
            check_signed_by_admins(
                current, current.policy, name
            )  # trust on first use: self-signed by its admins
            if pin:
                self._pin(location, current)
                self.pinned_on_first_use.append(location)
            return current
        if pinned.policy_digest == current.digest:
            return current
        chain = [current]
        while chain[-1].previous and chain[-1].previous != pinned.policy_digest:
            if len(chain) >= _POLICY_CHAIN_LIMIT:
                break
            chain.append(await self._read_policy(target, chain[-1].previous, name))
        if chain[-1].previous != pinned.policy_digest:
            raise UntrustedPolicy(
                f"the policy of {ref.name} ({current.digest}, serial {current.serial}) does not descend "
                f"from the one this machine trusts ({pinned.policy_digest}, serial {pinned.serial}): it "
                "was rolled back or replaced",
                hint=f"if the change is legitimate, drop the trust pin {self.trust.path(location)}",
            )
        trusted = StoredPolicy(
            pinned.policy_digest,
            load_policy(pinned.policy_yaml, f"the trusted policy of {name} ({pinned.policy_digest})"),
            pinned.policy_yaml,
            [],
            None,
        )
        for newer in reversed(chain):
            check_successor(trusted, newer, name)
            trusted = newer
        if pin:
            self._pin(location, current)
        return current

    def forget_policy(self, where: str | Reference) -> bool:
        """Drop this machine's trust pin for a repository; the next use trusts the stored policy anew."""
        return self.trust.forget(self._location(self._repository(where)))

    async def set_policy(
        self, name: str, data: bytes, materials: Sequence[SigningMaterial], *, source: str
    ) -> StoredPolicy:
        """Store a new policy for ``name``, signed with ``materials``: admins of the policy it replaces
        (or, for the first one, its own admins). Refused before anything is pushed unless enough sign."""
        policy = load_policy(data, source)
        if policy.admins is None:
            raise PolicyInvalid(source, "a stored policy needs admins, who sign its changes", field="admins")
        ref = self._repository(name)
        current = await self.trusted_policy(ref) if await self.stored_policy(ref) is not None else None
        if current is not None and policy.serial <= current.serial:
            raise InputError(
                f"{source}: serial {policy.serial} must be above the stored policy's {current.serial}",
                hint=f"set serial: {current.serial + 1}",
            )
        previous = current.digest if current is not None else None
        signers = [await asyncio.to_thread(StatementSigner, material) for material in materials]
        bundles = [sign_policy(signer, data, name, policy.serial, previous) for signer in signers]
        candidate = StoredPolicy("", policy, data, bundles, previous)
        check_signed_by_admins(candidate, current.policy if current is not None else policy, name)
        encoded = encode_policy(data, bundles, policy.serial, previous)
        target = self._registry.target(ref)
        await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
        await self._registry._gather(target.push(d, content) for d, content in encoded.blobs)
        await target.push_manifest(encoded.descriptor, encoded.manifest_bytes, tag=POLICY_TAG)
        stored = StoredPolicy(encoded.descriptor.digest, policy, data, bundles, previous, datetime.now(UTC))
        self._pin(self._location(ref), stored)
        return stored

    async def resolve_policy(self, choice: PolicyChoice, where: str | Reference) -> Policy:
        if isinstance(choice, Policy):
            return choice
        if isinstance(choice, Path):
            return load_policy_file(choice)
        if choice == REPOSITORY_POLICY:
            return (await self.trusted_policy(where)).policy
        raise InputError(
            f"unknown policy choice {choice!r}", hint="give a Policy, a policy file or 'repository'"
        )

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
        ref, descriptor, manifest = await self._revision(revision_ref)
        chosen = await self.resolve_policy(policy, ref)
        return await self._verdict(ref, descriptor, manifest, chosen, stage)

    async def gate(self, ref: Reference, policy: PolicyChoice, stage: str | None = None) -> Reference:
        """The deploy gate: ``ref`` pinned to its digest once it meets the policy, else
        ``PolicyNotSatisfied`` naming what is missing. Fetch the returned reference, nothing else."""
        pinned, descriptor, manifest = await self._revision(ref)
        chosen = await self.resolve_policy(policy, pinned)
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
        if policy == REPOSITORY_POLICY and await self.stored_policy(ref) is None:
            return
        chosen = await self.resolve_policy(policy, ref)
        if chosen.rule(alias) is None:
            return
        pinned = ref.with_tag(None).with_digest(descriptor.digest)
        (await self._verdict(pinned, descriptor, manifest, chosen, alias)).require()

    async def discover(self, revision_ref: str, policy: PolicyChoice | None = None) -> Discovery:
        """The revision's signatures and approvals: verified against ``policy``, or as they claim."""
        ref, descriptor, manifest = await self._revision(revision_ref)
        if policy is None:
            attestations = await self.attestations(ref, descriptor)
            return Discovery(
                ref, descriptor, attestations, [claims_of(a) for a in attestations], checked=False
            )
        chosen = await self.resolve_policy(policy, ref)
        attestations = await self.attestations(ref, descriptor)
        findings = await asyncio.to_thread(
            lambda: [examine(chosen, a, descriptor.digest, manifest) for a in attestations]
        )
        return Discovery(ref, descriptor, attestations, findings, checked=True, policy_source=chosen.source)

    # ---- audit -------------------------------------------------------------------------------------

    async def _policy_events(self, name: str) -> list[AuditEvent]:
        """Every stored policy, its signers checked against the admins of the one before it (the
        first: against its own), as far back as the registry still holds them."""
        target = self._registry.target(self._registry._repository_ref(name))
        chain: list[StoredPolicy] = []
        current = await self.stored_policy(name)
        while current is not None and len(chain) < _POLICY_CHAIN_LIMIT:
            chain.append(current)
            try:
                current = (
                    await self._read_policy(target, current.previous, name) if current.previous else None
                )
            except NotFoundError:
                current = None
        events = []
        for index, stored in enumerate(chain):
            trusted = chain[index + 1].policy if index + 1 < len(chain) else stored.policy
            signed, refusals = admins_behind(stored, trusted, name)
            threshold = trusted.admins.threshold if trusted.admins is not None else 1
            events.append(
                AuditEvent(
                    at=stored.created,
                    event="policy",
                    by=", ".join(signed) or None,
                    verified=len(signed) >= threshold,
                    detail=f"serial {stored.serial}"
                    + (f"; refused: {'; '.join(refusals)}" if refusals else ""),
                    source=stored.digest,
                )
            )
        return events

    async def audit(self, name: str) -> list[AuditEvent]:
        """One timeline of everything recorded about ``name``."""
        registry = self._registry
        ref = registry._repository_ref(name)
        target = registry.target(ref)
        versions = await registry.versions(name)
        tags = await registry._tags(target)
        alias_names = sorted(
            t[len(aliases.ALIAS_LOG_PREFIX) :] for t in tags if t.startswith(aliases.ALIAS_LOG_PREFIX)
        )
        histories = await registry._gather(registry.history(str(ref.with_tag(_tag_of(v)))) for v in versions)
        moves = await registry._gather(registry.alias_history(name, alias) for alias in alias_names)
        revisions: dict[str, ModelServingRevision] = {}
        for revision in (r for chain in histories for r in chain):
            revisions.setdefault(revision.digest or "", revision)
        events = [revision_event(r) for r in revisions.values()]
        digests = dict.fromkeys(revisions)
        for entry in (e for history in moves for e in history):
            events.append(
                AuditEvent(
                    at=entry.at,
                    event=f"alias.{entry.action}",
                    version=entry.version,
                    digest=entry.digest,
                    by=entry.by,
                    alias=entry.alias,
                    source=entry.entry_digest,
                )
            )
            if entry.digest:
                digests.setdefault(entry.digest)
        policy: Policy | None
        try:
            policy = (await self.trusted_policy(name, pin=False)).policy
        except GovernanceError:
            policy = None
        version_of = {d: r.version for d, r in revisions.items()}
        for digest in digests:
            events += await self._attestation_events(ref.with_digest(digest), policy, version_of.get(digest))
        events += await self._policy_events(name)
        return timeline(events)

    async def _attestation_events(
        self, ref: Reference, policy: Policy | None, version: str | None
    ) -> list[AuditEvent]:
        assert ref.digest is not None
        try:
            pinned, descriptor, manifest = await self._revision(ref)
        except NotFoundError:
            return []  # deleted: its alias log entries still show
        attestations = await self.attestations(pinned, descriptor)
        if policy is None:
            findings = [claims_of(a) for a in attestations]
        else:
            checked = policy
            findings = await asyncio.to_thread(
                lambda: [examine(checked, a, descriptor.digest, manifest) for a in attestations]
            )
        return [attestation_event(f, version, descriptor.digest, policy is not None) for f in findings]


def _tag_of(version: str) -> str:
    from msr_oci.revision import version_to_tag

    return version_to_tag(version)
