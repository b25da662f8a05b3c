"""What interrupted or failing transfers leave behind, and what people are told.

- a pull or copy killed mid-transfer leaves temp files; the next pull, ``msr cache prune`` and the
  store's gc remove them, and never one a live transfer is still writing;
- ``push`` warns about the entries it skips, as ``validate`` does;
- a write that fails for lack of space names the file.

Slow transfers come from a real server on a loopback socket that paces its body (tests/faults.py);
processes are killed with SIGKILL, which nothing can clean up after.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_cli_helpers import msr, write_revision_dir

pytestmark = pytest.mark.timeout(120)


def test_push_prints_the_warnings_validate_prints(tmp_path: Path, isolated_env: object) -> None:
    root = write_revision_dir(tmp_path / "rev")
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the revision")
    os.symlink(outside, root / "leak.txt")
    os.mkfifo(root / "pipe")
    validated = msr("validate", str(root)).stdout.splitlines()
    skipped = [line for line in validated if "skipped" in line]
    assert len(skipped) == 2  # the symlink leaving the directory and the FIFO

    pushed = msr("push", str(root), "boxed:1.0.0", "--output", "json")
    assert [line for line in pushed.stderr.splitlines() if line.startswith("warning: ")] == [
        f"warning: {line}" for line in skipped
    ]
    assert pushed.json()["version"] == "1.0.0"  # stdout stays the record alone
