"""``make fleet``'s accounting (``bench.fleet_report``): every alarmed service lands in exactly
one of changed, held, cooled down or unaccounted, from what ECS and the state table say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bench.fleet_report import Published, Reading, account, per_minute_max, percentile
from bench.fleet_world import fleet_policy, members
from chalicelib.domain.policy import parse_policy

SERVICES = [("fleet00", f"svc{n:02d}") for n in range(6)] + [("fleet01", "svc00")]


def scaled(environment: str, service: str, at: str) -> dict[str, Any]:
    return {
        "at": at,
        "action": "scale",
        "result": "scaled",
        "target": f"{environment}/{service}",
        "actor": f"alarm:{environment}-{service}-cpu-high",
    }


def held(environment: str, service: str) -> dict[str, Any]:
    return {
        "at": "2026-12-06T20:01:30.000000Z",
        "action": "alarm_reaction",
        "result": "held_by_cap",
        "target": f"{environment}/{service}",
    }


def reading(**changes: Any) -> Reading:
    base: dict[str, Any] = {
        "seeded": dict.fromkeys(SERVICES, 1),
        "desired": dict.fromkeys(SERVICES, 1),
        "audit": [],
        "cooldowns": set(),
        "updates": [],
        "published": [Published(f"m{n}", e, s, 100.0 + n) for n, (e, s) in enumerate(SERVICES)],
    }
    return Reading(**{**base, **changes})


def test_each_service_is_changed_held_or_cooled_down() -> None:
    desired = dict.fromkeys(SERVICES, 1)
    desired[("fleet00", "svc00")] = desired[("fleet00", "svc01")] = 2
    desired[("fleet01", "svc00")] = 2
    got = account(
        reading(
            desired=desired,
            audit=[
                scaled("fleet00", "svc00", "2026-12-06T20:00:10.000000Z"),
                scaled("fleet00", "svc01", "2026-12-06T20:00:50.000000Z"),
                scaled("fleet01", "svc00", "2026-12-06T20:01:05.000000Z"),
                held("fleet00", "svc02"),
                held("fleet00", "svc03"),
            ],
            # svc00's window is claimed too (it changed): it counts once, as changed
            cooldowns={("fleet00", "svc00"), ("fleet00", "svc04"), ("fleet00", "svc05")},
        )
    )
    assert got["services_alarmed"] == 7
    assert (got["targets_changed_once"], got["held_by_cap"], got["cooled_down"]) == (3, 2, 2)
    assert got["targets_changed_twice_or_more"] == 0
    assert got["unaccounted"] == 0 and got["accounted"] is True
    assert got["max_changes_per_audited_minute_per_environment"] == 2  # fleet00 at 20:00
    assert got["changes_per_environment_busiest_audited_minute"] == {"fleet00": 2, "fleet01": 1}


def test_changes_per_minute_by_the_cap_counters_minute() -> None:
    desired = dict.fromkeys(SERVICES, 1)
    for key in SERVICES[:3]:
        desired[key] = 2
    admitted = {("fleet00", "2026-12-06T20:00"): 2, ("fleet00", "2026-12-06T20:01"): 1}
    # the third change was admitted at 20:00:59.9 and audited at 20:01:00.1
    audit = [
        scaled("fleet00", "svc00", "2026-12-06T20:00:10.000000Z"),
        scaled("fleet00", "svc01", "2026-12-06T20:01:00.100000Z"),
        scaled("fleet00", "svc02", "2026-12-06T20:01:20.000000Z"),
    ]
    rest = {(e, s) for e, s in SERVICES[3:]}
    got = account(reading(desired=desired, audit=audit, admitted=admitted, cooldowns=rest))
    assert got["max_changes_per_minute_per_environment"] == 2
    assert got["max_changes_per_audited_minute_per_environment"] == 2
    assert got["slots_admitted"] == 3 and got["accounted"] is True
    # the changes themselves, by the clock minute of opsbot's UpdateService calls
    at = datetime(2026, 12, 6, 20, 0, 10, tzinfo=UTC).timestamp()
    updates = [
        {"cluster": "fleet00", "service": "svc00", "at": at},
        {"cluster": "fleet00", "service": "svc01", "at": at + 49.9},  # 20:00:59.9
        {"cluster": "fleet00", "service": "svc02", "at": at + 70},
    ]
    made = account(reading(desired=desired, audit=audit, admitted=admitted, updates=updates))
    assert made["max_update_service_calls_per_clock_minute_per_environment"] == 2
    # a change that took no slot: not accounted for
    fewer = {("fleet00", "2026-12-06T20:00"): 2}
    assert (
        account(reading(desired=desired, audit=audit, admitted=fewer, cooldowns=rest))["accounted"]
        is False
    )


def test_held_by_something_else_is_not_held_by_the_cap() -> None:
    budget = {**held("fleet00", "svc00"), "result": "held"}  # a budget guard's hold
    got = account(reading(audit=[budget], cooldowns={(e, s) for e, s in SERVICES}))
    assert (got["held_by_cap"], got["cooled_down"]) == (0, 7)


def test_a_service_moved_twice_or_never_reached_is_not_accounted() -> None:
    desired = dict.fromkeys(SERVICES, 1)
    desired[("fleet00", "svc00")] = 3  # +2: acted on twice
    got = account(reading(desired=desired, cooldowns={(e, s) for e, s in SERVICES[1:-1]}))
    assert got["targets_changed_twice_or_more"] == 1
    assert got["unaccounted"] == 1  # fleet01/svc00: no change, no hold, no window
    assert got["unaccounted_examples"] == ["fleet01/svc00"]
    assert got["accounted"] is False


def test_a_held_service_that_changed_later_counts_as_changed() -> None:
    desired = dict.fromkeys(SERVICES, 1)
    desired[("fleet00", "svc00")] = 2  # held first, then a redelivery acted within the cap
    got = account(reading(desired=desired, audit=[held("fleet00", "svc00")]))
    assert (got["targets_changed_once"], got["held_by_cap"]) == (1, 0)


def test_alarm_to_action_from_the_publish_to_the_update_service_call() -> None:
    updates = [
        {"op": "ecs.UpdateService", "input": "m0", "at": 100.25},
        {"op": "ecs.UpdateService", "input": "m1", "at": 101.5},
        {"op": "ecs.UpdateService", "input": "not-published", "at": 500.0},  # e.g. a retry
    ]
    got = account(reading(updates=updates))
    assert got["alarm_to_action_samples"] == 2
    assert got["p95_alarm_to_action_ms"] == 500.0


def test_percentile_and_busiest_minute() -> None:
    assert percentile([], 95) is None
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
    minutes = [("a", "20:00"), ("a", "20:00"), ("a", "20:01"), ("b", "20:01")]
    assert per_minute_max(minutes) == {"a": 2, "b": 1}


def test_the_fleet_policy_loads_with_distinct_accounts() -> None:
    fleet = members(20, 50)
    assert len({m.account for m in fleet}) == 20
    assert all(len(m.account) == 12 for m in fleet)
    policy = parse_policy(fleet_policy(fleet, cap=5, at_once=5, limits=True))
    assert len(policy.alarm_rules) == 1000
    assert sum(len(e.services) for e in policy.environments.values()) == 1000
    assert (
        policy.environments["fleet07"].role_arn
        == f"arn:aws:iam::{fleet[7].account}:role/opsbot-member"
    )
