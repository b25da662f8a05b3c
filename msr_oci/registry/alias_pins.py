"""Trust on first use for alias histories: the newest entry of each alias log this machine has seen.

Every alias log entry names the digest of the entry before it, so one entry pins the whole history
behind it. A head seen once must stay in the history of every later head; when it does not, someone
with push rights replaced history that was already seen, and ``AliasHistory`` (alias_history.py)
refuses to read or extend that log until the pin is forgotten.

Pins live in ``$MSR_STATE_DIR/alias-heads``, else ``$XDG_STATE_HOME/msr-oci/alias-heads``, else
``~/.local/state/msr-oci/alias-heads``: one small JSON file per repository and alias (named by a
digest of both), written to a temp file and renamed, readable only by the user.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from msr_oci.errors import InputError
from msr_oci.oci.digest import is_digest
from msr_oci.oci.tempfiles import atomic_file

STATE_ENV: Final = "MSR_STATE_DIR"


def default_pins_dir() -> Path:
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit).expanduser() / "alias-heads"
    state = os.environ.get("XDG_STATE_HOME", "")
    # the XDG spec says a relative value is invalid and must be ignored
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "msr-oci" / "alias-heads"


@dataclass(frozen=True)
class AliasPin:
    """The newest entry of ``alias``'s log seen at ``location`` (``host/repository`` or ``oci:path``)."""

    location: str
    alias: str
    entry: str
    seen_at: datetime


class AliasPins:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_pins_dir()

    def path(self, location: str, alias: str) -> Path:
        key = hashlib.sha256(f"{location}\0{alias}".encode()).hexdigest()[:32]
        return self.root / f"{key}.json"

    def load(self, location: str, alias: str) -> AliasPin | None:
        path = self.path(location, alias)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pin = AliasPin(
                location=str(data["location"]),
                alias=str(data["alias"]),
                entry=str(data["entry"]),
                seen_at=datetime.fromisoformat(str(data["seen_at"])),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{path}: this machine's record of the alias log of {location} ({alias}) is damaged",
                hint="remove the file to trust the log as it is now on next use",
            ) from None
        if (pin.location, pin.alias) != (location, alias) or not is_digest(pin.entry):
            raise InputError(f"{path}: the record is not of {location} ({alias})", hint="remove the file")
        return pin

    def save(self, location: str, alias: str, entry: str) -> None:
        record = {
            "location": location,
            "alias": alias,
            "entry": entry,
            "seen_at": datetime.now(UTC).isoformat(),
        }
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_file(self.path(location, alias)) as fh:
            fh.write(json.dumps(record, indent=2).encode())

    def forget(self, location: str, alias: str) -> bool:
        path = self.path(location, alias)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed
