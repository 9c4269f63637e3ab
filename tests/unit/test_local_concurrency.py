"""The local stack's asynchronous deliveries (SNS, EventBridge): one after another by default,
several at once with ``OPSBOT_LOCAL_CONCURRENCY`` (as Lambda runs them), each one counted by the
effects listener as an invocation."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from infra.local import lambda_runtime
from infra.local.effects import Effects, write_units
from infra.local.event_sources import EventSources
from infra.local.settings import LocalSettings


def sources(concurrency: int, seen: list[str]) -> EventSources:
    return EventSources(
        app=None,
        client=lambda _: None,
        on_outcome=lambda _name, input_id, _outcome: seen.append(input_id),
        async_concurrency=concurrency,
    )


def test_deliveries_run_at_once_up_to_the_concurrency() -> None:
    ended: list[str] = []
    feed = sources(2, ended)
    both_in = threading.Barrier(2, timeout=30)  # broken (an error) if only one ever runs

    def handler(event: dict[str, Any], context: Any) -> str:
        both_in.wait()
        return "ok"

    feed._deliver("alarm_notification", handler, {"n": 1}, "m1")
    feed._deliver("alarm_notification", handler, {"n": 2}, "m2")
    # a third waits for a free slot: it is delivered once one of the first two ended
    feed._deliver("alarm_notification", lambda e, c: "ok", {"n": 3}, "m3")
    for _ in range(2):  # every slot back: all three ended
        feed._slots.acquire(timeout=30)
    assert sorted(ended) == ["m1", "m2", "m3"]


def test_one_at_a_time_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSBOT_LOCAL_CONCURRENCY", raising=False)
    assert LocalSettings.from_env().async_concurrency == 1
    ended: list[str] = []
    feed = sources(1, ended)
    feed._deliver("alarm_notification", lambda e, c: "ok", {}, "m1")
    assert ended == ["m1"]  # delivered before _deliver returned
    monkeypatch.setenv("OPSBOT_LOCAL_CONCURRENCY", "8")
    assert LocalSettings.from_env().async_concurrency == 8


def test_effects_count_invocations_and_write_units() -> None:
    effects = Effects()
    lambda_runtime.listeners.append(effects)
    try:
        for _ in range(3):
            with lambda_runtime.invocation("work"):
                pass
    finally:
        lambda_runtime.listeners.remove(effects)
    assert effects.status()["invocations"] == {"work": 3}
    small = {"pk": {"S": "a"}, "sk": {"S": "b"}}
    big = {**small, "blob": {"S": "x" * 3000}}
    assert write_units("PutItem", {"Item": small}) == 1
    assert write_units("PutItem", {"Item": big}) == 3  # one unit per KB
    assert write_units("DeleteItem", {"Key": small}) == 1
    assert write_units("TransactWriteItems", {"TransactItems": [{"Put": {"Item": small}}] * 3}) == 6
    assert (
        write_units("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": small}}]}})
        == 1
    )
    assert write_units("GetItem", {"Key": small}) == 0
