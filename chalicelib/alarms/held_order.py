"""The order a minute's held reactions are applied in, and which of them cancel out.

They are applied in the order they happened (the alarm's ``StateChangeTime``, then their key),
not in the order their keys sort. Of one alarm's reactions on one target, an ALARM and a later
OK (or an OK and a later ALARM) cancel out: neither is applied, both are said as superseded. So
a flapping ALARM, OK, ALARM held in one minute comes to the last ALARM's one step; ALARM, OK to
nothing. The outcome depends only on the minute's reactions, whatever their status, so a run
that resumes after a crash decides as the first did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.messages import CapApply
    from chalicelib.domain.policy import Environment
    from chalicelib.records.guards import HeldReaction

_OPPOSITE = {"ALARM": "OK", "OK": "ALARM"}


def happened(held: HeldReaction) -> tuple[str, str, str]:
    """A sort key in the order the reactions happened: their alarms' state changes (or,
    recorded before those were kept, when they were held), then their keys."""
    at = held.changed or held.at
    return (_utc(at), at, held.key)


def _utc(at: str) -> str:
    for layout in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(at, layout).astimezone(UTC).isoformat()
        except ValueError:
            continue
    return at


def in_order(held: list[HeldReaction]) -> list[tuple[HeldReaction, HeldReaction | None]]:
    """The reactions in the order they happened, each with the one it cancels out with (None:
    it is applied)."""
    ordered = sorted(held, key=happened)
    waiting: dict[tuple[str, str], list[HeldReaction]] = {}
    cancels: dict[str, HeldReaction] = {}
    for one in ordered:
        stack = waiting.setdefault((one.target, one.alarm), [])
        if stack and _OPPOSITE.get(stack[-1].state) == one.state:
            earlier = stack.pop()
            cancels[earlier.key], cancels[one.key] = one, earlier
        else:
            stack.append(one)
    return [(one, cancels.get(one.key)) for one in ordered]


def batch(
    deps: Deps, message: CapApply, size: int
) -> tuple[list[tuple[HeldReaction, HeldReaction | None]], str | None]:
    """This batch of the minute's reactions in the order they happened (each with the one it
    cancels out with), after the one keyed ``message.after``; the key the next batch starts
    after (None: this is the last)."""
    ordered = in_order(deps.store.held_reactions(message.environment, message.bucket))
    keys = [held.key for held, _ in ordered]
    start = keys.index(message.after) + 1 if message.after in keys else 0
    page = ordered[start : start + size]
    return page, (page[-1][0].key if start + size < len(ordered) else None)


def alarm_states(deps: Deps, env: Environment, names: list[str]) -> dict[str, str]:
    """The state of each named alarm now, as CloudWatch knows it (one call per 100 names)."""
    unique = sorted(set(names))
    states: dict[str, str] = {}
    for start in range(0, len(unique), 100):
        token = ""
        while True:
            page: dict[str, Any] = {"NextToken": token} if token else {}
            found = deps.aws("cloudwatch", env).describe_alarms(
                AlarmNames=unique[start : start + 100],
                AlarmTypes=["CompositeAlarm", "MetricAlarm"],
                **page,
            )
            for alarm in found.get("MetricAlarms", []) + found.get("CompositeAlarms", []):
                states[str(alarm["AlarmName"])] = str(alarm.get("StateValue"))
            token = str(found.get("NextToken") or "")
            if not token:
                break
    return states
