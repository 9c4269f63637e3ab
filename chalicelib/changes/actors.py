"""Who made a change, as a person reads it: principal ARNs shortened."""

from __future__ import annotations

import re
from typing import Any

_ASSUMED = re.compile(r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/(?P<role>[^/]+)/(?P<session>.+)$")
_IAM = re.compile(
    r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<kind>user|role|root)/?(?P<name>.*)$"
)


def short_principal(arn: str) -> str:
    """``alice (opsbot-worker)`` for ``arn:aws:sts::1:assumed-role/opsbot-worker/alice``;
    ``user/bob`` -> ``bob``; an account's root -> ``root (123456789012)``; anything else as
    given. An opsbot session named ``actor@deployment`` reads ``actor via ROLE (deployment)``."""
    match = _ASSUMED.match(arn)
    if match:
        role, session = match["role"], match["session"]
        actor, at, deployment = session.partition("@")
        if at and deployment.startswith("dep-") and actor:
            return f"{actor} via {role} ({deployment})"
        return f"{session} ({role})"
    match = _IAM.match(arn)
    if match:
        if match["kind"] == "root" or not match["name"]:
            return f"root ({match['account']})"
        return match["name"].rsplit("/", 1)[-1]
    return arn


def event_actor(identity: dict[str, Any], username: str = "") -> str:
    """A CloudTrail ``userIdentity`` as a person reads it."""
    kind = identity.get("type")
    arn = str(identity.get("arn") or "")
    if kind in ("AssumedRole", "IAMUser", "Root") and arn:
        return short_principal(arn)
    if kind == "AWSService":
        return str(identity.get("invokedBy") or "an AWS service")
    return username or arn or "unknown"
