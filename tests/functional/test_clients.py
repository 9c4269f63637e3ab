"""clients.py: an environment with a role is reached through STS AssumeRole, others directly."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.aws import clients
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


def test_clients_are_cached_per_service_region_and_role(aws: None) -> None:
    assert clients.client("ecs", _env(ROLE)) is clients.client("ecs", _env(ROLE))
    assert clients.client("ecs", _env(ROLE)) is not clients.client("ecs", _env(None))
    assert clients.client("ecs", _env(None)).meta.region_name == "eu-west-1"


def test_clients_retry_in_standard_mode(aws: None) -> None:
    ecs = clients.client("ecs")
    assert ecs.meta.config.retries["mode"] == "standard"
    assert ecs.meta.config.retries["total_max_attempts"] == 5
