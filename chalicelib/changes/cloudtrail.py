"""The CloudTrail source of a service's changes: management events whose resources are the
service, its task definition family, its target groups and listeners, its task role or the
environment's member role, read with ``LookupEvents`` through the environment's clients.

CloudTrail's LookupEvents takes one lookup attribute per call, so each resource name is one
lookup (``ResourceName``), paged (``MAX_PAGES`` of ``PAGE_SIZE``). Read-only events are left
out, and so are opsbot's own calls: their user agent carries opsbot's mark AND their principal
is one of opsbot's (``principals``); opsbot's records say those, with who asked and the
deployment. A call that only says opsbot in its user agent is shown, marked as claiming to
be. An AccessDenied or a throttling answer ends the
source with a note; it never fails the feed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.changes.actors import event_actor
from chalicelib.changes.principals import Owners
from chalicelib.records.change import Change, ChangeSource

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

PAGE_SIZE = 50  # LookupEvents' maximum
MAX_PAGES = 2  # per resource name
MAX_NAMES = 8  # resource names looked up per feed
OPSBOT_AGENT = "opsbot"  # botocore's user_agent_extra on every opsbot client (aws.clients)
_SKIPPED_PARAMS = ("cluster", "service")
MAX_VALUE = 60  # a parameter longer than this (a manifest, a policy) is left to the detail
CLAIMS = " (claims to be opsbot)"  # an opsbot user agent from a principal not opsbot's


@dataclass
class TrailRead:
    """What the CloudTrail source found, and why it stopped early (if it did)."""

    items: list[Change] = field(default_factory=list)
    missing: str | None = None


def cloudtrail_changes(
    deps: Deps,
    env: Environment,
    names: list[str],
    since: datetime,
    until: datetime,
) -> TrailRead:
    """Management events naming any of ``names`` in the window, newest first."""
    from botocore.exceptions import BotoCoreError, ClientError

    trail = deps.aws("cloudtrail", env)
    read = TrailRead()
    seen: set[str] = set()
    owners = Owners(deps, env)
    for name in list(dict.fromkeys(names))[:MAX_NAMES]:
        kwargs: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": name}],
            "StartTime": since,
            "EndTime": until,
            "MaxResults": PAGE_SIZE,
        }
        try:
            for _ in range(MAX_PAGES):
                page = trail.lookup_events(**kwargs)
                for event in page.get("Events", []):
                    change = _change(event, env, seen, owners)
                    if change is not None:
                        read.items.append(change)
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            read.missing = (
                f"cloudtrail: {error.get('Code', 'error')}: "
                f"{str(error.get('Message', ''))[:200]}".rstrip(": ")
            )
            return read
        except BotoCoreError as exc:
            read.missing = f"cloudtrail: {type(exc).__name__}"
            return read
    return read


def _change(
    event: dict[str, Any], env: Environment, seen: set[str], owners: Owners
) -> Change | None:
    event_id = str(event.get("EventId") or "")
    if not event_id or event_id in seen or str(event.get("ReadOnly")).lower() == "true":
        return None
    seen.add(event_id)
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    identity = record.get("userIdentity") or {}
    claims = OPSBOT_AGENT in str(record.get("userAgent") or "").split()
    if claims and owners.own(identity):
        return None  # opsbot's own call: its records say it
    params = record.get("requestParameters") or {}
    cluster = params.get("cluster") if isinstance(params, dict) else None
    if isinstance(cluster, str) and cluster.rsplit("/", 1)[-1] != env.cluster:
        return None  # the same service name in another cluster
    when = event.get("EventTime")
    if not isinstance(when, datetime):
        return None
    name = str(event.get("EventName") or "?")
    resources = ", ".join(
        str(r.get("ResourceName")) for r in event.get("Resources") or [] if r.get("ResourceName")
    )
    return Change(
        at=when,
        source=ChangeSource.CLOUDTRAIL,
        actor=event_actor(identity, str(event.get("Username") or "")) + (CLAIMS if claims else ""),
        what=f"{name}{_said(params)}",
        detail=f"{event.get('EventSource', '')} {resources} (event {event_id})".strip(),
    )


def _said(params: Any) -> str:
    """The parameters worth a glance: ``UpdateService desiredCount=3``."""
    if not isinstance(params, dict):
        return ""
    shown = [
        f"{key}={value}"
        for key, value in params.items()
        if key not in _SKIPPED_PARAMS
        and isinstance(value, str | int | float | bool)
        and len(str(value)) <= MAX_VALUE
        and "\n" not in str(value)
    ]
    return (" " + " ".join(shown))[:160] if shown else ""
