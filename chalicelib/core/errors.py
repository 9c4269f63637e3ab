"""One exception tree for everything opsbot refuses or fails to do.

REST handlers turn these into the contract's error shape
``{"error": {"code", "message", ...}}`` with the status each class names.
"""

from __future__ import annotations

from typing import Any


class OpsError(Exception):
    """Base class: a failure opsbot can explain to a caller."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The contract's JSON error body."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class InvalidRequest(OpsError):
    """The caller sent something invalid (400); ``fields`` names each bad field."""

    status = 400
    code = "invalid_request"


class Unauthorized(OpsError):
    """No or bad credentials (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(OpsError):
    """The principal may not do this (403)."""

    status = 403
    code = "forbidden"


class NotFound(OpsError):
    """Unknown environment, service or id (404)."""

    status = 404
    code = "not_found"


class Conflict(OpsError):
    """Conflicts with work in flight, such as a deploy already in progress (409)."""

    status = 409
    code = "conflict"


class Frozen(Conflict):
    """The environment is frozen: no deploys, rollbacks or scaling until it is unfrozen (409)."""

    code = "frozen"


class DependencyUnavailable(OpsError):
    """A dependency (DynamoDB, SQS, an AWS API) could not be reached (503)."""

    status = 503
    code = "dependency_unavailable"


class PolicyError(OpsError):
    """The ops policy file is invalid; raised at load, never at 3 a.m."""

    code = "policy_invalid"
