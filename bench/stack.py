"""Through the local stack a user runs (``python -m infra.local run``, free ports, own state):
how fast a slash command is acknowledged, and how long an alarm takes to change ECS.

The stack runs with the bench policy (the demo's, cooldowns at 0), so every alarm is acted on.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.world import SIGNING_SECRET, slack_form, slack_headers

TOKEN = "bench-admin-token"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _ms(values: list[float], *qs: int) -> dict[str, float]:
    return {f"p{q}": round(1000 * _percentile(values, q), 1) for q in qs}


def _slack_acks(api_url: str, count: int) -> list[float]:
    """Seconds to the answer of ``count`` signed ``/opsbot status web`` commands, one at a time."""
    spent = []
    for _ in range(count):
        body = slack_form("status web")
        request = urllib.request.Request(
            f"{api_url}/slack/commands",
            data=body.encode(),
            headers=slack_headers(body),
            method="POST",
        )
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as resp:
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"slash command answered {resp.status}")
        spent.append(time.perf_counter() - t0)
    return spent


def _desired(ecs: Any) -> int:
    found = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    return int(found["desiredCount"])


def _alarm_to_action(stack: Any, count: int, timeout: float = 30) -> list[float]:
    """Seconds from publishing web-cpu-high's notification (ALARM, then OK, alternately: out
    and back in) to ECS showing the new desired count."""
    from infra.local.alarm_notice import alarm_notification

    info = json.loads((stack.state_dir / "stack.json").read_text())
    sns, ecs, cw = stack.aws("sns"), stack.aws("ecs"), stack.aws("cloudwatch")
    alarm = cw.describe_alarms(AlarmNames=["web-cpu-high"])["MetricAlarms"][0]
    spent = []
    for n in range(count):
        state, old = ("ALARM", "OK") if n % 2 == 0 else ("OK", "ALARM")
        before = _desired(ecs)
        at = datetime.now(UTC) + timedelta(seconds=n)
        subject, message = alarm_notification(
            alarm, old_state=old, new_state=state, reason="bench", at=at
        )
        t0 = time.perf_counter()
        sns.publish(TopicArn=info["alarms_topic_arn"], Subject=subject, Message=json.dumps(message))
        while _desired(ecs) == before:
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"alarm {n} ({state}) changed nothing within {timeout} s")
            time.sleep(0.005)
        spent.append(time.perf_counter() - t0)
    return spent


def _launcher(app_dir: Path) -> Any:
    """``launch`` of the measured checkout's ``infra/local/launch.py`` (it runs that app)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_launch", app_dir / "infra" / "local" / "launch.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_launch"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.launch


def through_the_stack(app_dir: Path, policy: Path, *, acks: int, alarms: int) -> dict[str, Any]:
    """Start the local stack of ``app_dir``, measure, stop it."""
    launch = _launcher(app_dir)
    state_dir = Path(tempfile.mkdtemp(prefix="opsbot-bench-stack-"))
    saved = os.environ.get("OPSBOT_POLICY_FILE")
    os.environ["OPSBOT_POLICY_FILE"] = str(policy)
    try:
        with (
            (state_dir / "stack.log").open("w") as log,
            launch(
                state_dir, token=TOKEN, signing_secret=SIGNING_SECRET, on_line=log.write
            ) as stack,
        ):
            ack = _slack_acks(stack.api_url, acks)
            action = _alarm_to_action(stack, alarms)
    finally:
        if saved is None:
            os.environ.pop("OPSBOT_POLICY_FILE", None)
        else:
            os.environ["OPSBOT_POLICY_FILE"] = saved
    return {
        "slack_ack_ms": _ms(ack, 50, 99),
        "alarm_to_action_ms": _ms(action, 50, 95),
        "samples": {"slack_ack": len(ack), "alarm_to_action": len(action)},
    }
