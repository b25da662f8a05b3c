"""The Model Serving Registry over OCI: revisions, versions, aliases, the fetch cache.

Names are loaded on first use (PEP 562), so the CLI can import light modules of this package
(``refs``, ``filters``) at module top without paying for httpx and pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msr_oci._lazy import lazy_attributes

if TYPE_CHECKING:
    from msr_oci.registry.alias_log import AliasEntry
    from msr_oci.registry.aliases import AliasStore
    from msr_oci.registry.async_registry import (
        ArchivedRevision,
        AsyncRemoteRegistry,
        FetchedRevision,
        NoEarlierVersion,
        RemovalPlan,
        VersionExists,
    )
    from msr_oci.registry.cache import ContentCache, default_cache_dir
    from msr_oci.registry.diff import DiffEntry, diff_revisions
    from msr_oci.registry.filters import FILTER_KEYS, FilterError
    from msr_oci.registry.namespace import Namespace
    from msr_oci.registry.not_found import RevisionNotFound
    from msr_oci.registry.refs import RevisionRef
    from msr_oci.registry.sync_registry import ModelServingRegistry, RemoteRegistry

_LAZY: dict[str, str] = {
    "AliasEntry": "msr_oci.registry.alias_log",
    "AliasStore": "msr_oci.registry.aliases",
    "ArchivedRevision": "msr_oci.registry.async_registry",
    "AsyncRemoteRegistry": "msr_oci.registry.async_registry",
    "ContentCache": "msr_oci.registry.cache",
    "DiffEntry": "msr_oci.registry.diff",
    "FILTER_KEYS": "msr_oci.registry.filters",
    "FetchedRevision": "msr_oci.registry.async_registry",
    "FilterError": "msr_oci.registry.filters",
    "ModelServingRegistry": "msr_oci.registry.sync_registry",
    "Namespace": "msr_oci.registry.namespace",
    "NoEarlierVersion": "msr_oci.registry.async_registry",
    "RemoteRegistry": "msr_oci.registry.sync_registry",
    "RemovalPlan": "msr_oci.registry.async_registry",
    "RevisionNotFound": "msr_oci.registry.not_found",
    "RevisionRef": "msr_oci.registry.refs",
    "VersionExists": "msr_oci.registry.async_registry",
    "default_cache_dir": "msr_oci.registry.cache",
    "diff_revisions": "msr_oci.registry.diff",
}

__all__ = [
    "FILTER_KEYS",
    "AliasEntry",
    "AliasStore",
    "ArchivedRevision",
    "AsyncRemoteRegistry",
    "ContentCache",
    "DiffEntry",
    "FetchedRevision",
    "FilterError",
    "ModelServingRegistry",
    "Namespace",
    "NoEarlierVersion",
    "RemoteRegistry",
    "RemovalPlan",
    "RevisionNotFound",
    "RevisionRef",
    "VersionExists",
    "default_cache_dir",
    "diff_revisions",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
