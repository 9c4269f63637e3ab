"""The CI/CD example (examples/github-actions/deploy.yml): its shape, and its shell steps run
against a stand-in for opsbot's REST API, as GitHub's runner would run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsbot_cli import script

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "deploy.yml"
DEPLOY = "Deploy with opsbot and wait for the outcome"
INSTALL = "Install the opsbot CLI"
SHA = "3f2c9a1d0b7e4c6f8a5d2e1b0c9f8e7d6a5b4c3d"
TOKEN = "opsbot-ci-token-0123456789"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(data)


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    for candidate in workflow["jobs"]["deploy"]["steps"]:
        if candidate.get("name") == name:
            return dict(candidate)
    raise AssertionError(f"no step named {name!r}")


def test_workflow_builds_pushes_and_hands_the_deploy_to_opsbot(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    steps = workflow["jobs"]["deploy"]["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == [
        "actions/checkout",
        "aws-actions/configure-aws-credentials",
        "aws-actions/amazon-ecr-login",
        "actions/setup-python",
    ]
    # GitHub's hardening guide: actions pinned to a full commit SHA, no credentials left behind
    for s in steps:
        if "uses" in s:
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", s["uses"]), s["uses"]
    assert step(workflow, "Checkout")["with"]["persist-credentials"] is False
    creds = step(workflow, "Configure AWS credentials")["with"]
    assert "role-to-assume" in creds  # OIDC: no access keys
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(creds)
    build = step(workflow, "Build, tag, and push the image to Amazon ECR")
    assert build["env"]["IMAGE_TAG"] == "${{ github.sha }}"
    assert "docker push" in build["run"]
    deploy = step(workflow, DEPLOY)
    assert deploy["env"]["OPSBOT_API_TOKEN"] == "${{ secrets.OPSBOT_API_TOKEN }}"
    assert 'opsbot deploy "$OPSBOT_SERVICE" "$IMAGE_TAG"' in deploy["run"]
    assert "--wait" in deploy["run"]
    assert "curl" not in deploy["run"]  # the CLI does the request, the retries and the waiting
    # untrusted values reach the shell through env, never through ${{ }} inside a script
    for s in steps:
        assert "${{" not in s.get("run", ""), s["name"]


def test_the_cli_is_installed_only_from_a_pinned_commit(runner: Runner) -> None:
    runner.expressions.update(
        {"vars.OPSBOT_CLI_REPOSITORY": "acme/opsbot", "vars.OPSBOT_CLI_COMMIT": "main"}
    )
    done = runner.run(INSTALL)
    assert done.returncode == 1 and "full commit SHA" in done.stdout
    install = step(runner.workflow, INSTALL)
    assert install["env"]["OPSBOT_CLI_COMMIT"] == "${{ vars.OPSBOT_CLI_COMMIT }}"
    assert '"opsbot-cli @ git+https://github.com/${OPSBOT_CLI_REPOSITORY}@' in install["run"]


# --- the shell steps against a stand-in opsbot ------------------------------------------------


@dataclass
class FakeOpsbot:
    """POST /deployments and GET /deployments/{id}, answering from a script."""

    post_status: int = 202
    post_unavailable: int = 0  # the first N POSTs answer 503 (then post_status)
    statuses: list[str] = field(default_factory=lambda: ["queued", "in_progress", "succeeded"])
    requests: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0

    def record(self) -> dict[str, Any]:
        shown = self.statuses[: self.polls]
        status = shown[-1] if shown else "queued"
        return {
            "id": "d-42",
            "environment": "prod",
            "service": "web",
            "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{SHA}",
            "status": status,
            "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8",
            "previous_task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            "events": [
                {"at": f"2026-11-27T10:00:0{i}Z", "status": s, "message": f"event {i}: {s}"}
                for i, s in enumerate(shown)
            ],
        }


@pytest.fixture
def opsbot() -> Iterator[tuple[FakeOpsbot, str]]:
    fake = FakeOpsbot()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _note(self, body: bytes) -> None:
            fake.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "body": json.loads(body) if body else None,
                }
            )

        def do_POST(self) -> None:
            self._note(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path != "/api/deployments":
                self._answer(404, {"error": {"code": "not_found", "message": self.path}})
            elif fake.post_unavailable > 0:
                fake.post_unavailable -= 1
                error = {"code": "dependency_unavailable", "message": "try again"}
                self._answer(503, {"error": error})
            elif fake.post_status != 202:
                message = "a deploy of web is already in progress"
                self._answer(fake.post_status, {"error": {"code": "conflict", "message": message}})
            else:
                self._answer(202, {**fake.record(), "status": "queued", "events": []})

        def do_GET(self) -> None:
            self._note(b"")
            if self.path != "/api/deployments/d-42":
                self._answer(404, {"error": {"code": "not_found", "message": self.path}})
                return
            fake.polls += 1
            self._answer(200, fake.record())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Runner:
    """Runs a step's script as GitHub's runner does (bash -eo pipefail, env, GITHUB_OUTPUT)."""

    workflow: dict[str, Any]
    tmp: Path
    expressions: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    env_overrides: dict[str, str] = field(default_factory=dict)

    def run(self, name: str, step_id: str = "") -> subprocess.CompletedProcess[str]:
        spec = step(self.workflow, name)
        output = self.tmp / f"output-{step_id or 'step'}"
        output.write_text("")
        env = {
            "PATH": f"{self.tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.tmp),
            "RUNNER_TEMP": str(self.tmp),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.tmp / "summary.md"),
            "GITHUB_REPOSITORY": "acme/web",
            "GITHUB_RUN_ID": "9876543210",
            "GITHUB_RUN_ATTEMPT": "1",
            **{k: str(v) for k, v in self.workflow["env"].items()},
            **{k: self._expand(str(v)) for k, v in spec.get("env", {}).items()},
            **self.env_overrides,
        }
        script = self.tmp / "step.sh"
        script.write_text(spec["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if step_id:
            lines = output.read_text().splitlines()
            self.outputs[step_id] = dict(line.split("=", 1) for line in lines if "=" in line)
        return done

    def _expand(self, value: str) -> str:
        def one(match: re.Match[str]) -> str:
            expr = match.group(1).strip()
            if expr.startswith("steps."):
                _, step_id, _, key = expr.split(".")
                return self.outputs[step_id][key]
            return self.expressions[expr]

        return re.sub(r"\$\{\{(.*?)\}\}", one, value)


@pytest.fixture
def runner(workflow: dict[str, Any], tmp_path: Path, opsbot: tuple[FakeOpsbot, str]) -> Runner:
    if not all(shutil.which(tool) for tool in ("bash", "jq")):
        pytest.skip("the workflow's steps need bash and jq")
    _, url = opsbot
    script.write(tmp_path / "bin" / "opsbot", sys.executable)  # as the install step would
    return Runner(
        workflow,
        tmp_path,
        expressions={
            "vars.OPSBOT_URL": url,
            "secrets.OPSBOT_API_TOKEN": TOKEN,
        },
        outputs={"build-image": {"tag": SHA}},
        env_overrides={"OPSBOT_POLL_SECONDS": "0.01"},
    )


def test_a_deploy_that_succeeds_passes_the_job(
    runner: Runner, opsbot: tuple[FakeOpsbot, str]
) -> None:
    fake, _ = opsbot
    done = runner.run(DEPLOY)
    assert done.returncode == 0, done.stdout + done.stderr

    post = fake.requests[0]
    assert post["method"] == "POST" and post["path"] == "/api/deployments"
    assert post["body"] == {"environment": "prod", "service": "web", "tag": SHA}
    assert {r["authorization"] for r in fake.requests} == {f"Bearer {TOKEN}"}
    assert fake.polls == 3
    # every event printed exactly once, in order (the CLI's progress, in the log)
    events = [line for line in done.stderr.splitlines() if "event " in line]
    assert [e.split("  ")[-1].strip() for e in events] == [
        "event 0: queued",
        "event 1: in_progress",
        "event 2: succeeded",
    ]
    summary = (runner.tmp / "summary.md").read_text()
    assert "d-42" in summary and "succeeded" in summary
    assert TOKEN not in done.stdout + done.stderr + summary


@pytest.mark.parametrize(
    ("end", "code"), [("rolled_back", 10), ("failed", 11), ("rejected", 12), ("denied", 13)]
)
def test_a_deploy_that_does_not_succeed_fails_the_job(
    runner: Runner, opsbot: tuple[FakeOpsbot, str], end: str, code: int
) -> None:
    fake, _ = opsbot
    fake.statuses = ["queued", "in_progress", end]
    done = runner.run(DEPLOY)
    assert done.returncode == code
    assert "::error::" in done.stdout
    assert f"web: deploy {SHA[:7]}" not in done.stdout  # progress goes to the log (stderr)
    assert f"{end} after" in done.stderr and "event 2: " + end in done.stderr


def test_a_refused_request_fails_the_job_with_opsbots_reason(
    runner: Runner, opsbot: tuple[FakeOpsbot, str]
) -> None:
    fake, _ = opsbot
    fake.post_status = 409
    done = runner.run(DEPLOY)
    assert done.returncode == 1
    assert "already in progress" in done.stderr
    assert len(fake.requests) == 1  # a refusal is not retried


def test_the_post_carries_an_idempotency_key_that_a_retry_and_a_rerun_reuse(
    runner: Runner, opsbot: tuple[FakeOpsbot, str]
) -> None:
    fake, _ = opsbot
    fake.post_unavailable = 1
    done = runner.run(DEPLOY)
    assert done.returncode == 0, done.stdout + done.stderr
    runner.env_overrides["GITHUB_RUN_ATTEMPT"] = "2"  # the job re-run: same run id
    fake.polls = 0
    assert runner.run(DEPLOY).returncode == 0
    keys = [r["idempotency_key"] for r in fake.requests if r["method"] == "POST"]
    assert len(keys) == 3  # the 503, its retry, the re-run
    assert len(set(keys)) == 1
    key = keys[0]
    assert key.startswith("gha-9876543210-")
    assert 1 <= len(key) <= 255 and key.isascii() and key.isprintable()


def test_the_job_stops_waiting_at_its_timeout(
    runner: Runner, opsbot: tuple[FakeOpsbot, str]
) -> None:
    fake, _ = opsbot
    fake.statuses = ["queued"] + ["in_progress"] * 1000
    runner.env_overrides["DEPLOY_TIMEOUT_SECONDS"] = "0.3"
    done = runner.run(DEPLOY)
    assert done.returncode == 20
    assert "still in_progress after 0.3 s" in done.stderr
    assert "::error::still not finished" in done.stdout
