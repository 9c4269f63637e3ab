"""A read-only dashboard token, as the store keeps it (the token itself is never stored)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadToken:
    """Who a dashboard token signs in, for what, and until when (epoch seconds)."""

    principal: str
    scope: str  # "read": GET requests only
    valid_until: int
    created_at: str
