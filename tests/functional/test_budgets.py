"""Budget alerts against moto: each threshold crossed is posted once per period, and marked
only once delivered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from chalicelib import budgets
from chalicelib.aws.notifier import Notifier
from infra.local.demo.budgets import set_actual_spend
from tests.functional.conftest import ACCOUNT, World


def _notification(
    threshold: float, kind: str = "ACTUAL", percent: bool = True
) -> dict[str, object]:
    return {
        "Notification": {
            "NotificationType": kind,
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": threshold,
            "ThresholdType": "PERCENTAGE" if percent else "ABSOLUTE_VALUE",
        },
        "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}],
    }


@pytest.fixture
def budget(world: World) -> str:
    world.client("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "monthly-ops",
            "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CalculatedSpend": {
                "ActualSpend": {"Amount": "85", "Unit": "USD"},
                "ForecastedSpend": {"Amount": "97", "Unit": "USD"},
            },
        },
        NotificationsWithSubscribers=[
            _notification(80),
            _notification(100),
            _notification(120, "FORECASTED"),
        ],
    )
    return "monthly-ops"


def _alerts(world: World) -> list[str]:
    return [s for s in world.notifications() if "Budget monthly-ops" in s]


def test_a_crossed_threshold_is_posted_once_per_period(world: World, budget: str) -> None:
    results = budgets.check_all(world.deps)

    crossed = {r["threshold"]: r for r in results}
    assert crossed["actual > 80%"]["crossed"] and crossed["actual > 80%"]["alerted"]
    assert not crossed["actual > 100%"]["crossed"]
    assert not crossed["forecasted > 120%"]["crossed"]  # forecast 97 < 120
    assert _alerts(world) == ["[opsbot] Budget monthly-ops (demo): actual spend crossed 80%"]
    audit = world.store.audit_entries(environment="demo", service=None, limit=5)
    assert audit[0].action == "budget_alert" and audit[0].actor == "schedule:budgets"

    again = budgets.check_all(world.deps)
    assert {r["threshold"]: r.get("alerted") for r in again}["actual > 80%"] is False
    assert _alerts(world) == ["[opsbot] Budget monthly-ops (demo): actual spend crossed 80%"]


def test_spend_over_the_limit_posts_the_next_threshold_only(world: World, budget: str) -> None:
    budgets.check_all(world.deps)
    set_actual_spend("monthly-ops", 101, account_id=ACCOUNT)

    results = budgets.check_all(world.deps)

    by = {r["threshold"]: r for r in results}
    assert by["actual > 100%"]["alerted"] is True
    assert by["actual > 80%"]["alerted"] is False
    assert _alerts(world)[-1] == "[opsbot] Budget monthly-ops (demo): actual spend crossed 100%"
    body = world.sent_notes[-1]["Message"]
    assert "Spend: 101.00 USD (101%)" in body and "Limit: 100.00 USD" in body


def test_a_new_period_alerts_again(world: World, budget: str) -> None:
    budgets.check_all(world.deps)
    world.clock.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    results = budgets.check_all(world.deps)

    assert {r["threshold"]: r.get("alerted") for r in results}["actual > 80%"] is True
    assert results[0]["period"] == "2026-12"


def test_only_watched_budgets_are_checked(world: World, budget: str) -> None:
    world.client("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "other",
            "BudgetLimit": {"Amount": "1", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CalculatedSpend": {"ActualSpend": {"Amount": "50", "Unit": "USD"}},
        },
        NotificationsWithSubscribers=[_notification(10)],
    )
    env = world.deps.policy.environments["demo"]
    object.__setattr__(env, "budgets", ["monthly-ops"])

    results = budgets.check_all(world.deps)

    assert {r["budget"] for r in results} == {"monthly-ops"}


def test_absolute_thresholds(world: World) -> None:
    world.client("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "monthly-ops",
            "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CalculatedSpend": {"ActualSpend": {"Amount": "60", "Unit": "USD"}},
        },
        NotificationsWithSubscribers=[_notification(50, percent=False)],
    )
    results = budgets.check_all(world.deps)
    assert results[0]["threshold"] == "actual > 50 USD" and results[0]["alerted"] is True


@pytest.mark.parametrize(
    ("unit", "now", "key", "end"),
    [
        (
            "MONTHLY",
            datetime(2026, 12, 15, tzinfo=UTC),
            "2026-12",
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            "QUARTERLY",
            datetime(2026, 11, 27, tzinfo=UTC),
            "2026-Q4",
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            "QUARTERLY",
            datetime(2026, 2, 1, tzinfo=UTC),
            "2026-Q1",
            datetime(2026, 4, 1, tzinfo=UTC),
        ),
        ("ANNUALLY", datetime(2026, 5, 1, tzinfo=UTC), "2026", datetime(2027, 1, 1, tzinfo=UTC)),
        (
            "DAILY",
            datetime(2026, 5, 1, 13, tzinfo=UTC),
            "2026-05-01",
            datetime(2026, 5, 2, tzinfo=UTC),
        ),
    ],
)
def test_periods(unit: str, now: datetime, key: str, end: datetime) -> None:
    assert budgets.period(unit, now) == (key, end)


def test_the_guard_holds_scale_outs_over_budget_when_the_policy_says_so(
    world: World, budget: str
) -> None:
    from chalicelib.alarms import guard
    from chalicelib.domain.policy import parse_policy
    from chalicelib.records.target import Target
    from chalicelib.scaling import EffectiveBounds, Plan
    from tests.functional.conftest import POLICY

    env = world.deps.policy.environments["demo"]
    plan = Plan(Target.service("demo", "web"), 2, 3, EffectiveBounds(1, 6, "policy"))
    guard._budget_cache.clear()
    assert guard.check_scale_out(world.deps, env, plan) is None  # no hold configured

    world.deps.policy = parse_policy({**POLICY, "budgets": {"hold_scale_out_at_percent": 100}})
    env = world.deps.policy.environments["demo"]
    assert guard.check_scale_out(world.deps, env, plan) is None  # 85% < 100%

    set_actual_spend("monthly-ops", 120, account_id=ACCOUNT)
    guard._budget_cache.clear()
    held = guard.check_scale_out(world.deps, env, plan)
    assert held is not None
    assert "monthly-ops has spent 120% of 100 USD" in held


def test_the_budgets_people_read_are_typed_records(world: World, budget: str) -> None:
    from chalicelib.budgets import Budget, account_budgets

    env = world.deps.policy.environments["demo"]
    [found] = account_budgets(world.deps, env)
    assert found == Budget("monthly-ops", "COST", "MONTHLY", 100.0, "USD", 85.0, 97.0)
    assert found.percent_used == 85.0


# -- delivery: marked only once delivered ------------------------------------------------------


def _recreate_topic(world: World) -> None:
    """The notifications topic back, with the inbox subscribed (as the conftest made it)."""
    sns, sqs = world.client("sns"), world.client("sqs")
    topic = sns.create_topic(Name=world.deps.settings.notifications_topic_arn.rsplit(":", 1)[1])
    inbox = sqs.get_queue_attributes(QueueUrl=world.notes_queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=inbox["Attributes"]["QueueArn"]
    )


def test_a_failed_delivery_is_visible_and_delivered_at_the_next_check(
    world: World, budget: str, caplog: pytest.LogCaptureFixture
) -> None:
    world.client("sns").delete_topic(TopicArn=world.deps.settings.notifications_topic_arn)

    results = budgets.check_all(world.deps)

    first = {r["threshold"]: r for r in results}["actual > 80%"]
    assert first["alerted"] is False and first["delivery_failed"] == ["sns"]
    assert _alerts(world) == []
    assert any("budget alert not delivered" in r.getMessage() for r in caplog.records)
    [entry] = world.store.audit_entries(environment="demo", service=None, limit=5)
    assert (entry.action, entry.result) == ("budget_alert", "delivery_failed")
    assert "not delivered to sns; retried at the next check" in (entry.reason or "")

    _recreate_topic(world)
    world.clock.advance(3600)
    again = {r["threshold"]: r for r in budgets.check_all(world.deps)}["actual > 80%"]

    assert again["alerted"] is True and "delivery_failed" not in again
    assert _alerts(world) == ["[opsbot] Budget monthly-ops (demo): actual spend crossed 80%"]
    audit = world.store.audit_entries(environment="demo", service=None, limit=5)
    assert [e.result for e in audit] == ["alerted", "delivery_failed"]
    # and from then on it is quiet for the period
    world.clock.advance(3600)
    quiet = {r["threshold"]: r for r in budgets.check_all(world.deps)}["actual > 80%"]
    assert quiet["alerted"] is False
    assert len(_alerts(world)) == 1


class _Slack(BaseHTTPRequestHandler):
    """A Slack webhook that refuses its first post (500) and takes the rest."""

    posts: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append(json.loads(body))
        self.send_response(500 if len(type(self).posts) == 1 else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slack() -> Iterator[str]:
    _Slack.posts = []
    server = HTTPServer(("127.0.0.1", 0), _Slack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/budget"
    server.shutdown()
    server.server_close()


def test_only_the_channel_that_failed_is_retried(world: World, budget: str, slack: str) -> None:
    settings = world.deps.settings
    world.deps.notifier = Notifier(
        sns=world.client("sns"), topic_arn=settings.notifications_topic_arn, slack_url=lambda: slack
    )

    first = {r["threshold"]: r for r in budgets.check_all(world.deps)}["actual > 80%"]
    assert first["alerted"] is False and first["delivery_failed"] == ["slack"]
    assert len(_alerts(world)) == 1  # the email went out

    world.clock.advance(3600)
    again = {r["threshold"]: r for r in budgets.check_all(world.deps)}["actual > 80%"]

    assert again["alerted"] is True
    assert len(_alerts(world)) == 1  # not emailed twice
    assert len(_Slack.posts) == 2  # refused once, taken at the next check
    assert _Slack.posts[1]["text"].startswith("Budget monthly-ops (demo): actual spend crossed 80%")


def test_the_spend_control_names_the_budgets_it_knows(world: World, budget: str) -> None:
    """``python -m infra.local spend nope 5`` says which budgets exist, not moto's internals."""
    with pytest.raises(KeyError) as err:
        set_actual_spend("nope", 5, account_id=ACCOUNT)
    assert err.value.args[0] == "no budget 'nope' (known: monthly-ops)"
