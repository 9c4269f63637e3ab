"""A reaction whose target is locked (a deploy holds it) waits: it is retried every 30 s from
the work queue, for as long as the alarm stays in that state.

One waiting chain per (rule, target, direction): duplicates of the notification that arrive while
it waits are dropped instead of each starting a chain of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.alarms.explain import audit_skip, explain
from chalicelib.core.observability import logger
from chalicelib.domain.actions import Outcome
from chalicelib.domain.alarm_work import AlarmRetry
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.alarms.notification import AlarmNotification
    from chalicelib.alarms.reaction import Reaction
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

RETRY_DELAY_SECONDS = 30
MAX_RETRIES = 40  # 20 minutes: longer than a deploy's default timeout
_CHAIN_WINDOW = 3 * RETRY_DELAY_SECONDS


def _chain(reaction: Reaction) -> str:
    return f"wait#{reaction.key}"


def wait_for_lock(
    deps: Deps, alarm: AlarmNotification, reaction: Reaction, busy: Outcome, attempt: int
) -> None:
    """Queue the next retry of a reaction that found its target locked (and say so once)."""
    chain = _chain(reaction)
    if attempt == 0:
        if not deps.store.claim_cooldown(chain, seconds=_CHAIN_WINDOW, now=deps.clock()).claimed:
            logger().info(
                "a reaction is already waiting for this target; duplicate dropped",
                extra={"alarm": alarm.AlarmName, "rule": reaction.rule_name},
            )
            return
    else:  # still waiting: renew the chain's claim
        deps.store.release_cooldown(chain)
        deps.store.claim_cooldown(chain, seconds=_CHAIN_WINDOW, now=deps.clock())
    if attempt >= MAX_RETRIES:
        deps.store.release_cooldown(chain)
        explain(
            deps,
            alarm,
            Outcome(ActionResult.BUSY, f"{busy.message}; gave up after {attempt} retries"),
            reaction=reaction,
        )
        return
    deps.queue.send(
        AlarmRetry(
            rule=reaction.rule_name, attempt=attempt + 1, notification=alarm.model_dump_json()
        ),
        delay_seconds=RETRY_DELAY_SECONDS,
    )
    if attempt == 0:
        explain(
            deps,
            alarm,
            Outcome(
                ActionResult.BUSY,
                f"{busy.message}; will act when it has finished "
                f"(retrying every {RETRY_DELAY_SECONDS} s while the alarm stays "
                f"{alarm.NewStateValue})",
            ),
            reaction=reaction,
        )


def end_wait(deps: Deps, reaction: Reaction) -> None:
    """End the reaction's waiting chain: a new notification may wait again at once."""
    deps.store.release_cooldown(_chain(reaction))


def state_now(deps: Deps, env: Environment, alarm: AlarmNotification) -> str | None:
    """The alarm's state in CloudWatch now (None when CloudWatch does not know it)."""
    found = deps.aws("cloudwatch", env).describe_alarms(
        AlarmNames=[alarm.AlarmName], AlarmTypes=["CompositeAlarm", "MetricAlarm"]
    )
    states = [a.get("StateValue") for a in found.get("MetricAlarms", [])] + [
        a.get("StateValue") for a in found.get("CompositeAlarms", [])
    ]
    return str(states[0]) if states else None


def drop(deps: Deps, alarm: AlarmNotification, reaction: Reaction | None, state: str) -> None:
    """The alarm left the state the reaction waited in: end its chain, audit and say so."""
    logger().info(
        "alarm changed state while waiting; reaction dropped",
        extra={"alarm": alarm.AlarmName, "now": state},
    )
    if reaction is None:
        return
    end_wait(deps, reaction)
    outcome = Outcome(
        ActionResult.DROPPED,
        f"the alarm is {state} now; the reaction that waited for "
        f"{reaction.target_name} was dropped",
    )
    audit_skip(deps, alarm, reaction, outcome)
    explain(deps, alarm, outcome, reaction=reaction)
