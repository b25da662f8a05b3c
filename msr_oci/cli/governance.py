"""Governance commands: sign, approve, discover, verify, audit, and ``msr policy``.

A refusal (a stage's requirements not met, a signature or a policy not trusted) exits 9.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from msr_oci.cli import inputs, output
from msr_oci.cli.context import Settings, run, run_with_registry, settings_of
from msr_oci.cli.inputs import policy_choice
from msr_oci.cli.options import NameArg, Output, PolicyOpt, RefArg, StageOpt
from msr_oci.cli.output import OutputFormat
from msr_oci.errors import InputError

if TYPE_CHECKING:
    from msr_oci.governance.audit import AuditEvent
    from msr_oci.governance.bundles import SigningMaterial
    from msr_oci.governance.evaluation import Finding, Verdict
    from msr_oci.registry import AsyncRemoteRegistry
    from msr_oci.registry.governance import AttachedAttestation, Discovery

policy_app = typer.Typer(help="The signed policy stored in a revision's repository.", no_args_is_help=True)

KeyOpt = Annotated[
    Path | None,
    typer.Option("--key", metavar="PEM", help="EC private key (PEM, P-256/P-384/P-521) to sign with."),
]
CertificateOpt = Annotated[
    Path | None,
    typer.Option(
        "--certificate", metavar="PEM", help="The key's certificate (PEM): sign as a certificate identity."
    ),
]
ChainOpt = Annotated[
    list[Path] | None,
    typer.Option("--chain", metavar="PEM", help="Intermediate certificates (PEM) above --certificate."),
]
PasswordOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the key's password from stdin.")]
SigstoreOpt = Annotated[
    bool,
    typer.Option("--sigstore", help="Sign keyless with sigstore (OIDC, Fulcio, Rekor; needs the network)."),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--identity-token",
        metavar="TOKEN",
        help="OIDC token for --sigstore (else ambient or a browser flow).",
    ),
]
StagingOpt = Annotated[bool, typer.Option("--sigstore-staging", help="Use sigstore's staging instance.")]


def _read_password(wanted: bool) -> bytes | None:
    if not wanted:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    return password.encode("utf-8")


def signing_material(
    key: Path | None,
    certificate: Path | None,
    chain: list[Path] | None,
    password_stdin: bool,
    sigstore: bool,
    identity_token: str | None,
    sigstore_staging: bool,
) -> SigningMaterial:
    from msr_oci.governance.bundles import KeyMaterial, SigstoreMaterial

    if sigstore:
        if key is not None or certificate is not None:
            raise InputError("--sigstore signs keyless", hint="drop --key/--certificate, or drop --sigstore")
        return SigstoreMaterial(identity_token=identity_token, staging=sigstore_staging)
    if key is None:
        raise InputError(
            "nothing to sign with", hint="give --key KEY.pem (with --certificate), or --sigstore"
        )
    if certificate is None and chain:
        raise InputError("--chain needs --certificate")
    if certificate is not None and not chain:
        raise InputError(
            "--certificate needs --chain", hint="give the CA certificate(s) above it: --chain CA.pem"
        )
    return KeyMaterial(
        private_key=key,
        password=_read_password(password_stdin),
        certificate=certificate,
        chain=tuple(chain or ()),
    )


def note_pins(settings: Settings, registry: AsyncRemoteRegistry) -> None:
    """Tell the user when a repository's policy was trusted on first use (TOFU)."""
    for location in registry.pinned_on_first_use:
        output.note(
            f"note: trusted the policy of {location} on first use; "
            "later changes must be signed by its admins",
            quiet=settings.quiet,
        )


def _attached_record(attached: AttachedAttestation) -> dict[str, Any]:
    record: dict[str, Any] = output.jsonable(attached)
    return record


def sign(
    ctx: typer.Context,
    ref: RefArg,
    key: KeyOpt = None,
    certificate: CertificateOpt = None,
    chain: ChainOpt = None,
    password_stdin: PasswordOpt = False,
    sigstore: SigstoreOpt = False,
    identity_token: TokenOpt = None,
    sigstore_staging: StagingOpt = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Sign a revision's files (OpenSSF model signing) and attach the bundle to it as a referrer."""
    settings = settings_of(ctx)
    material = run(
        settings,
        lambda: signing_material(
            key, certificate, chain, password_stdin, sigstore, identity_token, sigstore_staging
        ),
    )
    attached = run_with_registry(settings, None, lambda reg: reg.sign(ref, material))
    output.emit(fmt, _attached_record(attached), lambda: typer.echo(attached.reference))


def approve(
    ctx: typer.Context,
    ref: RefArg,
    stage: Annotated[
        str, typer.Option("--stage", metavar="STAGE", help="Stage (alias) the revision is approved for.")
    ],
    key: KeyOpt = None,
    certificate: CertificateOpt = None,
    chain: ChainOpt = None,
    password_stdin: PasswordOpt = False,
    sigstore: SigstoreOpt = False,
    identity_token: TokenOpt = None,
    sigstore_staging: StagingOpt = False,
    comment: Annotated[str | None, typer.Option("--comment", help="Why (recorded and signed).")] = None,
    approver: Annotated[
        str | None,
        typer.Option(
            "--approver", metavar="NAME", help="Your name in the approval; default: the local user."
        ),
    ] = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Attach a signed approval of a revision for a stage."""
    settings = settings_of(ctx)
    material = run(
        settings,
        lambda: signing_material(
            key, certificate, chain, password_stdin, sigstore, identity_token, sigstore_staging
        ),
    )
    attached = run_with_registry(
        settings, None, lambda reg: reg.approve(ref, stage, material, approver=approver, comment=comment)
    )
    output.emit(fmt, _attached_record(attached), lambda: typer.echo(attached.reference))


def finding_record(finding: Finding, checked: bool) -> dict[str, Any]:
    return {
        "digest": finding.digest,
        "kind": finding.kind,
        "signer": finding.signer,
        "claimed": finding.claimed,
        "verified": finding.verified if checked else None,
        "stage": finding.stage,
        "approver": finding.approver,
        "at": finding.at,
        "comment": finding.comment,
        "reason": finding.reason,
    }


def _status(finding: Finding, checked: bool) -> str:
    if finding.reason and (checked or not finding.verified):
        return "refused" if checked else "unreadable"
    if not checked:
        return "unverified"
    return "verified" if finding.verified else "refused"


_FINDING_COLUMNS = ("DIGEST", "KIND", "SIGNER", "STAGE", "AT", "STATUS")


def _finding_rows(findings: list[Finding], checked: bool) -> list[tuple[Any, ...]]:
    return [
        (
            output.short_digest(f.digest),
            f.kind,
            f.signer or f.claimed,
            f.stage,
            f.at,
            _status(f, checked),
        )
        for f in findings
    ]


def _discovery_record(discovery: Discovery) -> dict[str, Any]:
    """oras discover's JSON shape (``reference``, ``mediaType``, ``digest``, ``size``, ``referrers``),
    each referrer with what msr read from its bundle."""
    referrers = []
    for attestation, finding in zip(discovery.attestations, discovery.findings, strict=True):
        reference = str(discovery.revision.with_digest(attestation.descriptor.digest))
        entry: dict[str, Any] = {"reference": reference, **attestation.descriptor.to_json_dict()}
        entry.update(finding_record(finding, discovery.checked))
        referrers.append(entry)
    descriptor = discovery.descriptor
    return {
        "reference": str(discovery.revision),
        "mediaType": descriptor.media_type,
        "digest": descriptor.digest,
        "size": descriptor.size,
        "policy": discovery.policy_source,
        "referrers": referrers,
    }


def discover(
    ctx: typer.Context,
    ref: RefArg,
    policy: PolicyOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """List a revision's signatures and approvals (checked when --policy is given)."""
    settings = settings_of(ctx)

    async def work(reg: AsyncRemoteRegistry) -> Discovery:
        found = await reg.discover(ref, policy=policy_choice(policy))
        note_pins(settings, reg)
        return found

    discovery = run_with_registry(settings, None, work)

    def human() -> None:
        typer.echo(str(discovery.revision))
        output.table(_FINDING_COLUMNS, _finding_rows(discovery.findings, discovery.checked))

    output.emit(fmt, _discovery_record(discovery), human)


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    return {
        "reference": verdict.revision,
        "stage": verdict.stage,
        "policy": verdict.policy_source,
        "ok": verdict.ok,
        "missing": verdict.missing(),
        "checks": [
            {
                "kind": check.kind,
                "threshold": check.requirement.threshold,
                "signers": check.requirement.signers,
                "satisfied_by": check.satisfied_by,
                "ok": check.ok,
            }
            for check in verdict.checks
        ],
        "attestations": [finding_record(f, True) for f in verdict.findings],
    }


def _show_verdict(verdict: Verdict) -> None:
    word = "meets" if verdict.ok else "does NOT meet"
    typer.echo(f"{verdict.revision} {word} {verdict.policy_source} for {verdict.stage}")
    for check in verdict.checks:
        mark = "ok" if check.ok else "MISSING"
        have = ", ".join(check.satisfied_by) or "none"
        typer.echo(f"  {check.kind}: {check.requirement.describe()}: {mark} (have: {have})")
    if verdict.findings:
        output.table(_FINDING_COLUMNS, _finding_rows(verdict.findings, True))
    for reason in verdict.refusals():
        typer.echo(f"  refused: {reason}")


def verify(
    ctx: typer.Context,
    ref: RefArg,
    policy: PolicyOpt = "repository",
    stage: StageOpt = None,
    fmt: Output = OutputFormat.text,
) -> None:
    """Check a revision against a policy and print the verdict (exit 9 when it falls short)."""
    settings = settings_of(ctx)
    choice = policy_choice(policy) or "repository"

    async def work(reg: AsyncRemoteRegistry) -> Verdict:
        found = await reg.verify(ref, policy=choice, stage=stage)
        note_pins(settings, reg)
        return found

    verdict = run_with_registry(settings, None, work)
    output.emit(fmt, verdict_record(verdict), lambda: _show_verdict(verdict))
    if not verdict.ok:
        raise typer.Exit(9)


_AUDIT_COLUMNS = ("AT", "EVENT", "VERSION", "DIGEST", "BY", "ALIAS/STAGE", "VERIFIED", "DETAIL")


def _audit_row(event: AuditEvent) -> tuple[Any, ...]:
    verified = None if event.verified is None else ("yes" if event.verified else "NO")
    return (
        event.at,
        event.event,
        event.version,
        output.short_digest(event.digest),
        event.by,
        event.alias or event.stage,
        verified,
        event.detail,
    )


def audit(ctx: typer.Context, name: NameArg, fmt: Output = OutputFormat.text) -> None:
    """One timeline of publishes, updates, alias moves, signatures, approvals and policy changes."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    events = run_with_registry(settings, located.namespace, lambda reg: reg.audit(located.name))
    output.emit(
        fmt,
        [output.jsonable(e) for e in events],
        lambda: output.table(_AUDIT_COLUMNS, [_audit_row(e) for e in events]),
    )


# ---- msr policy ---------------------------------------------------------------------------------


@policy_app.command("set")
def policy_set(
    ctx: typer.Context,
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="Policy YAML (stored exactly as written).")],
    key: Annotated[
        list[Path],
        typer.Option("--key", metavar="PEM", help="An admin's private key (PEM); repeat for more admins."),
    ],
    password_stdin: PasswordOpt = False,
    fmt: Output = OutputFormat.text,
) -> None:
    """Store FILE as NAME's policy, signed by admins of the policy it replaces (the first: its own)."""
    from msr_oci.governance.bundles import KeyMaterial

    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))
    password = run(settings, lambda: _read_password(password_stdin))
    materials: list[SigningMaterial] = [KeyMaterial(private_key=k, password=password) for k in key]
    data = run(settings, file.read_bytes)
    stored = run_with_registry(
        settings,
        located.namespace,
        lambda reg: reg.set_policy(located.name, data, materials, source=str(file)),
    )
    record = {"name": name, "digest": stored.digest, "serial": stored.serial, "previous": stored.previous}
    output.emit(fmt, record, lambda: typer.echo(f"{name} policy serial {stored.serial}  {stored.digest}"))


@policy_app.command("show")
def policy_show(ctx: typer.Context, name: NameArg, fmt: Output = OutputFormat.text) -> None:
    """Print NAME's stored policy once it verifies against this machine's trust pin (TOFU)."""
    from msr_oci.governance.policy import as_document

    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))

    async def work(reg: AsyncRemoteRegistry) -> Any:
        stored = await reg.get_policy(located.name)
        note_pins(settings, reg)
        return stored

    stored = run_with_registry(settings, located.namespace, work)
    record = {
        "name": name,
        "digest": stored.digest,
        "serial": stored.serial,
        "previous": stored.previous,
        "policy": as_document(stored.policy),
    }

    def human() -> None:
        sys.stdout.write(stored.data.decode("utf-8", "replace"))

    output.emit(fmt, record, human)


@policy_app.command("forget")
def policy_forget(ctx: typer.Context, name: NameArg, fmt: Output = OutputFormat.text) -> None:
    """Drop this machine's trust pin for NAME's policy (the next use trusts the stored one anew)."""
    settings = settings_of(ctx)
    located = run(settings, lambda: inputs.locate_name(name))

    async def work(reg: AsyncRemoteRegistry) -> bool:
        return reg.forget_policy(located.name)

    forgotten = run_with_registry(settings, located.namespace, work)
    output.emit(
        fmt,
        {"name": name, "forgotten": forgotten},
        lambda: typer.echo(f"{'forgot' if forgotten else 'no'} trust pin for {name}"),
    )


@policy_app.command("check")
def policy_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Policy YAML to validate.")],
    fmt: Output = OutputFormat.text,
) -> None:
    """Validate a policy file: schema, signer references, keys and certificates."""
    from msr_oci.governance.policy import load_policy_file

    settings = settings_of(ctx)
    policy = run(settings, lambda: load_policy_file(file))
    record = {
        "path": str(file),
        "valid": True,
        "stages": sorted(policy.stages),
        "signers": sorted(policy.signers),
    }
    output.emit(fmt, record, lambda: typer.echo(f"{file}: valid ({len(policy.signers)} signers)"))
