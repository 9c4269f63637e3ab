"""SnapStart priming: what each function primes (derived from its code and its IAM grants),
and that the snapshot holds no credentials and no secret while everything else is built."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws  # before any client: moto's hook is on every client made after

from chalicelib.aws import clients, parameters
from chalicelib.aws.credentials import DeferredCredentials
from chalicelib.domain import compiled
from chalicelib.handlers import prime, snapstart
from infra import iam as iam_grants
from tests.unit import iam_scan

BOTO_NAME = {"elasticloadbalancing": "elbv2"}
NOT_A_CLIENT = {"logs", "kms", "sts", "iam"}  # Lambda's own logs, SSM's KMS, roles, PassRole


def _external_imports(symbol: iam_scan.Symbol) -> set[str]:
    """The modules outside opsbot that a reached function or class imports in its body."""
    node = iam_scan.modules()[symbol[0]].defs[symbol[1]]
    found: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
            found.add(inner.module)
        elif isinstance(inner, ast.Import):
            found.update(alias.name for alias in inner.names)
    return {name for name in found if not name.startswith("chalicelib")}


def _imported_by_the_app() -> set[str]:
    """The modules ``app.py`` imports (the handler modules: loaded by every init)."""
    tree = ast.parse((iam_scan.ROOT / "app.py").read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("function", sorted(prime.PLANS))
def test_each_function_primes_every_module_its_handlers_reach(function: str) -> None:
    reached = iam_scan.reached(set(iam_scan.function_entries()[function]))
    plan = prime.PLANS[function]
    modules = {module for module, _ in reached} - _imported_by_the_app()
    uncovered = {
        m for m in modules if not any(m == p or m.startswith(f"{p}.") for p in plan.all_packages)
    }
    assert uncovered == set()
    libraries = set().union(*(_external_imports(symbol) for symbol in reached))
    assert libraries - set(plan.all_libraries) == set()


@pytest.mark.parametrize("function", sorted(prime.PLANS))
def test_each_function_builds_a_client_for_each_service_it_is_granted(function: str) -> None:
    grants = iam_grants.GRANTS[function].values()
    granted = {action.split(":")[0] for actions in grants for action in actions}
    services = {BOTO_NAME.get(s, s) for s in granted - NOT_A_CLIENT}
    assert set(prime.PLANS[function].all_services) == services


def test_the_function_is_told_by_lambdas_handler_setting() -> None:
    assert prime.function_name("app.alarm_notification") == "alarm_notification"
    assert prime.function_name("app.work") == "work"
    assert prime.function_name("app.app") == "api_handler"  # the REST API: every route
    assert set(prime.PLANS) == set(iam_grants.FUNCTIONS)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No client, session, parameter or dependency from an earlier test; back to lazy after."""
    from chalicelib.handlers.wiring import get_deps

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    parameters.forget()
    get_deps.cache_clear()
    yield
    clients.reset()
    parameters.forget()
    get_deps.cache_clear()


def _no_network_and_no_credentials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any HTTP request or credential lookup fail the test; what was attempted."""
    from botocore.credentials import CredentialResolver
    from botocore.httpsession import URLLib3Session

    attempted: list[str] = []

    def send(self: Any, request: Any) -> Any:
        attempted.append(f"request {request.url}")
        raise AssertionError("a request before the snapshot")

    def load_credentials(self: Any) -> Any:
        attempted.append("credentials")
        raise AssertionError("credentials resolved before the snapshot")

    monkeypatch.setattr(URLLib3Session, "send", send)
    monkeypatch.setattr(CredentialResolver, "load_credentials", load_credentials)
    return attempted


@pytest.mark.usefixtures("fresh")
def test_priming_builds_the_alarm_function_without_credentials_requests_or_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import BaseModel

    attempted = _no_network_and_no_credentials(monkeypatch)
    primed = prime.prime("alarm_notification")

    assert attempted == []
    plan = prime.PLANS["alarm_notification"]
    assert primed.clients == list(plan.all_services)
    assert {key[0] for key in clients._clients} == set(plan.all_services)
    credentials = clients.home_credentials()
    assert isinstance(credentials, DeferredCredentials) and not credentials.resolved
    for client in clients._clients.values():  # what each client would sign with: not resolved
        assert client._request_signer._credentials is credentials
    assert parameters._cache == {}  # no secret (signing secret, webhook) read into memory
    assert {"chalicelib.alarms.react", "chalicelib.scaling.procedure"} <= set(sys.modules)
    policy = [m for m in compiled.SCHEMA_MODULES if m.startswith("chalicelib.domain.")]
    for module in ("chalicelib.alarms.notification", *policy):  # the policy's models too
        for value in vars(sys.modules[module]).values():
            ours = isinstance(value, type) and value.__module__ == module
            if ours and issubclass(value, BaseModel):
                assert value.__pydantic_complete__, value  # validators built, not deferred
    assert primed.scopes == ["alarm"]


@pytest.mark.usefixtures("fresh")
def test_after_restore_the_clients_stay_and_the_first_request_resolves_this_copys_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        prime.prime("sweeper")
        ssm = clients.client("ssm")
        credentials = clients.home_credentials()
        assert isinstance(credentials, DeferredCredentials)
        ssm.put_parameter(Name="/opsbot/x", Value="v", Type="SecureString")  # a first request
        assert credentials.resolved
        pool = ssm._endpoint.http_session._manager
        pool.connection_from_url("https://ssm.us-east-1.amazonaws.com")
        assert len(pool.pools) == 1
        snapstart.after_restore()
        assert clients.client("ssm") is ssm  # built before the snapshot, kept
        assert len(pool.pools) == 0  # no connection made before the snapshot is reused
        assert not credentials.resolved  # this copy resolves its own
        value = ssm.get_parameter(Name="/opsbot/x", WithDecryption=True)["Parameter"]["Value"]
        assert value == "v" and credentials.resolved


@pytest.mark.usefixtures("fresh")
def test_without_snapstart_clients_resolve_credentials_as_botocore_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients.client("sqs")
    credentials = clients.home_credentials()
    assert credentials is not None and not isinstance(credentials, DeferredCredentials)
