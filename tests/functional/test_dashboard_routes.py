"""The dashboard in process (``chalice.test.Client``, moto): its page, the read routes it uses,
and the read-only dashboard tokens (hashed, read-only, refused after their hour)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib.handlers.views import models
from chalicelib.status import dashboard
from tests.functional.conftest import ACCOUNT, REGION, REGISTRY, World

TOKENS = {"alice-token": "alice", "victor-token": "victor"}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    from app import app

    # the real token check: API tokens from "SSM" (hashed), dashboard tokens from the table
    tokens = {_sha(t): who for t, who in TOKENS.items()}
    monkeypatch.setattr("chalicelib.aws.parameters.api_token_map", lambda: tokens)
    with Client(app) as client:
        yield client


def call(
    client: Client, method: str, path: str, body: Any = None, token: str | None = "alice-token"
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body) if body is not None else None
    resp = getattr(client.http, method.lower())(path, headers=headers, body=data)
    return resp.status_code, json.loads(resp.body)


def test_the_page_is_served_without_a_token_under_a_self_only_policy(client: Client) -> None:
    page = client.http.get("/ui")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    html = page.body.decode()
    assert 'src="ui/dashboard.js"' in html and "<script>" not in html and "style=" not in html
    script = client.http.get("/ui/dashboard.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "innerHTML" not in script.body.decode()  # data goes in through textContent only
    assert client.http.get("/ui/dashboard.css").headers["Content-Type"].startswith("text/css")


def test_environments_lists_what_the_caller_may_read(client: Client) -> None:
    assert call(client, "GET", "/environments")[1]["items"][0]["name"] == "demo"
    status, body = call(client, "GET", "/environments", token="nobody")
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_services_of_an_environment_show_image_counts_bounds_and_busy(client: Client) -> None:
    status, body = call(client, "GET", "/services/demo", token="victor-token")
    assert status == 200, body
    models.ServicesBody.model_validate(body)
    web = {s["service"]: s for s in body["items"]}["web"]
    assert web["image"] == f"{REGISTRY}/web:1.0"
    assert (web["min"], web["max"], web["busy_with"]) == (1, 6, None)
    assert call(client, "GET", "/services/nowhere")[0] == 404


def test_deployments_are_listed_newest_first_per_environment_and_service(
    client: Client, world: World
) -> None:
    ids = []
    for service, tag in (("web", "2.0"), ("api", "2.0")):
        status, posted = call(
            client, "POST", "/deployments", {"environment": "demo", "service": service, "tag": tag}
        )
        assert status == 202, posted
        ids.append(posted["id"])
        world.clock.advance(5)

    status, body = call(client, "GET", "/deployments?environment=demo", token="victor-token")
    assert status == 200
    models.DeploymentsBody.model_validate(body)
    assert [d["id"] for d in body["items"]] == ids[::-1]
    assert body["items"][0]["status"] == "queued"
    only_web = call(client, "GET", "/deployments?environment=demo&service=web")[1]
    assert [d["id"] for d in only_web["items"]] == [ids[0]]
    assert [d["id"] for d in call(client, "GET", "/deployments?limit=1")[1]["items"]] == [ids[1]]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("?limit=0", 400, "limit"),
        ("?limit=101", 400, "limit"),
        ("?limit=%D9%A1", 400, "limit"),  # an Arabic-Indic digit one
        ("?limit=1e3", 400, "limit"),
        ("?limit=-1", 400, "limit"),
        ("?limit=99999999999999999999999999", 400, "limit"),
        ("?environment=de%20mo", 400, "environment"),
        ("?environment=demo&service=%3Cb%3E", 400, "service"),
        ("?service=web", 400, "environment"),
        ("?environment=nowhere", 404, None),
        ("?environment=demo&service=nothing", 404, None),
    ],
)
def test_deployment_queries_are_validated(
    client: Client, query: str, status: int, field: str | None
) -> None:
    got, body = call(client, "GET", f"/deployments{query}")
    assert got == status, body
    if field:
        assert field in body["error"]["fields"]
    if field == "limit":
        assert body["error"]["message"] == "limit must be a whole number from 1 to 100"


def test_budgets_show_spend_forecast_and_limit(client: Client, world: World) -> None:
    world.client("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "monthly-ops",
            "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CalculatedSpend": {
                "ActualSpend": {"Amount": "85", "Unit": "USD"},
                "ForecastedSpend": {"Amount": "97", "Unit": "USD"},
            },
        },
    )
    status, body = call(client, "GET", "/budgets?environment=demo", token="victor-token")
    assert status == 200, body
    models.BudgetsBody.model_validate(body)
    (item,) = body["items"]
    assert (item["actual"], item["forecast"], item["limit"]) == (85, 97, 100)
    assert item["percent_used"] == 85
    missing = call(client, "GET", "/budgets")
    assert missing[0] == 400 and missing[1]["error"]["fields"] == {"environment": "missing"}


def test_certificates_answer_for_a_reader(client: Client) -> None:
    status, body = call(client, "GET", "/certificates?environment=demo", token="victor-token")
    assert status == 200, body
    models.CertificatesBody.model_validate(body)
    assert call(client, "GET", "/certificates?environment=nowhere")[0] == 404


def test_a_dashboard_token_reads_for_an_hour_and_may_not_act(client: Client, world: World) -> None:
    token = dashboard.mint_read_token(world.deps, "victor")
    assert token.startswith(dashboard.PREFIX)

    # stored hashed, with the TTL attribute set to its expiry
    ddb = boto3.client("dynamodb", region_name=REGION)
    items = ddb.scan(TableName=world.deps.settings.table_name)["Items"]
    (item,) = [i for i in items if i["pk"]["S"].startswith("TOKEN#")]
    assert item["pk"]["S"] == f"TOKEN#{_sha(token)}"
    assert token not in json.dumps(item)
    assert int(item["expires_at"]["N"]) == int(world.clock.now.timestamp()) + 3600
    assert item["principal"]["S"] == "victor" and item["scope"]["S"] == "read"

    assert call(client, "GET", "/services/demo", token=token)[0] == 200
    assert call(client, "GET", "/audit?environment=demo", token=token)[0] == 200
    status, body = call(
        client,
        "POST",
        "/services/demo/web/scale",
        {"desired": 3},
        token=dashboard.mint_read_token(world.deps, "alice"),  # even an admin's: read-only
    )
    assert status == 403 and "read-only" in body["error"]["message"]

    world.clock.advance(3599)
    assert call(client, "GET", "/environments", token=token)[0] == 200
    world.clock.advance(1)  # its hour is up (the item may outlive it: TTL deletes eventually)
    status, body = call(client, "GET", "/environments", token=token)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    forged = dashboard.PREFIX + "x" * 43
    assert call(client, "GET", "/environments", token=forged)[0] == 401


def test_a_principal_who_reads_nowhere_gets_no_token(world: World) -> None:
    from chalicelib.core.errors import Forbidden

    with pytest.raises(Forbidden):
        dashboard.mint_read_token(world.deps, "mallory")


def test_a_path_environment_of_any_spelling_is_a_404_as_on_the_service_route(
    client: Client,
) -> None:
    for path in ("/services/%C3%83", "/services/%C3%83/web"):
        status, body = call(client, "GET", path)
        assert status == 404 and body["error"]["code"] == "not_found", path
