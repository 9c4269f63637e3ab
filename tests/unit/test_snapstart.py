"""SnapStart's runtime hooks: registered only where the Lambda runtime offers them; a restored
copy gets fresh randomness and fresh clients, nothing made before the snapshot."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable

import pytest

from chalicelib.aws import clients
from chalicelib.handlers import snapstart


def _runtime(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Callable[[], None]]]:
    """A stand-in for the Lambda runtime's ``snapshot_restore_py``."""
    hooks: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = hooks["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = hooks["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return hooks


def test_nothing_is_registered_outside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    assert snapstart.register() is False


def test_a_snapstart_function_warms_before_the_snapshot_and_renews_after_restore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = _runtime(monkeypatch)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    assert snapstart.register() is True
    assert hooks == {"before": [snapstart.before_snapshot], "after": [snapstart.after_restore]}


def test_an_on_demand_function_does_no_warming(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = _runtime(monkeypatch)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    assert snapstart.register() is True
    assert hooks == {"before": [], "after": [snapstart.after_restore]}


def test_a_restored_copy_draws_its_own_numbers_and_never_reuses_resolved_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client whose credentials were resolved before the snapshot (not primed: priming
    defers them, see test_prime.py) is dropped with its session."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients.reset()
    before = clients.client("sqs")
    loader = clients._loader[0]
    random.seed(1234)  # what every copy of one snapshot would share
    snapshot_state = random.getstate()
    snapstart.after_restore()
    assert random.getstate() != snapshot_state
    after = clients.client("sqs")
    assert after is not before  # no pooled connection or credentials from before the snapshot
    assert clients._loader == [loader]  # the parsed models are kept: read once per process
    clients.reset()


def test_before_the_snapshot_the_function_lambda_names_is_primed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.handlers import prime

    primed: list[str] = []

    def record(function: str | None = None) -> prime.Primed:
        primed.append(prime.function_name())
        return prime.Primed(primed[-1], 0, 0, [], [])

    monkeypatch.setenv("_HANDLER", "app.alarm_notification")
    monkeypatch.setattr(prime, "prime", record)
    snapstart.before_snapshot()
    assert primed == ["alarm_notification"]
