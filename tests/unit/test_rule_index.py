"""Matching an alarm notification against a fleet's rules: one rule per service, a thousand of
them; a notification looks at the rules named after its alarm and the globs, not at all."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.alarms import parse_notification
from chalicelib.alarms.reaction import matching_rules, rule_index
from chalicelib.domain.alarm_rule import AlarmRule
from chalicelib.domain.policy import Policy, parse_policy

ACCOUNTS = [f"2100000000{n:02d}" for n in range(4)]
SERVICES = [f"svc{n:02d}" for n in range(50)]


def fleet_policy(glob: bool = False) -> Policy:
    environments: dict[str, Any] = {}
    rules: dict[str, Any] = {}
    if glob:  # first in policy order: a matching glob comes before the exact rule
        rules["any-cpu"] = {
            "alarm": "*-cpu-high",
            "environment": "env01",
            "on_alarm": {"action": "notify_only", "note": "a CPU alarm"},
        }
    for n, account in enumerate(ACCOUNTS):
        env = f"env{n:02d}"
        environments[env] = {
            "account": account,
            "region": "us-east-1",
            "cluster": env,
            "role_arn": f"arn:aws:iam::{account}:role/opsbot-member",
            "services": {
                s: {"container": s, "repository": s, "min": 1, "max": 3} for s in SERVICES
            },
        }
        for s in SERVICES:
            rules[f"{env}-{s}-cpu"] = {
                "alarm": f"{env}-{s}-cpu-high",
                "environment": env,
                "namespace": "AWS/ECS",
                "dimensions": {"ClusterName": env, "ServiceName": s},
                "on_alarm": {"action": "scale_ecs_service", "service": s, "step": 1},
            }
    return parse_policy({"environments": environments, "alarm_rules": rules})


def notification(env: int, service: str, account: str | None = None) -> Any:
    account = account or ACCOUNTS[env]
    name = f"env{env:02d}-{service}-cpu-high"
    message = {
        "AlarmName": name,
        "AWSAccountId": account,
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed",
        "StateChangeTime": "2026-12-06T20:00:00.000+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{name}",
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/ECS",
            "StatisticType": "Statistic",
            "Statistic": "AVERAGE",
            "Dimensions": [
                {"value": f"env{env:02d}", "name": "ClusterName"},
                {"value": service, "name": "ServiceName"},
            ],
            "Period": 60,
            "EvaluationPeriods": 3,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 80.0,
        },
    }
    return parse_notification(json.dumps(message))


@pytest.fixture
def consulted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The alarm patterns of the rules ``matches`` was asked about."""
    asked: list[str] = []
    original = AlarmRule.matches

    def spy(self: AlarmRule, **kwargs: Any) -> bool:
        asked.append(self.alarm)
        return original(self, **kwargs)

    monkeypatch.setattr(AlarmRule, "matches", spy)
    return asked


def test_a_notification_finds_its_own_rule_among_two_hundred(consulted: list[str]) -> None:
    deps = SimpleNamespace(policy=fleet_policy())
    found = matching_rules(deps, notification(2, "svc17"))  # type: ignore[arg-type]
    assert [name for name, _ in found] == ["env02-svc17-cpu"]
    assert consulted == ["env02-svc17-cpu-high"]  # not the other 199 rules


def test_another_account_with_the_same_alarm_name_matches_nothing(consulted: list[str]) -> None:
    deps = SimpleNamespace(policy=fleet_policy())
    alarm = notification(2, "svc17", account=ACCOUNTS[3])
    assert matching_rules(deps, alarm) == []  # type: ignore[arg-type]


def test_glob_rules_are_still_consulted_in_policy_order(consulted: list[str]) -> None:
    deps = SimpleNamespace(policy=fleet_policy(glob=True))
    found = matching_rules(deps, notification(1, "svc03"))  # type: ignore[arg-type]
    assert [name for name, _ in found] == ["any-cpu", "env01-svc03-cpu"]
    assert sorted(consulted) == ["*-cpu-high", "env01-svc03-cpu-high"]
    # an alarm no exact rule names: only the globs are looked at (and match)
    consulted.clear()
    assert [n for n, _ in matching_rules(deps, notification(1, "nope"))] == ["any-cpu"]  # type: ignore[arg-type]
    assert consulted == ["*-cpu-high"]


def test_the_index_is_built_once_per_policy() -> None:
    policy = fleet_policy()
    assert rule_index(policy) is rule_index(policy)
    assert rule_index(fleet_policy()) is not rule_index(policy)
