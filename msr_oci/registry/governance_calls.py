"""The governance calls of ``AsyncRemoteRegistry``: signatures, approvals, policies and the audit
timeline, delegated to ``RevisionGovernance`` (governance.py), ``RepositoryPolicies`` (policies.py)
and ``AuditTrail`` (audit_trail.py). Governance, and the signing libraries it imports, is built on
first use, so publishing and reading never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msr_oci.registry.aliases import AliasStore
from msr_oci.registry.authorship import default_user
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.revisions import Revisions
from msr_oci.registry.targets import Targets

if TYPE_CHECKING:
    from msr_oci.governance.audit import AuditEvent
    from msr_oci.governance.bundles import SigningMaterial
    from msr_oci.governance.evaluation import Verdict
    from msr_oci.governance.policy_store import StoredPolicy
    from msr_oci.registry.governance import AttachedAttestation, Discovery, PolicyChoice, RevisionGovernance


class GovernanceCalls:
    """Mixed into ``AsyncRemoteRegistry``, which provides the collaborators below."""

    targets: Targets
    reader: RevisionReader
    revisions: Revisions
    aliases: AliasStore
    _governance: RevisionGovernance | None = None

    @property
    def governance(self) -> RevisionGovernance:
        """Signatures, approvals, policies and the audit timeline of this namespace's revisions."""
        if self._governance is None:
            from msr_oci.registry.governance import RevisionGovernance

            self._governance = RevisionGovernance(self.targets, self.reader)
        return self._governance

    def _governed(self) -> RevisionGovernance:
        return self.governance

    @property
    def pinned_on_first_use(self) -> list[str]:
        """Repositories whose policy this object trusted on first use (the CLI tells the user)."""
        return [] if self._governance is None else self._governance.policies.pinned_on_first_use

    async def sign(self, revision_ref: str, material: SigningMaterial) -> AttachedAttestation:
        """Sign the revision's files (OpenSSF model signing) and attach the bundle as a referrer."""
        return await self.governance.sign(revision_ref, material)

    async def approve(
        self,
        revision_ref: str,
        stage: str,
        material: SigningMaterial,
        *,
        approver: str | None = None,
        comment: str | None = None,
    ) -> AttachedAttestation:
        """Attach a signed approval of the revision for ``stage``."""
        return await self.governance.approve(
            revision_ref, stage, material, approver=approver or default_user(), comment=comment
        )

    async def discover(self, revision_ref: str, *, policy: PolicyChoice | None = None) -> Discovery:
        """The revision's signatures and approvals (verified when a ``policy`` is given)."""
        return await self.governance.discover(revision_ref, policy)

    async def verify(self, revision_ref: str, *, policy: PolicyChoice, stage: str | None = None) -> Verdict:
        """Whether the revision meets ``policy`` for ``stage``, with every finding."""
        return await self.governance.verify(revision_ref, policy, stage)

    async def audit(self, name: str) -> list[AuditEvent]:
        """Publishes, updates, alias moves, signatures, approvals and policy changes of ``name``."""
        from msr_oci.registry.audit_trail import AuditTrail

        return await AuditTrail(self.governance, self.revisions, self.aliases).events(name)

    async def set_policy(
        self, name: str, data: bytes, materials: list[SigningMaterial], *, source: str = "policy"
    ) -> StoredPolicy:
        """Store ``data`` (policy YAML) as the signed policy of ``name``."""
        return await self.governance.policies.store(name, data, materials, source=source)

    async def get_policy(self, name: str) -> StoredPolicy:
        """The stored policy of ``name``, verified against this machine's trust pin."""
        return await self.governance.policies.trusted(name)

    def forget_policy(self, name: str) -> bool:
        """Drop this machine's trust pin for the policy of ``name``."""
        return self.governance.policies.forget(name)
