"""The `opsbot` CLI against a fake REST API: parsing, output formats, exit codes, retries."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsbot_cli import config, follow, main
from opsbot_cli.client import Api
from opsbot_cli.exits import Exit
from tests.unit.cli_fake import FakeApi, serve

DEP = "dep-0123456789abcdef01234567"


def deployment(status: str, *events: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": DEP,
        "environment": "demo",
        "service": "web",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.0",
        "status": status,
        "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
        "previous_task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "events": [
            {"at": f"2026-11-29T14:00:0{n}Z", "status": s, "message": f"step {n}"}
            for n, s in enumerate(events or (status,))
        ],
        **extra,
    }


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    monkeypatch.setattr(follow, "POLL_SECONDS", 0.01)
    with serve() as api:
        yield api


def run(
    fake: FakeApi, *argv: str, env: dict[str, str] | None = None, out: io.StringIO | None = None
) -> tuple[int, str, str, list[float]]:
    out = out or io.StringIO()
    err = io.StringIO()
    sleeps: list[float] = []
    environ = {"OPSBOT_URL": fake.url, "OPSBOT_API_TOKEN": "t0k", "OPSBOT_PROFILE": "/nonexistent"}
    code = main.main(
        list(argv),
        out=out,
        err=err,
        environ={**environ, **(env or {})},
        make_api=lambda url, token, **kw: Api(url, token, sleep=sleeps.append, **kw),
    )
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue(), sleeps


# -- deploy --wait: progress and exit codes ---------------------------------------------------


def test_deploy_wait_prints_each_event_once_and_exits_0_on_success(fake: FakeApi) -> None:
    fake.on("POST /deployments", (202, deployment("queued")))
    fake.on(
        "GET /deployments/" + DEP,
        (200, deployment("in_progress", "queued", "in_progress")),
        (200, deployment("succeeded", "queued", "in_progress", "succeeded")),
    )
    code, out, err, _ = run(fake, "deploy", "web", "2.0", "--wait")
    assert code == Exit.OK, err
    lines = out.splitlines()
    assert lines[0] == f"{DEP}: web 2.0 in demo, queued"
    assert [ln.split()[1] for ln in lines[1:4]] == ["queued", "in_progress", "succeeded"]
    assert lines[-1].startswith("web: deploy 2.0 succeeded in ") and lines[-1].endswith("(web:2)")
    assert "\r" not in out  # not a terminal: plain lines only
    (post,) = fake.requests("POST /deployments")
    assert post.body == {"environment": "demo", "service": "web", "tag": "2.0"}
    assert post.headers["authorization"] == "Bearer t0k"
    assert post.headers["idempotency-key"].startswith("opsbot-cli-")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("rolled_back", Exit.ROLLED_BACK),
        ("failed", Exit.FAILED),
        ("rejected", Exit.REJECTED),
        ("denied", Exit.DENIED),
        ("expired", Exit.EXPIRED),
    ],
)
def test_deploy_wait_exit_code_names_how_it_ended(fake: FakeApi, status: str, code: int) -> None:
    fake.on("POST /deployments", (202, deployment("queued")))
    ended = deployment(status, "queued", status, failure_reason="tasks failed health checks")
    fake.on("GET /deployments/" + DEP, (200, ended))
    got, out, _, _ = run(fake, "deploy", "web", "2.0", "--wait")
    assert got == code
    assert out.splitlines()[-1].endswith(": tasks failed health checks")
    assert len({int(c) for c in Exit}) == len(list(Exit))  # every code distinct


def test_wait_timeout_and_approval_timeout_have_their_own_codes(fake: FakeApi) -> None:
    fake.on("POST /deployments", (202, deployment("queued")))
    fake.on("GET /deployments/" + DEP, (200, deployment("in_progress")))
    code, out, _, _ = run(fake, "deploy", "web", "2.0", "--wait", "--timeout", "0.2")
    assert code == Exit.WAIT_TIMEOUT
    assert "still in_progress after 0.2 s" in out

    fake.on("POST /deployments", (202, deployment("awaiting_approval", env="prod")))
    fake.on("GET /deployments/" + DEP, (200, deployment("awaiting_approval")))
    code, out, _, _ = run(
        fake, "deploy", "web", "2.0", "--env", "prod", "--wait", "--timeout", "0.2"
    )
    assert code == Exit.APPROVAL_TIMEOUT
    assert f"opsbot approve {DEP}" in out
    assert fake.requests("POST /deployments")[-1].body["environment"] == "prod"


def test_on_a_terminal_a_status_line_is_redrawn_in_place(fake: FakeApi) -> None:
    fake.on("POST /deployments", (202, deployment("queued")))
    fake.on(
        "GET /deployments/" + DEP,
        (200, deployment("in_progress")),
        (200, deployment("in_progress")),
        (200, deployment("succeeded", "in_progress", "succeeded")),
    )
    code, out, _, _ = run(fake, "deploy", "web", "2.0", "--wait", out=Tty())
    assert code == Exit.OK
    assert "\r\033[K" in out and "web: in_progress" in out
    assert out.rstrip("\n").splitlines()[-1].startswith("web: deploy 2.0 succeeded")


# -- --output json ------------------------------------------------------------------------------


def test_json_output_is_the_api_json_and_nothing_else(fake: FakeApi) -> None:
    final = deployment("succeeded", "queued", "succeeded")
    fake.on("POST /deployments", (202, deployment("queued")))
    fake.on("GET /deployments/" + DEP, (200, final))
    code, out, err, _ = run(fake, "deploy", "web", "2.0", "--wait", "-o", "json")
    assert code == Exit.OK
    assert json.loads(out) == final  # the progress went to stderr
    assert "succeeded in" in err

    audit = {"items": [{"at": "2026-11-29T14:00:00Z", "actor": "a", "action": "scale"}]}
    fake.on("GET /audit", (200, audit))
    code, out, _, _ = run(fake, "audit", "--output", "json", "--service", "web", "--limit", "5")
    assert code == 0 and json.loads(out) == audit
    assert fake.requests("GET /audit")[-1].path == "/audit?environment=demo&service=web&limit=5"


def test_an_api_error_prints_its_message_and_exits_1(fake: FakeApi) -> None:
    refused = {"error": {"code": "conflict", "message": "demo/web is busy", "holder": DEP}}
    fake.on("POST /deployments", (409, refused))
    code, out, err, sleeps = run(fake, "deploy", "web", "2.0")
    assert code == Exit.API_ERROR and out == ""
    assert "error: demo/web is busy (HTTP 409 conflict)" in err and DEP in err
    assert sleeps == []  # a refusal is an answer: not retried
    code, out, _, _ = run(fake, "deploy", "web", "2.0", "-o", "json")
    assert code == Exit.API_ERROR and json.loads(out) == refused


# -- retries --------------------------------------------------------------------------------------


def test_5xx_and_an_idempotency_key_in_flight_are_retried_with_the_same_key(fake: FakeApi) -> None:
    in_flight = {
        "error": {
            "code": "conflict",
            "message": "retry shortly",
            "fields": {"Idempotency-Key": "in progress"},
        }
    }
    fake.on(
        "POST /services/demo/web/scale",
        (502, {"message": "Internal server error"}),
        (503, {"error": {"code": "dependency_unavailable", "message": "ssm"}}),
        (409, in_flight),
        (200, {"previous_desired": 2, "desired": 3, "min": 1, "max": 6}),
    )
    code, out, err, sleeps = run(fake, "scale", "web", "3")
    assert code == Exit.OK, err
    assert out == "demo/web: desired 2 -> 3 (bounds 1..6)\n"
    keys = {s.headers["idempotency-key"] for s in fake.requests("POST /services/demo/web/scale")}
    assert len(fake.requests("POST /services/demo/web/scale")) == 4 and len(keys) == 1
    assert len(sleeps) == 3 and sleeps[0] < sleeps[2]  # backing off
    assert err.count("retry: ") == 3


def test_a_key_held_by_a_crashed_first_attempt_is_waited_out_not_given_up_on(
    fake: FakeApi,
) -> None:
    """A first attempt that died (502) holds its key until its lease runs out: the CLI waits as
    long as the 409 says, past its five attempts, then the retry runs it (CI gets an answer)."""

    def held(seconds: int) -> tuple[int, dict[str, Any]]:
        error = {
            "code": "conflict",
            "message": f"still being served; retry in {seconds} s",
            "fields": {"Idempotency-Key": "in progress"},
            "retry_after_seconds": seconds,
        }
        return (409, {"error": error})

    fake.on(
        "POST /deployments",
        (502, {"message": "Internal server error"}),
        held(29),
        held(3),
        held(1),
        held(1),
        (202, deployment("queued")),
    )
    code, out, err, sleeps = run(fake, "deploy", "web", "2.0")
    assert code == Exit.OK, err
    assert out.startswith(f"{DEP}: web 2.0 in demo, queued")
    keys = {r.headers["idempotency-key"] for r in fake.requests("POST /deployments")}
    assert len(fake.requests("POST /deployments")) == 6 and len(keys) == 1  # past 5 attempts
    assert sleeps[1] >= 29 and sleeps[2] >= 3  # as long as the server said
    assert sum(sleeps[1:]) <= 45


def test_a_given_idempotency_key_is_sent(fake: FakeApi) -> None:
    fake.on("POST /deployments", (202, deployment("queued")))
    run(fake, "deploy", "web", "2.0", "--idempotency-key", "gha-42-abc")
    assert fake.requests("POST /deployments")[0].headers["idempotency-key"] == "gha-42-abc"


def test_no_answer_after_every_retry_exits_3(fake: FakeApi) -> None:
    code, _, err, sleeps = run(fake, "status", "web", env={"OPSBOT_URL": "http://127.0.0.1:9"})
    assert code == Exit.UNREACHABLE
    assert "no answer from http://127.0.0.1:9" in err and "after 5 attempts" in err
    assert len(sleeps) == 4


def test_5xx_until_the_end_exits_3_with_the_api_message(fake: FakeApi) -> None:
    fake.on("GET /services/demo/web", (503, {"error": {"code": "x", "message": "ssm is down"}}))
    code, _, err, _ = run(fake, "status", "web")
    assert code == Exit.UNREACHABLE and "ssm is down" in err


# -- the other commands ------------------------------------------------------------------------


def test_approve_and_deny_post_to_their_routes(fake: FakeApi) -> None:
    fake.on(f"POST /deployments/{DEP}/approve", (202, deployment("queued")))
    fake.on("GET /deployments/" + DEP, (200, deployment("succeeded")))
    code, out, _, _ = run(fake, "approve", DEP, "--wait")
    assert code == Exit.OK and "succeeded" in out.splitlines()[-1]
    fake.on(f"POST /deployments/{DEP}/deny", (202, deployment("denied")))
    code, out, _, _ = run(fake, "deny", DEP, "-o", "json")
    assert code == Exit.OK and json.loads(out)["status"] == "denied"
    forbidden = {
        "error": {"code": "forbidden", "message": "you asked for it: someone else approves"}
    }
    fake.on(f"POST /deployments/{DEP}/approve", (403, forbidden))
    code, _, err, _ = run(fake, "approve", DEP)
    assert code == Exit.API_ERROR and "someone else approves" in err


def test_rollback_sends_its_reason(fake: FakeApi) -> None:
    fake.on(f"POST /deployments/{DEP}/rollback", (202, deployment("queued", rollback_of="dep-x")))
    code, out, _, _ = run(fake, "rollback", DEP, "--reason", "bad build")
    assert code == 0 and out.startswith(f"{DEP}: web 2.0 in demo, queued")
    assert fake.requests(f"POST /deployments/{DEP}/rollback")[0].body == {"reason": "bad build"}


def test_status_without_a_service_lists_the_environment(fake: FakeApi) -> None:
    items = [
        {
            "environment": "demo",
            "service": name,
            "image": f"r/{name}:1.0",
            "desired": 2,
            "running": 2,
            "min": 1,
            "max": 6,
            "task_definition": f"arn:x/{name}:1",
            "busy_with": None,
        }
        for name in ("api", "web")
    ]
    fake.on("GET /services/demo", (200, {"environment": "demo", "items": items}))
    code, out, _, _ = run(fake, "status")
    assert code == 0
    assert out.splitlines()[0] == "environment demo"
    assert out.splitlines()[2].split() == ["api", "1.0", "api:1", "2", "2", "1..6", "-"]
    code, out, _, _ = run(fake, "status", "-o", "json")
    assert json.loads(out) == {"environment": "demo", "items": items}
    # one read each: every service fits the first page
    assert [s.path for s in fake.seen] == ["/services/demo?limit=100"] * 2


def test_status_follows_next_to_every_service_and_history_stops_at_its_limit(
    fake: FakeApi,
) -> None:
    def page(names: list[str], cursor: str | None) -> tuple[int, dict[str, Any]]:
        items = [{"environment": "demo", "service": n, "desired": 1, "running": 1} for n in names]
        body: dict[str, Any] = {"environment": "demo", "items": items}
        return 200, body if cursor is None else {**body, "next": cursor}

    fake.on("GET /services/demo", page(["a", "b"], "c1"), page(["c"], "c2"), page(["d"], None))
    code, out, _, _ = run(fake, "status", "-o", "json")
    assert code == 0
    assert [i["service"] for i in json.loads(out)["items"]] == ["a", "b", "c", "d"]
    assert "next" not in json.loads(out)
    assert [s.path for s in fake.seen] == [
        "/services/demo?limit=100",
        "/services/demo?limit=100&next=c1",
        "/services/demo?limit=100&next=c2",
    ]
    fake.seen.clear()
    first = [deployment("succeeded", id=f"dep-{i}") for i in range(100)]
    fake.on(
        "GET /deployments",
        (200, {"items": first, "next": "n1"}),
        (200, {"items": first[:50], "next": "n2"}),
    )
    code, out, _, _ = run(fake, "history", "web", "--limit", "150", "-o", "json")
    assert code == 0
    answer = json.loads(out)
    assert len(answer["items"]) == 150 and answer["next"] == "n2"  # more remain: say where
    assert [s.path.split("?")[1] for s in fake.seen] == [
        "environment=demo&service=web&limit=100",
        "environment=demo&service=web&limit=50&next=n1",
    ]


def test_history_lists_the_services_deployments(fake: FakeApi) -> None:
    denied = deployment(
        "denied",
        "awaiting_approval",
        "denied",
        id="dep-b",
        environment="prod",
        created_at="2026-11-29T14:01:00Z",
        requested_by="local-admin",
        actor="local-admin",
        denied_by="demo-lead",
        finished_at="2026-11-29T14:01:30Z",
        duration_seconds=30,
    )
    approved = deployment(
        "rolled_back",
        id="dep-a",
        environment="prod",
        created_at="2026-11-29T14:00:00Z",
        actor="local-admin",
        approved_by="demo-lead",
        decided_at="2026-11-29T14:00:20Z",
        finished_at="2026-11-29T14:00:27Z",
        duration_seconds=27,
        failure_reason="ECS deployment circuit breaker: task failed to start",
    )
    fake.on("GET /deployments", (200, {"items": [denied, approved]}))
    code, out, _, _ = run(fake, "history", "web", "--env", "prod", "--limit", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "CREATED", "(UTC)", "DEPLOYMENT", "WHAT", "STATUS", "IMAGE", "BY", "DURATION", "DETAILS"
    ]  # fmt: skip
    assert lines[1].split()[2:] == [
        "dep-b", "deploy", "denied", "2.0", "local-admin", "30", "s", "denied", "by", "demo-lead"
    ]  # fmt: skip
    assert lines[2].split()[2:9] == [
        "dep-a",
        "deploy",
        "rolled_back",
        "2.0",
        "local-admin",
        "27",
        "s",
    ]  # fmt: skip  (from its approval to its end)
    assert "approved by demo-lead; ECS deployment circuit breaker" in lines[2]
    assert fake.requests("GET /deployments")[0].path == (
        "/deployments?environment=prod&service=web&limit=3"
    )
    code, out, _, _ = run(fake, "history", "web", "-o", "json")
    assert json.loads(out) == {"items": [denied, approved]}


def test_certificates_and_budgets(fake: FakeApi) -> None:
    cert = {
        "domain": "demo.example.com",
        "arn": "arn:aws:acm:us-east-1:123456789012:certificate/371b0ebe",
        "status": "ISSUED",
        "not_after": "2026-12-17T18:26:12+00:00",
        "days_left": 17,
        "listeners": ["demo-alb:443"],
    }
    fake.on("GET /certificates", (200, {"environment": "demo", "items": [cert]}))
    code, out, _, _ = run(fake, "certificates")
    assert code == 0 and out.splitlines()[0] == "environment demo"
    assert out.splitlines()[2].split() == [
        "demo.example.com", "ISSUED", "2026-12-17", "17", "demo-alb:443", "371b0ebe"
    ]  # fmt: skip
    assert fake.requests("GET /certificates")[0].path == "/certificates?environment=demo"

    budget = {
        "name": "monthly-ops",
        "type": "COST",
        "time_unit": "MONTHLY",
        "limit": 100.0,
        "unit": "USD",
        "actual": 85.0,
        "forecast": 97.0,
        "percent_used": 85.0,
    }
    fake.on("GET /budgets", (200, {"environment": "prod", "items": [budget]}))
    code, out, _, _ = run(fake, "budgets", "--env", "prod")
    assert code == 0 and out.splitlines()[2].split() == [
        "monthly-ops", "COST", "MONTHLY", "100.00", "USD", "85.00", "97.00", "85%"
    ]  # fmt: skip
    code, out, err, _ = run(fake, "budgets", "--env", "prod", "-o", "json")
    assert json.loads(out) == {"environment": "prod", "items": [budget]} and err == ""


def test_a_request_awaiting_approval_says_who_may_go_on(fake: FakeApi) -> None:
    waiting = deployment("awaiting_approval", environment="prod", expires_at="2026-11-29T14:30:00Z")
    fake.on("POST /deployments", (202, waiting))
    code, out, _, _ = run(fake, "deploy", "web", "2.0", "--env", "prod")
    assert code == Exit.OK
    assert out.splitlines() == [
        f"{DEP}: web 2.0 in prod, awaiting_approval",
        f"awaits approval until 14:30:00 UTC: another person who may approve in prod runs "
        f"`opsbot approve {DEP}` (or `opsbot deny {DEP}`); nothing changes in ECS meanwhile",
    ]
    fake.on(f"POST /deployments/{DEP}/deny", (202, deployment("denied", denied_by="demo-lead")))
    code, out, _, _ = run(fake, "deny", DEP)
    assert code == Exit.OK and out.splitlines()[1] == "denied by demo-lead; nothing was deployed"


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "web"],
        ["scale", "web", "-1"],
        ["scale", "web", "²"],
        ["status", "--output", "yaml"],
        ["deploy", "web", "2.0", "--wait", "--timeout", "0"],
        ["audit", "--limit", "501"],
        ["nonsense"],
    ],
)
def test_a_wrong_command_line_exits_2(fake: FakeApi, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(fake, *argv)
    assert exited.value.code == Exit.USAGE
    assert fake.seen == []


# -- configuration ------------------------------------------------------------------------------


def test_the_environment_wins_over_the_profile(tmp_path: Path) -> None:
    config.write_profile(tmp_path / "profile.json", url="http://127.0.0.1:8123/", token="p")
    assert (tmp_path / "profile.json").stat().st_mode & 0o777 == 0o600
    found = config.load({"OPSBOT_LOCAL_DIR": str(tmp_path)})
    assert (found.url, found.token, found.environment) == ("http://127.0.0.1:8123", "p", "demo")
    mixed = config.load(
        {
            "OPSBOT_PROFILE": str(tmp_path / "profile.json"),
            "OPSBOT_API_TOKEN": "e",
            "OPSBOT_ENVIRONMENT": "prod",
        }
    )
    assert (mixed.url, mixed.token, mixed.environment) == ("http://127.0.0.1:8123", "e", "prod")
    bare = config.load({"OPSBOT_PROFILE": str(tmp_path / "none.json"), "OPSBOT_API_PORT": "8009"})
    assert (bare.url, bare.token) == ("http://127.0.0.1:8009", "")


def test_no_token_says_where_to_get_one(fake: FakeApi) -> None:
    code, _, err, _ = run(fake, "status", env={"OPSBOT_API_TOKEN": ""})
    assert code == Exit.NOT_CONFIGURED and "OPSBOT_API_TOKEN" in err and "make run" in err
    assert fake.seen == []


def test_the_generated_console_script_runs_the_cli(tmp_path: Path) -> None:
    from opsbot_cli import script

    target = tmp_path / "bin" / "opsbot"
    script.write(target, sys.executable)
    done = subprocess.run([str(target), "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("opsbot-cli ")


# -- deploy --dry-run and --from ----------------------------------------------------------------

DRY_RUN = {
    "dry_run": True,
    "environment": "prod",
    "service": "web",
    "outcome": "would_await_approval",
    "from_environment": "demo",
    "from_task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
    "current": {"image": "web:1.0", "tag": "1.0", "digest": None, "task_definition": "prod-web:1"},
    "requested": {"image": "web@sha256:8d97", "tag": None, "digest": "sha256:8d97985c3ef4c685b1"},
    "task_definition_diff": [
        {"path": "containerDefinitions[web].image", "from": "web:1.0", "to": "web@sha256:8d97"}
    ],
    "checks": [
        {"name": "image_exists", "result": "pass", "detail": "the digest demo runs"},
        {"name": "approval", "result": "needed", "detail": "prod needs a second person"},
    ],
}


def test_a_dry_run_promotion_sends_from_environment_and_shows_the_plan(fake: FakeApi) -> None:
    fake.on("POST /deployments", (200, DRY_RUN))
    code, out, err, _ = run(fake, "deploy", "web", "--from", "demo", "--env", "prod", "--dry-run")
    assert code == Exit.OK, err
    [sent] = fake.requests("POST /deployments")
    assert sent.body == {
        "environment": "prod",
        "service": "web",
        "from_environment": "demo",
        "dry_run": True,
    }
    assert out.startswith("dry run: prod/web: would await approval; nothing was changed")
    assert "containerDefinitions[web].image: web:1.0 -> web@sha256:8d97" in out
    assert "needed  approval: prod needs a second person" in out
    code, out, _, _ = run(fake, "deploy", "web", "--from", "demo", "--dry-run", "-o", "json")
    assert code == Exit.OK and json.loads(out) == DRY_RUN


@pytest.mark.parametrize("argv", [["deploy", "web"], ["deploy", "web", "2.0", "--from", "demo"]])
def test_deploy_takes_a_tag_or_from_exactly_one(fake: FakeApi, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(fake, *argv)
    assert exited.value.code == Exit.USAGE
    assert not fake.seen  # nothing was sent


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_leaves_early_gets_no_traceback(fake: FakeApi) -> None:
    # `opsbot audit | head -1`: the pipe closes; opsbot stops quietly with the shell's code
    fake.on("GET /audit", (200, {"items": [{"at": "2026-11-29T14:00:00Z", "actor": "a"}] * 50}))
    code, _, err, _ = run(fake, "audit", out=ClosedPipe())
    assert code == Exit.BROKEN_PIPE == 141 and err == ""


# -- freeze / unfreeze ------------------------------------------------------------------------

FROZEN = {
    "environment": "demo",
    "frozen": True,
    "by": "local-admin",
    "reason": "regional incident",
    "at": "2026-11-29T14:00:00Z",
}


def test_freeze_posts_the_reason_and_says_what_it_means(fake: FakeApi) -> None:
    fake.on("POST /environments/demo/freeze", (200, FROZEN))
    code, out, err, _ = run(fake, "freeze", "demo", "--reason", "regional incident")
    assert code == Exit.OK, err
    assert out.startswith("demo: FROZEN by local-admin at 2026-11-29T14:00:00Z: regional incident")
    assert "opsbot unfreeze demo" in out
    (post,) = fake.requests("POST /environments/demo/freeze")
    assert post.body == {"reason": "regional incident"}
    assert post.headers["idempotency-key"].startswith("opsbot-cli-")


def test_unfreeze_json_prints_the_api_answer_only(fake: FakeApi) -> None:
    thawed = {**FROZEN, "frozen": False, "reason": None}
    fake.on("POST /environments/demo/unfreeze", (200, thawed))
    code, out, _, _ = run(fake, "unfreeze", "demo", "--output", "json")
    assert code == Exit.OK
    assert json.loads(out) == thawed
    assert fake.requests("POST /environments/demo/unfreeze")[0].body == {}


def test_freeze_refusals_and_usage_errors_have_the_usual_codes(fake: FakeApi) -> None:
    error = {"error": {"code": "forbidden", "message": "bob may not freeze in environment 'demo'"}}
    fake.on("POST /environments/demo/freeze", (403, error))
    code, out, err, _ = run(fake, "freeze", "demo", "--reason", "x", "--output", "json")
    assert code == Exit.API_ERROR
    assert json.loads(out) == error and "may not freeze" in err
    with pytest.raises(SystemExit) as usage:
        run(fake, "freeze", "demo")  # --reason is required
    assert usage.value.code == Exit.USAGE
    with pytest.raises(SystemExit) as blank:
        run(fake, "freeze", "demo", "--reason", "  ")
    assert blank.value.code == Exit.USAGE


def test_a_frozen_refusal_names_the_freeze(fake: FakeApi) -> None:
    message = "environment 'demo' is frozen by ann since 2026-11-29T14:00:00Z: game day"
    error = {"error": {"code": "frozen", "message": message, "frozen_by": "ann"}}
    fake.on("POST /services/demo/web/scale", (409, error))
    code, _, err, _ = run(fake, "scale", "web", "3")
    assert code == Exit.API_ERROR
    assert message in err
