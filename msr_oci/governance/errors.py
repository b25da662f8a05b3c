"""Typed errors of governance: every refusal of the deploy gate or of a policy change is exit code 9."""

from __future__ import annotations

from msr_oci.errors import InputError, MsrOciError

__all__ = [
    "AttestationRefused",
    "GovernanceError",
    "PolicyInvalid",
    "PolicyNotSatisfied",
    "SigningKeyError",
    "UntrustedPolicy",
]


class GovernanceError(MsrOciError):
    """A revision is not signed or approved as a policy requires, or a signature or policy is refused."""

    exit_code = 9


class PolicyNotSatisfied(GovernanceError):
    """The revision lacks signatures or approvals a stage requires; ``missing`` names each gap."""

    def __init__(self, message: str, *, missing: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.missing = missing


class AttestationRefused(GovernanceError):
    """One signature or approval does not verify (bad signature, unknown key, other revision, ...)."""


class UntrustedPolicy(GovernanceError):
    """A stored policy is not signed by the admins this machine trusts, or goes back in time."""


class PolicyInvalid(InputError):
    """A policy document is malformed; names the file, the field and the line."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}", hint=hint)
        self.file = file
        self.field = field
        self.line = line


class SigningKeyError(InputError):
    """A private key, certificate or chain given for signing cannot be used."""
