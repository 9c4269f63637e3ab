"""Each invocation logs under its own correlation id, never the previous one's (warm Lambdas keep
the logger between invocations)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import observability
from chalicelib.handlers.http import request_id_middleware


class _Request:
    def __init__(self, request_id: str) -> None:
        self.context = {"requestId": request_id}


def test_begin_replaces_the_last_invocations_correlation_id() -> None:
    log = observability.logger()
    log.set_correlation_id("dep-from-an-earlier-invocation")
    observability.begin("evt-2")
    assert log.get_correlation_id() == "evt-2"
    observability.begin()
    assert log.get_correlation_id() is None


def test_each_rest_request_logs_under_its_own_request_id() -> None:
    log = observability.logger()
    seen: list[Any] = []

    def view(_: Any) -> str:
        seen.append(log.get_correlation_id())
        log.set_correlation_id("dep-set-by-the-handler")  # the handler's own id, for its work
        return "ok"

    request_id_middleware(_Request("req-1"), view)  # type: ignore[arg-type]
    request_id_middleware(_Request("req-2"), view)  # type: ignore[arg-type]
    assert seen == ["req-1", "req-2"]
