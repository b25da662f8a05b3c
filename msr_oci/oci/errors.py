"""The error tree, as the OCI layer has always exported it: see ``msr_oci.errors``."""

from msr_oci.errors import *  # noqa: F403
from msr_oci.errors import __all__ as __all__
