"""The local REST API (infra/local/api.py) serves concurrent clients as API Gateway would.

A burst of clients gets no connection reset, each request is its own invocation with its own
request id and its own Powertools logger keys (no correlation id leaks between requests on
threads), and a crashed invocation is answered 502 as API Gateway answers it.
"""

from __future__ import annotations

import io
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from aws_lambda_powertools import Logger
from chalice import Chalice
from chalice.config import Config

from infra.local import lambda_logs
from infra.local.api import BACKLOG, ApiServer
from infra.local.lambda_runtime import LambdaCrash

CLIENTS = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[str, io.StringIO]]:
    lambda_logs.install()
    out = io.StringIO()
    logger = Logger(service="local-api-logs", logger_handler=_handler_stream(out))
    app = Chalice(app_name="api-test")

    @app.route("/work/{name}", methods=["POST"])
    def work(name: str) -> dict[str, Any]:
        if name.startswith("own-"):
            logger.set_correlation_id(name)  # as a capability sets its deployment id
        time.sleep(random.uniform(0, 0.05))  # let the other threads interleave
        logger.info("done", extra={"call": name})
        return {"name": name, "correlation_id": logger.get_correlation_id()}

    @app.route("/crash")
    def crash() -> None:
        try:
            raise LambdaCrash("test")
        except Exception:  # no code of the function can catch it
            return None

    server = ApiServer(app, Config(chalice_stage="local"), _free_port())
    server.start()
    try:
        yield server.url, out
    finally:
        server.stop()


def _handler_stream(target: io.StringIO) -> logging.Handler:
    return logging.StreamHandler(target)  # the handler's own lock keeps lines whole


def test_a_burst_of_clients_gets_no_reset_and_each_request_its_own_correlation_id(
    served: tuple[str, io.StringIO],
) -> None:
    url, out = served
    names = [f"own-{i}" if i % 2 else f"anon-{i}" for i in range(CLIENTS)]
    start = threading.Barrier(CLIENTS)

    def call(name: str) -> requests.Response:
        start.wait()
        return requests.post(f"{url}/work/{name}", timeout=30)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(call, names))  # a reset would raise ConnectionError here

    assert [a.status_code for a in answers] == [200] * CLIENTS
    request_ids = [a.headers["x-amzn-RequestId"] for a in answers]
    assert len(set(request_ids)) == CLIENTS
    lines = {}
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        lines[record["call"]] = record
    for name, answer, request_id in zip(names, answers, request_ids, strict=True):
        # its own id when it set one; else the request id API Gateway gave it, never another's
        expected = name if name.startswith("own-") else request_id
        assert answer.json()["correlation_id"] == expected
        assert lines[name]["correlation_id"] == expected


def test_logger_keys_outside_invocations_stay_shared(served: tuple[str, io.StringIO]) -> None:
    logger = Logger(service="api-test-shared", logger_handler=_handler_stream(io.StringIO()))
    logger.append_keys(build="42")
    seen: list[Any] = []
    thread = threading.Thread(target=lambda: seen.append(logger.get_current_keys().get("build")))
    thread.start()
    thread.join()
    assert seen == ["42"]


def test_a_crashed_invocation_is_a_502_as_api_gateway_answers(
    served: tuple[str, io.StringIO],
) -> None:
    url, _ = served
    answer = requests.get(f"{url}/crash", timeout=10)
    assert answer.status_code == 502
    assert answer.json() == {"message": "Internal server error"}
    assert answer.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


def test_the_listen_backlog_takes_a_burst() -> None:
    assert BACKLOG >= 128
