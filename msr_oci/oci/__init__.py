"""A generic OCI client: references, content model, and content stores behind one ``Target`` interface.

Nothing here knows about model serving revisions.

Names are loaded on first use (PEP 562), so importing one submodule (``msr_oci.oci.reference``)
does not pay for httpx; the typed errors (``msr_oci.errors``, dependency-free) are here at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msr_oci._lazy import lazy_attributes
from msr_oci.errors import *  # noqa: F403  (the typed errors are part of the public surface)
from msr_oci.errors import __all__ as _errors_all

if TYPE_CHECKING:
    from msr_oci.oci.auth import Credentials, erase_credentials, load_credentials, store_credentials
    from msr_oci.oci.content import (
        ANNOTATION_CREATED,
        ANNOTATION_REF_NAME,
        ANNOTATION_TITLE,
        EMPTY_DESCRIPTOR,
        MAX_MANIFEST_SIZE,
        MEDIA_TYPE_EMPTY,
        MEDIA_TYPE_IMAGE_INDEX,
        MEDIA_TYPE_IMAGE_MANIFEST,
        Descriptor,
        ImageIndex,
        ImageManifest,
        canonical_json,
        is_manifest_media_type,
        parse_manifest,
        successors,
    )
    from msr_oci.oci.digest import Digester, digest_bytes, is_digest, parse_digest, verify_bytes
    from msr_oci.oci.graph_copy import copy, copy_graph, copy_referrers, copy_successors
    from msr_oci.oci.layout import LocalStore, OCILayout
    from msr_oci.oci.progress import TransferEvents, TransferProgress
    from msr_oci.oci.reference import Reference, is_loopback_host, is_tag, looks_like_host, validate_tag
    from msr_oci.oci.remote import Registry, RegistryOptions, RemoteRepository, open_repository
    from msr_oci.oci.target import Content, ProgressCallback, Target, iter_content, verified_stream

_LAZY: dict[str, str] = {
    "ANNOTATION_CREATED": "msr_oci.oci.content",
    "ANNOTATION_REF_NAME": "msr_oci.oci.content",
    "ANNOTATION_TITLE": "msr_oci.oci.content",
    "Content": "msr_oci.oci.target",
    "Credentials": "msr_oci.oci.auth",
    "Descriptor": "msr_oci.oci.content",
    "Digester": "msr_oci.oci.digest",
    "EMPTY_DESCRIPTOR": "msr_oci.oci.content",
    "ImageIndex": "msr_oci.oci.content",
    "ImageManifest": "msr_oci.oci.content",
    "LocalStore": "msr_oci.oci.layout",
    "MAX_MANIFEST_SIZE": "msr_oci.oci.content",
    "MEDIA_TYPE_EMPTY": "msr_oci.oci.content",
    "MEDIA_TYPE_IMAGE_INDEX": "msr_oci.oci.content",
    "MEDIA_TYPE_IMAGE_MANIFEST": "msr_oci.oci.content",
    "OCILayout": "msr_oci.oci.layout",
    "ProgressCallback": "msr_oci.oci.target",
    "Reference": "msr_oci.oci.reference",
    "Registry": "msr_oci.oci.remote",
    "RegistryOptions": "msr_oci.oci.remote",
    "RemoteRepository": "msr_oci.oci.remote",
    "Target": "msr_oci.oci.target",
    "TransferEvents": "msr_oci.oci.progress",
    "TransferProgress": "msr_oci.oci.progress",
    "canonical_json": "msr_oci.oci.content",
    "copy": "msr_oci.oci.graph_copy",
    "copy_graph": "msr_oci.oci.graph_copy",
    "copy_referrers": "msr_oci.oci.graph_copy",
    "copy_successors": "msr_oci.oci.graph_copy",
    "digest_bytes": "msr_oci.oci.digest",
    "erase_credentials": "msr_oci.oci.auth",
    "is_digest": "msr_oci.oci.digest",
    "is_loopback_host": "msr_oci.oci.reference",
    "is_manifest_media_type": "msr_oci.oci.content",
    "is_tag": "msr_oci.oci.reference",
    "iter_content": "msr_oci.oci.target",
    "load_credentials": "msr_oci.oci.auth",
    "looks_like_host": "msr_oci.oci.reference",
    "open_repository": "msr_oci.oci.remote",
    "parse_digest": "msr_oci.oci.digest",
    "parse_manifest": "msr_oci.oci.content",
    "store_credentials": "msr_oci.oci.auth",
    "successors": "msr_oci.oci.content",
    "validate_tag": "msr_oci.oci.reference",
    "verified_stream": "msr_oci.oci.target",
    "verify_bytes": "msr_oci.oci.digest",
}

__all__ = [
    "ANNOTATION_CREATED",
    "ANNOTATION_REF_NAME",
    "ANNOTATION_TITLE",
    "EMPTY_DESCRIPTOR",
    "MAX_MANIFEST_SIZE",
    "MEDIA_TYPE_EMPTY",
    "MEDIA_TYPE_IMAGE_INDEX",
    "MEDIA_TYPE_IMAGE_MANIFEST",
    "Content",
    "Credentials",
    "Descriptor",
    "Digester",
    "ImageIndex",
    "ImageManifest",
    "LocalStore",
    "OCILayout",
    "ProgressCallback",
    "Reference",
    "Registry",
    "RegistryOptions",
    "RemoteRepository",
    "Target",
    "TransferEvents",
    "TransferProgress",
    "canonical_json",
    "copy",
    "copy_graph",
    "copy_referrers",
    "copy_successors",
    "digest_bytes",
    "erase_credentials",
    "is_digest",
    "is_loopback_host",
    "is_manifest_media_type",
    "is_tag",
    "looks_like_host",
    "iter_content",
    "load_credentials",
    "open_repository",
    "parse_digest",
    "parse_manifest",
    "store_credentials",
    "successors",
    "validate_tag",
    "verified_stream",
    "verify_bytes",
    *_errors_all,
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
