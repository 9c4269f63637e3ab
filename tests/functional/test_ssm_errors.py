"""SSM's errors told apart: only ParameterNotFound means absent; anything else is SSM being
unavailable (503 naming SSM, never 401) unless an earlier answer can be served.

SSM is a botocore ``Stubber`` on the client opsbot itself uses, answering with the error shapes
SSM sends (code and HTTP status as the service returns them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from chalice.test import Client

from chalicelib.aws import clients, parameters
from chalicelib.core.errors import DependencyUnavailable
from chalicelib.core.settings import Settings

TOKEN = "ssm-test-token"
SECRET = "ssm-test-signing-secret"

THROTTLED: dict[str, Any] = {
    "service_error_code": "ThrottlingException",
    "service_message": "Rate exceeded",
    "http_status_code": 400,
}
DENIED: dict[str, Any] = {
    "service_error_code": "AccessDeniedException",
    "service_message": (
        "User: arn:aws:sts::123456789012:assumed-role/opsbot/fn is not authorized to perform: "
        "ssm:GetParameter on resource: arn:aws:ssm:us-east-1:123456789012:parameter/opsbot/test/"
        "api-tokens because no identity-based policy allows the ssm:GetParameter action"
    ),
    "http_status_code": 400,
}
NOT_FOUND: dict[str, Any] = {
    "service_error_code": "ParameterNotFound",
    "service_message": "",
    "http_status_code": 400,
}


@pytest.fixture
def ssm(settings: Settings) -> Iterator[Stubber]:
    """The SSM client opsbot uses, stubbed; caches cleared before and after."""
    clients.reset()
    parameters.forget()
    stubber = Stubber(clients.client("ssm"))
    with stubber:
        yield stubber
    clients.reset()
    parameters.forget()


def _found(name: str, value: str) -> dict[str, Any]:
    return {
        "Parameter": {
            "Name": name,
            "Type": "SecureString",
            "Value": value,
            "Version": 1,
            "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter{name}",
            "DataType": "text",
        }
    }


def _expect(name: str) -> dict[str, Any]:
    return {"Name": name, "WithDecryption": True}


def _tokens() -> str:
    return json.dumps({hashlib.sha256(TOKEN.encode()).hexdigest(): "alice"})


def _api(path: str = "/deployments/d-unknown") -> Any:
    from app import app

    with Client(app) as client:
        return client.http.get(path, headers={"Authorization": f"Bearer {TOKEN}"})


def _slack() -> Any:
    from app import app

    body = "user_id=U0DEMOADMIN&command=%2Fopsbot&text=help"
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    with Client(app) as client:
        return client.http.post("/slack/commands", body=body, headers=headers)


@pytest.mark.parametrize("error", [THROTTLED, DENIED], ids=["throttled", "access-denied"])
def test_ssm_failing_answers_503_naming_ssm_not_401(
    ssm: Stubber, settings: Settings, error: dict[str, Any]
) -> None:
    ssm.add_client_error(
        "get_parameter", expected_params=_expect(settings.api_tokens_parameter), **error
    )
    resp = _api()
    assert resp.status_code == 503
    body = json.loads(resp.body)
    assert body["error"]["code"] == "dependency_unavailable"
    assert body["error"]["dependencies"] == ["ssm"]
    assert "SSM" in body["error"]["message"]
    # the AWS error is logged in full, never echoed to the caller
    assert error["service_error_code"] not in body["error"]["message"]
    ssm.assert_no_pending_responses()


def test_ssm_failing_is_not_remembered_as_absent(ssm: Stubber, settings: Settings) -> None:
    name = settings.api_tokens_parameter
    ssm.add_client_error("get_parameter", expected_params=_expect(name), **THROTTLED)
    ssm.add_client_error("get_parameter", expected_params=_expect(name), **NOT_FOUND)
    assert _api().status_code == 503
    # the next request asks SSM again (the failure was not cached as "no tokens")
    resp = _api()
    assert resp.status_code == 401
    assert json.loads(resp.body)["error"]["code"] == "unauthorized"
    ssm.assert_no_pending_responses()


def test_a_missing_parameter_is_still_absent_and_cached(ssm: Stubber, settings: Settings) -> None:
    ssm.add_client_error(
        "get_parameter", expected_params=_expect(settings.api_tokens_parameter), **NOT_FOUND
    )
    assert _api().status_code == 401
    assert _api().status_code == 401  # from the cache: no second SSM call
    ssm.assert_no_pending_responses()
    assert parameters.secure_parameter(settings.api_tokens_parameter, max_age=60) is None


def test_the_last_good_value_is_kept_while_ssm_fails(
    ssm: Stubber, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = settings.api_tokens_parameter
    now = [1000.0]
    monkeypatch.setattr(parameters.time, "monotonic", lambda: now[0])
    ssm.add_response("get_parameter", _found(name, _tokens()), _expect(name))
    ssm.add_client_error("get_parameter", expected_params=_expect(name), **THROTTLED)
    ssm.add_response("get_parameter", _found(name, "{}"), _expect(name))

    assert parameters.api_token_map() != {}
    now[0] += 61  # past the minute's cache: SSM is asked and throttles
    assert parameters.api_token_map() != {}  # the last good map, not "no tokens"
    now[0] += 1  # within the retry pause: the stale value, SSM not asked
    assert parameters.api_token_map() != {}
    now[0] += parameters.RETRY_AFTER_SECONDS  # SSM asked again, answers (tokens revoked)
    assert parameters.api_token_map() == {}
    ssm.assert_no_pending_responses()


def test_ssm_unreachable_with_nothing_cached_raises_naming_ssm(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    parameters.forget()

    def unreachable(name: str) -> str | None:
        raise EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com/")

    monkeypatch.setattr(parameters, "_fetch", unreachable)
    with pytest.raises(DependencyUnavailable) as raised:
        parameters.slack_signing_secret()
    assert raised.value.status == 503
    assert raised.value.details == {"dependencies": ["ssm"]}
    assert "SSM" in raised.value.message


def test_slack_answers_503_not_401_when_ssm_throttles(ssm: Stubber, settings: Settings) -> None:
    name = settings.slack_signing_secret_parameter
    ssm.add_client_error("get_parameter", expected_params=_expect(name), **THROTTLED)
    resp = _slack()
    assert resp.status_code == 503
    assert json.loads(resp.body)["error"]["dependencies"] == ["ssm"]
    ssm.assert_no_pending_responses()


def test_slack_without_a_signing_secret_is_still_401(ssm: Stubber, settings: Settings) -> None:
    name = settings.slack_signing_secret_parameter
    ssm.add_client_error("get_parameter", expected_params=_expect(name), **NOT_FOUND)
    assert _slack().status_code == 401
    ssm.assert_no_pending_responses()
