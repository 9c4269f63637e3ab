"""Hostile callers against the local stack: the local REST server answers unknown routes and
methods in the contract's shape, Slack input is refused before it is read, /health tells the
public only its status, and the spend control command takes only finite amounts."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests

from tests.e2e.conftest import Stack
from tests.e2e.test_slack import SECRET, command

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def contract_error(resp: requests.Response, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    return dict(body["error"])


# -- unknown routes and methods ------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-a-token", "e2e"])
@pytest.mark.parametrize("path", ["/nope", "/deployments/x/y/z", "/", "/services"])
def test_an_unknown_route_is_a_404_in_the_contract_shape(
    stack: Stack, path: str, token: str | None
) -> None:
    kwargs = {} if token == "e2e" else {"token": token}
    contract_error(stack.request("GET", path, **kwargs), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/deployments", "GET, POST"),
        ("PUT", "/health", "GET"),
        ("POST", "/audit", "GET"),
        ("PATCH", "/services/demo/web", "GET"),
        ("FOO", "/health", "GET"),
        ("BREW", "/deployments/x", "GET"),
        ("OPTIONS", "/deployments", "GET, POST"),  # no CORS route: not an empty 200
    ],
)
def test_a_wrong_or_unknown_method_is_a_405_with_allow(
    stack: Stack, method: str, path: str, allow: str
) -> None:
    resp = stack.request(method, path)
    contract_error(resp, 405, "method_not_allowed")
    assert resp.headers["Allow"] == allow


def test_an_unknown_method_on_an_unknown_route_is_a_404(stack: Stack) -> None:
    contract_error(stack.request("FOO", "/nope"), 404, "not_found")


@pytest.mark.parametrize(
    ("length", "status"), [("abc", 400), ("-1", 400), ("1e3", 400), ("99999999999", 413)]
)
def test_a_content_length_that_is_not_one_is_answered_not_hung_up_on(
    stack: Stack, length: str, status: int
) -> None:
    """Raw HTTP: a malformed or oversized Content-Length gets the contract's error, as API
    Gateway answers it, instead of a closed connection."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(stack.api_url)
    with socket.create_connection((where.hostname, where.port), timeout=15) as sock:
        sock.sendall(
            f"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == str(status).encode(), answer
    assert json.loads(body)["error"]["code"] == "invalid_request"


# -- Slack: refused before anything is read --------------------------------------------------


def _raw(stack: Stack, body: bytes, timestamp: bytes, signature: bytes) -> requests.Response:
    headers = {**FORM, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    return requests.post(
        f"{stack.api_url}/slack/commands",
        data=body,
        headers=headers,  # type: ignore[arg-type]
        timeout=15,
    )


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("²".encode(), b"v0=" + b"0" * 64),
        ("²".encode("latin-1"), b"v0=" + b"0" * 64),
        (b"9" * 5000, b"v0=" + b"0" * 64),
        (None, "v0=é".encode() * 10),
        (None, b"v0=\xff\xfe" + b"0" * 62),
    ],
)
def test_malformed_slack_headers_are_401(
    stack: Stack, timestamp: bytes | None, signature: bytes
) -> None:
    now = str(int(time.time())).encode()
    resp = _raw(stack, b"user_id=U0DEMOADMIN&text=help", timestamp or now, signature)
    contract_error(resp, 401, "unauthorized")


def test_a_body_that_is_not_utf8_is_refused(stack: Stack) -> None:
    body = b"user_id=U0DEMOADMIN&command=%2Fopsbot&text=status+w\xe9b"
    now = str(int(time.time()))
    contract_error(_raw(stack, body, now.encode(), b"v0=" + b"0" * 64), 401, "unauthorized")
    digest = hmac.new(SECRET.encode(), f"v0:{now}:".encode() + body, hashlib.sha256).hexdigest()
    signed = _raw(stack, body, now.encode(), f"v0={digest}".encode())
    assert contract_error(signed, 400, "invalid_request")["fields"] == {
        "body": "not UTF-8 form encoding"
    }


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("deploy web bad!tag", "TAG is not valid"),
        ("scale web ²", "COUNT must be a whole number"),
        ("scale web \uff13", "COUNT must be a whole number"),
        ("scale web -1", "COUNT is the number of tasks to run, not a change"),
        ("scale web +1", "COUNT is the number of tasks to run, not a change"),
        ("scale web 99999999999999999999999", "outside the bounds of demo/web: min 1, max 6"),
    ],
)
def test_signed_commands_with_bad_arguments_name_them(stack: Stack, text: str, wrong: str) -> None:
    resp = command(stack, "U0DEMOADMIN", text)
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert body["error"]["code"] == "invalid_request"
    assert wrong in body["text"]
    if "whole number" in wrong or "TAG" in wrong or "not a change" in wrong:
        assert "usage: " in body["text"]


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/audit?limit=-1", "limit must be a whole number from 1 to 500"),
        ("/audit?limit=99999999999999999999999999", "limit must be a whole number from 1 to 500"),
        ("/deployments?limit=-1", "limit must be a whole number from 1 to 100"),
    ],
)
def test_an_out_of_range_limit_names_the_range(stack: Stack, path: str, rule: str) -> None:
    error = contract_error(stack.request("GET", path), 400, "invalid_request")
    assert error["message"] == rule


# -- /health and spend ---------------------------------------------------------------------


def test_health_tells_the_public_only_its_status(stack: Stack) -> None:
    assert stack.request("GET", "/health", token=None).json() == {"status": "ok"}
    assert stack.request("GET", "/health", token="wrong").json() == {"status": "ok"}
    detailed = stack.request("GET", "/health").json()
    assert detailed["status"] == "ok" and detailed["checks"] and detailed["environments"]


@pytest.mark.parametrize("amount", ["nan", "inf", "-inf", "-5", "1e13", "lots"])
def test_spend_refuses_amounts_that_are_not_finite_and_positive(stack: Stack, amount: str) -> None:
    result = stack.control("spend", "monthly-ops", "--", amount)
    assert result.returncode != 0
    assert "AMOUNT must be" in result.stderr
    budgets = stack.aws("budgets")
    budget = budgets.describe_budget(AccountId="123456789012", BudgetName="monthly-ops")
    spent = budget["Budget"]["CalculatedSpend"]["ActualSpend"]["Amount"]
    assert float(spent) == float(spent) and float(spent) < 1e12  # still a real number


def test_the_spend_endpoint_itself_refuses_nan(stack: Stack) -> None:
    sink = json.loads((stack.state_dir / "stack.json").read_text())["sink_url"]
    resp = requests.post(
        f"{sink}/_control/spend",
        data='{"budget": "monthly-ops", "amount": NaN}',
        headers={"Content-Type": "application/json"},
        timeout=15,
    )
    assert resp.status_code == 400
    assert "finite" in resp.json()["error"]
