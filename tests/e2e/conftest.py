"""The e2e harness: one local stack (``python -m infra.local run``) for the session, over HTTP."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.launch import Launched, launch

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-admin-token"
LEAD_TOKEN = "e2e-lead-token"  # demo-lead (U0DEMOLEAD): approves in prod
# prod's approvals expire after this (the policy's 30 minutes would outlast the session)
APPROVAL_EXPIRY_SECONDS = 20
READY_TIMEOUT = 120


def shown(payload: dict[str, Any]) -> str:
    """A Slack payload as a person sees it: its text, then every block's texts, one per line."""
    texts = [str(payload.get("text", ""))]
    for block in payload.get("blocks", []):
        if isinstance(block.get("text"), dict):
            texts.append(str(block["text"].get("text", "")))
        texts.extend(str(f.get("text", "")) for f in block.get("fields", []))
        texts.extend(str(e["text"]) for e in block.get("elements", []) if "text" in e)
    return "\n".join(texts)


@dataclass
class Stack(Launched):
    """A running local stack and ways to drive it."""

    output: list[str] = field(default_factory=list)

    def request(
        self, method: str, path: str, *, token: str | None = TOKEN, **kwargs: Any
    ) -> requests.Response:
        """An HTTP request to the REST API."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method, f"{self.api_url}{path}", headers=headers, timeout=15, **kwargs
        )

    def control(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m infra.local ARGS`` against this stack."""
        return self.run_control(*args)

    def reset_cooldowns(self) -> int:
        """Forget every alarm cooldown and notice window, and the blast-radius caps' counters
        (test setup between scenarios: each starts with the demo's 5 changes a minute free)."""
        ddb = self.aws("dynamodb")
        items = ddb.scan(
            TableName="opsbot-state",
            FilterExpression="begins_with(pk, :p) OR begins_with(pk, :c)",
            ExpressionAttributeValues={":p": {"S": "COOLDOWN#"}, ":c": {"S": "CAP#"}},
        )["Items"]
        for item in items:
            ddb.delete_item(TableName="opsbot-state", Key={"pk": item["pk"], "sk": item["sk"]})
        return len(items)

    def slack_shown(self) -> list[str]:
        """What a Slack client shows of each payload so far: its one-line text, then the text
        of every block (header, sections, fields, context), one per line."""
        return [shown(m) for m in self.slack()]

    def slack_records(self) -> list[dict[str, Any]]:
        """Every line of slack.jsonl so far: ``{"at", "to", "url", "payload"}``."""
        path = self.state_dir / "slack.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def slack(self) -> list[dict[str, Any]]:
        """Every payload posted to Slack so far (webhook and response_url)."""
        return [record["payload"] for record in self.slack_records()]

    def wait_deployment(self, deployment_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll a deployment until it reaches a terminal status."""
        terminal = {"succeeded", "failed", "rolled_back", "rejected", "denied", "expired"}
        body: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.request("GET", f"/deployments/{deployment_id}")
            assert resp.status_code == 200, resp.text
            body = resp.json()
            if body["status"] in terminal:
                return body
            time.sleep(0.3)
        raise AssertionError(f"deployment {deployment_id} not finished after {timeout}s: {body}")


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.3) -> Any:
    """Poll until ``predicate()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout}s")
        time.sleep(interval)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the local stack as a user would, wait for 'opsbot ready', stop it with Ctrl-C.

    One for the session: under pytest-xdist, one per worker that runs e2e tests (each test
    module runs whole on one worker: tests/scheduling.py)."""
    with started_stack(tmp_path_factory) as up:
        yield up


@contextmanager
def started_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A local stack of its own, started as the ``stack`` fixture starts it."""
    output: list[str] = []
    with launch(
        tmp_path_factory.mktemp("opsbot-local"),
        token=TOKEN,
        signing_secret="e2e-signing-secret",
        on_line=output.append,
        ready_timeout=READY_TIMEOUT,
        extra_env={
            "OPSBOT_LEAD_TOKEN": LEAD_TOKEN,
            "OPSBOT_APPROVAL_EXPIRY_SECONDS": str(APPROVAL_EXPIRY_SECONDS),
        },
    ) as up:
        stack = Stack(up.api_url, up.aws_url, up.state_dir, up.env, output)
        assert stack.request("GET", "/health", token=None).status_code == 200
        yield stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as e2e; schemathesis' run (which deploys and scales at
    random) goes last. It has a stack of its own (test_openapi.py), so whatever it does, the
    other tests find the demo as seeded, in one process or under pytest-xdist."""
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("schemathesis") is not None)
