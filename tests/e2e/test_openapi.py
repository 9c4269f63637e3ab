"""schemathesis against the local stack: the REST API answers as ``GET /openapi.json`` says.

Runs schemathesis' examples, coverage and fuzzing phases on every documented operation, with the
e2e admin token, and fails on a server error or an answer whose status, content type or body the
document does not list (and on a route that serves a caller who sent no token). It deploys, rolls
back and scales ``demo`` services at random, so it runs on a stack of its own (this module's
``stack``), started for it, and after every other e2e test (see conftest).

``OPSBOT_SCHEMATHESIS_SEED`` (default fixed, so CI is reproducible) and
``OPSBOT_SCHEMATHESIS_EXAMPLES`` (fuzzed cases per operation) widen a local hunt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, Stack, started_stack, wait_for

CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ignored_auth",
)
TIMEOUT = 240


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: the other tests' stack (conftest's) never sees the fuzzing."""
    with started_stack(tmp_path_factory) as up:
        yield up


def _document_with_a_deployment(stack: Stack, path: Path) -> Path:
    """The served document, with a real (finished) deployment's id as the example of
    ``{deployment_id}``, so the examples phase reads and rolls back a deployment that exists."""

    def deploy() -> str | None:  # None while an earlier test's deploy still holds the service
        resp = stack.request(
            "POST", "/deployments", json={"environment": "demo", "service": "api", "tag": "2.0"}
        )
        assert resp.status_code in (202, 409), resp.text
        return str(resp.json()["id"]) if resp.status_code == 202 else None

    deployment = stack.wait_deployment(wait_for(deploy, timeout=150, interval=1))
    resp = stack.request("GET", "/openapi.json", token=None)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    for operations in doc["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "deployment_id":
                    parameter["example"] = deployment["id"]
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.schemathesis
def test_the_api_answers_as_its_openapi_document_says(stack: Stack, tmp_path: Path) -> None:
    document = _document_with_a_deployment(stack, tmp_path / "openapi.json")
    seed = os.environ.get("OPSBOT_SCHEMATHESIS_SEED", "20261129")
    examples = os.environ.get("OPSBOT_SCHEMATHESIS_EXAMPLES", "25")
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        str(document),
        "--url",
        stack.api_url,
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--max-examples",
        examples,
        "--seed",
        seed,
        # one worker: hypothesis parses sources for its messages, and CPython 3.11's parser is
        # not thread-safe (AST constructor recursion depth mismatch) under two
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-20000:]
    # the summary and any warnings (pytest -s shows them)
    print(*[line for line in report.splitlines() if "⚠" in line or "====" in line], sep="\n")
