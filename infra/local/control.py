"""The local control commands: drive a running local stack (``python -m infra.local ...``).

``alarm`` plays CloudWatch from this process (the embedded AWS is reached directly); the other
commands need the stack's process and go to its control endpoint on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from infra.local import reports
from infra.local.alarm_notice import alarm_notification, default_reason
from infra.local.embedded import aws_env, client
from infra.local.settings import state_dir
from infra.local.state import STATE_FILE, pid_alive

__all__ = [
    "ControlError",
    "alarm",
    "alarm_notification",
    "faults",
    "rollout_crashloop",
    "rollout_fail",
    "spend",
    "tick",
]

TICK_TIMEOUT_SECONDS = 300  # a scheduled check with its retries
OUTCOME_WAIT_SECONDS = 8.0  # how long a command waits to report what its input caused
_POLL_SECONDS = 0.2


class ControlError(Exception):
    """A control command could not do what was asked."""


def stack_info() -> dict[str, Any]:
    """What the running stack wrote about itself."""
    state = state_dir() / STATE_FILE
    try:
        info = dict(json.loads(state.read_text()))
    except FileNotFoundError:
        raise ControlError(
            f"no local stack is running ({state} is missing): start it with `make run`"
        ) from None
    if not pid_alive(int(info.get("pid", 0))):
        raise ControlError(
            f"the local stack that wrote {state} (pid {info.get('pid')}) is not running: "
            "start it with `make run`"
        )
    return info


def _use_stack(info: dict[str, Any]) -> None:
    os.environ.update(info["app_env"])
    os.environ.update(aws_env(info["aws_endpoint"]))


def _post(url: str, body: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        raise ControlError(json.loads(exc.read() or b"{}").get("error", str(exc))) from None
    except urllib.error.URLError as exc:
        raise ControlError(f"the local stack does not answer at {url}: {exc.reason}") from None


def command(name: str, body: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """Run a command in the running stack's process (its control endpoint); its answer."""
    return _post(f"{stack_info()['sink_url']}/_control/{name}", body, timeout)


def alarm(
    name: str, state: str, *, reason: str | None = None, wait: float = OUTCOME_WAIT_SECONDS
) -> str:
    """Set an alarm's state and publish CloudWatch's notification to the actions of that state;
    then (``wait`` > 0) what opsbot did about it, waiting up to ``wait`` seconds."""
    _use_stack(stack_info())
    cloudwatch = client("cloudwatch")
    found = cloudwatch.describe_alarms(
        AlarmNames=[name], AlarmTypes=["CompositeAlarm", "MetricAlarm"]
    )
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    if not alarms:
        raise ControlError(f"no alarm named {name!r}")
    current = alarms[0]
    at = datetime.now(UTC)
    why = reason or default_reason(current, state, at)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=why)
    actions = {
        "ALARM": "AlarmActions",
        "OK": "OKActions",
        "INSUFFICIENT_DATA": "InsufficientDataActions",
    }
    targets = [a for a in current.get(actions[state], []) if ":sns:" in a]
    subject, message = alarm_notification(
        current,
        old_state=current.get("StateValue", "INSUFFICIENT_DATA"),
        new_state=state,
        reason=why,
        at=at,
    )
    sns = client("sns")
    published = [
        sns.publish(TopicArn=topic, Subject=subject, Message=json.dumps(message))["MessageId"]
        for topic in targets
    ]
    where = ", ".join(t.rsplit(":", 1)[-1] for t in targets) or "no SNS action"
    said = f"{name}: {current.get('StateValue')} -> {state}; notified {where}"
    if not published or wait <= 0:
        return said
    return "\n".join(_reactions(name, state, published, wait) or [said])


def _outcome(body: dict[str, Any]) -> dict[str, Any]:
    return command("outcome", body)


def _reactions(name: str, state: str, inputs: list[str], wait: float) -> list[str]:
    """What opsbot did about each published notification (by its SNS message id)."""
    deadline = time.monotonic() + wait
    answer = _outcome({"inputs": inputs})
    while any(e is None for e in answer["ended"].values()) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        answer = _outcome({"inputs": inputs})
    lines = []
    for input_id, ended in answer["ended"].items():
        mine = reports.webhook_posts([p for p in answer["posts"] if p["input"] == input_id])
        if ended is None and not mine:
            lines.append(
                f"{name} {state} -> no outcome within {wait:g} s (opsbot may still be working: "
                "see the `make run` terminal or slack.jsonl)"
            )
        elif mine:
            lines.extend(reports.alarm_reaction(name, state, p) for p in mine)
        else:
            lines.append(reports.alarm_silent(name, state, ended))
    return lines


def tick(name: str, *, wait: float = OUTCOME_WAIT_SECONDS, as_json: bool = False) -> str:
    """Run one scheduled handler once in the running stack, as its schedule would; what it did
    (``as_json``: the handler's result as JSON)."""
    started = time.time()
    answer = command("tick", {"name": name}, timeout=TICK_TIMEOUT_SECONDS)
    result = answer.get("result")
    if as_json:
        return json.dumps(result, default=str)
    if not isinstance(result, dict):
        return str(answer["message"])
    if "certificates" in result:
        lines = reports.certificates(result)
        for item in result["certificates"]:
            if item.get("outcome") == "started" and item.get("new_certificate") and wait > 0:
                lines.extend(_rotation(item, str(answer.get("input")), started, wait))
        return "\n".join(lines)
    if "budgets" in result:
        return "\n".join(reports.budgets(result, reports.webhook_posts(answer.get("posts", []))))
    if "sweeper" in result:
        return "\n".join(reports.sweeper(result))
    return str(answer["message"])


def _rotation(item: dict[str, Any], tick_input: str, since: float, wait: float) -> list[str]:
    """The next step of a rotation the tick started: the post naming its new certificate."""
    deadline = time.monotonic() + wait
    arn = str(item["new_certificate"])
    while True:
        found = _outcome({"since": since, "contains": arn})["posts"]
        later = reports.webhook_posts([p for p in found if p["input"] != tick_input])
        if later:
            return [reports.rotation_step(str(item.get("domain")), p) for p in later]
        if time.monotonic() >= deadline:
            return [f"{item.get('domain')}: still validating after {wait:g} s"]
        time.sleep(_POLL_SECONDS)


def faults(settings: dict[str, Any] | None = None, *, off: bool = False) -> str:
    """Set the faults in force (``settings``), turn them off, or (neither) say what is set."""
    body: dict[str, Any] = {"off": True} if off else {"set": settings} if settings else {}
    return str(command("faults", body)["message"])


def spend(budget: str, amount: float) -> str:
    """Set a budget's actual spend in the embedded AWS."""
    from infra.local.demo.budgets import spend_amount

    try:
        amount = spend_amount(amount)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return str(command("spend", {"budget": budget, "amount": amount})["message"])


def rollout_fail(service: str, *, cluster: str = "demo", exit_code: int | None = None) -> str:
    """Make the next rollout of a service fail as the ECS circuit breaker reports it."""
    body: dict[str, Any] = {"service": service, "cluster": cluster}
    if exit_code is not None:
        body["exit_code"] = exit_code
    return str(command("rollout-fail", body)["message"])


def rollout_crashloop(service: str, *, cluster: str = "demo") -> str:
    """Make the next rollout of a service crash-loop until something rolls it back."""
    return str(command("rollout-crashloop", {"service": service, "cluster": cluster})["message"])
