"""Deploys that explain themselves (issue 13): a rolled-back deploy says what its tasks died of,
and a crash-looping rollout is rolled back after the policy's threshold, long before its
timeout. Driven over HTTP and the local control commands, as an on-call engineer would."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from tests.e2e.conftest import Stack, wait_for

DEPLOY_TIMEOUT = 120  # the demo policy's deploy timeout for demo's services


def _deploy(stack: Stack, service: str, tag: str) -> requests.Response:
    return stack.request(
        "POST", "/deployments", json={"environment": "demo", "service": service, "tag": tag}
    )


def _slack_about(stack: Stack, deployment_id: str, words: str) -> list[str]:
    """What Slack shows of the messages about one deployment that contain ``words``."""
    return [text for text in stack.slack_shown() if deployment_id in text and words in text]


def _ends_rolled_back(stack: Stack, service: str, tag: str, timeout: float) -> dict[str, Any]:
    resp = _deploy(stack, service, tag)
    assert resp.status_code == 202, resp.text
    done = stack.wait_deployment(resp.json()["id"], timeout=timeout)
    assert done["status"] == "rolled_back", done["events"]
    return done


def test_a_failed_rollout_names_what_its_tasks_died_of(stack: Stack) -> None:
    result = stack.control("rollout-fail", "api")
    assert result.returncode == 0, result.stderr

    done = _ends_rolled_back(stack, "api", "2.0", timeout=60)

    reason = done["failure_reason"]
    assert "tasks stopped" in reason and "Task failed container health checks" in reason, reason
    assert any(reason in e["message"] for e in done["events"]), done["events"]
    said = wait_for(lambda: _slack_about(stack, done["id"], "rolled back"))
    assert any("Task failed container health checks" in text for text in said), said


def test_a_crashing_container_is_named_with_its_exit_code(stack: Stack) -> None:
    result = stack.control("rollout-fail", "web", "--exit-code", "3")
    assert result.returncode == 0, result.stderr

    done = _ends_rolled_back(stack, "web", "2.0", timeout=60)

    reason = done["failure_reason"]
    assert "Essential container in task exited" in reason and "exit code 3" in reason, reason
    said = wait_for(lambda: _slack_about(stack, done["id"], "rolled back"))
    assert any("exit code 3" in text for text in said), said


def test_a_crash_loop_is_rolled_back_after_the_threshold_before_the_timeout(
    stack: Stack,
) -> None:
    before = stack.request("GET", "/services/demo/web").json()["task_definition"]
    result = stack.control("rollout-crashloop", "web")
    assert result.returncode == 0, result.stderr

    started = time.monotonic()
    done = _ends_rolled_back(stack, "web", "1.1", timeout=DEPLOY_TIMEOUT / 2)
    took = time.monotonic() - started

    assert took < DEPLOY_TIMEOUT / 3, f"rolled back after {took:.0f} s"
    reason = done["failure_reason"]
    aborted = re.match(r"aborted after (\d+) tasks stopped: ", reason)
    assert aborted and int(aborted.group(1)) >= 3, reason  # the demo policy's threshold
    assert "Essential container in task exited" in reason and "exit code 1" in reason, reason
    assert stack.request("GET", "/services/demo/web").json()["task_definition"] == before
    said = wait_for(lambda: _slack_about(stack, done["id"], "Deploy aborted, rolling back"))
    assert any("exit code 1" in text for text in said), said
