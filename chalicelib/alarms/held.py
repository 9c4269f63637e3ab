"""Held alarm reactions, once a minute per environment: the summary, its Approve button, and
applying what was held once someone with ``approve`` or ``scale`` there presses it.

The summary of a minute is posted once (a conditional write claims it) after the minute ends,
listing every reaction the caps held in it. Approve queues the work (``cap.apply``), which
``held_apply`` does: crash-safe, in batches, as approved actions by the approver.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.alarms.held_order import happened
from chalicelib.aws.notifier import Message
from chalicelib.core.errors import Conflict, Forbidden, InvalidRequest
from chalicelib.domain.freeze import ensure_not_frozen
from chalicelib.domain.messages import CapApply
from chalicelib.domain.policy import Permission
from chalicelib.store import bucket_of

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.guards import HeldReaction

APPROVE_HELD = "cap_approve"  # the summary's button (chatops.interactions.BUTTONS)
SHOWN = 20  # held reactions named in a summary (the rest are counted)
_POSTED_WINDOW = 86400


def post_summary(deps: Deps, environment: str, bucket: str) -> int:
    """Post the summary of the reactions held in ``environment`` in the minute ``bucket``,
    once; how many it lists (0: nothing held, or posted already)."""
    held = sorted(deps.store.held_reactions(environment, bucket), key=happened)
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
            "as an approved action by you), except those whose alarm has recovered by then.",
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
    """The summary's Approve, pressed by ``actor``: checked, claimed once, queued. A minute
    that has not ended is refused before anything is claimed (more may be held in it, and its
    summary's button must still work)."""
    environment, _, bucket = value.partition("|")
    if not environment or not _is_minute(bucket):
        raise InvalidRequest("not a held-changes button", fields={"value": "ENV|MINUTE"})
    env = deps.policy.environment(environment, reader=actor)
    if not deps.policy.permissions(actor, env.name) & {Permission.APPROVE, Permission.SCALE}:
        raise Forbidden(
            f"{actor} may not approve held changes in environment {env.name!r}",
            principal=actor,
            environment=env.name,
            permission="approve",
        )
    if deps.clock() < _minute_end(bucket):  # more may be held in it yet: no claim made
        raise Conflict(
            f"that minute is still open: the changes held in {env.name} at {bucket} UTC can "
            "be approved once it has ended (its summary comes then)"
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


def _minute_end(bucket: str) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC) + timedelta(minutes=1)


def _is_minute(bucket: str) -> bool:
    """``bucket`` is a UTC minute as the summary names it (``YYYY-MM-DDTHH:MM``)."""
    try:
        return bucket_of(datetime.strptime(bucket, "%Y-%m-%dT%H:%M")) == bucket
    except ValueError:
        return False
