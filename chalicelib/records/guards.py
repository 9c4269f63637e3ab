"""Fleet guards: an environment's freeze, and the alarm reactions its blast-radius caps held."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Freeze:
    """Whether an environment is frozen, by whom, why and since when (ISO-8601 UTC)."""

    environment: str
    frozen: bool
    by: str | None = None
    reason: str | None = None
    at: str | None = None


@dataclass(frozen=True)
class CapDecision:
    """Whether an automated change was admitted under its environment's caps or held (and
    why); ``first``: this call decided it (False: an earlier attempt of the same delivery
    had, and its decision stands); ``bucket``: the UTC minute whose slot an admitted change
    took (None when not known)."""

    admitted: bool
    reason: str
    first: bool
    bucket: str | None = None


@dataclass(frozen=True)
class HeldReaction:
    """An alarm reaction held by a cap: enough to apply it once someone approves it.

    ``bucket`` is the UTC minute it was held in (``2026-12-06T20:15``); ``key`` its id within
    that minute; ``status`` ``held`` until approved, then ``approved`` (with ``approved_by`` and,
    for a scaling step, ``approved_from`` and ``approved_to``: the count then and the count it is
    set to), then ``applied``; or ``skipped`` when its alarm had recovered. ``outcome``: what
    applying it did (or why it was skipped). ``at``: when it was held (to the second);
    ``changed``: when its alarm changed state (CloudWatch's ``StateChangeTime``).
    """

    environment: str
    bucket: str
    key: str
    rule: str
    state: str
    alarm: str
    target: str
    at: str
    reason: str
    before: int | None = None
    after: int | None = None
    status: str = "held"
    approved_by: str | None = None
    approved_from: int | None = None
    approved_to: int | None = None
    outcome: str | None = None
    changed: str | None = None  # the alarm's StateChangeTime (None: held before it was kept)
