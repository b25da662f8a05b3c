"""The ``msr`` command line (commands arrive with the CLI issue)."""

from __future__ import annotations


def main() -> None:
    from msr_oci.cli.app import app

    app()
