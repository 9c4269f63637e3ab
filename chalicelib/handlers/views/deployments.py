"""Deployments as the REST API shows them (``POST /deployments``, ``GET /deployments/{id}``,
``POST /deployments/{id}/rollback``)."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.records.deployment import Deployment

# The contract lists these: always shown, null until known.
CONTRACT_FIELDS = (
    "id",
    "environment",
    "service",
    "image",
    "status",
    "task_definition",
    "previous_task_definition",
    "events",
)
# a Slack response_url is a credential of sorts; the rest are the state machine's checkpoints
_HIDDEN = frozenset({"notify_url", "lease_owner", "lease_until", "step", "deadline"})
# record fields shown under another name (``expires_at`` is the store's TTL attribute)
_RENAMED = {"approval_expires_at": "expires_at"}


def public(deployment: Deployment) -> dict[str, Any]:
    """The REST body of a deployment: the contract's fields, then every other field that is set
    (never the Slack response_url)."""
    body: dict[str, Any] = {}
    for field in fields(deployment):
        value = getattr(deployment, field.name)
        if field.name in _HIDDEN or (value is None and field.name not in CONTRACT_FIELDS):
            continue
        body[_RENAMED.get(field.name, field.name)] = value
    body["status"] = str(deployment.status)
    if deployment.phase is not None:
        body["phase"] = str(deployment.phase)
    if deployment.duration_seconds is not None:
        body["duration_seconds"] = deployment.duration_seconds
    body["events"] = [
        {"at": e.at, "status": str(e.status), "message": e.message} for e in deployment.events
    ]
    return body
