"""A revision as the request Backend.AI takes to deploy it. Pure: a revision and ids in, JSON out.

Shapes read from lablup/backend.ai c0032c472e:
- ``backendai-v1``: ``POST /deployments`` (``CreateDeploymentRequest``) or, with a deployment id,
  ``POST /deployments/{id}/revisions`` (``AddRevisionRequest``);
  common/dto/manager/deployment/request.py.
- ``backendai-v2``: ``CreateDeploymentInput`` / ``AddRevisionInput``;
  common/dto/manager/v2/deployment/request.py.
- ``backendai-legacy``: ``POST /services`` (``NewServiceRequestModel``);
  common/dto/manager/model_serving/request.py.

Ids only Backend.AI knows (project, image, vfolder, runtime-variant rows) come from the caller; the
model definition is inlined as the user's draft, so Backend.AI merges it over its presets as it would
merge the file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal

from msr_oci.errors import InputError
from msr_oci.registry.render_strategies import strategy_v1, strategy_v2
from msr_oci.revision import ModelServingRevision

__all__ = ["RENDER_TARGETS", "DeploymentIds", "RenderTarget", "render_revision"]

RenderTarget = Literal["backendai-v1", "backendai-v2", "backendai-legacy"]
RENDER_TARGETS: Final[tuple[RenderTarget, ...]] = ("backendai-v1", "backendai-v2", "backendai-legacy")


@dataclass(frozen=True)
class DeploymentIds:
    """What only the Backend.AI side knows. Each field maps to a CLI option of the same name."""

    project_id: str | None = None
    domain: str | None = None
    resource_group: str | None = None
    image_id: str | None = None
    vfolder_id: str | None = None
    runtime_variant_id: str | None = None
    deployment_id: str | None = None
    #: legacy API: the project by name and the model vfolder by name or id
    project: str | None = None
    vfolder: str | None = None
    deployment_name: str | None = None
    open_to_public: bool = False
    auto_activate: bool = False


_UUID_FIELDS: Final = ("project_id", "image_id", "vfolder_id", "runtime_variant_id", "deployment_id")


def _option(field: str) -> str:
    return "--" + field.replace("_", "-")


def _require(ids: DeploymentIds, target: str, fields: list[str]) -> None:
    missing = [_option(f) for f in fields if not getattr(ids, f)]
    if missing:
        raise InputError(
            f"rendering for {target} needs {', '.join(missing)}",
            hint="these ids exist only in Backend.AI: look them up there (project, image, model vfolder)",
        )
    for name in _UUID_FIELDS:
        value = getattr(ids, name)
        if value:
            try:
                uuid.UUID(value)
            except ValueError:
                raise InputError(
                    f"{_option(name)} {value!r} is not a UUID", hint="give the id, not a name"
                ) from None


def _definition_path(revision: ModelServingRevision) -> str | None:
    document = revision.document("model-definition")
    return document.path if document is not None else None


def _mount_v1(revision: ModelServingRevision, ids: DeploymentIds) -> dict[str, Any]:
    mount: dict[str, Any] = {
        "vfolder_id": ids.vfolder_id,
        "mount_destination": revision.service_configuration.model_mount_destination,
    }
    path = _definition_path(revision)
    if path is not None:
        mount["definition_path"] = path
    return mount


def _revision_v1(revision: ModelServingRevision, ids: DeploymentIds) -> dict[str, Any]:
    config = revision.service_configuration
    resource: dict[str, Any] = {"resource_slots": dict(config.resource_slots)}
    if config.resource_opts:
        resource["resource_opts"] = dict(config.resource_opts)
    runtime: dict[str, Any] = {"runtime_variant": config.runtime_variant}
    if config.environ:
        runtime["environ"] = dict(config.environ)
    return {
        "cluster_config": {"mode": config.cluster_mode, "size": config.cluster_size},
        "resource_config": resource,
        "image": {"id": ids.image_id},
        "model_runtime_config": runtime,
        "model_mount_config": _mount_v1(revision, ids),
        "model_definition": revision.model_definition.to_document(),
    }


#: the keys v2's ModelDefinitionInput has; Backend.AI HEAD ignores the others in a file anyway
_V2_MODEL_KEYS: Final = ("name", "model_path", "service", "metadata")
_V2_SERVICE_KEYS: Final = ("pre_start_actions", "command", "shell", "port", "health_check")
_V2_HEALTH_KEYS: Final = (
    "enable",
    "interval",
    "path",
    "max_retries",
    "max_wait_time",
    "expected_status_code",
    "initial_delay",
)
_V2_METADATA_KEYS: Final = (
    "author", "title", "version", "created", "last_modified", "description", "task", "category",
    "architecture", "framework", "label", "license", "min_resource",
)  # fmt: skip


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: data[k] for k in keys if k in data}


def _definition_v2(revision: ModelServingRevision) -> dict[str, Any]:
    """The draft in v2's ModelDefinitionInput: the one-line command is ``command``; a health check
    block written without ``enable`` means enabled (v2's input defaults it to false); metadata
    ``version`` is a string there."""
    models = []
    for model in revision.model_definition.to_document().get("models", []):
        model = _pick(model, _V2_MODEL_KEYS)
        service = model.get("service")
        if isinstance(service, dict):
            if "start_command" in service:
                service["command"] = service.pop("start_command")
            service = model["service"] = _pick(service, _V2_SERVICE_KEYS)
            check = service.get("health_check")
            if isinstance(check, dict):
                service["health_check"] = {
                    **_pick(check, _V2_HEALTH_KEYS),
                    "enable": check.get("enable", bool(check)),
                }
        metadata = model.get("metadata")
        if isinstance(metadata, dict):
            metadata = model["metadata"] = _pick(metadata, _V2_METADATA_KEYS)
            if metadata.get("version") is not None:
                metadata["version"] = str(metadata["version"])
        models.append(model)
    return {"models": models}


def _revision_v2(revision: ModelServingRevision, ids: DeploymentIds) -> dict[str, Any]:
    config = revision.service_configuration
    resource: dict[str, Any] = {
        "resource_slots": {
            "entries": [{"resource_type": k, "quantity": str(v)} for k, v in config.resource_slots.items()]
        }
    }
    if config.resource_opts:
        resource["resource_opts"] = {
            "entries": [{"name": k, "value": str(v)} for k, v in config.resource_opts.items()]
        }
    runtime: dict[str, Any] = {"runtime_variant_id": ids.runtime_variant_id}
    if config.environ:
        runtime["environ"] = {"entries": [{"name": k, "value": v} for k, v in config.environ.items()]}
    mount = _mount_v1(revision, ids)
    return {
        "cluster_config": {"mode": config.cluster_mode, "size": config.cluster_size},
        "resource_config": resource,
        "image": {"id": ids.image_id},
        "model_runtime_config": runtime,
        "model_mount_config": mount,
        "model_definition": _definition_v2(revision),
    }


def _metadata(revision: ModelServingRevision, ids: DeploymentIds) -> dict[str, Any]:
    return {
        "project_id": ids.project_id,
        "domain_name": ids.domain,
        "resource_group_name": ids.resource_group,
        "name": ids.deployment_name or revision.name,
        "tags": [f"{k}={v}" for k, v in sorted(revision.labels.items())] or None,
    }


def _legacy(revision: ModelServingRevision, ids: DeploymentIds) -> dict[str, Any]:
    config = revision.service_configuration
    if not config.image:
        raise InputError(
            f"{revision.name} {revision.version} names no image; the legacy API takes it from the revision",
            hint="add 'image:' to deployment-config.yaml, or render --to backendai-v1 with --image-id",
        )
    body: dict[str, Any] = {
        "name": ids.deployment_name or revision.name,
        "desired_session_count": config.replica_count,
        "image": config.image,
        "runtime_variant": config.runtime_variant,
        "group": ids.project,
        "domain": ids.domain,
        "cluster_size": config.cluster_size,
        "cluster_mode": config.cluster_mode.upper().replace("-", "_"),
        "open_to_public": ids.open_to_public,
        "config": {
            "model": ids.vfolder,
            "model_mount_destination": config.model_mount_destination,
            "scaling_group": ids.resource_group,
            "resources": dict(config.resource_slots),
        },
    }
    if config.architecture:
        body["architecture"] = config.architecture
    path = _definition_path(revision)
    if path is not None:
        body["config"]["model_definition_path"] = path
    if config.environ:
        body["config"]["environ"] = dict(config.environ)
    if config.resource_opts:
        body["config"]["resource_opts"] = dict(config.resource_opts)
    return body


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def render_revision(
    revision: ModelServingRevision, target: RenderTarget, ids: DeploymentIds
) -> dict[str, Any]:
    """The JSON body Backend.AI takes to create a deployment from ``revision`` (or, given
    ``ids.deployment_id``, to add it as a revision of that deployment)."""
    config = revision.service_configuration
    adding = ids.deployment_id is not None
    body: dict[str, Any]
    if target == "backendai-v1":
        _require(
            ids,
            target,
            ["image_id", "vfolder_id"]
            if adding
            else ["project_id", "domain", "resource_group", "image_id", "vfolder_id"],
        )
        if adding:
            body = {"revision": _revision_v1(revision, ids), "options": {"auto_activate": ids.auto_activate}}
        else:
            body = {
                "metadata": _metadata(revision, ids),
                "network_access": {"open_to_public": ids.open_to_public},
                "default_deployment_strategy": strategy_v1(config.deployment_strategy, config.replica_count),
                "replica_count": config.replica_count,
                "initial_revision": _revision_v1(revision, ids),
            }
    elif target == "backendai-v2":
        _require(
            ids,
            target,
            ["image_id", "vfolder_id", "runtime_variant_id"]
            if adding
            else ["project_id", "domain", "resource_group", "image_id", "vfolder_id", "runtime_variant_id"],
        )
        if adding:
            body = {
                "deployment_id": ids.deployment_id,
                **_revision_v2(revision, ids),
                "options": {"auto_activate": ids.auto_activate},
            }
        else:
            body = {
                "metadata": _metadata(revision, ids),
                "network_access": {"open_to_public": ids.open_to_public},
                "default_deployment_strategy": strategy_v2(config.deployment_strategy),
                "replica_count": config.replica_count,
                "initial_revision": _revision_v2(revision, ids),
            }
    else:
        if adding:
            raise InputError("the legacy /services API has no revisions", hint="use --to backendai-v1 or v2")
        _require(ids, target, ["project", "domain", "resource_group", "vfolder"])
        body = _legacy(revision, ids)
    result = _without_none(body)
    assert isinstance(result, dict)
    return result
