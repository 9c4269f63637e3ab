"""Freeze and unfreeze end to end over HTTP: the CLI freezes demo, REST and the CLI are refused
with 409 ``frozen``, the dashboard shows it in red with who and why, REST unfreezes it (always,
so the other e2e tests find demo as seeded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opsbot_cli.exits import Exit
from tests.e2e.conftest import TOKEN, Stack
from tests.e2e.test_cli import cli, opsbot  # noqa: F401 (opsbot: the CLI fixture)
from tests.e2e.test_dashboard import DEMO, browser, page  # noqa: F401 (fixtures)

REASON = "e2e game day: region degraded"


def test_freeze_through_the_cli_refuses_changes_until_unfrozen_over_rest(
    stack: Stack,
    opsbot: Path,  # noqa: F811
    page: Any,  # noqa: F811
) -> None:
    deploy = {"environment": "demo", "service": "web", "tag": "1.1"}
    try:
        done = cli(stack, opsbot, "freeze", "demo", "--reason", REASON, "--output", "json")
        assert done.returncode == Exit.OK, done.stderr
        frozen = json.loads(done.stdout)
        assert (frozen["frozen"], frozen["by"], frozen["reason"]) == (True, "local-admin", REASON)

        envs = {e["name"]: e for e in stack.request("GET", "/environments").json()["items"]}
        assert (envs["demo"]["frozen"], envs["demo"]["frozen_reason"]) == (True, REASON)
        assert envs["prod"]["frozen"] is False

        refused = stack.request("POST", "/deployments", json=deploy)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "frozen"
        assert REASON in refused.json()["error"]["message"]
        scaled = cli(stack, opsbot, "scale", "web", "3")
        assert scaled.returncode == Exit.API_ERROR and REASON in scaled.stderr

        page.goto(f"{stack.api_url}/ui#token={TOKEN}")
        banner = page.locator(f"{DEMO} .frozen-banner")
        banner.wait_for(timeout=20_000)
        assert "FROZEN" in banner.inner_text() and "local-admin" in banner.inner_text()
        assert REASON in banner.inner_text()
        color = page.eval_on_selector(f"{DEMO} .frozen-banner", "e => getComputedStyle(e).color")
        assert color == "rgb(197, 48, 48)"  # the dashboard's red
    finally:
        thawed = stack.request("POST", "/environments/demo/unfreeze", json={"reason": "e2e done"})
    assert thawed.status_code == 200 and thawed.json()["frozen"] is False
    audit = stack.request("GET", "/audit?environment=demo&limit=20").json()["items"]
    mine = [(e["action"], e["target"]) for e in audit if e["action"] in ("freeze", "unfreeze")]
    assert mine[:2] == [("unfreeze", "demo/environment"), ("freeze", "demo/environment")]
    dry = stack.request("POST", "/deployments", json={**deploy, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["outcome"] == "would_queue"
