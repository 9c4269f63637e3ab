"""``make fleet``'s accounting: what became of each alarmed service, from what the embedded AWS
and opsbot's own records say (no timing here: the figures are computed from what was read).

* changed: the service's desired count in ECS moved from its seeded count (+1 once, or more);
* held: the audit trail holds an alarm reaction with result ``held_by_cap`` for it;
* cooled down: neither, but the reaction's cooldown window is claimed in the state table (a
  delivery that died after claiming it, or a repeat within the window: nothing changed);
* unaccounted: none of these (a reaction lost, or still in flight when the bench gave up).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Published:
    """One notification the storm published (a duplicate is the same state change again)."""

    message_id: str
    environment: str
    service: str
    at: float  # epoch seconds, just before the publish call
    duplicate: bool = False


@dataclass
class Reading:
    """What the bench read once the storm settled."""

    seeded: dict[tuple[str, str], int]  # (environment, service) -> desired count seeded
    desired: dict[tuple[str, str], int]  # -> desired count in ECS now
    audit: list[dict[str, Any]]  # audit entries of the fleet's environments (plain values)
    cooldowns: set[tuple[str, str]]  # (environment, service) whose scale-out window is claimed
    updates: list[dict[str, Any]]  # UpdateService calls opsbot made (the effects log)
    published: list[Published] = field(default_factory=list)
    # (environment, UTC minute) -> changes the cap counter admitted (``CAP#<env>`` items)
    admitted: dict[tuple[str, str], int] = field(default_factory=dict)


HELD = "held_by_cap"  # the audit result of a reaction a blast-radius cap held


def _target(entry: dict[str, Any]) -> tuple[str, str]:
    environment, _, service = str(entry.get("target", "")).partition("/")
    return environment, service


_MINUTE = "%Y-%m-%dT%H:%M"


def _minute(stamp: str) -> str:
    """The UTC minute of an ISO timestamp: ``2026-12-06T20:15``."""
    return stamp[:16]


def per_minute_max(entries: Iterable[tuple[str, str]]) -> dict[str, int]:
    """(environment, minute) pairs -> each environment's busiest minute."""
    counts = Counter(entries)
    busiest: dict[str, int] = defaultdict(int)
    for (environment, _), n in counts.items():
        busiest[environment] = max(busiest[environment], n)
    return dict(busiest)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def account(reading: Reading) -> dict[str, Any]:
    """The per-service outcome counts, the busiest minute per environment and the alarm to
    action latency."""
    alarmed = {(p.environment, p.service) for p in reading.published} or set(reading.seeded)
    moved = {k: reading.desired.get(k, v) - v for k, v in reading.seeded.items()}
    once = {k for k in alarmed if moved.get(k) == 1}
    more = {k for k in alarmed if (moved.get(k) or 0) >= 2}
    wrong = {k for k in alarmed if (moved.get(k) or 0) < 0}
    held = {
        _target(e)
        for e in reading.audit
        if e.get("action") == "alarm_reaction" and e.get("result") == HELD
    } & alarmed
    held -= once | more
    cooled = (reading.cooldowns & alarmed) - once - more - held
    unaccounted = alarmed - once - more - held - cooled - wrong
    # every change took a cap slot first: fewer slots than changes would mean one went around
    uncapped = bool(reading.admitted) and sum(reading.admitted.values()) < len(once) + len(more)
    scaled = [
        e for e in reading.audit if e.get("action") == "scale" and e.get("result") == "scaled"
    ]
    by_audit = per_minute_max((_target(e)[0], _minute(str(e["at"]))) for e in scaled)
    # the changes themselves: opsbot's UpdateService calls by the clock minute they were made in
    # (a cluster is named after its environment)
    by_call = per_minute_max(
        (str(u.get("cluster")), datetime.fromtimestamp(float(u["at"]), UTC).strftime(_MINUTE))
        for u in reading.updates
    )
    sent = {p.message_id: p for p in reading.published}
    latencies = [
        1000 * (float(u["at"]) - sent[u["input"]].at)
        for u in reading.updates
        if u.get("input") in sent
    ]
    p95 = percentile(latencies, 95)
    return {
        "services_alarmed": len(alarmed),
        "targets_changed_once": len(once),
        "targets_changed_twice_or_more": len(more),
        "targets_scaled_in": len(wrong),
        "held_by_cap": len(held),
        "cooled_down": len(cooled),
        "unaccounted": len(unaccounted),
        "accounted": not unaccounted and not more and not wrong and not uncapped,
        # per environment and minute of the cap's counter: every change took a slot there
        # first (admitted >= changed), so its busiest minute bounds the changes made in it
        "max_changes_per_minute_per_environment": max(reading.admitted.values(), default=0),
        "slots_admitted": sum(reading.admitted.values()),
        # the same changes by the clock minute of their audit entry (written just after the
        # change: one admitted in a minute's last moment may be audited in the next one)
        "max_changes_per_audited_minute_per_environment": max(by_audit.values(), default=0),
        "changes_per_environment_busiest_audited_minute": dict(sorted(by_audit.items())),
        "max_update_service_calls_per_clock_minute_per_environment": max(
            by_call.values(), default=0
        ),
        "p95_alarm_to_action_ms": round(p95, 1) if p95 is not None else None,
        "alarm_to_action_samples": len(latencies),
        "unaccounted_examples": sorted(f"{e}/{s}" for e, s in unaccounted)[:10],
    }
