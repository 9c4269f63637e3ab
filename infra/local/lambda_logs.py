"""Each invocation's own Powertools logger state, as if each ran in its own Lambda sandbox.

In Lambda one sandbox runs one invocation at a time, so the keys a function appends to its
Powertools ``Logger`` (``set_correlation_id``, ``append_keys``) are seen by that invocation only.
The local stack runs many invocations at once in one process, on threads; without this, one
request's log lines could carry another's correlation id. ``install`` makes the formatter's keys
(``LambdaPowertoolsFormatter.log_format``) private to the invocation running on the current
thread: ``begin`` gives it a fresh copy of the logger's configured keys (plus ``seed``), ``end``
drops it. Outside an invocation the keys are shared, as Powertools keeps them. Loggers are
always configured on the shared keys, even when first created inside an invocation.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

_SHARED = "_opsbot_shared_format"
_local = threading.local()
_installed: dict[str, Any] = {}


@dataclass
class _Scope:
    seed: dict[str, Any]
    formats: dict[int, dict[str, Any]] = field(default_factory=dict)


def _scope() -> _Scope | None:
    if getattr(_local, "configuring", 0):
        return None
    scope: _Scope | None = getattr(_local, "scope", None)
    return scope


def _shared(formatter: Any) -> dict[str, Any]:
    state = formatter.__dict__
    if _SHARED not in state:
        state[_SHARED] = state.pop("log_format", None) or {}
    shared: dict[str, Any] = state[_SHARED]
    return shared


class _InvocationKeys:
    """Data descriptor for ``log_format``: the running invocation's keys, else the shared ones."""

    def __get__(self, formatter: Any, owner: Any = None) -> Any:
        if formatter is None:
            return self
        scope = _scope()
        if scope is None:
            return _shared(formatter)
        own = scope.formats.get(id(formatter))
        if own is None:
            own = scope.formats[id(formatter)] = {**_shared(formatter), **scope.seed}
        return own

    def __set__(self, formatter: Any, value: dict[str, Any]) -> None:
        scope = _scope()
        if scope is None:
            _shared(formatter)
            formatter.__dict__[_SHARED] = value
        else:
            scope.formats[id(formatter)] = value


def install() -> None:
    """Make Powertools' logger keys per invocation (idempotent)."""
    if _installed:
        return
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    original_init = Logger.__init__

    @functools.wraps(original_init)
    def __init__(self: Logger, *args: Any, **kwargs: Any) -> None:
        _local.configuring = getattr(_local, "configuring", 0) + 1
        try:
            original_init(self, *args, **kwargs)
        finally:
            _local.configuring -= 1
        from infra.local.oplog import quiet_powertools

        quiet_powertools(self)  # its JSON lines only with OPSBOT_LOCAL_VERBOSE=1

    _installed.update(init=original_init)
    Logger.__init__ = __init__  # type: ignore[method-assign]
    LambdaPowertoolsFormatter.log_format = _InvocationKeys()  # type: ignore[assignment]


def begin(**seed: Any) -> None:
    """The current thread starts an invocation: fresh logger keys, plus ``seed``."""
    _local.scope = _Scope(seed={k: v for k, v in seed.items() if v is not None})


def end() -> None:
    """The current thread's invocation is over: its logger keys are dropped."""
    _local.scope = None
