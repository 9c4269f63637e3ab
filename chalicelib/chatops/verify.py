"""The Slack request signature: signed with the app's secret, no older than five minutes.

Checked on the raw bytes before anything is decoded or parsed: a header that is not what Slack
sends (non-ASCII digits, thousands of digits, a signature that is not ``v0=`` and 64 hex
digits) or a body that is not UTF-8 is refused with 401 like any bad signature, never a 500.
A request that verifies is then received once only (``replay.receive_once``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from chalicelib.core.errors import Unauthorized

MAX_AGE_SECONDS = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


@dataclass(frozen=True)
class SignedRequest:
    """What a verified request was signed with: its timestamp and its ``v0=`` signature."""

    timestamp: int
    signature: str


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of a request body sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    *, secret: str | None, body: bytes, headers: dict[str, str], now: float
) -> SignedRequest:
    """Raise Unauthorized unless Slack signed this body in the last five minutes."""
    if not secret:
        raise Unauthorized("Slack signing secret is not configured")
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp") or ""
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Unauthorized("missing or malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise Unauthorized("stale Slack request (timestamp more than 5 minutes off)")
    sent = lowered.get("x-slack-signature") or ""
    if not _SIGNATURE.fullmatch(sent):
        raise Unauthorized("missing or malformed X-Slack-Signature")
    if not hmac.compare_digest(sent, signature(secret, timestamp, body)):
        raise Unauthorized("invalid Slack signature")
    return SignedRequest(timestamp=int(timestamp), signature=sent)
