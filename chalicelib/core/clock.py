"""Time: the real clock, the one ISO-8601 format opsbot writes and the one days-left count."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The real clock (capability code receives it through ``Deps.clock``)."""
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    """ISO-8601 UTC to the second, with a Z."""
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def days_left(at: datetime, now: datetime) -> int:
    """Whole days until ``at``, rounded down as AWS consoles count them (17.9 days -> 17; a day
    past -> -1): the one count of a certificate's days left, in every message and read."""
    return math.floor((at - now).total_seconds() / 86400)
