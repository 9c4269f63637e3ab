"""API Gateway's own answers (no route, throttling, any other 4XX/5XX) are set in the packaged
template, in the contract's error shape, as the local server answers them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

MERGE = Path(__file__).resolve().parents[2] / "infra" / "app-merge.json"


def responses() -> dict[str, dict[str, Any]]:
    resources = json.loads(MERGE.read_text())["Resources"]
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources.values()
        if r.get("Type") == "AWS::ApiGateway::GatewayResponse"
    }


def rendered(props: dict[str, Any]) -> dict[str, Any]:
    """The body API Gateway sends: its mapping template with the $context values filled in."""
    template = props["ResponseTemplates"]["application/json"]
    text = template.replace("$context.error.messageString", json.dumps('say "hi"'))
    body: dict[str, Any] = json.loads(text.replace("$context.requestId", "req-1"))
    return body


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "404", "not_found"),
        ("THROTTLED", None, "throttled"),
        ("DEFAULT_4XX", None, "invalid_request"),
        ("DEFAULT_5XX", None, "internal_error"),
    ],
)
def test_gateway_responses_answer_in_the_contract_shape(
    kind: str, status: str | None, code: str
) -> None:
    props = responses()[kind]
    assert props["RestApiId"] == {"Ref": "RestAPI"}
    assert props.get("StatusCode") == status
    assert props["ResponseParameters"] == {
        "gatewayresponse.header.Content-Type": "'application/json'"
    }
    body = rendered(props)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == "req-1"
    assert isinstance(body["error"]["message"], str)
