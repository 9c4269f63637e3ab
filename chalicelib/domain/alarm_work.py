"""The work-queue messages an alarm reaction queues, and the base of every work message.

Apart from ``domain.messages`` (which holds the REST bodies and the queue's discriminated union
and re-exports these) so that the alarm function's first event builds three small classes, not
every model at the edges (cold start)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class WorkMessageBase(BaseModel):
    """A work-queue message: its ``kind`` tells the worker what to do."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)


class AlarmRetry(WorkMessageBase):
    """Work: an alarm reaction that waited for its target's lock (a deploy) tries again."""

    kind: Literal["alarm.retry"] = "alarm.retry"
    rule: str
    attempt: int
    notification: str


class AlarmChanges(WorkMessageBase):
    """Work: after an alarm reaction acted and was posted, post what changed on its service in
    the hour before the alarm (a follow-up, so the lookup never delays the reaction)."""

    kind: Literal["alarm.changes"] = "alarm.changes"
    environment: str
    service: str
    alarm: str
    state: str
    reaction: str  # the reaction's title, as posted
    until: str  # ISO-8601: when the reaction was posted (the window ends there)
    # the reaction's Slack message, when the bot posted it: the follow-up replies in its thread
    thread_ts: str | None = None
    # the alarm's StateChangeTime: the alarm's own changes from then on are this reaction's
    # (left out); its earlier reactions are changes like any other. None: all are left out.
    state_changed_at: str | None = None


class CapSummary(WorkMessageBase):
    """Work: post the summary of the alarm reactions an environment's caps held in a minute."""

    kind: Literal["cap.summary"] = "cap.summary"
    environment: str
    bucket: str  # the UTC minute, 2026-12-06T20:15
