"""How the local stack invokes a function: its context object, its handler, Lambda's retries.

* ``invocation``: the context every invocation runs in (REST request or event): which function,
  its request id, how many AWS calls it made; its own logger keys (``lambda_logs``); listeners
  (fault injection) see it start and end.
* ``LambdaCrash``: the invocation died (timeout, out of memory). A ``BaseException``, so no code
  of the function catches it; each event source reacts to it as Lambda's does.
* ``invoke_async``: an asynchronous invocation (SNS, EventBridge, schedules) as Lambda makes it:
  the first try and two retries, then the event is dropped (logged).
* ``run_scheduled``: one scheduled handler once, as its schedule would (``tick``).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from infra.local import lambda_logs
from infra.local.event_shapes import scheduled_event
from infra.local.settings import ACCOUNT

log = logging.getLogger("opsbot.local.events")

ASYNC_ATTEMPTS = 3  # Lambda: the first try and two retries

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaCrash(BaseException):
    """The invocation died where it stood, as a Lambda at its timeout or memory limit."""


@dataclass
class Invocation:
    """One invocation of a function, as the local runtime runs it."""

    function: str
    request_id: str
    aws_calls: int = 0
    crash_at: int | None = None  # die at this AWS call (1-based), if set
    crashed: bool = False


class Listener(Protocol):
    """Told when an invocation starts and ends (in its thread)."""

    def started(self, invocation: Invocation) -> None: ...

    def ended(self, invocation: Invocation) -> None: ...


_current = threading.local()
listeners: list[Listener] = []


def current() -> Invocation | None:
    """The invocation running on this thread, if any."""
    found: Invocation | None = getattr(_current, "invocation", None)
    return found


@contextmanager
def invocation(
    function: str, request_id: str | None = None, *, correlation_id: str | None = None
) -> Iterator[Invocation]:
    """Run one invocation of ``function`` on this thread (see the module doc)."""
    inv = Invocation(function=function, request_id=request_id or str(uuid.uuid4()))
    for listener in listeners:
        listener.started(inv)
    lambda_logs.begin(correlation_id=correlation_id)
    _current.invocation = inv
    try:
        yield inv
    finally:
        _current.invocation = None
        lambda_logs.end()
        for listener in listeners:
            listener.ended(inv)


class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    def __init__(self, function_name: str, timeout_seconds: int = 60) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:opsbot-local-{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/opsbot-local-{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (notional) timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def resolve_handler(handler_string: str) -> Callable[[dict[str, Any], Any], Any]:
    """The callable behind a Chalice handler string such as ``chalicelib.handlers.worker.work``."""
    module_name, _, attr = handler_string.rpartition(".")
    module = importlib.import_module(module_name)
    handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attr)
    return handler


OnFailure = Callable[[str, dict[str, Any], str], None]


def invoke_async(
    name: str,
    handler: Handler,
    event: dict[str, Any],
    wait: Callable[[float], bool],
    on_failure: OnFailure | None = None,
) -> bool:
    """Invoke as Lambda invokes asynchronously: retried twice, then the on-failure destination.

    ``wait(seconds)`` sleeps between attempts and returns True when the stack is stopping.
    Without ``on_failure`` a failed event is dropped (logged). Whether it succeeded.
    """
    reason = ""
    for attempt in range(1, ASYNC_ATTEMPTS + 1):
        try:
            with invocation(name):
                handler(event, LambdaContext(name))
            return True
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed (attempt %d of %d)", name, attempt, ASYNC_ATTEMPTS)
        except LambdaCrash as crash:
            reason = f"the function crashed: {crash}"
            log.error("%s crashed: %s (attempt %d of %d)", name, crash, attempt, ASYNC_ATTEMPTS)
        if wait(attempt):
            return False
    if on_failure is not None:
        on_failure(name, event, reason)
    else:
        log.error("%s: event dropped after %d attempts", name, ASYNC_ATTEMPTS)
    return False


def run_scheduled(app: Any, name: str, region: str = "us-east-1") -> Any:
    """Run one scheduled handler once, as its schedule would; names may be abbreviated."""
    from chalice.app import ScheduledEventConfig

    schedules = [s for s in app.event_sources if isinstance(s, ScheduledEventConfig)]
    matches = [s for s in schedules if s.name == name] or [s for s in schedules if name in s.name]
    if len(matches) != 1:
        known = ", ".join(sorted(s.name for s in schedules)) or "none"
        raise LookupError(
            f"no single scheduled handler matches {name!r} (scheduled handlers: {known})"
        )
    source = matches[0]
    handler = resolve_handler(source.handler_string)
    with invocation(source.name):
        return handler(
            scheduled_event(f"opsbot-local-{source.name}", region), LambdaContext(source.name)
        )
