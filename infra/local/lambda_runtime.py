"""How the local stack invokes a function: its context object, its handler, Lambda's retries.

* ``invoke_async``: an asynchronous invocation (SNS, EventBridge, schedules) as Lambda makes it:
  the first try and two retries, then the event is dropped (logged).
* ``run_scheduled``: one scheduled handler once, as its schedule would (``tick``).
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from infra.local.event_shapes import scheduled_event
from infra.local.settings import ACCOUNT

log = logging.getLogger("opsbot.local.events")

ASYNC_ATTEMPTS = 3  # Lambda: the first try and two retries

Handler = Callable[[dict[str, Any], Any], Any]


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


def invoke_async(
    name: str, handler: Handler, event: dict[str, Any], wait: Callable[[float], bool]
) -> None:
    """Invoke as Lambda invokes asynchronously: retried twice, then dropped (logged).

    ``wait(seconds)`` sleeps between attempts and returns True when the stack is stopping.
    """
    for attempt in range(1, ASYNC_ATTEMPTS + 1):
        try:
            handler(event, LambdaContext(name))
            return
        except Exception:
            log.exception("%s failed (attempt %d of %d)", name, attempt, ASYNC_ATTEMPTS)
            if wait(attempt):
                return
    log.error("%s: event dropped after %d attempts", name, ASYNC_ATTEMPTS)


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
    return handler(
        scheduled_event(f"opsbot-local-{source.name}", region), LambdaContext(source.name)
    )
