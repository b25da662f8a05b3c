"""The Model Serving Registry over OCI: revisions, versions, aliases, the fetch cache."""

from msr_oci.registry.alias_log import AliasEntry
from msr_oci.registry.async_registry import (
    AsyncRemoteRegistry,
    FetchedRevision,
    NoEarlierVersion,
    VersionExists,
)
from msr_oci.registry.cache import ContentCache, default_cache_dir
from msr_oci.registry.diff import DiffEntry, diff_revisions
from msr_oci.registry.filters import FILTER_KEYS, FilterError
from msr_oci.registry.namespace import Namespace
from msr_oci.registry.not_found import RevisionNotFound
from msr_oci.registry.sync_registry import ModelServingRegistry, RemoteRegistry

__all__ = [
    "FILTER_KEYS",
    "AliasEntry",
    "AsyncRemoteRegistry",
    "ContentCache",
    "DiffEntry",
    "FetchedRevision",
    "FilterError",
    "ModelServingRegistry",
    "Namespace",
    "NoEarlierVersion",
    "RemoteRegistry",
    "RevisionNotFound",
    "VersionExists",
    "default_cache_dir",
    "diff_revisions",
]
