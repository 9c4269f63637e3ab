"""Held alarm reactions, once a minute per environment: the summary, its Approve button, and
applying what was held once someone with ``approve`` or ``scale`` there presses it.

The summary of a minute is posted once (a conditional write claims it) after the minute ends,
listing every reaction the caps held in it. Approve queues the work (``cap.apply``); the worker
marks each held reaction approved (a conditional write, before its change) and applies it as an
approved action by the approver: bounds and the target's lock as for any change, no cooldown,
no cap. A reaction already approved is never applied again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.alarms import execute
from chalicelib.alarms.reaction import reaction_for
from chalicelib.aws.errors import describe
from chalicelib.aws.notifier import Message
from chalicelib.core.errors import Conflict, Forbidden, InvalidRequest, OpsError
from chalicelib.domain.freeze import ensure_not_frozen
from chalicelib.domain.messages import CapApply
from chalicelib.domain.policy import Permission
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.guards import HeldReaction

APPROVE_HELD = "cap_approve"  # the summary's button (chatops.interactions.BUTTONS)
SHOWN = 20  # held reactions named in a summary (the rest are counted)
_POSTED_WINDOW = 86400


def post_summary(deps: Deps, environment: str, bucket: str) -> int:
    """Post the summary of the reactions held in ``environment`` in the minute ``bucket``,
    once; how many it lists (0: nothing held, or posted already)."""
    held = deps.store.held_reactions(environment, bucket)
    if not held:
        return 0
    claim = f"capsummary#{environment}#{bucket}"
    if not deps.store.claim_cooldown(claim, seconds=_POSTED_WINDOW, now=deps.clock()).claimed:
        return 0
    limits = deps.policy.limits_for(environment)
    lines = [f"{h.alarm} {h.state}: {h.target} ({_move(h)})" for h in held[:SHOWN]]
    if len(held) > SHOWN:
        lines.append(f"... and {len(held) - SHOWN} more")
    deps.notifier.send(
        Message(
            title=f"{len(held)} alarm reaction(s) held by the cap in {environment}",
            text="Nothing was changed for these. Approve applies them now (within bounds, "
            "as an approved action by you).",
            level="warning",
            facts=(
                ("Minute (UTC)", bucket),
                (
                    "Caps",
                    f"{limits.max_automated_changes_per_minute} changes per minute, "
                    f"{limits.max_services_scaled_at_once} services at once",
                ),
                ("Held", "\n".join(lines)),
            ),
            buttons=(("Approve held changes", APPROVE_HELD, f"{environment}|{bucket}"),),
        )
    )
    return len(held)


def _move(held: HeldReaction) -> str:
    if held.before is not None and held.after is not None:
        return f"{held.before} -> {held.after}"
    return "forced new deployment" if held.state == "ALARM" else "no change planned"


def request_apply(deps: Deps, *, actor: str, value: str) -> str:
    """The summary's Approve, pressed by ``actor``: checked, claimed once, queued."""
    environment, _, bucket = value.partition("|")
    if not environment or not bucket:
        raise InvalidRequest("not a held-changes button", fields={"value": "ENV|MINUTE"})
    env = deps.policy.environment(environment, reader=actor)
    if not deps.policy.permissions(actor, env.name) & {Permission.APPROVE, Permission.SCALE}:
        raise Forbidden(
            f"{actor} may not approve held changes in environment {env.name!r}",
            principal=actor,
            environment=env.name,
            permission="approve",
        )
    ensure_not_frozen(deps.store, env.name, doing="approved changes")
    claim = f"capapproval#{env.name}#{bucket}"
    if not deps.store.claim_cooldown(claim, seconds=_POSTED_WINDOW, now=deps.clock()).claimed:
        raise Conflict(f"the held changes of {env.name} at {bucket} were approved already")
    try:
        deps.queue.send(CapApply(environment=env.name, bucket=bucket, actor=actor))
    except Exception:
        deps.store.release_cooldown(claim)  # not queued: the button may be pressed again
        raise
    return f"Applying the changes held in {env.name} at {bucket} UTC (approved by {actor})."


def apply_held(deps: Deps, *, environment: str, bucket: str, actor: str) -> list[str]:
    """Apply every reaction still held in ``environment`` at ``bucket`` as approved by
    ``actor``; one line per reaction, also posted. Frozen since the press: nothing is applied,
    and the button works again once it is unfrozen."""
    freeze = deps.store.freeze_of(environment)
    if freeze.frozen:
        deps.store.release_cooldown(f"capapproval#{environment}#{bucket}")
        deps.notifier.send(
            Message(
                title=f"Held changes in {environment} not applied: it is frozen",
                text="Approve them again once it is unfrozen.",
                level="warning",
                facts=(("Minute (UTC)", bucket), ("Frozen", f"by {freeze.by}: {freeze.reason}")),
            )
        )
        return []
    done: list[str] = []
    for held in deps.store.held_reactions(environment, bucket):
        if held.status != "held" or not deps.store.approve_held(held, by=actor):
            continue
        try:
            line = _apply_one(deps, held, actor)
        except (OpsError, ClientError) as exc:  # marked approved: said, never applied twice
            line = f"failed, nothing changed: {describe(exc)}"
        done.append(f"{held.target}: {line}")
    if done:
        deps.notifier.send(
            Message(
                title=f"Held changes in {environment} applied, approved by {actor}",
                level="success",
                facts=(("Minute (UTC)", bucket), ("Applied", "\n".join(done[:SHOWN]))),
            )
        )
    return done


def _apply_one(deps: Deps, held: HeldReaction, actor: str) -> str:
    from chalicelib.alarms.notification import AlarmNotification

    rule = deps.policy.alarm_rules.get(held.rule)
    if rule is None:
        return f"rule {held.rule} is no longer in the policy; nothing done"
    env = deps.policy.environments[rule.environment]
    alarm = AlarmNotification(
        AlarmName=held.alarm,
        AWSAccountId=env.account,
        NewStateValue=held.state,
        StateChangeTime=held.at,
    )
    reaction = reaction_for(deps, alarm, held.rule, rule)
    if reaction is None:
        return "no action for that state; nothing done"
    outcome = execute.apply(
        deps.acting_for(actor),
        env,
        reaction.action,
        actor=actor,
        why=f"approved held reaction to {held.alarm} {held.state}",
    )
    if outcome.result == ActionResult.SCALED:
        return f"{outcome.before} -> {outcome.after}"
    return outcome.message
