"""Alarm reactions, end to end: CloudWatch state in the embedded AWS, SNS, scaling in ECS/ASG."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import Stack, wait_for


def desired(stack: Stack, service: str) -> int:
    svc = stack.aws("ecs").describe_services(cluster="demo", services=[service])["services"][0]
    return int(svc["desiredCount"])


def workers(stack: Stack) -> int:
    asg = stack.aws("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["demo-workers"]
    )
    return int(asg["AutoScalingGroups"][0]["DesiredCapacity"])


def set_desired(stack: Stack, service: str, count: int) -> None:
    stack.aws("ecs").update_service(cluster="demo", service=service, desiredCount=count)


def alarm(stack: Stack, name: str, state: str) -> None:
    result = stack.control("alarm", name, state)
    assert result.returncode == 0, result.stderr


def new_messages(stack: Stack, since: int) -> list[str]:
    return stack.slack_shown()[since:]


def settle(stack: Stack, quiet: float = 1.5, timeout: float = 30) -> None:
    """Wait until the Slack log has stopped growing for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = len(stack.slack()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = len(stack.slack())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


@pytest.fixture(autouse=True)
def fresh_windows(stack: Stack) -> Iterator[None]:
    settle(stack, quiet=0.5)
    stack.reset_cooldowns()
    set_desired(stack, "web", 2)
    yield


def test_alarm_scales_out_repeat_is_cooled_down_ok_scales_back(stack: Stack) -> None:
    mark = len(stack.slack())
    alarm(stack, "web-cpu-high", "ALARM")
    wait_for(lambda: desired(stack, "web") == 3)
    texts = wait_for(lambda: [t for t in new_messages(stack, mark) if "web 2 -> 3" in t])
    assert "web-cpu-high ALARM" in texts[0]

    mark = len(stack.slack())
    alarm(stack, "web-cpu-high", "ALARM")
    cooled = wait_for(lambda: [t for t in new_messages(stack, mark) if "cooldown" in t])
    assert "web in cooldown" in cooled[0]
    assert re.search(r"Next action\*\nnot before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cooled[0])
    assert desired(stack, "web") == 3

    alarm(stack, "web-cpu-high", "OK")
    wait_for(lambda: desired(stack, "web") == 2)
    settle(stack)
    assert desired(stack, "web") == 2
    audit = stack.request("GET", "/audit?environment=demo&service=web&limit=5").json()["items"]
    assert audit[0]["actor"] == "alarm:web-cpu-high"
    assert (audit[0]["before"], audit[0]["after"]) == (3, 2)


def test_queue_alarm_scales_the_worker_group_by_one(stack: Stack) -> None:
    before = workers(stack)
    alarm(stack, "workers-queue-deep", "ALARM")
    wait_for(lambda: workers(stack) == before + 1)
    settle(stack)
    assert workers(stack) == before + 1
    alarm(stack, "workers-queue-deep", "OK")
    wait_for(lambda: workers(stack) == before)


def test_at_max_nothing_changes_and_the_reason_is_posted(stack: Stack) -> None:
    set_desired(stack, "web", 6)
    mark = len(stack.slack())
    alarm(stack, "web-cpu-high", "ALARM")
    texts = wait_for(lambda: [t for t in new_messages(stack, mark) if "web-cpu-high ALARM" in t])
    assert "at its max" in texts[0]
    assert "1..6" in texts[0]
    assert desired(stack, "web") == 6


def _notification(stack: Stack, name: str, state: str) -> tuple[str, str]:
    from datetime import UTC, datetime

    from infra.local.alarm_notice import alarm_notification

    found = stack.aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    subject, message = alarm_notification(
        found,
        old_state="OK",
        new_state=state,
        reason="Threshold Crossed: e2e",
        at=datetime.now(UTC),
    )
    return subject, json.dumps(message)


def _topic(stack: Stack) -> str:
    topics = stack.aws("sns").list_topics()["Topics"]
    return next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(":opsbot-alarms"))


def test_a_burst_of_fifty_notifications_causes_exactly_one_action(stack: Stack) -> None:
    subject, message = _notification(stack, "web-cpu-high", "ALARM")
    sns, topic = stack.aws("sns"), _topic(stack)
    mark = len(stack.slack())

    def publish(_: int) -> Any:
        return sns.publish(TopicArn=topic, Subject=subject, Message=message)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(publish, range(50)))
    wait_for(lambda: desired(stack, "web") == 3)
    settle(stack, quiet=3, timeout=60)

    assert desired(stack, "web") == 3
    shown = new_messages(stack, mark)
    follow_ups = [t for t in shown if "Changed in the last hour" in t]
    reactions = [t for t in shown if t not in follow_ups]
    assert len([t for t in reactions if "web 2 -> 3" in t]) == 1
    assert len(reactions) <= 2  # the action, and at most one cooldown notice
    assert len(follow_ups) == 1  # what changed before the action, once


def test_a_malformed_message_does_not_stop_the_others(stack: Stack) -> None:
    subject, message = _notification(stack, "web-cpu-high", "ALARM")
    sns, topic = stack.aws("sns"), _topic(stack)
    lines_before = len(stack.output)
    sns.publish(TopicArn=topic, Message="this is not a CloudWatch alarm")
    sns.publish(TopicArn=topic, Message=json.dumps({"AlarmName": "web-cpu-high"}))
    sns.publish(TopicArn=topic, Subject=subject, Message=message)

    wait_for(lambda: desired(stack, "web") == 3)
    logged = wait_for(
        lambda: [
            line for line in stack.output[lines_before:] if "malformed alarm notification" in line
        ]
    )
    assert len(logged) >= 2
    assert any("not JSON" in line for line in logged)


def test_manual_scaling_respects_the_bounds(stack: Stack) -> None:
    resp = stack.request("POST", "/services/demo/web/scale", json={"desired": 7})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["min"], error["max"]) == (1, 6)
    assert "min 1, max 6" in error["message"]
    assert desired(stack, "web") == 2

    resp = stack.request("POST", "/services/demo/web/scale", json={"desired": 4, "reason": "e2e"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["previous_desired"] == 2
    assert desired(stack, "web") == 4
    audit = stack.request("GET", "/audit?environment=demo&service=web&limit=1").json()["items"][0]
    assert (audit["action"], audit["actor"], audit["after"]) == ("scale", "local-admin", 4)

    resp = stack.request("POST", "/services/demo/api/scale", json={"desired": 1})
    assert resp.status_code == 400  # api's bounds are 2..4
    resp = stack.request("POST", "/services/demo/web/scale", json={"desired": -1})
    assert resp.status_code == 400
    assert "min 1, max 6" in resp.json()["error"]["message"]
    resp = stack.request("POST", "/services/demo/web/scale", json={"desired": "three"})
    assert resp.status_code == 400
    assert "desired" in resp.json()["error"]["fields"]
