"""A generic OCI client: references, content model, and content stores behind one ``Target`` interface.

Nothing here knows about model serving revisions.
"""

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
from msr_oci.oci.copy import copy, copy_graph
from msr_oci.oci.digest import Digester, digest_bytes, is_digest, parse_digest, verify_bytes
from msr_oci.oci.errors import *  # noqa: F403  (the typed errors are part of the public surface)
from msr_oci.oci.errors import __all__ as _errors_all
from msr_oci.oci.layout import LocalStore, OCILayout, default_store_path
from msr_oci.oci.progress import TransferEvents, TransferProgress
from msr_oci.oci.reference import Reference, is_loopback_host, is_tag, looks_like_host, validate_tag
from msr_oci.oci.remote import Registry, RegistryOptions, RemoteRepository, open_repository
from msr_oci.oci.target import Content, ProgressCallback, Target, iter_content, verified_stream

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
    "TransferEvents",
    "TransferProgress",
    "Reference",
    "Registry",
    "RegistryOptions",
    "RemoteRepository",
    "Target",
    "canonical_json",
    "copy",
    "copy_graph",
    "default_store_path",
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
