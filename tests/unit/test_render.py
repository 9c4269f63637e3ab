"""render_task_definition: a described task definition becomes RegisterTaskDefinition input.

The fixture is a full DescribeTaskDefinition response (Fargate, two containers, EFS volume,
roles, FireLens). "Accepted by ECS" is checked with botocore's own parameter validation: a
``Stubber`` validates every call against the ecs service model before it compares parameters.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from chalicelib.core.errors import OpsError
from chalicelib.deploys import container_image, render_task_definition

EVENTS = Path(__file__).resolve().parents[1] / "events"
NEW_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.0"

# What DescribeTaskDefinition returns but RegisterTaskDefinition refuses (per the ecs model).
READ_ONLY = {
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
}


def described() -> dict[str, Any]:
    """A fresh copy of the saved DescribeTaskDefinition response."""
    data: dict[str, Any] = json.loads((EVENTS / "ecs-describe-task-definition.json").read_text())
    return data


def task_definition() -> dict[str, Any]:
    td: dict[str, Any] = described()["taskDefinition"]
    return td


def by_name(td: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in td["containerDefinitions"]}


def ecs_client() -> Any:
    return botocore.session.get_session().create_client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def register_through_stubber(params: dict[str, Any]) -> dict[str, Any]:
    """Call RegisterTaskDefinition with ``params`` on a stubbed client; the stubbed answer.

    Raises ParamValidationError when the ecs model rejects the input, and an AssertionError
    (from the Stubber) when the call does not carry exactly ``params``.
    """
    client = ecs_client()
    registered = {k: v for k, v in params.items() if k != "tags"} | {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8",
        "revision": 8,
        "status": "ACTIVE",
        "registeredAt": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "register_task_definition",
            {"taskDefinition": registered, "tags": params.get("tags", [])},
            expected_params=params,
        )
        response: dict[str, Any] = client.register_task_definition(**params)
        stubber.assert_no_pending_responses()
    return response


def test_fixture_is_a_full_describe_response() -> None:
    td = task_definition()
    # guard: the fixture really carries what the other tests claim to drop and keep
    assert {"taskDefinitionArn", "revision", "status", "requiresAttributes"} <= set(td)
    assert {"compatibilities", "registeredAt", "registeredBy"} <= set(td)
    assert sorted(by_name(td)) == ["log-router", "web"]
    assert described()["tags"]


def test_sets_the_image_of_only_the_named_container() -> None:
    original = task_definition()
    rendered = render_task_definition(original, container="web", image=NEW_IMAGE)

    assert container_image(rendered, "web") == NEW_IMAGE
    old_web, new_web = by_name(original)["web"], by_name(rendered)["web"]
    assert {k: v for k, v in new_web.items() if k != "image"} == {
        k: v for k, v in old_web.items() if k != "image"
    }
    assert by_name(rendered)["log-router"] == by_name(original)["log-router"]
    # container order matters to people reading diffs in the console; it is kept
    assert [c["name"] for c in rendered["containerDefinitions"]] == ["web", "log-router"]


def test_keeps_every_writable_field_and_drops_read_only_ones() -> None:
    original = task_definition()
    rendered = render_task_definition(original, container="web", image=NEW_IMAGE)

    assert set(rendered) == set(original) - READ_ONLY
    for key in set(original) - READ_ONLY - {"containerDefinitions"}:
        assert rendered[key] == original[key], key
    # the fields a broken render would most hurt, spelled out
    assert rendered["family"] == "web"
    assert rendered["taskRoleArn"] == "arn:aws:iam::123456789012:role/web-task"
    assert rendered["executionRoleArn"] == "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    assert (rendered["cpu"], rendered["memory"]) == ("512", "1024")
    assert rendered["networkMode"] == "awsvpc"
    assert rendered["requiresCompatibilities"] == ["FARGATE"]
    assert [v["name"] for v in rendered["volumes"]] == ["uploads", "scratch"]
    assert rendered["volumes"][0]["efsVolumeConfiguration"]["fileSystemId"] == (
        "fs-0123456789abcdef0"
    )
    assert rendered["ephemeralStorage"] == {"sizeInGiB": 30}


def test_does_not_mutate_its_input() -> None:
    original = task_definition()
    before = copy.deepcopy(original)

    rendered = render_task_definition(original, container="web", image=NEW_IMAGE)
    assert original == before

    # nothing is shared either: changing the output leaves the input alone
    rendered["volumes"][0]["name"] = "changed"
    by_name(rendered)["log-router"]["environment"].append({"name": "X", "value": "1"})
    rendered["containerDefinitions"][0]["portMappings"][0]["containerPort"] = 1
    assert original == before


def test_rendered_input_is_accepted_by_register_task_definition() -> None:
    original = described()
    rendered = render_task_definition(original["taskDefinition"], container="web", image=NEW_IMAGE)

    response = register_through_stubber(rendered)
    assert container_image(response["taskDefinition"], "web") == NEW_IMAGE

    # as start_deploy sends it: with the described tags carried over
    register_through_stubber(rendered | {"tags": original["tags"]})


def test_stubber_really_validates_the_input() -> None:
    """Control: the unrendered description is refused, so the acceptance above means something."""
    with pytest.raises(ParamValidationError, match="taskDefinitionArn"):
        register_through_stubber(task_definition())


def test_a_deregistered_task_definition_renders_to_valid_input() -> None:
    # a service may still run a revision someone deregistered; deploying from it must work
    td = task_definition() | {"status": "INACTIVE", "deregisteredAt": "2026-11-21T10:00:00Z"}
    rendered = render_task_definition(td, container="web", image=NEW_IMAGE)
    assert "deregisteredAt" not in rendered
    register_through_stubber(rendered)


def test_a_revision_being_deleted_renders_to_valid_input() -> None:
    td = task_definition() | {
        "status": "DELETE_IN_PROGRESS",
        "deregisteredAt": "2026-11-21T10:00:00Z",
        "deleteRequestedAt": "2026-11-22T10:00:00Z",
    }
    rendered = render_task_definition(td, container="web", image=NEW_IMAGE)
    assert "deleteRequestedAt" not in rendered and "deregisteredAt" not in rendered
    register_through_stubber(rendered)


def test_unknown_container_names_the_containers_there_are() -> None:
    original = task_definition()
    before = copy.deepcopy(original)

    with pytest.raises(OpsError) as info:
        render_task_definition(original, container="api", image=NEW_IMAGE)

    message = info.value.message
    assert "'api'" in message
    assert "web" in message and "log-router" in message
    assert message.startswith("task definition web ")  # the family it looked in
    assert original == before
