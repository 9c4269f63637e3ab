"""The local stack's operator log, the Slack sink's lines and the control commands' reports."""

from __future__ import annotations

import json
import logging
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws.notifier import Message
from infra.local import oplog, reports
from infra.local.sink import INPUT_HEADER, SinkServer

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.0"


def deploy_post(title: str, text: str, took: str | None = None) -> dict[str, Any]:
    facts: tuple[tuple[str, str], ...] = (
        ("Deployment", "dep-1"),
        ("Service", "demo/web"),
        ("Image", IMAGE),
        ("By", "me"),
    )
    facts += (("Took", took),) if took else ()
    return Message(title=title, text=text, facts=facts).slack_payload()


def alarm_post(title: str, result: str, next_action: str | None = None) -> dict[str, Any]:
    facts = [("Metric", "CPU"), ("Rule", "web-cpu-high: scale web out by 1"), ("Result", result)]
    if next_action:
        facts.append(("Next action", next_action))
    return Message(title=title, text=result, facts=tuple(facts)).slack_payload()


def test_a_deploy_is_one_line_per_step_with_its_own_duration() -> None:
    """The duration is the one the message states (the record's), not the sink's clock."""
    log = oplog.OperatorLog()
    started = log.line(
        deploy_post("Deploy started: demo/web", f"Rolling out {IMAGE} (web:1 -> web:2).")
    )
    assert started == "web: deploy 2.0 started (web:1 -> web:2)"
    done = log.line(deploy_post("Deploy succeeded: demo/web", "steady state", took="3 s"))
    assert done == "web: deploy 2.0 succeeded in 3 s"
    back = log.line(
        deploy_post("Deploy rolled back: demo/web", "tasks failed. More.", took="1 min 8 s")
    )
    assert back == "web: deploy 2.0 rolled back in 1 min 8 s: tasks failed"


def test_other_posts_are_their_title_and_first_sentence() -> None:
    post = Message(
        title="Budget monthly-ops (demo): actual spend crossed 80%",
        text="Actual spend 85.00 USD of 100.00 USD (85%); forecast 97.00 USD.",
    ).slack_payload()
    assert oplog.OperatorLog().line(post) == (
        "Budget monthly-ops (demo): actual spend crossed 80%: Actual spend 85.00 USD of "
        "100.00 USD (85%)"
    )


def test_webhook_posts_and_messages_replaced_in_place_are_printed() -> None:
    lines: list[str] = []
    log = oplog.OperatorLog(emit=lines.append)
    payload = deploy_post("Deploy succeeded: demo/web", "ok")
    log.post({"to": "response_url", "payload": payload})
    log.post({"to": "webhook", "payload": payload})
    assert lines == ["web: deploy 2.0 succeeded"]
    # a message replaced in place is news: an approval decided by a button press
    decided = Message(title="Denied: prod/web 2.0", text="Denied by demo-lead.").slack_payload()
    log.post({"to": "response_url", "payload": {**decided, "replace_original": True}})
    assert lines[-1] == "Denied: prod/web 2.0: Denied by demo-lead"


def test_alarm_reports_say_what_changed_and_when_next() -> None:
    scaled = alarm_post(
        "web-cpu-high ALARM: web 2 -> 3",
        "desired count 2 -> 3 (bounds 1..6)",
        "not before 2026-11-29T14:05:12Z (cooldown)",
    )
    line = reports.alarm_reaction("web-cpu-high", "ALARM", scaled)
    when = reports.local_time("2026-11-29T14:05:12Z")
    assert line == (
        f"web-cpu-high ALARM -> web desired 2 -> 3 (rule web-cpu-high; next scale-out after {when})"
    )
    cooled = alarm_post(
        "web-cpu-high ALARM: in cooldown",
        "in cooldown until 2026-11-29T14:05:12Z (one out action per 300 s); nothing changed",
    )
    assert reports.alarm_reaction("web-cpu-high", "ALARM", cooled).startswith(
        "web-cpu-high ALARM -> cooldown: no change (rule web-cpu-high; in cooldown until "
    )
    quiet = {"ok": True, "result": {"records": [{"results": ["cooldown"]}]}}
    assert reports.alarm_silent("web-cpu-high", "ALARM", quiet).endswith(
        "cooldown: no change (the notice was already posted)"
    )
    failed = {"ok": False, "attempts": 3, "reason": "the function crashed"}
    assert "failed after 3 attempts" in reports.alarm_silent("w", "OK", failed)


def test_budget_report_says_whether_the_alert_was_posted() -> None:
    result = {
        "budgets": [
            {
                "environment": "demo",
                "budget": "b",
                "threshold": "actual > 80%",
                "crossed": True,
                "alerted": True,
                "value": 85.0,
                "limit": 100.0,
            },
            {
                "environment": "demo",
                "budget": "b",
                "threshold": "actual > 100%",
                "crossed": False,
                "value": 85.0,
                "limit": 100.0,
            },
        ]
    }
    posted = [Message(title="Budget b (demo): actual spend crossed 80%", text="x").slack_payload()]
    assert reports.budgets(result, posted) == [
        "budget b (demo): actual > 80% crossed (85.00 of 100.00 USD): alert posted",
        "budget b (demo): actual > 100% not crossed (85.00 of 100.00 USD)",
    ]


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers=headers or {}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.read() == b"ok"


def test_slack_jsonl_starts_fresh_and_says_when_and_where(tmp_path: Path) -> None:
    log = tmp_path / "slack.jsonl"
    log.write_text('{"text": "from the last stack"}\n')
    sink = SinkServer(slack_log=log)
    told: list[tuple[dict[str, Any], str]] = []
    sink.on_post = lambda record, by: told.append((record, by))
    sink.start()
    try:
        _post(f"{sink.url}/slack/webhook", {"text": "hi"}, {INPUT_HEADER: "sns-1"})
        reply = "https://hooks.slack.com/commands/T/1/x"
        _post(f"{sink.url}/slack/relay?to={urllib.parse.quote(reply, safe='')}", {"text": "r"})
    finally:
        sink.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["to"], r["url"], r["payload"]) for r in lines] == [
        ("webhook", f"{sink.url}/slack/webhook", {"text": "hi"}),
        ("response_url", reply, {"text": "r"}),
    ]
    assert all(r["at"].endswith("Z") and r["at"][:2] == "20" for r in lines)
    assert [by for _, by in told] == ["sns-1", ""]


@pytest.mark.parametrize(
    ("name", "level", "shown_quiet"),
    [
        ("opsbot.local", logging.INFO, True),
        ("opsbot.local.faults", logging.INFO, False),  # each injected crash: verbose only
        ("opsbot.local.faults", logging.WARNING, True),
        ("opsbot", logging.INFO, False),  # Powertools: "notice suppressed" and the like
        ("opsbot", logging.WARNING, True),
        ("opsbot.notifications", logging.ERROR, True),
        ("urllib3.connectionpool", logging.WARNING, False),  # "Connection pool is full"
        ("werkzeug", logging.INFO, False),  # access logs
    ],
)
def test_the_terminal_shows_events_and_errors_only(
    name: str, level: int, shown_quiet: bool
) -> None:
    record = logging.LogRecord(name, level, __file__, 1, "m", None, None)
    assert oplog._OperatorFilter(verbose=False).filter(record) is shown_quiet
    assert oplog._OperatorFilter(verbose=True).filter(record) is (name != "opsbot")


def test_an_error_is_one_line_with_its_reason_and_no_traceback() -> None:
    try:
        raise RuntimeError("throttled")
    except RuntimeError:
        record = logging.LogRecord(
            "opsbot",
            logging.ERROR,
            __file__,
            1,
            "deploy.start failed",
            None,
            sys.exc_info(),
        )
    record.reason = "UpdateService\nthrottled"
    line = oplog.OperatorFormatter().format(record)
    assert "\n" not in line
    assert line.endswith(
        "error: deploy.start failed (reason=UpdateService throttled): RuntimeError: throttled"
    )


def test_chalices_plain_handler_is_dropped_so_app_lines_show_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(oplog._configured, "verbose", False)
    app_logger = logging.getLogger("opsbot-test-app")
    chalice, powertools = logging.NullHandler(), logging.NullHandler()
    app_logger.handlers = [chalice, powertools]
    app_logger.propagate = False  # as Chalice leaves it
    monkeypatch.setattr(app_logger, "powertools_handler", powertools, raising=False)
    try:
        oplog.quiet_powertools(app_logger)
        assert app_logger.handlers == [powertools] and app_logger.propagate
        assert oplog._powertools_filter in powertools.filters  # its JSON: verbose only
    finally:
        app_logger.handlers = []


_TERMINAL = """
import logging
from infra.local import lambda_logs, lambda_runtime, oplog
oplog.configure()
lambda_logs.install()
from app import app  # Chalice: the app logger "opsbot", its own handler, level ERROR
logging.getLogger("opsbot.local.faults").warning("faults on")
with lambda_runtime.invocation("api_handler"):
    from chalicelib.core.observability import logger
    logger().info("notice suppressed")
    try:
        raise ValueError("boom")
    except ValueError:
        logger().exception("AWS call failed", extra={"request_id": "r1"})
logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_the_make_run_terminal_says_each_thing_once(verbose: bool) -> None:
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "INFO", "OPSBOT_LOCAL_VERBOSE": "1" * verbose}
    done = subprocess.run(
        [sys.executable, "-c", _TERMINAL], cwd=root, env=env, capture_output=True, text=True
    )
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 0, lines
    if not verbose:
        assert [line[9:] for line in lines] == [
            "warning: faults on",
            "error: AWS call failed (request_id=r1): ValueError: boom",
        ]
        return
    failed = [line for line in lines if "AWS call failed" in line]
    assert len(failed) == 1 and json.loads(failed[0])["request_id"] == "r1"  # JSON, once
    assert any("notice suppressed" in line for line in lines)
    assert any("Connection pool is full" in line for line in lines)


def test_the_deploy_notices_opsbot_sends_make_one_line_each() -> None:
    from chalicelib.deploys.notice import deploy_message
    from chalicelib.records.deployment import Deployment
    from chalicelib.records.status import DeploymentStatus

    dep = Deployment(
        id="dep-9",
        environment="prod",
        service="api",
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/api:2.0",
        previous_image="123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.0",
        status=DeploymentStatus.IN_PROGRESS,
        actor="me",
        created_at="2026-11-29T14:00:00Z",
        updated_at="2026-11-29T14:00:00Z",
        timeout_seconds=600,
        task_definition="arn:aws:ecs:us-east-1:1:task-definition/api:2",
        previous_task_definition="arn:aws:ecs:us-east-1:1:task-definition/api:1",
    )
    log = oplog.OperatorLog()

    def line(title: str, text: str, now: datetime | None = None) -> str:
        message = deploy_message(dep, title=title, text=text, level="info", now=now)
        return log.line(message.slack_payload())

    assert line("Deploy started: prod/api", "ECS is rolling it out.") == (
        "prod/api: deploy 2.0 started (api:1 -> api:2)"
    )
    dep.failure_reason = "3 tasks stopped: Task failed container health checks"
    ended = datetime(2026, 11, 29, 14, 0, 6, 400000, tzinfo=UTC)  # the record's duration: 6 s
    assert line("Deploy rolled back: prod/api", "ECS reports it steady again.", ended) == (
        "prod/api: deploy 2.0 rolled back in 6 s: 3 tasks stopped: Task failed container "
        "health checks"
    )
    payload = deploy_message(dep, title="T", text="x", level="info").slack_payload()
    title, _, facts = oplog.parse_post(payload)
    assert title == "T" and facts["Deployment"] == "dep-9"


def test_a_rotation_step_names_its_listeners_and_new_certificate() -> None:
    post = Message(
        title="Certificate rotated",
        text="demo.example.com is served with the new certificate, verified. More.",
        facts=(("Listeners", "demo-alb:443"), ("New certificate", "55f6873f, valid until X")),
    ).slack_payload()
    assert reports.rotation_step("demo.example.com", post) == (
        "demo.example.com: certificate rotated on demo-alb:443: new certificate 55f6873f, "
        "valid until X"
    )


def test_an_alarms_outcome_is_its_first_deliverys_not_the_duplicates() -> None:
    """With ``faults --duplicates`` the second delivery only finds the notification handled:
    the ``alarm`` control command reports what the first one did (a cooldown, say)."""
    from types import SimpleNamespace

    from infra.local.outcomes import Outcomes

    def ended(result: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(ok=True, attempts=1, result=result, reason="")

    outcomes = Outcomes()
    outcomes.ended("alarm_notification", "in-1", ended({"records": [{"results": ["cooldown"]}]}))
    outcomes.ended("alarm_notification", "in-1", ended({"records": [{"duplicate": True}]}))
    found = outcomes.query({"inputs": ["in-1"]})["ended"]["in-1"]
    assert reports.alarm_silent("web-cpu-high", "ALARM", found) == (
        "web-cpu-high ALARM -> cooldown: no change (the notice was already posted)"
    )
