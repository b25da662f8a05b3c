"""`msr render` and ``render_revision``: every target validates against its checked-in request schema,
missing ids are one clear error listing them all, and the values follow Backend.AI's request rules."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from support import EXAMPLES, SCHEMAS, msr

from msr_oci.errors import InputError
from msr_oci.registry.render import DeploymentIds, render_revision
from msr_oci.revision import ModelServingRevision

UUIDS = {
    "project_id": "8f1c3c3e-6c7e-4d1a-9a1e-1c2b3d4e5f60",
    "image_id": "0b6f4f3c-51f6-4f1e-a7ad-33f1b1f5f0a1",
    "vfolder_id": "5d2a7c4e-9a3b-4c1d-8e2f-6a7b8c9d0e1f",
    "runtime_variant_id": "c4a1e2b3-7d6f-4e5a-9b8c-1d2e3f4a5b6c",
}
IDS = DeploymentIds(**UUIDS, domain="default", resource_group="gpu", project="ml", vfolder="llama-weights")


def _schema(name: str) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    assert isinstance(schema, dict)
    return schema


def revision(**service: Any) -> ModelServingRevision:
    return ModelServingRevision.model_validate(
        {
            "name": "fraud",
            "version": "1.0.0",
            "model_definition": {
                "models": [
                    {
                        "name": "m",
                        "service": {
                            "start_command": ["serve", "--port", "8000"],
                            "port": 8000,
                            "health_check": {"path": "/ready"},
                        },
                    }
                ]
            },
            "service_configuration": {
                "image": "cr.backend.ai/x:1",
                "resource_slots": {"cpu": 2, "mem": "4g"},
                "environ": {"A": "1"},
                **service,
            },
        }
    )


@pytest.mark.parametrize(
    ("target", "adding", "schema"),
    [
        ("backendai-v1", False, "backendai-v1-create-deployment"),
        ("backendai-v1", True, "backendai-v1-add-revision"),
        ("backendai-v2", False, "backendai-v2-create-deployment"),
        ("backendai-v2", True, "backendai-v2-add-revision"),
        ("backendai-legacy", False, "backendai-legacy-create-service"),
    ],
)
def test_every_target_matches_its_request_schema(target: str, adding: bool, schema: str) -> None:
    ids = DeploymentIds(**{**IDS.__dict__, "deployment_id": UUIDS["image_id"] if adding else None})
    body = render_revision(revision(), target, ids)  # type: ignore[arg-type]
    jsonschema.validate(body, _schema(schema))


def test_a_request_of_another_shape_fails_the_schema() -> None:
    body = render_revision(revision(), "backendai-v1", IDS)
    body["initial_revision"]["image"] = {"name": "cr.backend.ai/x:1"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, _schema("backendai-v1-create-deployment"))


def test_missing_ids_are_listed_together() -> None:
    with pytest.raises(InputError) as caught:
        render_revision(revision(), "backendai-v2", DeploymentIds(domain="default"))
    message = str(caught.value)
    for option in ("--project-id", "--resource-group", "--image-id", "--vfolder-id", "--runtime-variant-id"):
        assert option in message
    assert "--domain" not in message
    with pytest.raises(InputError, match="--image-id 'llama' is not a UUID"):
        render_revision(revision(), "backendai-v1", DeploymentIds(**{**IDS.__dict__, "image_id": "llama"}))


def test_v1_and_v2_follow_backend_ai_value_rules() -> None:
    rolling = {"deployment_strategy": {"type": "rolling", "max_surge": "25%", "max_unavailable": "10%"}}
    v1 = render_revision(
        revision(replica_count=10, cluster_mode="MULTI_NODE", cluster_size=2, **rolling), "backendai-v1", IDS
    )
    # v1 takes counts: 25% of 10 rounds up to 3 extra, 10% of 10 down to 1 unavailable
    assert v1["default_deployment_strategy"] == {
        "type": "ROLLING",
        "rolling_update": {"max_surge": 3, "max_unavailable": 1},
    }
    assert v1["initial_revision"]["cluster_config"] == {"mode": "multi-node", "size": 2}
    assert (
        v1["initial_revision"]["model_definition"]["models"][0]["service"]["start_command"]
        == "serve --port 8000"
    )
    assert "enable" not in v1["initial_revision"]["model_definition"]["models"][0]["service"]["health_check"]
    v2 = render_revision(revision(**rolling), "backendai-v2", IDS)
    assert v2["default_deployment_strategy"]["rolling_update"] == {
        "max_surge": {"percent": 0.25},
        "max_unavailable": {"percent": 0.1},
    }
    service = v2["initial_revision"]["model_definition"]["models"][0]["service"]
    assert service["command"] == "serve --port 8000" and service["health_check"]["enable"] is True
    assert v2["initial_revision"]["resource_config"]["resource_slots"]["entries"] == [
        {"resource_type": "cpu", "quantity": "2"},
        {"resource_type": "mem", "quantity": "4g"},
    ]
    assert v2["initial_revision"]["model_runtime_config"]["environ"] == {
        "entries": [{"name": "A", "value": "1"}]
    }
    legacy = render_revision(revision(), "backendai-legacy", IDS)
    assert (legacy["image"], legacy["cluster_mode"], legacy["config"]["model"]) == (
        "cr.backend.ai/x:1",
        "SINGLE_NODE",
        "llama-weights",
    )


def test_legacy_needs_an_image_in_the_revision() -> None:
    with pytest.raises(InputError, match="names no image"):
        render_revision(revision(image=None), "backendai-legacy", IDS)


def test_msr_render_prints_the_request_and_exits_2_on_missing_ids(isolated_env: object) -> None:
    msr("push", str(EXAMPLES / "vllm-llama"), "llama:1.0.0")
    missing = msr("render", "llama:1.0.0", "--to", "backendai-v1", expect=2)
    assert "--project-id" in missing.stderr and "--vfolder-id" in missing.stderr
    assert "Traceback" not in missing.stderr
    args = [
        "--project-id",
        UUIDS["project_id"],
        "--domain",
        "default",
        "--resource-group",
        "gpu",
        "--image-id",
        UUIDS["image_id"],
        "--vfolder-id",
        UUIDS["vfolder_id"],
    ]
    body = json.loads(msr("render", "llama:1.0.0", "--to", "backendai-v1", *args).stdout)
    jsonschema.validate(body, _schema("backendai-v1-create-deployment"))
    assert (
        body["replica_count"] == 2
        and body["initial_revision"]["model_runtime_config"]["runtime_variant"] == "vllm"
    )
    added = json.loads(msr("render", "llama:1.0.0", "--deployment-id", UUIDS["project_id"], *args).stdout)
    jsonschema.validate(added, _schema("backendai-v1-add-revision"))
