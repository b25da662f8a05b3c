"""Who and when: the author and time stamps the registry records on what it writes."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def default_user() -> str:
    """The login name of the process (``$USER`` where there is no passwd entry, as in containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")
