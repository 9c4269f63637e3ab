"""Paging of the list routes in process (``chalice.test.Client``, moto): ``limit`` and the opaque
``next`` cursor of ``GET /services/{environment}``, ``GET /deployments`` and ``GET /audit``."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.domain.policy import parse_policy
from chalicelib.handlers.views import models
from tests.functional.conftest import CLUSTER, POLICY, REGISTRY, World
from tests.functional.test_dashboard_routes import TOKENS, _sha, call

MANY = 23  # services in the environment besides web and api


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    from app import app

    tokens = {_sha(t): who for t, who in TOKENS.items()}
    monkeypatch.setattr("chalicelib.aws.parameters.api_token_map", lambda: tokens)
    with Client(app) as client:
        yield client


@pytest.fixture
def fleet(world: World) -> list[str]:
    """MANY more ECS services in ``demo`` (and the policy naming them), and a second
    environment ``stage`` that alice may read; every service name of ``demo``, sorted."""
    arn = world.ecs.describe_services(cluster=CLUSTER, services=["api"])["services"][0][
        "taskDefinition"
    ]
    policy = copy.deepcopy(POLICY)
    names = [f"svc-{i:02d}" for i in range(MANY)]
    for name in names:
        world.ecs.create_service(
            cluster=CLUSTER, serviceName=name, taskDefinition=arn, desiredCount=1
        )
        policy["environments"]["demo"]["services"][name] = {
            "container": "api",
            "repository": "api",
            "min": 1,
            "max": 3,
        }
    policy["environments"]["stage"] = copy.deepcopy(POLICY["environments"]["demo"])
    policy["people"]["alice"]["roles"]["stage"] = "admin"
    world.deps.policy = parse_policy(policy, "tests/functional/test_paging.py")
    return sorted([*names, "web", "api"])


def pages(client: Client, path: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a list route, following ``next`` (at most 50 pages)."""
    answers = []
    cursor = None
    sep = "&" if "?" in path else "?"
    for _ in range(50):
        query = f"{sep}limit={limit}" + (f"&next={cursor}" if cursor else "")
        status, body = call(client, "GET", path + query)
        assert status == 200, body
        answers.append(body)
        cursor = body.get("next")
        if cursor is None:
            return answers
    raise AssertionError("the pages never ended")


def test_services_page_by_name_and_describe_only_the_page(
    client: Client, world: World, fleet: list[str]
) -> None:
    described: list[list[str]] = []
    world.ecs.meta.events.register(
        "provide-client-params.ecs.DescribeServices",
        lambda params, **_: described.append(list(params["services"])),
    )
    answers = pages(client, "/services/demo", limit=10)

    assert [len(a["items"]) for a in answers] == [10, 10, 5]
    assert [s["service"] for a in answers for s in a["items"]] == fleet
    for answer in answers:
        models.ServicesBody.model_validate(answer)
    assert "next" not in answers[-1]
    # each page described its own services, ten to a call, and nothing else
    assert [len(d) for d in described] == [10, 10, 5]
    assert sorted(n for d in described for n in d) == fleet
    web = next(s for a in answers for s in a["items"] if s["service"] == "web")
    assert (web["image"], web["min"], web["max"]) == (f"{REGISTRY}/web:1.0", 1, 6)


def test_a_caller_without_limit_gets_the_default_page(client: Client, fleet: list[str]) -> None:
    status, body = call(client, "GET", "/services/demo")
    assert status == 200, body
    assert [s["service"] for s in body["items"]] == fleet  # 25 fit the default page of 50
    assert "next" not in body


def test_deployments_page_newest_first_across_environments(
    client: Client, world: World, fleet: list[str]
) -> None:
    posted = []
    for environment, service in [
        ("demo", "web"),
        ("stage", "web"),
        ("demo", "api"),
        ("stage", "api"),
    ]:
        status, body = call(
            client,
            "POST",
            "/deployments",
            {"environment": environment, "service": service, "tag": "2.0"},
        )
        assert status == 202, body
        posted.append(body["id"])
        world.clock.advance(3)
    answers = pages(client, "/deployments", limit=3)
    assert [len(a["items"]) for a in answers] == [3, 1]
    assert [d["id"] for a in answers for d in a["items"]] == posted[::-1]
    only_demo = pages(client, "/deployments?environment=demo", limit=1)
    assert [d["id"] for a in only_demo for d in a["items"]] == [posted[2], posted[0]]


def test_audit_pages_newest_first_and_each_entry_once(
    client: Client, world: World, fleet: list[str]
) -> None:
    for desired in (3, 5, 2, 6, 3, 5):  # one cluster: each is a change
        environment = "demo" if desired in (2, 3) else "stage"
        path = f"/services/{environment}/web/scale"
        status, body = call(client, "POST", path, {"desired": desired})
        assert status in (200, 202), body
        world.clock.advance(1)
    whole = call(client, "GET", "/audit?limit=500")[1]["items"]
    assert len(whole) == 6
    assert {e["environment"] for e in whole} == {"demo", "stage"}
    answers = pages(client, "/audit", limit=2)
    assert [e for a in answers for e in a["items"]] == whole
    assert all(len(a["items"]) == 2 for a in answers[:-1])


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/services/demo", "/deployments", "/audit"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("limit=99999999999999999999999999999999999", "limit"),
        ("limit=%D9%A3", "limit"),  # an Arabic-Indic digit three
        ("limit=%EF%BC%95", "limit"),  # a fullwidth five
        ("limit=ten", "limit"),
        ("next=garbage!!", "next"),
        ("next=" + "A" * 5000, "next"),
        ("next=%F0%9F%92%A5", "next"),
        ("next=" + _cursor({"v": 1, "r": "elsewhere", "p": "x"}), "next"),
        ("next=" + _cursor({"v": 1, "r": "audit", "p": 7}), "next"),
        ("next=" + _cursor(["not", "an", "object"]), "next"),
        ("next=" + _cursor({"v": 2, "r": "services", "p": "x", "extra": 1}), "next"),
        ("next=" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), "next"),
    ],
)
def test_bad_limits_and_cursors_are_the_contract_400(
    client: Client, fleet: list[str], path: str, query: str, field: str
) -> None:
    status, body = call(client, "GET", f"{path}?{query}")
    assert status == 400, body
    assert field in body["error"]["fields"], body
    assert body["error"]["code"] and body["error"]["message"]


def test_a_cursor_of_one_route_is_refused_by_another(client: Client, fleet: list[str]) -> None:
    first = call(client, "GET", "/services/demo?limit=2")[1]
    status, body = call(client, "GET", f"/audit?next={first['next']}")
    assert status == 400 and body["error"]["fields"] == {"next": "a cursor of another route"}
