"""Game day against the local stack: `python -m infra.local faults` and how the stack reacts.

Each test turns its faults off again, so the rest of the session runs without them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import TOKEN, Stack, wait_for


def _counts(stack: Stack) -> dict[str, int]:
    """The counters `faults` prints: what was injected and how the event sources reacted."""
    shown = stack.control("faults")
    assert shown.returncode == 0, shown.stderr
    counters = shown.stdout.split("\n", 1)[1]  # the first line is the setting
    return {name: int(n) for name, n in re.findall(r"([a-z0-9-]+) (\d+)(?=,|$)", counters, re.M)}


@pytest.fixture
def game_day(stack: Stack) -> Iterator[Stack]:
    """Faults are off before and after."""
    assert stack.control("faults", "off").returncode == 0
    try:
        yield stack
    finally:
        off = stack.control("faults", "off")
        assert off.returncode == 0 and off.stdout.startswith("faults off"), off.stdout


def _post_deploy(stack: Stack, tag: str, timeout: float) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/deployments",
        json={"environment": "demo", "service": "api", "tag": tag},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=timeout,
    )


def test_faults_alone_prints_the_setting_and_bad_rates_are_refused(game_day: Stack) -> None:
    shown = game_day.control("faults")
    assert shown.returncode == 0 and shown.stdout.startswith("faults off"), shown.stdout
    refused = game_day.control("faults", "--crashes", "1.5")
    assert refused.returncode != 0 and "probability" in refused.stderr
    on = game_day.control("faults", "--duplicates", "0.25", "--seed", "9")
    assert on.stdout.startswith(
        "faults on (seed 9): aws-errors 0, crashes 0, lost-events 0, duplicates 0.25"
    ), on.stdout
    assert game_day.control("faults").stdout.startswith("faults on (seed 9)")


def test_under_aws_errors_the_api_answers_a_contract_error_and_faults_off_restores(
    game_day: Stack,
) -> None:
    stack = game_day
    running = stack.request("GET", "/services/demo/api").json()["image"]
    tag = "1.0" if running.endswith(":2.0") else "2.0"
    on = stack.control("faults", "--aws-errors", "1", "--seed", "1")
    assert on.stdout.startswith("faults on (seed 1): aws-errors 1"), on.stdout

    answer = _post_deploy(stack, tag, timeout=180)  # botocore backs off between its retries
    accepted = None
    if answer.status_code == 202:  # every AWS call fails, so this is unlikely; then it must end
        accepted = answer.json()["id"]
    else:
        assert answer.status_code in (401, 503), answer.text  # never a 500
        assert {"code", "message"} <= set(answer.json()["error"]), answer.text
    assert _counts(stack)["aws-errors"] > 0

    assert stack.control("faults", "off").stdout.startswith("faults off")
    if accepted:
        assert stack.wait_deployment(accepted, timeout=180)["status"] in (
            "succeeded",
            "failed",
            "rolled_back",
            "rejected",
        )
        return

    def accepted_now() -> str | None:  # a credentials read that failed may be cached a minute
        again = _post_deploy(stack, tag, timeout=30)
        assert again.status_code in (202, 401, 503), again.text
        return str(again.json()["id"]) if again.status_code == 202 else None

    deployment = wait_for(accepted_now, timeout=120, interval=2)
    assert stack.wait_deployment(deployment, timeout=60)["status"] == "succeeded"


SHORT_VISIBILITY_SECONDS = 5


@pytest.fixture
def short_visibility(game_day: Stack) -> Iterator[int]:
    """The work queue's visibility timeout, 5 s for one test instead of the template's 30 s
    (the local event source receives with the queue's own), restored after it."""
    sqs = game_day.aws("sqs")
    work = sqs.get_queue_url(QueueName="opsbot-work")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="opsbot-work-dlq")["QueueUrl"]
    name = "VisibilityTimeout"
    before = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=[name])["Attributes"][name]
    sqs.set_queue_attributes(QueueUrl=work, Attributes={name: str(SHORT_VISIBILITY_SECONDS)})
    try:
        # A receive takes the timeout when it is made, and the worker's 20 s long poll was made
        # before: a message of its own (poison: dead-lettered at once) ends that receive.
        wake = "game day: ends the worker's waiting receive"
        sqs.send_message(QueueUrl=work, MessageBody=wake)
        wait_for(lambda: _take(sqs, dlq, wake), timeout=60, interval=0.2)
        yield SHORT_VISIBILITY_SECONDS
    finally:
        sqs.set_queue_attributes(QueueUrl=work, Attributes={name: before})


def _take(sqs: Any, queue: str, body: str) -> bool:
    """Whether a message with ``body`` was on ``queue`` (each one received is deleted)."""
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    found = False
    for message in got.get("Messages", []):
        if message["Body"] == body:
            found = True
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_crashed_worker_gets_its_message_again_after_the_visibility_timeout(
    game_day: Stack, short_visibility: int
) -> None:
    stack = game_day
    sqs = stack.aws("sqs")
    work = sqs.get_queue_url(QueueName="opsbot-work")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="opsbot-work-dlq")["QueueUrl"]
    body = "game day: not a work message"
    on = stack.control("faults", "--crashes", "1", "--seed", "1")
    assert on.stdout.startswith("faults on (seed 1): aws-errors 0, crashes 1"), on.stdout
    sent = time.monotonic()
    sqs.send_message(QueueUrl=work, MessageBody=body)  # the test's own client: no faults

    # it crashes, is not deleted, comes back after the visibility timeout, crashes again
    wait_for(lambda: _counts(stack)["sqs-redeliveries"] >= 2, timeout=120, interval=1)
    assert time.monotonic() - sent >= short_visibility  # not before the timeout
    counts = _counts(stack)
    assert counts["crashes"] >= 2, counts

    assert stack.control("faults", "off").returncode == 0

    def dead_lettered() -> bool:  # with faults off the worker handles it: a poison message
        got = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return any(
            m["Body"] == body and "opsbot-reason" in m.get("MessageAttributes", {})  # the worker's
            for m in got.get("Messages", [])
        )

    wait_for(dead_lettered, timeout=90, interval=1)


def test_lost_and_duplicated_events_are_counted(game_day: Stack) -> None:
    stack = game_day
    events = stack.aws("events")

    def ecs_event() -> None:  # an ECS event about no deployment opsbot knows: nothing to do
        detail = {
            "eventType": "INFO",
            "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
            "deploymentId": "ecs-svc/1000000000000000001",
            "updatedAt": "2026-01-01T00:00:00.000Z",
            "reason": "ECS deployment ecs-svc/1000000000000000001 completed.",
        }
        events.put_events(
            Entries=[
                {
                    "Source": "aws.ecs",
                    "DetailType": "ECS Deployment State Change",
                    "Detail": json.dumps(detail),
                    "Resources": ["arn:aws:ecs:us-east-1:123456789012:service/demo/nope"],
                }
            ]
        )

    stack.control("faults", "--lost-events", "1", "--seed", "1")
    ecs_event()
    wait_for(lambda: _counts(stack)["lost-events"] >= 1, timeout=30)
    assert _counts(stack)["duplicates"] == 0

    stack.control("faults", "--duplicates", "1", "--seed", "1")
    ecs_event()
    wait_for(lambda: _counts(stack)["duplicates"] >= 1, timeout=30)
    assert _counts(stack)["lost-events"] == 0


def test_a_crashed_request_is_answered_502_as_api_gateway_does(game_day: Stack) -> None:
    on = game_day.control("faults", "--crashes", "1", "--seed", "4")
    assert on.returncode == 0, on.stderr
    answer = game_day.request("GET", "/services/demo/web")
    assert answer.status_code == 502, answer.text
    assert answer.json() == {"message": "Internal server error"}
    assert _counts(game_day)["rest-502"] == 1
