"""The local REST API under a burst of concurrent clients, as API Gateway would serve them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.e2e.conftest import Stack

CLIENTS = 50


def test_fifty_concurrent_clients_get_answers_not_resets(stack: Stack) -> None:
    """Reads and refused POSTs (nothing changes in AWS), all at once."""
    calls: list[tuple[str, str, dict[str, Any] | None, int]] = []
    for i in range(CLIENTS):
        if i % 3 == 0:
            calls.append(("GET", "/services/demo/web", None, 200))
        elif i % 3 == 1:  # a tag that is not in ECR: checked against AWS, refused
            body = {"environment": "demo", "service": "web", "tag": f"9.{i}"}
            calls.append(("POST", "/deployments", body, 400))
        else:  # outside the bounds: refused
            calls.append(("POST", "/services/demo/web/scale", {"desired": 99}, 400))
    start = threading.Barrier(CLIENTS)

    def call(spec: tuple[str, str, dict[str, Any] | None, int]) -> requests.Response:
        method, path, body, _ = spec
        start.wait()
        return stack.request(method, path, json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(call, calls))  # a reset raises ConnectionError here

    assert [a.status_code for a in answers] == [expected for *_, expected in calls], [
        a.text for a in answers
    ]
    assert len({a.headers["x-amzn-RequestId"] for a in answers}) == CLIENTS


def test_a_crashed_invocation_is_answered_502_alone_on_a_kept_alive_connection(
    stack: Stack,
) -> None:
    """A crash just before returning (work done, answer lost) is a 502 and nothing else: the
    next request on the same connection reads its own answer, not a stray 502."""
    session = requests.Session()
    session.headers["Authorization"] = "Bearer e2e-admin-token"
    # a whole invocation with more AWS calls than /health makes: crash points beyond the
    # calls of /health are then drawn, and those invocations die just before returning
    assert session.get(f"{stack.api_url}/services/demo/web", timeout=30).status_code == 200
    assert stack.control("faults", "--crashes", "1", "--seed", "3").returncode == 0
    try:
        answers = [session.get(f"{stack.api_url}/health", timeout=30) for _ in range(8)]
    finally:
        assert stack.control("faults", "off").returncode == 0
    assert [a.status_code for a in answers] == [502] * 8, [a.text for a in answers]
    after = session.get(f"{stack.api_url}/health", timeout=30)
    assert after.status_code == 200, after.text
