"""A repository's signed policy: stored under the reserved tag ``_policy``, trusted on first use, and
from then on accepted only as a successor signed by the admins of the policy this machine trusts.

``RevisionGovernance`` (governance.py) asks this module for the policy a check applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from msr_oci.errors import InputError, NotFoundError
from msr_oci.governance.audit import AuditEvent
from msr_oci.governance.bundles import SigningMaterial, StatementSigner
from msr_oci.governance.errors import GovernanceError, PolicyInvalid, UntrustedPolicy
from msr_oci.governance.policy import Policy, load_policy, load_policy_file
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
from msr_oci.governance.referrers import created_at
from msr_oci.governance.trust import TrustPin, TrustStore
from msr_oci.oci import EMPTY_DESCRIPTOR, ImageManifest, Reference, Target
from msr_oci.oci.content import EMPTY_JSON
from msr_oci.registry.reader import RevisionReader
from msr_oci.registry.targets import Targets

__all__ = ["REPOSITORY_POLICY", "NoStoredPolicy", "PolicyChoice", "RepositoryPolicies"]

#: use the repository's signed policy (trusted on first use, then only through its admins)
REPOSITORY_POLICY: Final = "repository"
PolicyChoice = Policy | Path | Literal["repository"]
#: stored policies walked back to reach the pinned one
_POLICY_CHAIN_LIMIT: Final = 1000


class NoStoredPolicy(GovernanceError):
    """The repository holds no signed policy, and the caller asked for the repository's policy."""


def revision_name(ref: Reference) -> str:
    return ref.repository.rsplit("/", 1)[-1]


class RepositoryPolicies:
    def __init__(self, targets: Targets, reader: RevisionReader, trust: TrustStore | None = None) -> None:
        self.targets = targets
        self.reader = reader
        self.trust = trust or TrustStore()
        #: repositories whose policy this session trusted on first use (the CLI tells the user)
        self.pinned_on_first_use: list[str] = []

    def _location(self, ref: Reference) -> str:
        if ref.registry is None:
            return f"local:{self.targets.namespace.store_root}/{ref.repository}"
        return f"{ref.registry}/{ref.repository}"

    def repository(self, where: str | Reference) -> Reference:
        """A revision name in the namespace, or the repository of any reference."""
        if isinstance(where, Reference):
            return Reference(repository=where.repository, registry=where.registry)
        return self.targets.repository_ref(where)

    async def read(self, target: Target, reference: str, name: str) -> StoredPolicy:
        """One stored policy by tag or digest, its blobs verified (its signatures NOT checked)."""
        descriptor, manifest, _ = await target.fetch_manifest(reference)
        what = f"the policy of {name} ({descriptor.digest})"
        if not isinstance(manifest, ImageManifest):
            raise UntrustedPolicy(f"{what} is an image index, not a policy")
        policy_layer, signature_layers, previous = policy_layers(manifest, what)
        blobs = await self.targets.gather(
            self.reader.small(target, layer) for layer in [policy_layer, *signature_layers]
        )
        policy = load_policy(blobs[0], what)
        return StoredPolicy(descriptor.digest, policy, blobs[0], blobs[1:], previous, created_at(manifest))

    async def stored(self, where: str | Reference) -> StoredPolicy | None:
        """The repository's current policy as stored, NOT verified (None when it has none)."""
        ref = self.repository(where)
        try:
            return await self.read(self.targets.target(ref), POLICY_TAG, revision_name(ref))
        except NotFoundError:
            return None

    def _pin(self, location: str, stored: StoredPolicy) -> None:
        pin = TrustPin(location, stored.digest, stored.serial, stored.data, datetime.now(UTC))
        self.trust.save(pin)

    async def trusted(self, where: str | Reference, *, pin: bool = True) -> StoredPolicy:
        """The repository's policy, verified against this machine's pin (pinned on first use)."""
        ref = self.repository(where)
        name = revision_name(ref)
        target = self.targets.target(ref)
        current = await self.stored(ref)
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
            chain.append(await self.read(target, chain[-1].previous, name))
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

    def forget(self, where: str | Reference) -> bool:
        """Drop this machine's trust pin for a repository; the next use trusts the stored policy anew."""
        return self.trust.forget(self._location(self.repository(where)))

    async def store(
        self, name: str, data: bytes, materials: Sequence[SigningMaterial], *, source: str
    ) -> StoredPolicy:
        """Store a new policy for ``name``, signed with ``materials``: admins of the policy it replaces
        (or, for the first one, its own admins). Refused before anything is pushed unless enough sign."""
        policy = load_policy(data, source)
        if policy.admins is None:
            raise PolicyInvalid(source, "a stored policy needs admins, who sign its changes", field="admins")
        ref = self.repository(name)
        current = await self.trusted(ref) if await self.stored(ref) is not None else None
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
        target = self.targets.target(ref)
        await target.push(EMPTY_DESCRIPTOR, EMPTY_JSON)
        await self.targets.gather(target.push(d, content) for d, content in encoded.blobs)
        await target.push_manifest(encoded.descriptor, encoded.manifest_bytes, tag=POLICY_TAG)
        stored = StoredPolicy(encoded.descriptor.digest, policy, data, bundles, previous, datetime.now(UTC))
        self._pin(self._location(ref), stored)
        return stored

    async def resolve(self, choice: PolicyChoice, where: str | Reference) -> Policy:
        """The policy a check applies: as given, read from a file, or the repository's (trusted)."""
        if isinstance(choice, Policy):
            return choice
        if isinstance(choice, Path):
            return load_policy_file(choice)
        if choice == REPOSITORY_POLICY:
            return (await self.trusted(where)).policy
        raise InputError(
            f"unknown policy choice {choice!r}", hint="give a Policy, a policy file or 'repository'"
        )

    async def events(self, name: str) -> list[AuditEvent]:
        """Every stored policy, its signers checked against the admins of the one before it (the
        first: against its own), as far back as the registry still holds them."""
        target = self.targets.target(self.targets.repository_ref(name))
        chain: list[StoredPolicy] = []
        current = await self.stored(name)
        while current is not None and len(chain) < _POLICY_CHAIN_LIMIT:
            chain.append(current)
            try:
                current = await self.read(target, current.previous, name) if current.previous else None
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
