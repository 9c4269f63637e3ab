"""What changed before an alarm, as the follow-up of its reaction (Slack and email).

The reaction is posted first (the action does not wait for any lookup); the worker then reads
the service's changes of the hour before the reaction (but the reaction's own) and posts them as a
follow-up naming the reaction: the top ``TOP`` changes, newest first, one line each, and where
to see the rest. Each follow-up is posted once (a redelivered message posts nothing).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.aws.notifier import Message
from chalicelib.changes.feed import service_changes
from chalicelib.core.errors import OpsError
from chalicelib.core.observability import count, logger
from chalicelib.records.change import Change, ChangeFeed

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.alarm_work import AlarmChanges

TOP = 5
WINDOW = timedelta(hours=1)
NOTHING = "Nothing changed in the last hour."


def change_line(change: Change) -> str:
    """``20:14Z cloudtrail, root (123456789012): UpdateService desiredCount=3``."""
    when = change.at.strftime("%H:%MZ")
    line = f"{when} {change.source}, {change.actor}: {change.what}"
    if change.deployment_id and change.deployment_id not in line:
        line += f" ({change.deployment_id})"
    return " ".join(line.split())[:240]


def changes_message(feed: ChangeFeed, *, reaction: str, more_at: str, top: int = TOP) -> Message:
    """The follow-up: "Changed in the last hour" with the top changes, or one line saying
    nothing changed; the sources that could not be read are named."""
    lines = [f"• {change_line(c)}" for c in feed.items[:top]] or [NOTHING]
    rest = len(feed.items) - top
    if rest > 0:
        lines.append(f"{rest} more: {more_at}")
    for note in feed.notes:
        lines.append(f"Not included: {note}")
    label = f"{feed.environment}/{feed.service}"
    return Message(
        title=f"Changed in the last hour: {label}",
        text="\n".join(lines),
        level="info",
        facts=(("Reaction", reaction),),
        context=(f"All changes: {more_at}",),
        summary=f"Changed in the last hour on {label}: "
        + (change_line(feed.items[0]) if feed.items else NOTHING),
    )


def _more_at(deps: Deps, environment: str, service: str) -> str:
    base = deps.settings.public_url.rstrip("/")
    cli = f"opsbot changes {service} --env {environment}"
    return f"{base}/ui (the {service} row) or {cli}" if base else cli


def _is_own(change: Change, message: AlarmChanges) -> bool:
    """``change`` is the reaction itself (the message this follows): the alarm's change made
    since this state change. The alarm's earlier reactions are changes like any other."""
    if change.actor != f"alarm:{message.alarm}":
        return False
    try:
        since = datetime.fromisoformat(message.state_changed_at or "")
    except ValueError:
        return True  # no usable state-change time: leave out all of the alarm's own
    return change.at >= (since if since.tzinfo else since.replace(tzinfo=UTC))


def alarm_follow_up(deps: Deps, message: AlarmChanges) -> None:
    """Post what changed on the reaction's service in the hour before the alarm, once."""
    env = deps.policy.environments.get(message.environment)
    if env is None or message.service not in env.services:
        logger().warning("alarm follow-up for a service no longer in the policy")
        return
    until = datetime.fromisoformat(message.until.replace("Z", "+00:00"))

    def work() -> str:
        try:
            feed = service_changes(
                deps.acting_for(f"alarm:{message.alarm}"),
                env,
                message.service,
                since=until - WINDOW,
                until=until,
            )
        except OpsError as exc:
            feed = ChangeFeed(
                environment=env.name,
                service=message.service,
                since=until - WINDOW,
                until=until,
                missing_sources=("ecs",),
                notes=(exc.message,),
            )
        feed = replace(feed, items=tuple(c for c in feed.items if not _is_own(c, message)))
        more = _more_at(deps, env.name, message.service)
        follow = changes_message(feed, reaction=message.reaction, more_at=more)
        deps.notifier.send(follow, thread_ts=message.thread_ts)  # a reply, with a bot
        count("AlarmChangeFollowUps")
        return "posted"

    key = {"alarm": message.alarm, "state": message.state, "until": message.until}
    done = deps.store.once("alarm-changes", {**key, "service": message.service}, work)
    if done.duplicate:
        logger().info("duplicate alarm follow-up: already posted", extra=key)
