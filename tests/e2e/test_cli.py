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
from tests.e2e.conftest import LEAD_TOKEN, TOKEN, Stack, wait_for

CLOCK = r"\d\d:\d\d:\d\d"


@pytest.fixture(scope="module")
def opsbot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("bin") / "opsbot"
    script.write(target, sys.executable)
    return target


def _env(stack: Stack, *, profile: bool = False, token: str = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in stack.env.items() if not k.startswith("OPSBOT_")}
    env["OPSBOT_LOCAL_DIR"] = str(stack.state_dir)
    if not profile:
        env.update(OPSBOT_URL=stack.api_url, OPSBOT_API_TOKEN=token)
    return env


def cli(
    stack: Stack,
    opsbot: Path,
    *args: str,
    profile: bool = False,
    token: str = TOKEN,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``opsbot ARGS``: with the stack's URL and ``token`` in the environment, or (``profile``)
    with only the profile the stack wrote."""
    env = _env(stack, profile=profile, token=token)
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

    mark = len(stack.output)  # the stack is shared: earlier tests deployed web 2.0 too
    before = json.loads(cli(stack, opsbot, "status", "web", "-o", "json").stdout)["image"]
    done = cli(stack, opsbot, "deploy", "web", "2.0", "--wait", profile=True)

    assert done.returncode == Exit.OK, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"dep-\S+: web 2\.0 in demo, queued", lines[0])
    statuses = [line.split()[1] for line in lines[1:-1]]
    assert statuses[0] == "queued" and "in_progress" in statuses and statuses[-1] == "succeeded"
    took = re.fullmatch(r"web: deploy 2\.0 succeeded in (\d+) s \(web:\d+\)", lines[-1])
    assert took, lines[-1]
    assert "\r" not in done.stdout  # not a terminal: plain lines
    # one duration everywhere: the CLI's is the record's, and so is the make run terminal's
    deployment_id = lines[0].split(":", 1)[0]
    record = stack.request("GET", f"/deployments/{deployment_id}").json()
    assert record["duration_seconds"] == int(took[1])
    said = wait_for(
        lambda: [ln for ln in stack.output[mark:] if "web: deploy 2.0 succeeded in" in ln]
    )
    assert len(said) == 1, said
    assert said[0].rstrip().endswith(f"web: deploy 2.0 succeeded in {took[1]} s"), said
    assert re.match(rf"{CLOCK} ", said[0])

    # roll it back: web runs what it ran before
    back = cli(stack, opsbot, "rollback", deployment_id, "--wait")
    assert back.returncode == Exit.OK, back.stdout + back.stderr
    assert re.fullmatch(
        r"web: rollback \S+ succeeded in \d+ s \(web:\d+\)", back.stdout.splitlines()[-1]
    )
    assert json.loads(cli(stack, opsbot, "status", "web", "-o", "json").stdout)["image"] == before


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


def test_certificates_and_budgets(stack: Stack, opsbot: Path) -> None:
    certificates = cli(stack, opsbot, "certificates")
    assert certificates.returncode == 0, certificates.stderr
    lines = certificates.stdout.splitlines()
    assert lines[0] == "environment demo" and lines[1].split()[:2] == ["DOMAIN", "STATUS"]
    assert [ln for ln in lines[2:] if ln.startswith("demo.example.com ")]
    assert "demo-alb:443" in certificates.stdout
    shown = cli(stack, opsbot, "certificates", "--env", "prod", "-o", "json")
    expected = stack.request("GET", "/certificates?environment=prod").json()
    assert shown.stderr == "" and json.loads(shown.stdout) == expected

    budgets = cli(stack, opsbot, "budgets")
    assert budgets.returncode == 0, budgets.stderr
    row = next(ln for ln in budgets.stdout.splitlines() if ln.startswith("monthly-ops "))
    answer = stack.request("GET", "/budgets?environment=demo").json()
    [item] = [b for b in answer["items"] if b["name"] == "monthly-ops"]
    # the forecast is the embedded AWS's, which earlier tests' spend changes move
    assert row.split() == [
        "monthly-ops",
        "COST",
        "MONTHLY",
        "100.00",
        "USD",
        "85.00",
        f"{item['forecast']:.2f}",
        "85%",
    ]
    shown = cli(stack, opsbot, "budgets", "-o", "json")
    assert json.loads(shown.stdout) == answer


def test_a_prod_deploy_waits_for_the_leads_approval(stack: Stack, opsbot: Path) -> None:
    # the requester waits: it says it awaits approval and keeps waiting
    waiting = subprocess.Popen(
        [str(opsbot), "deploy", "web", "2.0", "--env", "prod", "--wait", "--timeout", "60"],
        env=_env(stack),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stdout is not None
    head = waiting.stdout.readline()
    assert re.fullmatch(r"dep-\S+: web 2\.0 in prod, awaiting_approval\n", head), head
    deployment_id = head.split(":", 1)[0]
    said = [waiting.stdout.readline(), waiting.stdout.readline()]
    assert "awaiting_approval" in said[0] and said[1].startswith("waiting for approval: ")

    own = cli(stack, opsbot, "approve", deployment_id)
    assert own.returncode == Exit.API_ERROR and own.stdout == ""
    assert re.fullmatch(
        rf"error: local-admin asked for {deployment_id}: a second person must approve or deny "
        r"it \(HTTP 403 forbidden\)\n",
        own.stderr,
    ), own.stderr

    approved = cli(stack, opsbot, "approve", deployment_id, "--wait", token=LEAD_TOKEN)
    assert approved.returncode == Exit.OK, approved.stdout + approved.stderr
    assert re.fullmatch(
        r"web: deploy 2\.0 succeeded in \d+ s \(prod-web:\d+\)",
        approved.stdout.splitlines()[-1],
    )
    rest, errors = waiting.communicate(timeout=60)
    assert waiting.returncode == Exit.OK, rest + errors
    assert "queued             approved by demo-lead" in rest
    assert rest.splitlines()[-1].startswith("web: deploy 2.0 succeeded in ")

    done = stack.request("GET", f"/deployments/{deployment_id}").json()
    status = json.loads(cli(stack, opsbot, "status", "web", "--env", "prod", "-o", "json").stdout)
    assert status["task_definition"] == done["task_definition"]
    assert status["image"].endswith(f"/web@{done['image_digest']}")  # prod's web on 2.0
    history = cli(stack, opsbot, "history", "web", "--env", "prod").stdout.splitlines()
    assert history[1].split()[2:6] == [deployment_id, "deploy", "succeeded", "2.0"]
    assert history[1].endswith("approved by demo-lead")


def test_an_unapproved_wait_times_out_and_the_lead_denies(stack: Stack, opsbot: Path) -> None:
    asked = cli(stack, opsbot, "deploy", "web", "1.1", "--env", "prod", "-o", "json")
    assert asked.returncode == 0 and asked.stderr == ""  # --output json: only the JSON
    body = json.loads(asked.stdout)
    assert body["status"] == "awaiting_approval"

    waited = cli(stack, opsbot, "approve", body["id"], "--wait", "--timeout", "1")
    assert waited.returncode == Exit.API_ERROR  # the requester may not approve, wait or not

    lead = cli(stack, opsbot, "deny", body["id"], token=LEAD_TOKEN)
    assert lead.returncode == 0, lead.stderr
    assert lead.stdout.splitlines() == [
        f"{body['id']}: web 1.1 in prod, denied",
        "denied by demo-lead; nothing was deployed",
    ]
    assert stack.request("GET", f"/deployments/{body['id']}").json()["status"] == "denied"

    # waiting on one that nobody decides: the approval-timeout code, and opsbot keeps it
    pending = cli(
        stack, opsbot, "deploy", "web", "1.1", "--env", "prod", "--wait", "--timeout", "2"
    )
    assert pending.returncode == Exit.APPROVAL_TIMEOUT == 21, pending.stdout + pending.stderr
    assert "waiting for approval" in pending.stdout
    assert "is still awaiting_approval after 2 s" in pending.stdout.splitlines()[-1]
    pending_id = pending.stdout.split(":", 1)[0]
    denied = cli(stack, opsbot, "deny", pending_id, "-o", "json", token=LEAD_TOKEN)
    assert denied.stderr == "" and json.loads(denied.stdout)["denied_by"] == "demo-lead"


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
    assert {r["to"] for r in records} <= {"webhook", "chat.postMessage", "response_url"}
    after_ready = stack.output[
        next(i for i, ln in enumerate(stack.output) if "opsbot ready" in ln) :
    ]
    assert not [ln for ln in after_ready if ln.lstrip().startswith("{")]  # no JSON log lines
    assert not [ln for ln in after_ready if "notice suppressed" in ln or "Connection pool" in ln]
