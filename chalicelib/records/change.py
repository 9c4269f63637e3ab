"""One change to a service, from any source, and the feed of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ChangeSource(StrEnum):
    """Where a change was read from."""

    OPSBOT = "opsbot"
    CLOUDTRAIL = "cloudtrail"
    ECS = "ecs"


@dataclass(frozen=True)
class Change:
    """Something that changed a service: when, from which source, who, what (one line) and the
    detail (ids, parameters)."""

    at: datetime
    source: ChangeSource
    actor: str
    what: str
    detail: str = ""
    deployment_id: str | None = None


@dataclass(frozen=True)
class ChangeFeed:
    """A service's changes in a window, newest first; the sources that could not be read and
    why (``notes``)."""

    environment: str
    service: str
    since: datetime
    until: datetime
    items: tuple[Change, ...] = ()
    missing_sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
