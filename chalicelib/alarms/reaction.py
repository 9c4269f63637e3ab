"""Which rules an alarm notification triggers, and the reaction one rule asks for.

A reaction is one (rule, target, direction): its cooldown window, its waiting chain and its
notices are all keyed by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.alarms.notification import AlarmNotification
    from chalicelib.deps import Deps
    from chalicelib.domain.actions import Action
    from chalicelib.domain.alarm_rule import AlarmRule
    from chalicelib.domain.policy import Environment, Policy
    from chalicelib.records.target import Target


@dataclass(frozen=True)
class Reaction:
    """One rule's action for one notification, in the rule's environment."""

    rule_name: str
    rule: AlarmRule
    env: Environment
    action: Action
    direction: str  # 'out', 'in', or the alarm state for actions without a direction

    @property
    def target(self) -> Target | None:
        """What the action acts on (None for notify_only)."""
        return self.action.target(self.env.name)

    @property
    def target_name(self) -> str:
        """The service or group the action acts on, ``-`` for none."""
        target = self.target
        return target.name if target is not None else "-"

    @property
    def target_label(self) -> str:
        """The audit trail's spelling of the target: ``demo/web``."""
        target = self.target
        return target.label if target is not None else f"{self.env.name}/-"

    @property
    def key(self) -> str:
        """The cooldown key of this (rule, target, direction)."""
        target = self.target
        where = target.key if target is not None else "-"
        return f"{self.rule_name}#{self.env.name}#{where}#{self.direction}"

    @property
    def seconds(self) -> int:
        """The rule's cooldown in this direction."""
        return self.rule.cooldown.seconds(self.direction)


class RuleIndex:
    """A policy's alarm rules by exact alarm name, and the glob rules apart: matching one
    notification looks at the rules named after its alarm and the globs, never at every rule
    (a fleet policy has one rule per service: a thousand of them)."""

    def __init__(self, rules: dict[str, AlarmRule]) -> None:
        self._order = {name: n for n, name in enumerate(rules)}
        self._named: dict[str, list[tuple[str, AlarmRule]]] = {}
        self._globs: list[tuple[str, AlarmRule]] = []
        for name, rule in rules.items():
            if any(c in rule.alarm for c in _GLOB):
                self._globs.append((name, rule))
            else:
                self._named.setdefault(rule.alarm, []).append((name, rule))

    def candidates(self, alarm_name: str) -> list[tuple[str, AlarmRule]]:
        """The rules that may match an alarm of this name, in policy order."""
        found = self._named.get(alarm_name, []) + self._globs
        return sorted(found, key=lambda pair: self._order[pair[0]])


_GLOB = "*?["  # what makes a rule's alarm a pattern (fnmatch)
_indexes: dict[int, tuple[Policy, RuleIndex]] = {}  # id(policy) -> (policy, its index)


def rule_index(policy: Policy) -> RuleIndex:
    """The rule index of ``policy``, built once per policy object."""
    cached = _indexes.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    index = RuleIndex(policy.alarm_rules)
    if len(_indexes) >= 4:  # a process sees one policy; tests a few
        _indexes.clear()
    _indexes[id(policy)] = (policy, index)
    return index


def matching_rules(deps: Deps, alarm: AlarmNotification) -> list[tuple[str, AlarmRule]]:
    """Rules that match the alarm, in policy order (by the index: see ``RuleIndex``)."""
    found = []
    for name, rule in rule_index(deps.policy).candidates(alarm.AlarmName):
        env = deps.policy.environments[rule.environment]
        if env.account != alarm.AWSAccountId:
            continue
        if rule.matches(
            name=alarm.AlarmName, namespace=alarm.namespace, dimensions=alarm.dimensions
        ):
            found.append((name, rule))
    return found


def reaction_for(
    deps: Deps, alarm: AlarmNotification, rule_name: str, rule: AlarmRule
) -> Reaction | None:
    """The rule's action (ALARM) or recovery (OK); None when it has none for this state."""
    state = alarm.NewStateValue
    spec = rule.on_alarm if state == "ALARM" else rule.on_ok if state == "OK" else None
    if spec is None:
        return None
    action = spec.build()
    direction = action.direction()
    return Reaction(
        rule_name=rule_name,
        rule=rule,
        env=deps.policy.environments[rule.environment],
        action=action,
        direction=direction if direction != "none" else state.lower(),
    )
