"""The Slack request signature: signed with the app's secret, no older than five minutes."""

from __future__ import annotations

from slack_sdk.signature import Clock, SignatureVerifier

from chalicelib.core.errors import Unauthorized

MAX_AGE_SECONDS = 300


class _At(Clock):
    """slack_sdk's clock, stopped at the moment the request is checked."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify(*, secret: str | None, body: bytes, headers: dict[str, str], now: float) -> None:
    """Raise Unauthorized unless Slack signed this body in the last five minutes."""
    if not secret:
        raise Unauthorized("Slack signing secret is not configured")
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    if not timestamp.isdigit():
        raise Unauthorized("missing or malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise Unauthorized("stale Slack request (timestamp more than 5 minutes off)")
    if not SignatureVerifier(secret, clock=_At(now)).is_valid(
        body=body, timestamp=timestamp, signature=lowered.get("x-slack-signature")
    ):
        raise Unauthorized("invalid Slack signature")
