"""The ``msr`` command line: parsing and output only; every behaviour lives in the Python API."""

from __future__ import annotations


def main() -> None:
    from msr_oci.cli.app import app

    app()
