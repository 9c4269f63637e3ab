"""Cold start is a feature: importing the app must not pull in the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "pydantic", "aws_lambda_powertools", "yaml", "slack_sdk")
# opsbot's own layers below the handlers load on first use too (the store alone is ~50 ms)
LAYERS = ("chalicelib.store", "chalicelib.deploys", "chalicelib.alarms", "chalicelib.domain.policy")


def _printed(script: str) -> object:
    """What a fresh interpreter running ``script`` in the checkout printed (as JSON)."""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_importing_the_app_loads_no_heavy_library() -> None:
    script = (
        "import json, sys; import app; "
        f"print(json.dumps([m for m in {list(HEAVY + LAYERS)!r} if m in sys.modules]))"
    )
    assert _printed(script) == []


def test_handler_modules_load_capabilities_on_first_use_only() -> None:
    script = (
        "import json, sys; import app; from chalicelib.handlers import lazy; "
        "before = 'chalicelib.deploys' in sys.modules; "
        "lazy.deploys.request_deploy; "
        "print(json.dumps([before, 'chalicelib.deploys' in sys.modules, "
        "type(lazy.deploys).__name__]))"
    )
    assert _printed(script) == [False, True, "module"]


def test_a_deploy_start_loads_the_rollout_not_the_other_deploy_stages_nor_alarms() -> None:
    script = (
        "import json, sys; from chalicelib import worker, deploys; deploys.start_deploy; "
        "print(json.dumps(sorted(m for m in ('chalicelib.alarms', 'chalicelib.deploys.request', "
        "'chalicelib.deploys.decide', 'chalicelib.deploys.approvals', "
        "'chalicelib.deploys.rollout') "
        "if m in sys.modules)))"
    )
    assert _printed(script) == ["chalicelib.deploys.rollout"]


def test_an_alarm_reaction_loads_no_deploys_budgets_waits_or_queue_messages() -> None:
    """The modules of an alarm event's path (the app, the reaction, scaling, the policy in
    force) leave out what only other paths need: deploys, the budget guard's reads (only with
    ``hold_scale_out_at_percent`` set), the wait for a locked target and the queue messages."""
    script = (
        "import json, sys; import app; "
        "from chalicelib.handlers import alarms as handler, wiring; "
        "from chalicelib import alarms, scaling; from chalicelib.alarms import react, guard; "
        "from chalicelib.domain.policy import get_policy; get_policy(); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(("
        "'chalicelib.deploys', 'chalicelib.budgets', 'chalicelib.alarms.wait', "
        "'chalicelib.domain.messages', 'chalicelib.worker', 'chalicelib.chatops')))))"
    )
    assert _printed(script) == []


def test_an_alarm_reaction_loads_no_deployment_rotation_or_token_records() -> None:
    """The store an alarm uses mixes in every sub-store, but the records only other paths read
    (deployments, certificate rotations, dashboard tokens) and the REST bodies are not loaded,
    also once the reaction's follow-up message is built."""
    script = (
        "import json, sys; import app; "
        "from chalicelib.handlers import alarms as handler, wiring; "
        "from chalicelib.alarms import react, explain, caps; from chalicelib.store import Store; "
        "from chalicelib.domain.policy import get_policy; get_policy().limits_for('demo'); "
        "from chalicelib.domain.alarm_work import AlarmChanges; "
        "AlarmChanges(environment='e', service='s', alarm='a', state='ALARM', reaction='r', "
        "until='2026-12-06T21:00:00Z').model_dump_json(); "
        "print(json.dumps(sorted(m for m in sys.modules if m in ("
        "'chalicelib.records.deployment', 'chalicelib.records.rotation', "
        "'chalicelib.records.session', 'chalicelib.domain.messages'))))"
    )
    assert _printed(script) == []
