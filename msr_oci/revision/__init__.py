"""The revision domain: Backend.AI's model-definition and service configuration, the revision record,
and the pure codec between a revision and an OCI artifact. No I/O here except ``loader``.

Names are loaded on first use (PEP 562), so importing one submodule (``msr_oci.revision.versions``)
does not pay for pydantic and the codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msr_oci._lazy import lazy_attributes

if TYPE_CHECKING:
    from msr_oci.revision.codec import (
        ANNOTATION_SUPERSEDES,
        ARTIFACT_TYPE,
        MEDIA_TYPE_CONFIG,
        MEDIA_TYPE_MODEL_DEFINITION,
        MEDIA_TYPE_SERVICE_CONFIGURATION,
        EncodedRevision,
        check_artifact,
        decode_revision,
        encode_revision,
        file_mode,
        revision_files,
    )
    from msr_oci.revision.errors import (
        InvalidRevision,
        InvalidRevisionRecord,
        NotARevision,
        Problem,
        RevisionInputError,
    )
    from msr_oci.revision.model_definition import (
        ModelConfig,
        ModelDefinition,
        ModelHealthCheck,
        ModelMetadata,
        ModelServiceConfig,
        PreStartAction,
    )
    from msr_oci.revision.paths import check_relative_path, check_unique_paths
    from msr_oci.revision.revision import (
        DEPLOYMENT_CONFIG_FILE,
        MODEL_DEFINITION_FILE,
        REVISION_FILE,
        ExtraFile,
        Lineage,
        ModelServingRevision,
        format_timestamp,
    )
    from msr_oci.revision.service_configuration import (
        BlueGreen,
        ClusterMode,
        DeploymentStrategy,
        RollingUpdate,
        RuntimeVariant,
        ServiceConfiguration,
        default_health_path,
        default_port,
    )
    from msr_oci.revision.versions import (
        check_publishable_version,
        check_version,
        is_prerelease,
        parse_semver,
        tag_to_version,
        version_matches,
        version_sort_key,
        version_to_tag,
    )

_LAZY: dict[str, str] = {
    "ANNOTATION_SUPERSEDES": "msr_oci.revision.codec",
    "ARTIFACT_TYPE": "msr_oci.revision.codec",
    "BlueGreen": "msr_oci.revision.service_configuration",
    "ClusterMode": "msr_oci.revision.service_configuration",
    "DEPLOYMENT_CONFIG_FILE": "msr_oci.revision.revision",
    "DeploymentStrategy": "msr_oci.revision.service_configuration",
    "EncodedRevision": "msr_oci.revision.codec",
    "ExtraFile": "msr_oci.revision.revision",
    "InvalidRevision": "msr_oci.revision.errors",
    "InvalidRevisionRecord": "msr_oci.revision.errors",
    "Lineage": "msr_oci.revision.revision",
    "MEDIA_TYPE_CONFIG": "msr_oci.revision.codec",
    "MEDIA_TYPE_MODEL_DEFINITION": "msr_oci.revision.codec",
    "MEDIA_TYPE_SERVICE_CONFIGURATION": "msr_oci.revision.codec",
    "MODEL_DEFINITION_FILE": "msr_oci.revision.revision",
    "REVISION_FILE": "msr_oci.revision.revision",
    "ModelConfig": "msr_oci.revision.model_definition",
    "ModelDefinition": "msr_oci.revision.model_definition",
    "ModelHealthCheck": "msr_oci.revision.model_definition",
    "ModelMetadata": "msr_oci.revision.model_definition",
    "ModelServiceConfig": "msr_oci.revision.model_definition",
    "ModelServingRevision": "msr_oci.revision.revision",
    "NotARevision": "msr_oci.revision.errors",
    "PreStartAction": "msr_oci.revision.model_definition",
    "Problem": "msr_oci.revision.errors",
    "RevisionInputError": "msr_oci.revision.errors",
    "RollingUpdate": "msr_oci.revision.service_configuration",
    "RuntimeVariant": "msr_oci.revision.service_configuration",
    "ServiceConfiguration": "msr_oci.revision.service_configuration",
    "check_artifact": "msr_oci.revision.codec",
    "check_publishable_version": "msr_oci.revision.versions",
    "check_relative_path": "msr_oci.revision.paths",
    "check_unique_paths": "msr_oci.revision.paths",
    "check_version": "msr_oci.revision.versions",
    "decode_revision": "msr_oci.revision.codec",
    "default_health_path": "msr_oci.revision.service_configuration",
    "default_port": "msr_oci.revision.service_configuration",
    "encode_revision": "msr_oci.revision.codec",
    "file_mode": "msr_oci.revision.codec",
    "format_timestamp": "msr_oci.revision.revision",
    "is_prerelease": "msr_oci.revision.versions",
    "parse_semver": "msr_oci.revision.versions",
    "revision_files": "msr_oci.revision.codec",
    "tag_to_version": "msr_oci.revision.versions",
    "version_matches": "msr_oci.revision.versions",
    "version_sort_key": "msr_oci.revision.versions",
    "version_to_tag": "msr_oci.revision.versions",
}

__all__ = [
    "ANNOTATION_SUPERSEDES",
    "ARTIFACT_TYPE",
    "DEPLOYMENT_CONFIG_FILE",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_MODEL_DEFINITION",
    "MEDIA_TYPE_SERVICE_CONFIGURATION",
    "MODEL_DEFINITION_FILE",
    "REVISION_FILE",
    "BlueGreen",
    "ClusterMode",
    "DeploymentStrategy",
    "EncodedRevision",
    "ExtraFile",
    "InvalidRevision",
    "InvalidRevisionRecord",
    "Lineage",
    "ModelConfig",
    "ModelDefinition",
    "ModelHealthCheck",
    "ModelMetadata",
    "ModelServiceConfig",
    "ModelServingRevision",
    "NotARevision",
    "PreStartAction",
    "Problem",
    "RevisionInputError",
    "RollingUpdate",
    "RuntimeVariant",
    "ServiceConfiguration",
    "check_artifact",
    "check_publishable_version",
    "check_relative_path",
    "check_unique_paths",
    "check_version",
    "decode_revision",
    "default_health_path",
    "default_port",
    "encode_revision",
    "file_mode",
    "format_timestamp",
    "is_prerelease",
    "parse_semver",
    "revision_files",
    "tag_to_version",
    "version_matches",
    "version_sort_key",
    "version_to_tag",
]

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
