"""`opsbot policy validate` and `opsbot policy diff`: offline (no token, no API), every problem
on its own line naming its dotted path, and what a change grants or removes."""

from __future__ import annotations

import copy
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsbot_cli import main
from opsbot_cli.exits import Exit

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "chalicelib" / "policy.yaml"
WORKFLOW = ROOT / "examples" / "github-actions" / "policy.yml"
NO_TOKEN = {"OPSBOT_PROFILE": "/nonexistent"}  # the policy commands need none


def opsbot(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main.main(list(argv), out=out, err=err, environ=dict(NO_TOKEN))
    return code, out.getvalue(), err.getvalue()


def shipped() -> dict[str, Any]:
    return dict(yaml.safe_load(SHIPPED.read_text()))


def write(tmp_path: Path, data: dict[str, Any], name: str = "policy.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_packaged_policy_is_valid_with_a_one_line_summary() -> None:
    code, out, err = opsbot("policy", "validate")
    assert code == Exit.OK, err
    assert out == (
        f"{SHIPPED}: valid: 2 environments, 3 services, 1 autoscaling groups, 2 alarm rules, "
        "1 approvals, 4 people\n"
    )
    code, out, _ = opsbot("policy", "validate", str(SHIPPED), "--output", "json")
    body = json.loads(out)
    assert code == 0 and body["valid"] is True and body["problems"] == []
    assert body["counts"]["environments"] == 2 and body["counts"]["approvals"] == 1


def test_min_above_max_and_an_unknown_key_are_both_named_by_dotted_path(tmp_path: Path) -> None:
    data = shipped()
    data["environments"]["prod"]["services"]["web"]["min"] = 12  # max is 10
    data["environments"]["prod"]["services"]["web"]["replicas"] = 3
    code, out, err = opsbot("policy", "validate", write(tmp_path, data))
    assert code == Exit.POLICY_INVALID == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0].endswith("invalid ops policy (2 problem(s))")
    assert "environments.prod.services.web.max: min (12) is greater than max (10)" in lines
    assert (
        "environments.prod.services.web.replicas: unknown key (not part of the policy schema)"
        in lines
    )


def test_every_cross_reference_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = shipped()
    data["alarm_rules"]["web-cpu-high"]["on_alarm"]["service"] = "webb"
    data["alarm_rules"]["workers-queue-deep"]["environment"] = "stage"
    data["people"]["demo-admin"]["roles"]["demo"] = "root"
    data["roles"]["auditor"] = ["read", "approve"]
    data["environments"]["prod"]["approval"]["approvers"] = "auditor"  # a role nobody holds
    code, _, err = opsbot("policy", "validate", write(tmp_path, data))
    assert code == 1
    assert err.splitlines()[1:] == [
        "people.demo-admin.roles.demo: unknown role 'root' "
        "(known: ['admin', 'approver', 'auditor', 'lead', 'viewer'])",
        "alarm_rules.web-cpu-high.on_alarm: service 'webb' is not in environment 'demo'",
        "alarm_rules.workers-queue-deep.environment: unknown environment 'stage' "
        "(known: ['demo', 'prod'])",
        "environments.prod.approval.approvers: nobody holds role 'auditor' in 'prod'",
    ]


def test_an_unreadable_or_broken_file_is_one_problem(tmp_path: Path) -> None:
    code, _, err = opsbot("policy", "validate", str(tmp_path / "nope.yaml"))
    assert code == 1 and "(file): cannot read it" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("environments:\n  demo: {account: '1\n")
    code, _, err = opsbot("policy", "validate", str(broken))
    assert code == 1 and "(file): not valid YAML" in err


def test_without_the_checkout_packages_it_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import chalicelib.domain

    monkeypatch.setitem(sys.modules, "chalicelib.domain.policy_check", None)
    monkeypatch.delattr(chalicelib.domain, "policy_check", raising=False)
    code, out, err = opsbot("policy", "validate")
    assert code == Exit.NOT_CONFIGURED and out == ""
    assert "needs the opsbot checkout's Python packages" in err and ".venv/bin/opsbot" in err


def test_diff_says_what_a_change_grants_and_removes(tmp_path: Path) -> None:
    old = shipped()
    new = copy.deepcopy(old)
    new["people"]["demo-viewer"]["roles"]["prod"] = "admin"
    new["people"]["demo-admin"]["roles"].pop("prod")
    new["environments"]["prod"]["services"]["web"]["max"] = 12
    new["environments"]["prod"]["approval"]["expires_after_minutes"] = 60
    del new["alarm_rules"]["workers-queue-deep"]
    new["budgets"]["top_services"] = 3
    paths = write(tmp_path, old, "old.yaml"), write(tmp_path, new, "new.yaml")
    code, out, err = opsbot("policy", "diff", *paths)
    assert code == 0, err
    assert out.splitlines() == [
        "+ demo-viewer may deploy in prod",
        "+ demo-viewer may freeze in prod",
        "+ demo-viewer may rollback in prod",
        "+ demo-viewer may scale in prod",
        "- demo-admin may no longer deploy in prod",
        "- demo-admin may no longer freeze in prod",
        "- demo-admin may no longer read in prod",
        "- demo-admin may no longer rollback in prod",
        "- demo-admin may no longer scale in prod",
        "~ environments.prod.services.web: bounds 2..10 -> 2..12",
        "- alarm rule workers-queue-deep",
        "~ environments.prod.approval: deploy/rollback by approver, 30 min -> "
        "deploy/rollback by approver, 60 min",
        "~ budgets.top_services: 5 -> 3",
    ]
    code, out, _ = opsbot("policy", "diff", *paths, "-o", "json")
    change = json.loads(out)
    assert {"principal": "demo-admin", "environment": "prod", "permission": "read"} in change[
        "permissions"
    ]["removed"]
    assert change["bounds"] == [
        {"path": "environments.prod.services.web", "old": "2..10", "new": "2..12"}
    ]
    assert change["alarm_rules"]["removed"] == ["workers-queue-deep"]
    assert opsbot("policy", "diff", paths[0], paths[0])[1] == "no change\n"


def test_diff_of_an_invalid_policy_lists_its_problems(tmp_path: Path) -> None:
    bad = shipped()
    bad["environments"]["demo"]["region"] = "Mars"
    code, out, err = opsbot("policy", "diff", str(SHIPPED), write(tmp_path, bad))
    assert code == 1 and out == ""
    assert "environments.demo.region: String should match pattern" in err


def test_the_pull_request_workflow_validates_and_is_hardened() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as true
    assert set(flow["on"]) == {"pull_request"}
    assert flow["permissions"] == {"contents": "read"}
    steps = flow["jobs"]["policy"]["steps"]
    for s in steps:
        if "uses" in s:
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", s["uses"]), s["uses"]
            if s["uses"].startswith("actions/checkout@"):
                assert s["with"]["persist-credentials"] is False
        assert "${{" not in s.get("run", ""), s["name"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "python -m opsbot_cli policy validate chalicelib/policy.yaml" in runs
    assert "python -m opsbot_cli policy diff" in runs


def test_the_cli_still_imports_only_the_standard_library_until_a_policy_command_runs() -> None:
    import subprocess

    probe = (
        "import sys, opsbot_cli.main; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('chalicelib', 'pydantic', 'yaml')))"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert ran.stdout.strip() == "[]", ran.stderr
