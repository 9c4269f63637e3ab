"""How the local stack invokes a function: its context object, its handler, Lambda's retries.

* ``invocation``: the context every invocation runs in (REST request or event): which function,
  its request id, how many AWS calls it made; its own logger keys (``lambda_logs``); listeners
  (fault injection) see it start and end.
* ``LambdaCrash``: the invocation died (timeout, out of memory). A ``BaseException``, so no code
  of the function catches it; each event source reacts to it as Lambda's does.
* ``invoke_async``: an asynchronous invocation (SNS, EventBridge, schedules) as Lambda makes it:
  the first try and two retries.
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
from infra.local.settings import ACCOUNT

log = logging.getLogger("opsbot.local.events")

ASYNC_ATTEMPTS = 3  # Lambda: the first try and two retries
# The notional timeout of a local asynchronous invocation: short, so that the retry of a crashed
# one (which comes only after its deadline, as on Lambda) is seconds away, not a minute.
ASYNC_TIMEOUT_SECONDS = 5

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
    input_id: str = ""  # what it was invoked for: an SNS message, an event, SQS messages


class Listener(Protocol):
    """Told when an invocation starts, returns (it may still die then) and ends."""

    def started(self, invocation: Invocation) -> None: ...

    def returning(self, invocation: Invocation) -> None: ...

    def ended(self, invocation: Invocation) -> None: ...


_current = threading.local()
listeners: list[Listener] = []


def current() -> Invocation | None:
    """The invocation running on this thread, if any."""
    found: Invocation | None = getattr(_current, "invocation", None)
    return found


@contextmanager
def invocation(
    function: str,
    request_id: str | None = None,
    *,
    correlation_id: str | None = None,
    input_id: str = "",
) -> Iterator[Invocation]:
    """Run one invocation of ``function`` on this thread (see the module doc)."""
    rid = request_id or str(uuid.uuid4())
    inv = Invocation(function=function, request_id=rid, input_id=input_id or rid)
    for listener in listeners:
        listener.started(inv)
    lambda_logs.begin(correlation_id=correlation_id)
    _current.invocation = inv
    try:
        yield inv
        for listener in listeners:
            listener.returning(inv)
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


@dataclass
class AsyncOutcome:
    """How an asynchronous invocation ended: its result, or why its last attempt failed."""

    ok: bool
    attempts: int
    result: Any = None
    reason: str = ""


def invoke_async(
    name: str,
    handler: Handler,
    event: dict[str, Any],
    wait: Callable[[float], bool],
    *,
    input_id: str = "",
) -> AsyncOutcome:
    """Invoke as Lambda invokes asynchronously: the first try and two retries.

    A function error and a crash count alike. ``wait(seconds)`` sleeps between attempts and
    returns True when the stack is stopping. What becomes of a failed event is the caller's
    (its on-failure destination, or dropped).
    """
    reason = ""
    for attempt in range(1, ASYNC_ATTEMPTS + 1):
        context = LambdaContext(name, timeout_seconds=ASYNC_TIMEOUT_SECONDS)
        pause: float = attempt
        try:
            with invocation(name, input_id=input_id):
                result = handler(event, context)
            return AsyncOutcome(ok=True, attempts=attempt, result=result)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("%s failed (attempt %d of %d)", name, attempt, ASYNC_ATTEMPTS)
        except LambdaCrash as crash:
            reason = f"the function crashed: {crash}"
            log.error("%s crashed: %s (attempt %d of %d)", name, crash, attempt, ASYNC_ATTEMPTS)
            # A crash is an invocation that ran to its timeout (or memory limit): the retry
            # comes only after that deadline, as Lambda's does (a minute or more later there).
            pause = max(pause, context.get_remaining_time_in_millis() / 1000 + 0.5)
        if attempt < ASYNC_ATTEMPTS and wait(pause):
            return AsyncOutcome(ok=False, attempts=attempt, reason="the stack is stopping")
    return AsyncOutcome(ok=False, attempts=ASYNC_ATTEMPTS, reason=reason)


def find_schedule(app: Any, name: str) -> Any:
    """The app's scheduled event source called ``name`` (or uniquely containing it)."""
    from chalice.app import ScheduledEventConfig

    schedules = [s for s in app.event_sources if isinstance(s, ScheduledEventConfig)]
    matches = [s for s in schedules if s.name == name] or [s for s in schedules if name in s.name]
    if len(matches) != 1:
        known = ", ".join(sorted(s.name for s in schedules)) or "none"
        raise LookupError(
            f"no single scheduled handler matches {name!r} (scheduled handlers: {known})"
        )
    return matches[0]
