"""Trust pins: the stored policy this machine last accepted for each repository (trust on first use).

A pin keeps the accepted policy's digest, serial and YAML, so a later change is checked against the
admins this machine already trusts even if the registry drops the old manifest. Pins live in
``$MSR_TRUST_DIR``, else ``$XDG_CONFIG_HOME/msr-oci/trust``, else ``~/.config/msr-oci/trust``: one
JSON file per repository, written to a temporary file and renamed, readable only by the user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from msr_oci.errors import InputError
from msr_oci.oci.tempfiles import atomic_file

__all__ = ["TRUST_ENV", "TrustPin", "TrustStore", "default_trust_dir"]

TRUST_ENV: Final = "MSR_TRUST_DIR"


def default_trust_dir() -> Path:
    explicit = os.environ.get(TRUST_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config).expanduser() if config else Path.home() / ".config"
    return base / "msr-oci" / "trust"


@dataclass(frozen=True)
class TrustPin:
    """The accepted policy of one repository (``location``: ``host/repository`` or ``local:path``)."""

    location: str
    policy_digest: str
    serial: int
    policy_yaml: bytes
    pinned_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "location": self.location,
            "policy_digest": self.policy_digest,
            "serial": self.serial,
            "policy_yaml_base64": base64.b64encode(self.policy_yaml).decode("ascii"),
            "pinned_at": self.pinned_at.astimezone(UTC).isoformat(),
        }


class TrustStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_trust_dir()

    def path(self, location: str) -> Path:
        # a digest of the location: repository names and host:port never have to be file names
        return self.root / f"{hashlib.sha256(location.encode()).hexdigest()[:32]}.json"

    def load(self, location: str) -> TrustPin | None:
        path = self.path(location)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            pin = TrustPin(
                location=str(data["location"]),
                policy_digest=str(data["policy_digest"]),
                serial=int(data["serial"]),
                policy_yaml=base64.b64decode(data["policy_yaml_base64"], validate=True),
                pinned_at=datetime.fromisoformat(data["pinned_at"]),
            )
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{path}: the trust pin of {location} is damaged",
                hint="remove the file to trust the repository's current policy again on next use",
            ) from None
        if pin.location != location:
            raise InputError(f"{path}: the trust pin is for {pin.location}, not {location}")
        return pin

    def save(self, pin: TrustPin) -> Path:
        path = self.path(pin.location)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_file(path, prefix=".pin.", fsync=True) as fh:
            fh.write(json.dumps(pin.to_json(), indent=2).encode())
        return path

    def forget(self, location: str) -> bool:
        path = self.path(location)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed
