"""The audit timeline of one revision name, gathered from where each event is recorded: revision
records (publish, update), alias logs, attestation referrers and the stored policy chain
(the timeline's format: governance/audit.py)."""

from __future__ import annotations

import asyncio

from msr_oci.errors import NotFoundError
from msr_oci.governance.audit import AuditEvent, attestation_event, revision_event, timeline
from msr_oci.governance.errors import GovernanceError
from msr_oci.governance.evaluation import claims_of, examine
from msr_oci.governance.policy import Policy
from msr_oci.oci import Reference
from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.governance import RevisionGovernance
from msr_oci.registry.revisions import Revisions
from msr_oci.revision import ModelServingRevision, version_to_tag


class AuditTrail:
    def __init__(self, governance: RevisionGovernance, revisions: Revisions, aliases: AliasStore) -> None:
        self.governance = governance
        self.revisions = revisions
        self.aliases = aliases

    async def events(self, name: str) -> list[AuditEvent]:
        """One timeline of everything recorded about ``name``."""
        targets = self.revisions.targets
        ref = targets.repository_ref(name)
        versions = await self.revisions.versions(name)
        scan = await targets.scan(targets.target(ref))
        histories = await targets.gather(
            self.revisions.history(str(ref.with_tag(version_to_tag(v)))) for v in versions
        )
        moves = await targets.gather(self.aliases.history(name, alias) for alias in sorted(scan.alias_names))
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
        policies = self.governance.policies
        policy: Policy | None
        try:
            policy = (await policies.trusted(name, pin=False)).policy
        except GovernanceError:
            policy = None
        version_of = {d: r.version for d, r in revisions.items()}
        for digest in digests:
            events += await self._attestation_events(ref.with_digest(digest), policy, version_of.get(digest))
        events += await policies.events(name)
        return timeline(events)

    async def _attestation_events(
        self, ref: Reference, policy: Policy | None, version: str | None
    ) -> list[AuditEvent]:
        assert ref.digest is not None
        try:
            pinned, descriptor, manifest = await self.governance.revision(ref)
        except NotFoundError:
            return []  # deleted: its alias log entries still show
        attestations = await self.governance.attestations(pinned, descriptor)
        if policy is None:
            findings = [claims_of(a) for a in attestations]
        else:
            checked = policy
            findings = await asyncio.to_thread(
                lambda: [examine(checked, a, descriptor.digest, manifest) for a in attestations]
            )
        return [attestation_event(f, version, descriptor.digest, policy is not None) for f in findings]
