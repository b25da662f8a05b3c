"""The governance policy: who must sign or approve a revision, per stage, and who may change the policy.

```yaml
version: 1
serial: 3                       # a stored policy's serial only ever increases
signers:                        # named signers: a public key, a certificate identity or a sigstore identity
  devops-a: {public_key: "-----BEGIN PUBLIC KEY-----\\n..."}
  release-ci: {certificate: {identity: ci@example.com, authority: corp}}
  bob: {sigstore: {identity: bob@example.com, issuer: https://accounts.google.com}}
certificate_authorities: {corp: "-----BEGIN CERTIFICATE-----\\n..."}
admins: {signers: [admin-1, admin-2], threshold: 1}     # who signs a change of this policy
stages:                         # a stage is an alias name (staging, production)
  staging: {signatures: {signers: [ml-a, ml-b], threshold: 1}}
  production:
    signatures: {signers: [release-ci]}
    approvals: {signers: [devops-a, devops-b], threshold: 2}
deploy_stage: production        # what the deploy gate requires when no stage is named
```

Unknown keys are errors: a misspelt ``aprovals`` must not silently drop a requirement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from msr_oci.governance.errors import PolicyInvalid
from msr_oci.governance.identities import CertificateIdentity, Identity, PublicKeyIdentity, SigstoreIdentity
from msr_oci.oci.reference import is_tag
from msr_oci.revision.yaml_reader import YamlProblem, parse_yaml

__all__ = [
    "MAX_POLICY_SIZE",
    "STAGE_NAME_RULE",
    "Policy",
    "Requirement",
    "StageRule",
    "is_stage_name",
    "load_policy",
    "load_policy_file",
]

#: a policy lists a few dozen keys; a larger document is refused before it is parsed
MAX_POLICY_SIZE = 1024 * 1024
STAGE_NAME_RULE = "a stage is an alias name: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, such as staging or production"


def is_stage_name(stage: str) -> bool:
    return is_tag(stage) and not stage.startswith("_")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CertificateSignerSpec(_Strict):
    identity: str = Field(min_length=1, description="a SAN email, URI or DNS name, or the subject CN")
    authority: str = Field(min_length=1, description="the name of a certificate authority of this policy")


class SigstoreSignerSpec(_Strict):
    identity: str = Field(min_length=1)
    issuer: str = Field(min_length=1)
    staging: bool = False


class SignerSpec(_Strict):
    public_key: str | None = None
    certificate: CertificateSignerSpec | None = None
    sigstore: SigstoreSignerSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SignerSpec:
        given = [k for k in ("public_key", "certificate", "sigstore") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of public_key, certificate, sigstore (found {given or 'none'})"
            )
        return self


class Requirement(_Strict):
    """``threshold`` distinct signers out of ``signers``."""

    signers: list[str] = Field(min_length=1)
    threshold: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _reachable(self) -> Requirement:
        if len(set(self.signers)) != len(self.signers):
            raise ValueError("a signer is listed twice")
        if self.threshold > len(self.signers):
            raise ValueError(
                f"threshold {self.threshold} is more than the {len(self.signers)} signers listed"
            )
        return self

    def describe(self) -> str:
        return f"{self.threshold} of {{{', '.join(self.signers)}}}"


class StageRule(_Strict):
    signatures: Requirement | None = None
    approvals: Requirement | None = None


class Policy(_Strict):
    version: Literal[1]
    serial: int = Field(default=0, ge=0)
    signers: dict[str, SignerSpec] = Field(default_factory=dict)
    certificate_authorities: dict[str, str] = Field(default_factory=dict)
    admins: Requirement | None = None
    stages: dict[str, StageRule] = Field(default_factory=dict)
    deploy_stage: str | None = None

    _identities: dict[str, Identity] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr(default="policy")

    @property
    def identities(self) -> dict[str, Identity]:
        """Each signer name resolved to the key, certificate identity or sigstore identity it means."""
        return self._identities

    @property
    def source(self) -> str:
        """Where the policy came from (a file, or a repository's stored policy), for messages."""
        return self._source

    def rule(self, stage: str) -> StageRule | None:
        return self.stages.get(stage)


def _references(policy: Policy) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Names that must exist: signers in requirements, authorities of certificate signers."""
    requirements: list[tuple[tuple[str | int, ...], Requirement]] = []
    if policy.admins is not None:
        requirements.append((("admins",), policy.admins))
    for stage, rule in policy.stages.items():
        for kind in ("signatures", "approvals"):
            requirement = getattr(rule, kind)
            if requirement is not None:
                requirements.append((("stages", stage, kind), requirement))
    for loc, requirement in requirements:
        for index, name in enumerate(requirement.signers):
            if name not in policy.signers:
                yield (*loc, "signers", index), f"no signer named {name!r} under signers"
    for name, spec in policy.signers.items():
        if spec.certificate is not None and spec.certificate.authority not in policy.certificate_authorities:
            yield (
                ("signers", name, "certificate", "authority"),
                (f"no certificate authority named {spec.certificate.authority!r}"),
            )


def _resolve(policy: Policy) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Parse keys and certificates into identities; yield what does not parse or is ambiguous."""
    from cryptography import x509

    authorities: dict[str, bytes] = {}
    for name, pem in policy.certificate_authorities.items():
        try:
            if not x509.load_pem_x509_certificates(pem.encode()):
                raise ValueError("no certificate")
            authorities[name] = pem.encode()
        except ValueError as exc:
            yield ("certificate_authorities", name), f"not a PEM certificate ({exc})"
    seen: dict[Identity, str] = {}
    for name, spec in policy.signers.items():
        identity: Identity
        if spec.public_key is not None:
            try:
                identity = PublicKeyIdentity.from_pem(spec.public_key.encode())
            except ValueError as exc:
                yield ("signers", name, "public_key"), f"not an EC public key in PEM ({exc})"
                continue
        elif spec.certificate is not None:
            authority = authorities.get(spec.certificate.authority)
            if authority is None:
                continue
            identity = CertificateIdentity(spec.certificate.identity, authority)
        else:
            assert spec.sigstore is not None
            identity = SigstoreIdentity(spec.sigstore.identity, spec.sigstore.issuer, spec.sigstore.staging)
        if identity in seen:
            yield (
                ("signers", name),
                f"the same signer as {seen[identity]!r} (one signer must not count twice)",
            )
            continue
        seen[identity] = name
        policy._identities[name] = identity


def _checks(policy: Policy) -> Iterator[tuple[tuple[str | int, ...], str]]:
    yield from _references(policy)
    yield from _resolve(policy)
    for stage in policy.stages:
        if not is_stage_name(stage):
            yield ("stages", stage), STAGE_NAME_RULE
    if policy.deploy_stage is not None and policy.deploy_stage not in policy.stages:
        yield ("deploy_stage",), f"{policy.deploy_stage!r} is not one of the stages"


def _line(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest part of ``loc`` present in the YAML tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _field(loc: Sequence[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))


def load_policy(data: bytes, source: str) -> Policy:
    """A policy from YAML bytes; ``PolicyInvalid`` names the source, the field and the line."""
    if len(data) > MAX_POLICY_SIZE:
        raise PolicyInvalid(source, f"the policy is larger than {MAX_POLICY_SIZE} bytes")
    try:
        document = parse_yaml(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyInvalid(source, "not UTF-8 text") from None
    except YamlProblem as problem:
        raise PolicyInvalid(source, str(problem), line=problem.line, hint=problem.hint) from None
    if not isinstance(document.data, dict):
        raise PolicyInvalid(
            source, "a policy is a YAML mapping", hint="start from the example in docs/governance.md"
        )
    try:
        policy = Policy.model_validate(document.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if isinstance(p, str | int))
        raise PolicyInvalid(
            source, first["msg"], field=_field(loc) or None, line=_line(document.node, loc)
        ) from None
    for where, message in _checks(policy):
        raise PolicyInvalid(source, message, field=_field(where), line=_line(document.node, where))
    policy._source = source
    return policy


def load_policy_file(path: Path) -> Policy:
    with path.open("rb") as fh:
        data = fh.read(MAX_POLICY_SIZE + 1)
    return load_policy(data, str(path))


def as_document(policy: Policy) -> dict[str, Any]:
    """The policy as plain data (for display)."""
    return policy.model_dump(mode="json", exclude_none=True)
