"""msr-oci: the Model Serving Registry of Backend.AI over any OCI registry."""

from msr_oci._version import __version__

__all__ = ["__version__"]
