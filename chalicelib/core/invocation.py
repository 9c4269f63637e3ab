"""Which opsbot function this invocation runs in (``work``, ``api_handler``...).

Each handler names its function first thing (``as_function``); the AWS clients then reach an
environment through that function's own member role when the environment's ``role_arn`` names a
role per function (``{function}``). A context variable, not a setting: in one Lambda it never
changes, and where several functions share a process (the local stack) each invocation's thread
says its own.
"""

from __future__ import annotations

from contextvars import ContextVar

_function: ContextVar[str] = ContextVar("opsbot_function", default="")


def as_function(name: str) -> None:
    """Name the function this invocation runs in (its Chalice name)."""
    _function.set(name)


def current_function() -> str:
    """The function this invocation runs in ("" when no handler has named one)."""
    return _function.get()
