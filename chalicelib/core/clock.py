"""Time: the real clock and the one ISO-8601 format opsbot writes."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The real clock (capability code receives it through ``Deps.clock``)."""
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    """ISO-8601 UTC to the second, with a Z."""
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")
