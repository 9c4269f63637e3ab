"""The task-definition diff: named containers and variables, absent fields, values as text."""

from __future__ import annotations

from chalicelib.deploys.diff import change_lines, task_definition_changes
from chalicelib.deploys.notice import short_image
from chalicelib.handlers.views.dry_run import dry_run_body
from chalicelib.handlers.views.models import DryRunBody
from chalicelib.status.dry_run import Check, CheckResult, DryRun, ImageRef, Outcome

BEFORE = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
    "revision": 3,
    "family": "web",
    "cpu": "256",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0",
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "portMappings": [{"containerPort": 8080}],
        },
        {"name": "log-router", "image": "fluent-bit:2", "memoryReservation": 128},
    ],
}


def _after(**container: object) -> dict[str, object]:
    web = {**BEFORE["containerDefinitions"][0], **container}  # type: ignore[index]
    return {
        **{k: v for k, v in BEFORE.items() if k not in ("taskDefinitionArn", "revision")},
        "containerDefinitions": [web, BEFORE["containerDefinitions"][1]],  # type: ignore[index]
    }


def test_only_what_changes_is_listed_by_name() -> None:
    after = _after(
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "a" * 64,
        environment=[{"name": "A", "value": "1"}, {"name": "C", "value": "3"}],
        portMappings=[{"containerPort": 9090}],
    )
    changes = task_definition_changes(BEFORE, after)
    assert changes == [
        {
            "path": "containerDefinitions[web].environment[B]",
            "from": '{"name":"B","value":"2"}',
            "to": None,
        },
        {
            "path": "containerDefinitions[web].environment[C]",
            "from": None,
            "to": '{"name":"C","value":"3"}',
        },
        {
            "path": "containerDefinitions[web].image",
            "from": BEFORE["containerDefinitions"][0]["image"],  # type: ignore[index]
            "to": after["containerDefinitions"][0]["image"],  # type: ignore[index]
        },
        {
            "path": "containerDefinitions[web].portMappings[0].containerPort",
            "from": "8080",
            "to": "9090",
        },
    ]
    lines = change_lines(changes, short=short_image, limit=3)
    assert lines[2] == "containerDefinitions[web].image: web:1.0 -> web@sha256:aaaaaaaaaaaa"
    assert lines[-1] == "and 1 more"


def test_the_same_task_definition_has_no_changes() -> None:
    assert task_definition_changes(BEFORE, _after()) == []  # ARN and revision are ECS's own


def test_the_rest_answer_matches_its_documented_schema() -> None:
    result = DryRun(
        environment="prod",
        service="web",
        actor="alice",
        current=ImageRef("r/web:1.0", "1.0", "sha256:" + "1" * 64),
        requested=ImageRef("r/web@sha256:" + "2" * 64, "2.0", "sha256:" + "2" * 64),
        current_task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
        changes=[{"path": "containerDefinitions[web].image", "from": "a", "to": "b"}],
        checks=[
            Check("lock_free", CheckResult.FAIL, "busy", holder="dep-1"),
            Check("approval", CheckResult.NEEDED, "protected", approvers=("lena",)),
        ],
        outcome=Outcome.AWAIT_APPROVAL,
        from_environment="demo",
    )
    body = dry_run_body(result)
    parsed = DryRunBody.model_validate(body)
    assert parsed.task_definition_diff[0].from_ == "a"
    assert body["checks"][0]["holder"] == "dep-1" and body["checks"][1]["approvers"] == ["lena"]
    assert body["outcome"] == "would_await_approval" and body["dry_run"] is True
