"""The `opsbot` CLI and the control commands' reports, end to end against the local stack.

The CLI runs as the console script `make run`/`make test` install (``opsbot_cli.script`` writes
the same script here, so the test runs this checkout's code), as a separate process, over HTTP.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsbot_cli import script
from opsbot_cli.exits import Exit
from tests.e2e.conftest import TOKEN, Stack, wait_for

CLOCK = r"\d\d:\d\d:\d\d"


@pytest.fixture(scope="module")
def opsbot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("bin") / "opsbot"
    script.write(target, sys.executable)
    return target


def cli(
    stack: Stack, opsbot: Path, *args: str, profile: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``opsbot ARGS``: with the stack's URL and token in the environment, or (``profile``) with
    only the profile the stack wrote."""
    env = {k: v for k, v in stack.env.items() if not k.startswith("OPSBOT_")}
    env["OPSBOT_LOCAL_DIR"] = str(stack.state_dir)
    if not profile:
        env.update(OPSBOT_URL=stack.api_url, OPSBOT_API_TOKEN=TOKEN)
    done = subprocess.run(
        [str(opsbot), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert "Traceback" not in done.stdout + done.stderr
    return done


def test_deploy_wait_shows_progress_and_exits_0_and_rollback_restores(
    stack: Stack, opsbot: Path
) -> None:
    profile = json.loads((stack.state_dir / "profile.json").read_text())
    assert profile == {"url": stack.api_url, "token": TOKEN, "environment": "demo"}

    done = cli(stack, opsbot, "deploy", "web", "2.0", "--wait", profile=True)

    assert done.returncode == Exit.OK, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"dep-\S+: web 2\.0 in demo, queued", lines[0])
    statuses = [line.split()[1] for line in lines[1:-1]]
    assert statuses[0] == "queued" and "in_progress" in statuses and statuses[-1] == "succeeded"
    assert re.fullmatch(r"web: deploy 2\.0 succeeded in \d+\.\d s \(web:\d+\)", lines[-1])
    assert "\r" not in done.stdout  # not a terminal: plain lines
    # the make run terminal said it once, in its own words
    said = wait_for(lambda: [ln for ln in stack.output if "web: deploy 2.0 succeeded in" in ln])
    assert len(said) == 1 and re.match(rf"{CLOCK} web: deploy 2\.0 succeeded in \d", said[0])

    # roll it back: web runs what it ran before (later tests expect the demo as seeded)
    deployment_id = lines[0].split(":", 1)[0]
    back = cli(stack, opsbot, "rollback", deployment_id, "--wait")
    assert back.returncode == Exit.OK, back.stdout + back.stderr
    assert re.fullmatch(
        r"web: rollback 1\.0 succeeded in \d+\.\d s \(web:\d+\)", back.stdout.splitlines()[-1]
    )
    assert json.loads(cli(stack, opsbot, "status", "web", "-o", "json").stdout)["image"].endswith(
        "/web:1.0"
    )


def test_a_rolled_back_deploy_exits_with_the_rolled_back_code(stack: Stack, opsbot: Path) -> None:
    before = json.loads(cli(stack, opsbot, "status", "api", "-o", "json").stdout)["image"]
    assert stack.control("rollout-fail", "api").returncode == 0

    done = cli(stack, opsbot, "deploy", "api", "2.0", "--wait")

    assert done.returncode == Exit.ROLLED_BACK == 10, done.stdout + done.stderr
    assert "circuit breaker" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("api: deploy 2.0 rolled_back after ")
    status = json.loads(cli(stack, opsbot, "status", "api", "-o", "json").stdout)
    assert status["image"] == before  # back where it was


def test_json_output_is_only_the_api_json(stack: Stack, opsbot: Path) -> None:
    shown = cli(stack, opsbot, "status", "web", "--output", "json")
    assert shown.returncode == 0 and shown.stderr == ""
    assert json.loads(shown.stdout) == stack.request("GET", "/services/demo/web").json()

    audit = cli(stack, opsbot, "audit", "--service", "web", "--limit", "3", "-o", "json")
    expected = stack.request("GET", "/audit?environment=demo&service=web&limit=3").json()
    assert json.loads(audit.stdout) == expected and expected["items"]

    refused = cli(stack, opsbot, "deploy", "web", "9.9", "-o", "json")
    assert refused.returncode == Exit.API_ERROR
    assert json.loads(refused.stdout)["error"]["code"] == "invalid_request"
    assert "9.9" in refused.stderr

    table = cli(stack, opsbot, "status")
    assert table.returncode == 0
    assert [line.split()[0] for line in table.stdout.splitlines()[2:]] == ["api", "web"]


def test_scale_and_history(stack: Stack, opsbot: Path) -> None:
    scaled = cli(stack, opsbot, "scale", "web", "2")
    assert scaled.returncode == 0 and re.fullmatch(
        r"demo/web: desired \d+ -> 2 \(bounds 1\.\.6\)\n", scaled.stdout
    ), scaled.stdout + scaled.stderr
    outside = cli(stack, opsbot, "scale", "web", "7")
    assert outside.returncode == Exit.API_ERROR and "min 1, max 6" in outside.stderr
    history = cli(stack, opsbot, "history", "web")
    assert history.returncode == 0 and "succeeded" in history.stdout


def test_alarm_commands_print_what_opsbot_did(stack: Stack) -> None:
    stack.reset_cooldowns()
    stack.aws("ecs").update_service(cluster="demo", service="web", desiredCount=2)

    out = stack.control("alarm", "web-cpu-high", "ALARM")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(
        rf"web-cpu-high ALARM -> web desired 2 -> 3 \(rule web-cpu-high; next scale-out after "
        rf"{CLOCK}\)\n",
        out.stdout,
    ), out.stdout
    again = stack.control("alarm", "web-cpu-high", "ALARM")
    assert again.stdout.startswith("web-cpu-high ALARM -> cooldown: no change"), again.stdout
    back = stack.control("alarm", "web-cpu-high", "OK")
    assert back.stdout.startswith("web-cpu-high OK -> web desired 3 -> 2 (rule web-cpu-high"), (
        back.stdout
    )
    published = stack.control("alarm", "web-cpu-high", "ALARM", "--wait", "0")
    assert published.stdout.startswith("web-cpu-high: OK -> ALARM; notified opsbot-alarms")
    time.sleep(2)  # its reaction (cooled down) lands; then the demo as seeded for later tests
    stack.reset_cooldowns()
    stack.aws("ecs").update_service(cluster="demo", service="web", desiredCount=2)


def test_tick_commands_print_what_the_checks_did(stack: Stack) -> None:
    budgets = stack.control("tick", "budgets")
    assert budgets.returncode == 0, budgets.stderr
    first, second = budgets.stdout.splitlines()
    assert first.startswith("budget monthly-ops (demo): actual > 80% crossed (85.00 of 100.00 USD)")
    assert first.endswith(("alert posted", "already alerted this period"))
    assert second == "budget monthly-ops (demo): actual > 100% not crossed (85.00 of 100.00 USD)"

    # (`tick certificates` reports are checked in test_certificates.py, which owns the rotation)


def test_the_terminal_and_slack_log_are_for_people(stack: Stack) -> None:
    records = stack.slack_records()
    assert records and all({"at", "to", "url", "payload"} <= set(r) for r in records)
    assert {r["to"] for r in records} <= {"webhook", "response_url"}
    after_ready = stack.output[
        next(i for i, ln in enumerate(stack.output) if "opsbot ready" in ln) :
    ]
    assert not [ln for ln in after_ready if ln.lstrip().startswith("{")]  # no JSON log lines
    assert not [ln for ln in after_ready if "notice suppressed" in ln or "Connection pool" in ln]
