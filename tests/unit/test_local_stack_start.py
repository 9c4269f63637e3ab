"""``make run`` refuses to start on a policy opsbot would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.settings import LocalSettings
from infra.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


def test_an_invalid_policy_stops_make_run_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else every request, /health too, would answer policy_invalid after "opsbot ready"."""
    bad = tmp_path / "policy.yaml"
    text = (ROOT / "chalicelib" / "policy.yaml").read_text()
    bad.write_text(text + "\nnot_a_section: {\n")  # YAML that does not parse
    monkeypatch.setenv("OPSBOT_POLICY_FILE", str(bad))
    stack = LocalStack(LocalSettings.from_env())
    with pytest.raises(SystemExit) as stopped:
        stack._refuse_a_bad_policy()
    assert str(stopped.value).startswith("the policy is invalid, opsbot not started: ")
    assert str(bad) in str(stopped.value) and "not valid YAML" in str(stopped.value)


def test_the_demo_policy_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSBOT_POLICY_FILE", raising=False)
    LocalStack(LocalSettings.from_env())._refuse_a_bad_policy()  # no SystemExit
