"""Alarm reactions in a frozen environment change nothing: each is audited (``frozen``), and
the environment's freeze is said once (a conditional write keyed by the freeze's start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.alarms.explain import audit_skip, explain
from chalicelib.core.observability import count
from chalicelib.domain.actions import Outcome
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.alarms.notification import AlarmNotification
    from chalicelib.alarms.reaction import Reaction
    from chalicelib.deps import Deps

NOTICE_WINDOW_SECONDS = 30 * 86400  # one notice per freeze (a freeze longer than this: again)


def stopped_by_freeze(deps: Deps, alarm: AlarmNotification, reaction: Reaction) -> Outcome | None:
    """None when the reaction's environment is not frozen; else its outcome, audited and
    (once per freeze) explained."""
    freeze = deps.store.freeze_of(reaction.env.name)
    if not freeze.frozen:
        return None
    outcome = Outcome(
        ActionResult.FROZEN,
        f"{reaction.env.name} is frozen by {freeze.by} since {freeze.at}: {freeze.reason}; "
        "alarm reactions change nothing until it is unfrozen",
    )
    count("AlarmActionsFrozen", environment=reaction.env.name)
    audit_skip(deps, alarm, reaction, outcome)
    explain(
        deps,
        alarm,
        outcome,
        reaction=reaction,
        notice_key=f"frozen#{reaction.env.name}#{freeze.at}",
        window=NOTICE_WINDOW_SECONDS,
    )
    return outcome
