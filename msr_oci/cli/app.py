from __future__ import annotations

import typer

from msr_oci._version import __version__

app = typer.Typer(name="msr", help="Publish and fetch Backend.AI model serving revisions on OCI registries.")


@app.command()
def version() -> None:
    """Print the msr-oci version."""
    typer.echo(__version__)
