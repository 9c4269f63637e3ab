"""Telling AWS errors apart, and saying them the one way opsbot says them."""

from __future__ import annotations

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServerException",
        "InternalError",
    }
)


def is_transient(exc: Exception) -> bool:
    """Worth retrying: throttling, a 5xx, a connection problem (not a bad request)."""
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(exc, ParamValidationError):
        return False
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return code in _TRANSIENT_CODES or status >= 500
    return True


def describe(exc: Exception) -> str:
    """``Code: Message`` of a ClientError; the text of anything else."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        if err:
            return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc)
