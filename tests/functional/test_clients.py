"""clients.py: an environment with a role is reached through STS AssumeRole, others directly."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.aws import clients
from chalicelib.core.invocation import as_function
from chalicelib.domain.policy import Environment

ROLE = "arn:aws:iam::210987654321:role/opsbot-member"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "home-key",
        "AWS_SECRET_ACCESS_KEY": "home-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    clients.reset()
    with mock_aws():
        yield
    clients.reset()


def _env(role_arn: str | None) -> Environment:
    return Environment(
        name="member", account="210987654321", region="eu-west-1", cluster="c", role_arn=role_arn
    )


def test_an_environment_with_a_role_uses_assumed_credentials(aws: None) -> None:
    home = clients.client("ecs")
    member = clients.client("ecs", _env(ROLE))

    home_creds = home._request_signer._credentials.get_frozen_credentials()
    member_creds = member._request_signer._credentials.get_frozen_credentials()
    assert member_creds.access_key != home_creds.access_key
    assert member_creds.token  # a session token: STS credentials
    assert member.meta.region_name == "eu-west-1"
    # the assumed identity is the member role's
    sts = boto3.client(
        "sts",
        region_name="eu-west-1",
        aws_access_key_id=member_creds.access_key,
        aws_secret_access_key=member_creds.secret_key,
        aws_session_token=member_creds.token,
    )
    assert ":assumed-role/opsbot-member/opsbot" in sts.get_caller_identity()["Arn"]


def test_a_role_per_function_is_the_role_of_the_function_that_runs(aws: None) -> None:
    """``{function}`` in a role_arn: each function assumes its own member role (the one
    infra/member-account.yaml makes for it); a plain role_arn stays one shared role."""
    template = _env("arn:aws:iam::210987654321:role/opsbot-{function}")

    def caller_as(function: str, env: Environment = template) -> str:
        as_function(function)
        return _caller(clients.client("ecs", env))

    assert (
        contextvars.copy_context()
        .run(caller_as, "work")
        .endswith(":assumed-role/opsbot-work/opsbot")
    )
    api = contextvars.copy_context().run(caller_as, "api_handler")
    assert api.endswith(":assumed-role/opsbot-api_handler/opsbot")
    assert contextvars.copy_context().run(caller_as, "budgets").split("/")[1] == "opsbot-budgets"
    shared = _env(ROLE)  # a role_arn without {function}: one role, whichever function runs
    for function in ("work", "api_handler"):
        caller = contextvars.copy_context().run(caller_as, function, shared)
        assert caller.endswith(":assumed-role/opsbot-member/opsbot")
    with pytest.raises(RuntimeError, match="no handler named the function"):
        # a context no handler ran in (a copy would inherit an earlier test's handler's name)
        contextvars.Context().run(clients.client, "ecs", template)


def test_clients_are_cached_per_service_region_and_role(aws: None) -> None:
    assert clients.client("ecs", _env(ROLE)) is clients.client("ecs", _env(ROLE))
    assert clients.client("ecs", _env(ROLE)) is not clients.client("ecs", _env(None))
    assert clients.client("ecs", _env(None)).meta.region_name == "eu-west-1"


def test_clients_retry_in_standard_mode(aws: None) -> None:
    ecs = clients.client("ecs")
    assert ecs.meta.config.retries["mode"] == "standard"
    assert ecs.meta.config.retries["total_max_attempts"] == 5


def _caller(client: object) -> str:
    creds = client._request_signer._credentials.get_frozen_credentials()  # type: ignore[attr-defined]
    sts = boto3.client(
        "sts",
        region_name="eu-west-1",
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    return str(sts.get_caller_identity()["Arn"])


def test_the_role_session_names_the_actor_and_the_deployment(aws: None) -> None:
    name = clients.session_name("slack:U123 bob", "d-0123")
    ecs = clients.client("ecs", _env(ROLE), name)
    assert _caller(ecs).endswith(":assumed-role/opsbot-member/slack-U123-bob@d-0123")
    # credentials per session name: another actor gets its own session, the same one is cached
    assert clients.client("ecs", _env(ROLE), name) is ecs
    other = clients.client("ecs", _env(ROLE), clients.session_name("alice"))
    assert other is not ecs
    assert _caller(other).endswith("/opsbot-member/alice")
    # opsbot's own account has no role session: one client whatever the name
    assert clients.client("ecs", _env(None), name) is clients.client("ecs", _env(None))


@pytest.mark.parametrize(
    ("actor", "deployment", "expected"),
    [
        ("alice", "d-0123", "alice@d-0123"),
        ("github-ci", None, "github-ci"),
        ("schedule:budgets", None, "schedule-budgets"),
        ("alarm:web-5xx (p99)", None, "alarm-web-5xx--p99-"),
        (None, "d-0123", "d-0123"),
        ("é", None, "opsbot"),  # too short once cleaned: the default name
        (None, None, "opsbot"),
        ("a" * 100, "d-" + "0" * 40, "a" * 21 + "@d-" + "0" * 40),
    ],
)
def test_session_names_are_what_iam_accepts(
    actor: str | None, deployment: str | None, expected: str
) -> None:
    import re

    name = clients.session_name(actor, deployment)
    assert name == expected
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", name, re.ASCII)


def test_named_sessions_are_bounded(aws: None) -> None:
    for i in range(clients._MAX_NAMED_SESSIONS + 5):
        clients.client("ecs", _env(ROLE), f"actor-{i}")
    assert len(clients._sessions_named) == clients._MAX_NAMED_SESSIONS
    assert len([k for k in clients._clients if k[3].startswith("actor-")]) == (
        clients._MAX_NAMED_SESSIONS
    )


def test_deps_acting_for_scope_environment_clients() -> None:
    from chalicelib.handlers.wiring import _scoped

    seen: list[tuple[str, str | None]] = []

    def scoped(actor: str, deployment_id: str | None) -> object:
        seen.append((actor, deployment_id))
        return "scoped factory"

    from chalicelib.deps import Deps

    deps = Deps(None, None, None, None, None, aws="plain factory", scoped_aws=scoped)  # type: ignore[arg-type]
    assert deps.acting_for("alice", "d-1").aws == "scoped factory"
    assert deps.aws == "plain factory"  # the original is untouched
    assert seen == [("alice", "d-1")]
    unscoped = Deps(None, None, None, None, None, aws="plain factory")  # type: ignore[arg-type]
    assert unscoped.acting_for("alice") is unscoped  # tests' own Deps: nothing to scope
    assert callable(_scoped("alice", None))
