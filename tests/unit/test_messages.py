"""Models at the edges: REST bodies, work-queue messages, and the 400 that names each bad field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import pytest
from pydantic import BaseModel, ValidationError

from chalicelib.core.errors import InvalidRequest
from chalicelib.domain.alarm_work import AlarmChanges, AlarmRetry, CapSummary
from chalicelib.domain.messages import (
    WORK_MESSAGE,
    DeployRequest,
    DeployStart,
    DeployTimeout,
    RollbackRequest,
    ScaleRequest,
)
from chalicelib.handlers.http import parse_body

ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.0"
DIGEST = "sha256:" + "0123456789abcdef" * 4


@dataclass
class FakeRequest:
    """The one attribute of chalice.app.Request that parse_body reads."""

    raw_body: bytes | None


def bad_fields(body: Any, model: type[BaseModel] = DeployRequest) -> dict[str, str]:
    """The ``fields`` of the InvalidRequest parse_body raises for ``body`` (bytes or JSON)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(InvalidRequest) as info:
        parse_body(cast(Any, FakeRequest(raw)), model)
    assert info.value.status == 400
    fields: dict[str, str] = info.value.details["fields"]
    # the message lists the same fields the caller has to fix
    for name in fields:
        assert name in info.value.message
    return fields


def deploy(**fields: Any) -> dict[str, Any]:
    return {"environment": "demo", "service": "web", **fields}


# -- DeployRequest ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"tag": "2.0"},
        {"tag": "v1.2.3-rc.1_build7"},
        {"tag": "a" * 128},
        {"image": ECR_IMAGE},
        {"image": "nginx"},
        {"image": "public.ecr.aws/nginx/nginx:1.27-alpine"},
        {"image": "registry.example.com:5000/team/app:Release_1"},
        {"image": f"web@{DIGEST}"},
        {"image": f"{ECR_IMAGE}@{DIGEST}"},
    ],
)
def test_valid_deploy_requests(fields: dict[str, str]) -> None:
    request = DeployRequest.model_validate(deploy(**fields))
    assert (request.image, request.tag) == (fields.get("image"), fields.get("tag"))


def test_surrounding_whitespace_is_stripped() -> None:
    request = DeployRequest.model_validate(
        {"environment": " demo ", "service": "web\n", "tag": " 2.0 "}
    )
    assert (request.environment, request.service, request.tag) == ("demo", "web", "2.0")


@pytest.mark.parametrize("fields", [{}, {"tag": "2.0", "image": ECR_IMAGE}, {"tag": None}])
def test_exactly_one_of_image_or_tag(fields: dict[str, Any]) -> None:
    with pytest.raises(
        ValidationError, match="exactly one of 'image', 'tag' or 'from_environment'"
    ):
        DeployRequest.model_validate(deploy(**fields))


@pytest.mark.parametrize(
    "tag", ["", "  ", "v1 2", "-rc", ".hidden", "a" * 129, "1.0;rm -rf", "a/b", "1:2", "v1@x"]
)
def test_bad_tag_characters_are_rejected(tag: str) -> None:
    with pytest.raises(ValidationError) as info:
        DeployRequest.model_validate(deploy(tag=tag))
    assert [e["loc"] for e in info.value.errors()] == [("tag",)]


@pytest.mark.parametrize("fields", [{"tag": "tág"}, {"tag": "١٢"}, {"image": "nginx:tág"}])
def test_non_ascii_tags_are_rejected(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as info:
        DeployRequest.model_validate(deploy(**fields))
    assert [e["loc"] for e in info.value.errors()] == [tuple(fields)]  # the field given


@pytest.mark.parametrize(
    "image",
    [
        "WEB:1.0",  # repository names are lower case
        "web:",
        "web::1",
        "https://registry.example.com/web:1",
        "web:1.0 extra",
        "web@sha256:abc",  # digest too short
        f"web@md5:{'0' * 32}",
        "/web:1",
        "web//x:1",
    ],
)
def test_bad_image_references_are_rejected(image: str) -> None:
    with pytest.raises(ValidationError, match="is not an image reference") as info:
        DeployRequest.model_validate(deploy(image=image))
    assert [e["loc"] for e in info.value.errors()] == [("image",)]  # the field, not the model


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        DeployRequest.model_validate(deploy(tag="2.0", force=True))
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(("force",), "extra_forbidden")]


# -- work-queue messages ---------------------------------------------------------------------


def test_work_message_parses_deploy_start() -> None:
    message = WORK_MESSAGE.validate_json('{"kind": "deploy.start", "deployment_id": "dep-1"}')
    assert message == DeployStart(deployment_id="dep-1")


def test_work_message_parses_deploy_timeout() -> None:
    body = (
        '{"kind": "deploy.timeout", "deployment_id": "dep-1", "phase": "rollback", "deadline": 7}'
    )
    message = WORK_MESSAGE.validate_json(body)
    assert isinstance(message, DeployTimeout)
    assert (message.deployment_id, message.phase, message.deadline) == ("dep-1", "rollback", 7)


@pytest.mark.parametrize(
    "message",
    [
        DeployStart(deployment_id="dep-20261120091500-a1b2c3"),
        DeployTimeout(deployment_id="dep-2", phase="rollout", deadline=1_795_167_000),
        # the alarm's messages (domain.alarm_work) are in the worker's union too
        AlarmChanges.model_validate_json(
            '{"environment": "demo", "service": "web", "alarm": "cpu", "state": "ALARM", '
            '"reaction": "cpu ALARM: web 2 -> 3", "until": "2026-12-06T21:00:00Z"}'
        ),
        AlarmRetry(rule="web-cpu-high", attempt=1, notification="{}"),
        CapSummary(environment="demo", bucket="2026-12-06T21:00"),
    ],
)
def test_what_the_queue_sends_is_what_the_worker_reads(message: BaseModel) -> None:
    assert WORK_MESSAGE.validate_json(message.model_dump_json()) == message


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ('{"deployment_id": "dep-1"}', "union_tag_not_found"),
        ('{"kind": "deploy.stop", "deployment_id": "dep-1"}', "union_tag_invalid"),
        ('{"kind": "deploy.start"}', "missing"),
        ('{"kind": "deploy.timeout", "deployment_id": "d", "deadline": 1}', "missing"),
        (
            '{"kind": "deploy.timeout", "deployment_id": "d", "phase": "later", "deadline": 1}',
            "literal_error",
        ),
        ('{"kind": "deploy.start", "deployment_id": "d"', "json_invalid"),
        ("[]", "dict_type"),
    ],
)
def test_malformed_work_messages_are_refused(body: str, error_type: str) -> None:
    with pytest.raises(ValidationError) as info:
        WORK_MESSAGE.validate_json(body)
    assert error_type in {e["type"] for e in info.value.errors()}


# -- parse_body: InvalidRequest names each bad field -----------------------------------------


def test_parse_body_returns_the_model() -> None:
    raw = json.dumps(deploy(tag="2.0")).encode()
    request = parse_body(cast(Any, FakeRequest(raw)), DeployRequest)
    assert request == DeployRequest(environment="demo", service="web", tag="2.0")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, {"body": "missing"}),
        (b"", {"body": "missing"}),
        (b"  \n", {"body": "missing"}),
        (b"environment=demo&service=web", {"body": "not JSON"}),
        (b"\xff\xfe{", {"body": "not JSON"}),
        (b'["demo", "web"]', {"body": "not an object"}),
        (b'"demo"', {"body": "not an object"}),
    ],
)
def test_body_level_problems(raw: bytes | None, expected: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_body(cast(Any, FakeRequest(raw)), DeployRequest)
    assert info.value.details == {"fields": expected}


def test_optional_body_may_be_empty() -> None:
    body = parse_body(cast(Any, FakeRequest(b"")), RollbackRequest, optional=True)
    assert body.reason is None


def test_each_bad_field_is_named() -> None:
    fields = bad_fields({"service": "", "tag": "not a tag"})
    assert set(fields) == {"environment", "service", "tag"}
    assert fields["environment"] == "Field required"


def test_both_image_and_tag_names_both() -> None:
    fields = bad_fields(deploy(image=ECR_IMAGE, tag="2.0"))
    assert fields == {
        "image": "give exactly one of 'image', 'tag' or 'from_environment'",
        "tag": "give exactly one of 'image', 'tag' or 'from_environment'",
    }


def test_neither_image_nor_tag_names_all_three() -> None:
    assert set(bad_fields(deploy())) == {"image", "tag", "from_environment"}


def test_a_promotion_takes_no_tag_or_image_and_dry_run_is_a_real_boolean() -> None:
    promote = {"environment": "prod", "service": "web", "from_environment": "demo"}
    request = DeployRequest.model_validate({**promote, "dry_run": True})
    assert (request.from_environment, request.dry_run, request.tag) == ("demo", True, None)
    assert DeployRequest.model_validate(promote).dry_run is False
    assert set(bad_fields({**promote, "tag": "2.0"})) == {"tag", "from_environment"}
    assert set(bad_fields({**promote, "dry_run": "yes"})) == {"dry_run"}
    assert set(bad_fields({**promote, "from_environment": ""})) == {"from_environment"}


IMAGE_GRAMMAR = "is not an image reference: REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]"


def test_bad_image_names_only_image() -> None:
    fields = bad_fields(deploy(image="WEB:1"))
    assert fields == {"image": IMAGE_GRAMMAR}


def test_a_bad_image_value_does_not_blame_other_fields() -> None:
    assert bad_fields(deploy(image="web 'tag'")) == {"image": IMAGE_GRAMMAR}


def test_unknown_field_is_named() -> None:
    assert bad_fields(deploy(tag="2.0", force=True)) == {"force": "Extra inputs are not permitted"}


@pytest.mark.parametrize("desired", ["3", 2.5, True, None])
def test_scale_desired_must_be_a_count(desired: Any) -> None:
    assert set(bad_fields({"desired": desired}, ScaleRequest)) == {"desired"}


@pytest.mark.parametrize("desired", [-1, 10001])
def test_any_count_parses_so_the_bounds_error_can_name_the_bounds(desired: int) -> None:
    assert ScaleRequest.model_validate({"desired": desired}).desired == desired


def test_invalid_request_renders_the_contract_error_shape() -> None:
    raw = json.dumps({"service": "web", "tag": "2.0"}).encode()
    with pytest.raises(InvalidRequest) as info:
        parse_body(cast(Any, FakeRequest(raw)), DeployRequest)
    assert info.value.to_body() == {
        "error": {
            "code": "invalid_request",
            "message": "invalid request body: environment",
            "fields": {"environment": "Field required"},
        }
    }
