"""What people are told: every notification kind says each fact once, in valid Block Kit, with a
short one-line fallback, and the email carries the same facts."""

from __future__ import annotations

import copy
import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from chalicelib.alarms import parse_notification
from chalicelib.alarms.explain import reaction_message
from chalicelib.alarms.reaction import reaction_for
from chalicelib.aws.notifier import MAX_FALLBACK, Message
from chalicelib.budgets import alert
from chalicelib.budgets.read import Budget
from chalicelib.certificates import messages as certs
from chalicelib.chatops.commands import history_line
from chalicelib.deploys.notice import deploy_message, duration, short_image
from chalicelib.domain.actions import Outcome
from chalicelib.domain.policy import parse_policy
from chalicelib.records.audit import AuditEntry
from chalicelib.records.deployment import Deployment
from chalicelib.records.rotation import Rotation, Usage, ValidationRecord
from chalicelib.records.status import ActionResult, DeploymentStatus, RotationStatus
from tests.unit.test_alarms import POLICY, sample_message

NOW = dt.datetime(2026, 11, 29, 17, 30, tzinfo=dt.UTC)
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "8d97a1b2c3d4" + "0" * 52
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition"
OLD_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/c2c19545-5d5c-43b2-826e-11f28178b270"
NEW_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/346ae127-3aee-4541-bf07-1dd64599e05e"


# -- what every message must be ----------------------------------------------------------------


def _visible(message: Message) -> list[str]:
    """What a person reads in the message body: title, text, each fact's value."""
    return [message.title, message.text, *(v for _, v in message.facts)]


def _phrases(text: str, size: int) -> list[str]:
    words = [w for w in re.split(r"[\s,;()]+", text.lower()) if w]
    return [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]


def repeated_phrases(message: Message, size: int = 3) -> set[str]:
    """Phrases of ``size`` words said more than once across title, text and facts."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for piece in _visible(message):
        for phrase in set(_phrases(piece, size)):
            (repeated if phrase in seen else seen).add(phrase)
    return repeated


def valid(block: dict[str, Any]) -> None:
    """slack_sdk's own Block Kit limits (header 150 characters, 10 fields, ...)."""
    parsed = Block.parse(block)
    assert parsed is not None, block
    parsed.validate_json()


def check(message: Message) -> dict[str, Any]:
    """Assert the message is well formed; its Slack payload."""
    payload = message.slack_payload()
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        valid(block)
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    header = blocks[0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    fallback = payload["text"]
    assert "\n" not in fallback and 0 < len(fallback) <= MAX_FALLBACK
    assert fallback != message.title and not fallback.endswith(message.text or "\0")
    if message.text:  # the fallback is not title + body again
        assert message.text not in fallback
    assert not repeated_phrases(message), repeated_phrases(message)
    email = message.plain()
    for label, value in message.facts:
        assert f"{label}: {value}" in email
    for line in message.context:
        assert line in email
    return payload


def shown(payload: dict[str, Any]) -> str:
    """Every text a Slack client shows of a payload."""
    texts: list[str] = []
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(f["text"] for f in block.get("fields", []))
        texts.extend(e.get("text", "") for e in block.get("elements", []) if "text" in e)
    return "\n".join(str(t) for t in texts)


def test_a_message_is_chunked_to_block_kit_limits() -> None:
    many = Message(
        title="T" * 400,
        text="x" * 5000,
        facts=tuple((f"k{i}", f"value number {i}") for i in range(23)),
        context=tuple(f"note {i}" for i in range(14)),
    )
    payload = many.slack_payload()
    for block in payload["blocks"]:
        valid(block)
    assert [b["type"] for b in payload["blocks"]].count("section") == 4  # text + 3 of facts
    assert len(payload["text"]) <= MAX_FALLBACK


def test_short_forms() -> None:
    assert short_image(f"{REGISTRY}/web:2.0") == "web:2.0"
    assert short_image(f"{REGISTRY}/web@{DIGEST}") == "web@sha256:8d97a1b2c3d4"
    assert short_image(None) == "?"
    assert [duration(s) for s in (0, 42, 185, 3600, 3720)] == [
        "0 s",
        "42 s",
        "3 min 5 s",
        "1 h",
        "1 h 2 min",
    ]
    assert certs.short_id(OLD_CERT) == "c2c19545"


# -- deploys -----------------------------------------------------------------------------------


def deployment(**changes: Any) -> Deployment:
    base = Deployment(
        id="dep-20261129172430-e71428",
        environment="demo",
        service="api",
        image=f"{REGISTRY}/api:2.0",
        status=DeploymentStatus.IN_PROGRESS,
        actor="U0DEMOADMIN",
        created_at="2026-11-29T17:28:15Z",
        updated_at="2026-11-29T17:28:15Z",
        timeout_seconds=120,
        previous_task_definition=f"{TD}/api:1",
        task_definition=f"{TD}/api:2",
        previous_image=f"{REGISTRY}/api:1.0",
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_deploy_started_names_old_and_new_image_and_who_asked() -> None:
    message = deploy_message(
        deployment(),
        title="Deploy started: demo/api",
        text="ECS is rolling it out; the outcome is posted here.",
        level="info",
    )
    payload = check(message)
    facts = dict(message.facts)
    assert facts["Image"] == "api:1.0 -> api:2.0"
    assert facts["Task definition"] == "api:1 -> api:2"
    assert facts["Asked by"] == "U0DEMOADMIN"
    assert "Took" not in facts
    assert "dep-20261129172430-e71428" in shown(payload)
    assert f"{REGISTRY}/api:2.0" in message.context[-1]  # the full reference as small print
    assert payload["text"] == "Deploy started: demo/api (api:2.0, by U0DEMOADMIN)"


def test_deploy_succeeded_says_how_long_and_offers_a_rollback() -> None:
    message = deploy_message(
        deployment(),
        title="Deploy succeeded: demo/api",
        text="ECS reports the service steady on the new task definition.",
        level="success",
        now=NOW,
        offer_rollback=True,
    )
    payload = check(message)
    assert dict(message.facts)["Took"] == "1 min 45 s"
    assert payload["text"] == "Deploy succeeded: demo/api (api:2.0, by U0DEMOADMIN, 1 min 45 s)"
    [actions] = [b for b in payload["blocks"] if b["type"] == "actions"]
    assert actions["elements"][0]["value"] == "dep-20261129172430-e71428"


def test_a_rolled_back_deploy_shows_its_failure_reason_once() -> None:
    reason = "ECS deployment circuit breaker: task failed to start."
    message = deploy_message(
        deployment(failure_reason=reason),
        title="Deploy rolled back: demo/api",
        text="ECS reports the service steady on the previous task definition again.",
        level="failure",
        now=NOW,
    )
    payload = check(message)
    assert dict(message.facts)["Failure reason"] == reason
    flat = shown(payload)
    assert flat.count("circuit breaker") == 1
    assert "ECS: ECS" not in flat and flat.lower().count("rolled back") == 1


def test_a_failure_reason_already_in_the_text_is_not_repeated() -> None:
    reason = "ECS refused: ClientException: no such cluster"
    message = deploy_message(
        deployment(failure_reason=reason),
        title="Deploy FAILED: demo/api",
        text=reason,
        level="failure",
        now=NOW,
    )
    check(message)
    assert "Failure reason" not in dict(message.facts)


def test_a_rollback_names_what_it_rolls_back_and_why() -> None:
    message = deploy_message(
        deployment(
            rollback_of="dep-20261129170000-aaaaaa",
            reason="<!channel> from Slack",
            image=f"{REGISTRY}/api:1.0",
            previous_image=f"{REGISTRY}/api:2.0",
        ),
        title="Rollback succeeded: demo/api",
        text="ECS reports the service steady on the new task definition.",
        level="success",
        now=NOW,
    )
    payload = check(message)
    assert dict(message.facts)["Image"] == "api:2.0 -> api:1.0"
    assert "rolls back dep-20261129170000-aaaaaa" in message.context[0]
    assert "<!channel>" not in str(payload) and "&lt;!channel>" in shown(payload)


# -- alarm reactions ---------------------------------------------------------------------------


def reaction(state: str = "ALARM") -> tuple[Any, Any]:
    policy = parse_policy(copy.deepcopy(POLICY))
    deps: Any = SimpleNamespace(policy=policy)
    alarm = parse_notification(sample_message("sns-alarm-metric.json"))
    alarm = alarm.model_copy(update={"NewStateValue": state})
    found = reaction_for(deps, alarm, "web-cpu-high", policy.alarm_rules["web-cpu-high"])
    assert found is not None
    return alarm, found


UNTIL = int(dt.datetime(2026, 11, 29, 17, 35, tzinfo=dt.UTC).timestamp())


def test_a_scaling_reaction_carries_its_numbers_once() -> None:
    alarm, found = reaction()
    outcome = Outcome(
        ActionResult.SCALED, "desired count 2 -> 3 (bounds 1..6)", 2, 3, bounds="1..6 (policy)"
    )
    message = reaction_message(alarm, outcome, reaction=found, until=UNTIL)
    payload = check(message)
    assert message.title == f"{alarm.AlarmName} ALARM: web 2 -> 3"
    facts = dict(message.facts)
    assert facts["Rule"] == "web-cpu-high: scale web out by 1"
    assert facts["Target"] == "demo/web"
    assert facts["Bounds"] == "1..6 (policy)"
    assert facts["Next action"] == "not before 2026-11-29T17:35:00Z (cooldown)"
    assert "Desired" not in facts  # the title says 2 -> 3
    assert shown(payload).count("2 -> 3") == 1
    assert message.context == (f"Metric: {alarm.metric_text()}",)


def test_a_cooled_down_reaction_says_until_when_once() -> None:
    alarm, found = reaction()
    outcome = Outcome(ActionResult.COOLDOWN, "in cooldown until ...; nothing changed", 3, 3)
    message = reaction_message(alarm, outcome, reaction=found, until=UNTIL)
    payload = check(message)
    assert message.title.endswith("ALARM: web in cooldown")
    assert message.text == f"One out action per {found.seconds} s; nothing changed."
    assert dict(message.facts)["Desired"] == "3 (unchanged)"
    flat = shown(payload)
    assert flat.count("cooldown") == 2  # the title's "in cooldown", the next action's "(cooldown)"
    assert "in cooldown: in cooldown" not in flat and flat.count("17:35:00Z") == 1


def test_a_reaction_at_its_bound_says_which_bound() -> None:
    alarm, found = reaction("OK")
    outcome = Outcome(ActionResult.AT_BOUND, "web is at its min ...", 1, 1, bounds="1..6 (policy)")
    message = reaction_message(alarm, outcome, reaction=found)
    check(message)
    assert message.title.endswith("OK: web at its min")
    assert message.text == "Nothing changed."
    assert dict(message.facts)["Bounds"] == "1..6 (policy)"


def test_a_waiting_reaction_says_why_nothing_was_done() -> None:
    alarm, found = reaction()
    why = "demo/web is busy with dep-1; will act when it has finished"
    message = reaction_message(alarm, Outcome(ActionResult.BUSY, why), reaction=found)
    check(message)
    assert message.text == why


# -- certificates ------------------------------------------------------------------------------


def rotation(**changes: Any) -> Rotation:
    base = Rotation(
        environment="demo",
        domain="demo.example.com",
        names=("demo.example.com",),
        old_certificate_arn=OLD_CERT,
        old_not_after=NOW + dt.timedelta(days=18),
        usages=(Usage("demo-alb", "arn:aws:elasticloadbalancing:listener/443", 443, "HTTPS"),),
        status=RotationStatus.VALIDATING,
        requested_at=NOW,
        updated_at=NOW,
        actor="schedule:certificates",
        old_type="IMPORTED",
        new_certificate_arn=NEW_CERT,
    )
    for key, value in changes.items():
        object.__setattr__(base, key, value)
    return base


RECORD = ValidationRecord(
    name="_d930b28be6c5927595552b219965053e.demo.example.com.",
    type="CNAME",
    zone_id="Z0DEMO",
    value="_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws.",
    zone="example.com",
)


def _arns_only_in_context(message: Message) -> None:
    for piece in _visible(message):
        assert "arn:aws:acm" not in piece, piece
    assert any(OLD_CERT in line for line in message.context)


def test_certificate_rotation_started_is_short_and_keeps_arns_as_small_print() -> None:
    message = certs.started("demo", rotation(), (RECORD,), None, now=NOW, renew_before_days=30)
    payload = check(message)
    _arns_only_in_context(message)
    facts = dict(message.facts)
    assert facts["Listeners"] == "demo-alb:443"
    assert facts["Old certificate"] == "c2c19545, expires 2026-12-17 (18 days left)"
    assert facts["New certificate"] == "346ae127"
    assert "imported certificates are never renewed by ACM" in message.text
    assert "Waiting for DNS validation" in message.text
    assert any(RECORD.name in line for line in message.context)
    body = sum(len(p) for p in _visible(message))
    assert body < 400, body  # was ~600 characters of ARNs and records in the text alone
    assert "demo.example.com" in payload["text"]


def test_certificate_rotated_says_until_when_the_new_one_is_valid() -> None:
    message = certs.completed(
        "demo",
        rotation(status=RotationStatus.COMPLETED),
        new_arn=NEW_CERT,
        not_after=NOW + dt.timedelta(days=395),
        listeners=["demo-alb:443", "demo-alb:8443 (SNI)"],
        now=NOW,
    )
    check(message)
    _arns_only_in_context(message)
    facts = dict(message.facts)
    assert facts["New certificate"] == "346ae127, valid until 2027-12-29 (395 days left)"
    assert facts["Listeners"] == "demo-alb:443, demo-alb:8443 (SNI)"
    assert "human decision" in message.text
    assert message.fallback() == "Certificate rotated: demo.example.com (valid until 2027-12-29)"


def test_certificate_rotation_failed_says_what_to_check() -> None:
    failed = rotation(
        status=RotationStatus.FAILED,
        reason="ACM reports the new certificate FAILED",
        retry_after=NOW + dt.timedelta(hours=6),
    )
    message = certs.failed("demo", failed, hints=certs.validation_hints(failed), now=NOW)
    check(message)
    assert "still serve the old certificate" in message.text
    assert "18 days left" in dict(message.facts)["Old certificate"]


# -- budgets -----------------------------------------------------------------------------------


def test_a_budget_alert_has_spend_limit_percent_forecast_and_top_services() -> None:
    env = parse_policy(copy.deepcopy(POLICY)).environments["demo"]
    budget = Budget("monthly-ops", "COST", "MONTHLY", 100.0, "USD", 85.0, 97.0)
    message = alert.message(
        env,
        budget,
        label="actual > 80%",
        value=85.0,
        period="2026-11",
        drivers=[("Amazon ECS", 51.2), ("Amazon RDS", 20.0)],
    )
    payload = check(message)
    assert message.title == "Budget monthly-ops (demo): actual spend crossed 80%"
    assert dict(message.facts) == {
        "Spend": "85.00 USD (85%)",
        "Limit": "100.00 USD",
        "Forecast": "97.00 USD (97%)",
        "Period": "2026-11",
        "Top services": "Amazon ECS 51.20, Amazon RDS 20.00",
    }
    assert payload["text"] == (
        "Budget monthly-ops (demo): actual spend crossed 80%: "
        "85.00 USD of 100.00 USD (85%), forecast 97.00 USD"
    )


# -- /opsbot history ---------------------------------------------------------------------------


def entry(**fields: Any) -> AuditEntry:
    base: dict[str, Any] = {
        "at": NOW,
        "actor": "U0DEMOADMIN",
        "action": "deploy",
        "environment": "demo",
        "target": "demo/web",
        "result": "succeeded",
    }
    return AuditEntry.of(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        (
            {"deployment_id": "dep-1", "image": f"{REGISTRY}/web:2.0"},
            "• 2026-11-29 17:30Z deploy *succeeded* `web:2.0` by U0DEMOADMIN (`dep-1`)",
        ),
        (
            {"action": "scale", "result": "scaled", "before": 2, "after": 3},
            "• 2026-11-29 17:30Z scaled out 2 -> 3 by U0DEMOADMIN",
        ),
        (
            {"action": "scale", "result": "scaled", "before": 3, "after": 2, "actor": "alarm:x"},
            "• 2026-11-29 17:30Z scaled in 3 -> 2 by alarm:x",
        ),
    ],
)
def test_a_history_line_says_what_was_done(fields: dict[str, Any], line: str) -> None:
    assert history_line(entry(**fields)) == line


def test_refusals_and_skips_are_not_history() -> None:
    assert entry().done
    for result in ("conflict", "rejected", "at_bound", "cooldown", "held", "dropped"):
        assert not entry(result=result).done
