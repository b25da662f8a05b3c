"""msr-oci: the Model Serving Registry of Backend.AI over any OCI registry.

The public surface is loaded on first use, so ``msr --help`` does not pay for httpx and pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msr_oci._version import __version__

if TYPE_CHECKING:
    from msr_oci.errors import MsrOciError
    from msr_oci.registry import AsyncRemoteRegistry, ModelServingRegistry, RemoteRegistry
    from msr_oci.revision import ModelServingRevision

_LAZY = {
    "AsyncRemoteRegistry": "msr_oci.registry",
    "ModelServingRegistry": "msr_oci.registry",
    "RemoteRegistry": "msr_oci.registry",
    "ModelServingRevision": "msr_oci.revision",
    "MsrOciError": "msr_oci.errors",
}

__all__ = [
    "AsyncRemoteRegistry",
    "ModelServingRegistry",
    "ModelServingRevision",
    "MsrOciError",
    "RemoteRegistry",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'msr_oci' has no attribute {name!r}")
